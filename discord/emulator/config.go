package emulator

import (
	"errors"
	"fmt"
	"time"
)

// RouteLimit is one rate-limit bucket: Requests per Per. A zero Requests
// means the route is not limited.
type RouteLimit struct {
	Requests int
	Per      time.Duration
}

// Route names used as keys of Config.RouteLimits. Each route's bucket is
// shared per major parameter (channel, guild, webhook or interaction), as on
// Discord.
const (
	RouteDefault         = "default"
	RouteMessageCreate   = "message.create"
	RouteMessageEdit     = "message.edit"
	RouteMessageDelete   = "message.delete"
	RouteMessageRead     = "message.read"
	RouteReaction        = "reaction"
	RouteThreadCreate    = "thread.create"
	RouteWebhookExecute  = "webhook.execute"
	RouteChannel         = "channel"
	RouteGuild           = "guild"
	RouteCommands        = "commands"
	RouteInteraction     = "interaction"
	RouteAttachmentsLink = "attachments.refresh"
)

// Config holds every limit the emulator enforces and every fault it injects.
// DefaultConfig mirrors Discord; tests shrink what they need.
type Config struct {
	// AttachmentLimit is the largest attachment in bytes (413, code 40005 above).
	AttachmentLimit int64
	// MaxFiles is the most attachments one message may carry.
	MaxFiles int
	// MaxRequestBytes caps a whole request body (413, code 40005 above).
	MaxRequestBytes int64
	// MaxContent is the longest message content in characters.
	MaxContent int
	// URLTTL is how long a signed CDN URL stays valid.
	URLTTL time.Duration

	// GlobalRate is requests per second per bot token over all routes; 0 = off.
	GlobalRate int
	// RouteLimits overrides the per-route buckets; missing routes use
	// DefaultConfig's value, and RouteDefault covers routes without one.
	RouteLimits map[string]RouteLimit
	// DisableRouteLimits turns every per-route bucket off (benchmarks).
	DisableRouteLimits bool
	// InvalidRequestLimit is how many 401/403/429 answers within
	// InvalidRequestWindow ban the client for BanDuration; 0 = off.
	InvalidRequestLimit  int
	InvalidRequestWindow time.Duration
	BanDuration          time.Duration

	// NonceWindow is how long a nonce sent with enforce_nonce is remembered.
	NonceWindow time.Duration

	// HeartbeatInterval is sent in HELLO; a client silent for 1.5 intervals
	// is disconnected with close code 4009.
	HeartbeatInterval time.Duration
	// AutoArchiveMinute is the length of one "minute" of a thread's
	// auto_archive_duration, so tests can archive threads in milliseconds.
	AutoArchiveMinute time.Duration
	// InteractionAckTimeout is how long a bot has to answer an interaction
	// before its callback fails with 10062 Unknown Interaction.
	InteractionAckTimeout time.Duration
	// InteractionTokenTTL is how long follow-ups and edits stay possible.
	InteractionTokenTTL time.Duration

	// MessageContentIntent says whether the application may use the
	// privileged MESSAGE_CONTENT intent (the developer-portal switch). Without
	// it, REST and gateway show others' messages without content.
	MessageContentIntent bool
	// BotPermissions is the bot's permission bitfield in the guild.
	BotPermissions int64

	// Faults, all off when zero; see Faults.
	Faults Faults

	// Token fixes the bot token; empty means a random one.
	Token string
	// DataDir keeps state across restarts; empty means memory only.
	DataDir string
	// SeedFile loads a v3.1 discord-state.json when the state is new.
	SeedFile string
	// Seed makes fault injection reproducible; 0 means time-seeded.
	Seed int64
}

// Faults are injected into REST and CDN requests (never into /_emulator/).
type Faults struct {
	// FailRate is the probability of answering a request with a 5xx.
	FailRate float64 `json:"fail_rate"`
	// DropRate is the probability of closing the connection without an
	// answer; half of the drops happen after the request took effect.
	DropRate float64 `json:"drop_rate"`
	// LatencyMS is added before every request is handled.
	LatencyMS int `json:"latency_ms"`
	// Bandwidth caps uploads and downloads, each in bytes per second.
	Bandwidth int64 `json:"bandwidth"`
	// Storm429 is the probability of a 429 (scope "shared").
	Storm429 float64 `json:"storm_429"`
}

