package discord

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"

	"github.com/discofs/discofs/vault"
)

// Lock order: Bot.mu guards the confirmations waiting for a click and is never held while
// talking to Discord or the vault.

// closeDisallowedIntents is the gateway close code for a privileged intent the application
// may not use.
const closeDisallowedIntents = 4014

// BotConfig shapes a Bot. The zero value is usable: it manages the vault from any channel of
// the guild it is told about, for the guild owner and administrators only.
type BotConfig struct {
	// GuildID is the guild whose slash commands the bot registers; empty means the guild
	// of ChannelID.
	GuildID string
	// ChannelID is the vault channel. Prefix commands are read there only; slash commands
	// work anywhere in the guild.
	ChannelID string
	// Allow lists the user and role IDs that may use the bot. Empty means the guild owner
	// and members with the Administrator permission.
	Allow []string
	// DownloadDir is where `download` restores archives on the bot's host; empty turns
	// downloads off, since a bot must not write where nobody chose.
	DownloadDir string
	// Prefix starts a prefix command ("!" when empty). Prefix commands need the privileged
	// MESSAGE_CONTENT intent; without it they are off and only slash commands work.
	Prefix string
	// NoPrefix turns prefix commands off and does not ask for the intent at all.
	NoPrefix bool
	// ProgressEvery is the least time between two progress edits (1.2 s when zero), below
	// Discord's edit rate limit of 5 per 5 s.
	ProgressEvery time.Duration
	// ConfirmTimeout is how long a confirmation button waits (2 min when zero; Discord
	// keeps an interaction's token for 15).
	ConfirmTimeout time.Duration
	// Queue, when set, reports the writeback queue of a writable mount in the same process
	// (`discofs mount --bot`); `status` then shows it.
	Queue func() vault.WritebackStatus
	// Retry, when set, makes the failed uploads of that mount's queue due now, for one
	// archive ID or all ("") and returns how many files it re-queued; `resume` calls it.
	Retry func(archive string) int
	// Health, when set, describes the store's health in a line for status (request
	// outcomes, rate limits); the read cache's figures come from the vault.
	Health func() string
	// LegacyPassphrase is the v3.1 passphrase (v3.1's USER_KEY) that `migrate-legacy`
	// imports with; empty turns the import off. It is never logged or shown.
	LegacyPassphrase string
	// API is the Discord API base URL the session talks to ("" for discord.com). v3.1
	// archives imported by `migrate-legacy` record it, so later reads of their chunks go
	// to the same API.
	API string
	// Notify shows a desktop notification on the host when an upload or resume finishes,
	// and InhibitSleep keeps the host awake while they run; each is skipped silently when
	// the host has no tool for it.
	Notify, InhibitSleep bool
	// Host, when set, is shared with a mount's queue (see Host.WatchQueue); the bot then
	// leaves closing it to its owner.
	Host *Host
}

// Bot manages a vault from Discord: slash commands, `!` prefix commands and confirmation
// buttons, all going to the same handlers.
type Bot struct {
	s   *discordgo.Session
	v   *vault.Vault
	cfg BotConfig
	log *slog.Logger

	guildID  string
	appID    string
	prefixOn bool          // the gateway granted MESSAGE_CONTENT
	ready    chan struct{} // closed once commands are registered
	// connects and resumes count gateway connections and resumed sessions, for status.
	connects, resumes atomic.Int64
	host              *host // cfg.Host's, else one Run closes

	// ctx is Run's context; operations started by commands run on it, so they end with
	// the bot and never with a Discord request.
	ctx  context.Context
	work sync.WaitGroup

	mu      sync.Mutex
	pending map[string]*confirmation
	closing bool // Run is returning: no new work starts
}