// DefaultConfig mirrors Discord's documented limits.
func DefaultConfig() Config {
	return Config{
		AttachmentLimit:       10 << 20,
		MaxFiles:              10,
		MaxRequestBytes:       25 << 20,
		MaxContent:            2000,
		URLTTL:                24 * time.Hour,
		GlobalRate:            50,
		RouteLimits:           defaultRouteLimits(),
		InvalidRequestLimit:   10000,
		InvalidRequestWindow:  10 * time.Minute,
		BanDuration:           time.Hour,
		NonceWindow:           5 * time.Minute,
		HeartbeatInterval:     41250 * time.Millisecond,
		AutoArchiveMinute:     time.Minute,
		InteractionAckTimeout: 3 * time.Second,
		InteractionTokenTTL:   15 * time.Minute,
		MessageContentIntent:  true,
		BotPermissions:        DefaultBotPermissions,
	}
}

// FastConfig is DefaultConfig without the limits that only slow tests down:
// no per-route or global rate limits, no invalid-request ban, a 1 s
// heartbeat. Every Discord error and size limit stays.
func FastConfig() Config {
	c := DefaultConfig()
	c.DisableRouteLimits = true
	c.GlobalRate = 0
	c.InvalidRequestLimit = 0
	c.HeartbeatInterval = time.Second
	return c
}

func defaultRouteLimits() map[string]RouteLimit {
	return map[string]RouteLimit{
		RouteDefault:         {Requests: 50, Per: time.Second},
		RouteMessageCreate:   {Requests: 5, Per: 5 * time.Second},
		RouteMessageEdit:     {Requests: 5, Per: 5 * time.Second},
		RouteMessageDelete:   {Requests: 5, Per: time.Second},
		RouteMessageRead:     {Requests: 50, Per: time.Second},
		RouteReaction:        {Requests: 1, Per: 250 * time.Millisecond},
		RouteThreadCreate:    {Requests: 10, Per: 10 * time.Second},
		RouteWebhookExecute:  {Requests: 5, Per: 2 * time.Second},
		RouteChannel:         {Requests: 5, Per: 5 * time.Second},
		RouteGuild:           {Requests: 10, Per: 10 * time.Second},
		RouteCommands:        {Requests: 2, Per: 20 * time.Second},
		RouteInteraction:     {Requests: 50, Per: time.Second},
		RouteAttachmentsLink: {Requests: 10, Per: time.Second},
	}
}

// routeLimit resolves a route's bucket, falling back to Discord's numbers.
func (c *Config) routeLimit(route string) RouteLimit {
	if c.DisableRouteLimits {
		return RouteLimit{}
	}
	if l, ok := c.RouteLimits[route]; ok {
		return l
	}
	def := defaultRouteLimits()
	if l, ok := def[route]; ok {
		return l
	}
	if l, ok := c.RouteLimits[RouteDefault]; ok {
		return l
	}
	return def[RouteDefault]
}

func (c *Config) validate() error {
	var errs []error
	if c.AttachmentLimit <= 0 {
		errs = append(errs, fmt.Errorf("attachment limit %d must be positive", c.AttachmentLimit))
	}
	if c.MaxFiles <= 0 {
		errs = append(errs, fmt.Errorf("max files %d must be positive", c.MaxFiles))
	}
	if c.MaxRequestBytes <= 0 {
		errs = append(errs, fmt.Errorf("max request bytes %d must be positive", c.MaxRequestBytes))
	}
	if c.MaxContent <= 0 {
		errs = append(errs, fmt.Errorf("max content %d must be positive", c.MaxContent))
	}
	if c.URLTTL <= 0 {
		errs = append(errs, fmt.Errorf("URL TTL %v must be positive", c.URLTTL))
	}
	if c.HeartbeatInterval <= 0 {
		errs = append(errs, fmt.Errorf("heartbeat interval %v must be positive", c.HeartbeatInterval))
	}
	if c.AutoArchiveMinute <= 0 {
		errs = append(errs, fmt.Errorf("auto-archive minute %v must be positive", c.AutoArchiveMinute))
	}
	if c.InvalidRequestLimit > 0 && c.InvalidRequestWindow <= 0 {
		errs = append(errs, errors.New("invalid-request window must be positive"))
	}
	for name, l := range c.RouteLimits {
		if l.Requests > 0 && l.Per <= 0 {
			errs = append(errs, fmt.Errorf("route %s: period must be positive", name))
		}
	}
	if err := c.Faults.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (f Faults) validate() error {
	for _, p := range []struct {
		name string
		v    float64
	}{{"fail_rate", f.FailRate}, {"drop_rate", f.DropRate}, {"storm_429", f.Storm429}} {
		if p.v < 0 || p.v > 1 {
			return fmt.Errorf("%s %v must be within [0,1]", p.name, p.v)
		}
	}
	if f.LatencyMS < 0 || f.Bandwidth < 0 {
		return errors.New("latency_ms and bandwidth must not be negative")
	}
	return nil
}