// NewBot makes a bot for the vault on a session (see NewSession). It does not connect
// until Run.
func NewBot(session *discordgo.Session, v *vault.Vault, cfg BotConfig, log *slog.Logger) *Bot {
	if cfg.Prefix == "" {
		cfg.Prefix = "!"
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = 1200 * time.Millisecond
	}
	if cfg.ConfirmTimeout <= 0 {
		cfg.ConfirmTimeout = 2 * time.Minute
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Bot{s: session, v: v, cfg: cfg, log: log, ready: make(chan struct{}), pending: map[string]*confirmation{}}
	if cfg.Host != nil {
		b.host = cfg.Host.h
	} else {
		b.host = newHost(log)
	}
	return b
}

// ack answers an interaction with its first response.
func (b *Bot) ack(i *discordgo.Interaction, r *discordgo.InteractionResponse) error {
	return b.s.InteractionRespond(i, r)
}

// Ready is closed once the bot is connected and its slash commands are registered.
func (b *Bot) Ready() <-chan struct{} { return b.ready }

// Run connects to the gateway, registers the slash commands for the vault's guild and
// serves commands until ctx ends; then it waits for running operations, which see ctx
// cancelled. discordgo reconnects and resumes the gateway session on its own when the
// connection drops or Discord asks for a reconnect.
func (b *Bot) Run(ctx context.Context) error {
	b.ctx = ctx
	b.s.AddHandler(b.onInteraction)
	b.s.AddHandler(b.onMessage)
	b.s.AddHandler(func(_ *discordgo.Session, _ *discordgo.Connect) { b.connects.Add(1) })
	b.s.AddHandler(func(_ *discordgo.Session, _ *discordgo.Resumed) {
		b.resumes.Add(1)
		b.log.Info("bot: gateway session resumed")
	})
	if err := b.open(); err != nil {
		return err
	}
	defer func() {
		b.s.Close()
		b.mu.Lock()
		b.closing = true
		for tok, p := range b.pending {
			p.timer.Stop()
			delete(b.pending, tok)
		}
		b.mu.Unlock()
		b.work.Wait()
		if b.cfg.Host == nil { // made by NewBot
			b.host.close()
		}
	}()
	if err := b.register(); err != nil {
		return err
	}
	close(b.ready)
	b.log.Info("bot: serving", "guild", b.guildID, "channel", b.cfg.ChannelID, "prefix_commands", b.prefixOn)
	<-ctx.Done()
	return nil
}

// open connects, asking for MESSAGE_CONTENT when prefix commands are wanted. An application
// without the intent is refused with close code 4014; the bot then runs with slash
// commands only rather than not at all.
func (b *Bot) open() error {
	base := b.s.Identify.Intents | discordgo.IntentsGuilds | discordgo.IntentsGuildMessages
	if !b.cfg.NoPrefix {
		b.s.Identify.Intents = base | discordgo.IntentMessageContent
		err := b.s.Open()
		if err == nil {
			b.prefixOn = true
			return nil
		}
		b.s.Close() // a failed Open keeps its websocket and would refuse the next
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != closeDisallowedIntents {
			return fmt.Errorf("discord gateway: %w", err)
		}
		b.log.Warn("bot: the application may not use the MESSAGE_CONTENT intent; prefix commands are off")
	}
	b.s.Identify.Intents = base &^ discordgo.IntentMessageContent
	if err := b.s.Open(); err != nil {
		b.s.Close()
		return fmt.Errorf("discord gateway: %w", err)
	}
	return nil
}

// register finds the guild and bulk-overwrites its slash commands, so commands this
// version dropped disappear and the IDs of kept ones stay.
func (b *Bot) register() error {
	if b.s.State == nil || b.s.State.User == nil {
		return errors.New("discord gateway: no READY received")
	}
	b.appID = b.s.State.User.ID
	b.guildID = b.cfg.GuildID
	if b.guildID == "" {
		if b.cfg.ChannelID == "" {
			return errors.New("bot: neither a guild nor a channel is configured")
		}
		c, err := b.s.Channel(b.cfg.ChannelID)
		if err != nil {
			return fmt.Errorf("bot: vault channel %s: %w", b.cfg.ChannelID, err)
		}
		b.guildID = c.GuildID
	}
	if _, err := b.s.ApplicationCommandBulkOverwrite(b.appID, b.guildID, slashCommands()); err != nil {
		return fmt.Errorf("bot: register slash commands: %w", err)
	}
	return nil
}

// allowed says whether a member may use the bot. perms are the member's guild permissions
// when Discord sent them (interactions do; messages do not).
func (b *Bot) allowed(userID string, m *discordgo.Member, perms int64) bool {
	if len(b.cfg.Allow) > 0 {
		if slices.Contains(b.cfg.Allow, userID) {
			return true
		}
		return m != nil && slices.ContainsFunc(m.Roles, func(r string) bool { return slices.Contains(b.cfg.Allow, r) })
	}
	if perms&discordgo.PermissionAdministrator != 0 {
		return true
	}
	g, err := b.s.State.Guild(b.guildID)
	if err != nil {
		if g, err = b.s.Guild(b.guildID); err != nil {
			b.log.Warn("bot: cannot read the guild to check permissions", "err", err)
			return false
		}
	}
	if g.OwnerID == userID {
		return true
	}
	if m == nil {
		return false
	}
	for _, r := range g.Roles {
		if (r.ID == g.ID || slices.Contains(m.Roles, r.ID)) && r.Permissions&discordgo.PermissionAdministrator != 0 {
			return true
		}
	}
	return false
}

// refusal is what a stranger is told: polite, and naming who may use the bot.
func (b *Bot) refusal() string {
	who := "the server owner and administrators"
	if len(b.cfg.Allow) > 0 {
		who = "the users and roles in its allowlist"
	}
	return "🔒 Sorry, this bot manages a private archive vault and only " + who + " may use it."
}

// spawn runs fn as bot work: Run waits for it before it returns.
func (b *Bot) spawn(fn func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closing {
		return
	}
	b.work.Add(1)
	go func() {
		defer b.work.Done()
		fn()
	}()
}
