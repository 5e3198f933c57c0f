package emulator

import (
	"slices"
	"sort"
	"strconv"
	"time"
)

// Channel types used by the emulator.
const (
	chanText          = 0
	chanPublicThread  = 11
	chanPrivateThread = 12
)

// Message types used by the emulator.
const (
	msgDefault       = 0
	msgThreadCreated = 18
	msgReply         = 19
	msgSlashCommand  = 20
	msgThreadStarter = 21
)

// Message flags used by the emulator.
const (
	flagHasThread = 1 << 5
	flagEphemeral = 1 << 6
	flagLoading   = 1 << 7
)

// discordEpoch is the first millisecond of 2015, where snowflakes start.
const discordEpoch = 1420070400000

// state is everything a restart with --data must keep. Server.mu guards it.
type state struct {
	Version        int                   `json:"version"`
	Token          string                `json:"token"`
	URLSecret      []byte                `json:"url_secret"`
	GuildID        string                `json:"guild_id"`
	GuildName      string                `json:"guild_name"`
	ChannelID      string                `json:"channel_id"`
	AppID          string                `json:"application_id"`
	OwnerID        string                `json:"owner_id"`
	MemberID       string                `json:"member_id"`
	AdminID        string                `json:"admin_id"`
	AdminRoleID    string                `json:"admin_role_id"`
	BotRoleID      string                `json:"bot_role_id"`
	BotPermissions int64                 `json:"bot_permissions,string"`
	LastSnowflake  uint64                `json:"last_snowflake,string"`
	Users          map[string]*user      `json:"users"`
	Channels       map[string]*channel   `json:"channels"`
	Messages       map[string]*message   `json:"messages"`
	Webhooks       map[string]*webhook   `json:"webhooks"`
	Commands       map[string]*command   `json:"commands"`
	Roles          map[string]*role      `json:"roles"`        // the guild's roles but @everyone and the bot's
	MemberRoles    map[string][]string   `json:"member_roles"` // user ID → role IDs
	order          map[string][]string   // channel ID → message IDs, ascending
	nonces         map[string]nonceEntry // channel|author|nonce → message
	atts           map[string]string     // attachment ID → message ID
}

type nonceEntry struct {
	messageID string
	at        time.Time
}

type user struct {
	ID         string `json:"id"`
	Username   string `json:"username"`
	GlobalName string `json:"global_name,omitempty"`
	Bot        bool   `json:"bot,omitempty"`
}

// role is one of the guild's roles.
type role struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Permissions int64  `json:"permissions,string"`
	Position    int    `json:"position"`
}

type channel struct {
	ID         string    `json:"id"`
	Type       int       `json:"type"`
	Name       string    `json:"name"`
	Topic      string    `json:"topic,omitempty"`
	ParentID   string    `json:"parent_id,omitempty"`
	OwnerID    string    `json:"owner_id,omitempty"`
	Position   int       `json:"position"`
	LastMsgID  string    `json:"last_message_id,omitempty"`
	Created    time.Time `json:"created"`
	Archived   bool      `json:"archived,omitempty"`
	Locked     bool      `json:"locked,omitempty"`
	AutoMin    int       `json:"auto_archive_duration,omitempty"`
	ArchivedAt time.Time `json:"archive_timestamp"`
	Activity   time.Time `json:"last_activity"`
	MsgCount   int       `json:"message_count,omitempty"`
	TotalSent  int       `json:"total_message_sent,omitempty"`
	Invitable  bool      `json:"invitable,omitempty"`
}

func (c *channel) isThread() bool {
	return c.Type == chanPublicThread || c.Type == chanPrivateThread
}

type message struct {
	ID          string       `json:"id"`
	ChannelID   string       `json:"channel_id"`
	AuthorID    string       `json:"author_id"`
	WebhookID   string       `json:"webhook_id,omitempty"`
	AppID       string       `json:"application_id,omitempty"`
	Type        int          `json:"type"`
	Content     string       `json:"content"`
	Embeds      []embed      `json:"embeds,omitempty"`
	Attachments []attachment `json:"attachments,omitempty"`
	Components  []component  `json:"components,omitempty"`
	Pinned      bool         `json:"pinned,omitempty"`
	Timestamp   time.Time    `json:"timestamp"`
	Edited      *time.Time   `json:"edited_timestamp,omitempty"`
	Nonce       string       `json:"nonce,omitempty"`
	Flags       int          `json:"flags,omitempty"`
	Position    *int         `json:"position,omitempty"`
	Reactions   []reaction   `json:"reactions,omitempty"`
	RefID       string       `json:"referenced_message_id,omitempty"`
	Interaction *msgInteract `json:"interaction_metadata,omitempty"`
}

type msgInteract struct {
	ID     string `json:"id"`
	Type   int    `json:"type"`
	UserID string `json:"user_id"`
	Name   string `json:"name,omitempty"`
	// MessageID is the message whose component was used (type 3).
	MessageID string `json:"interacted_message_id,omitempty"`
}

type attachment struct {
	ID          string `json:"id"`
	Filename    string `json:"filename"`
	Size        int64  `json:"size"`
	ContentType string `json:"content_type,omitempty"`
	Description string `json:"description,omitempty"`
}

type reaction struct {
	Emoji string   `json:"emoji"`
	Users []string `json:"users"`
}

type webhook struct {
	ID        string `json:"id"`
	Token     string `json:"token"`
	ChannelID string `json:"channel_id"`
	Name      string `json:"name"`
	CreatorID string `json:"creator_id"`
}

type command struct {
	ID          string         `json:"id"`
	GuildID     string         `json:"guild_id,omitempty"`
	Name        string         `json:"name"`
	Type        int            `json:"type"`
	Description string         `json:"description"`
	Options     []any          `json:"options,omitempty"`
	Version     string         `json:"version"`
	Extra       map[string]any `json:"extra,omitempty"`
}

// newSnowflake returns an ID later than every ID handed out so far.
// The caller holds Server.mu.
func (st *state) newSnowflake(now time.Time) string {
	id := uint64(now.UnixMilli()-discordEpoch) << 22
	if id <= st.LastSnowflake {
		id = st.LastSnowflake + 1
	}
	st.LastSnowflake = id
	return strconv.FormatUint(id, 10)
}

// noteSnowflake keeps newSnowflake above an ID that came from elsewhere
// (a seed file).
func (st *state) noteSnowflake(id string) {
	if v, err := strconv.ParseUint(id, 10, 64); err == nil && v > st.LastSnowflake {
		st.LastSnowflake = v
	}
}

func snowflakeTime(id string) time.Time {
	v, err := strconv.ParseUint(id, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(int64(v>>22) + discordEpoch).UTC()
}

// snowLess orders snowflakes numerically.
func snowLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

func snowCmp(a, b string) int {
	switch {
	case a == b:
		return 0
	case snowLess(a, b):
		return -1
	}
	return 1
}

// addMessage stores m and keeps its channel's order ascending.
func (st *state) addMessage(m *message) {
	st.Messages[m.ID] = m
	st.indexAttachments(m.ID, m.Attachments)
	ids := st.order[m.ChannelID]
	if n := len(ids); n == 0 || snowLess(ids[n-1], m.ID) {
		st.order[m.ChannelID] = append(ids, m.ID)
		return
	}
	i := sort.Search(len(ids), func(i int) bool { return !snowLess(ids[i], m.ID) })
	st.order[m.ChannelID] = slices.Insert(ids, i, m.ID)
}

func (st *state) removeMessage(m *message) {
	delete(st.Messages, m.ID)
	st.unindexAttachments(m.Attachments)
	ids := st.order[m.ChannelID]
	i := sort.Search(len(ids), func(i int) bool { return !snowLess(ids[i], m.ID) })
	if i < len(ids) && ids[i] == m.ID {
		st.order[m.ChannelID] = slices.Delete(ids, i, i+1)
	}
}

func (st *state) indexAttachments(mid string, atts []attachment) {
	for _, a := range atts {
		st.atts[a.ID] = mid
	}
}

func (st *state) unindexAttachments(atts []attachment) {
	for _, a := range atts {
		delete(st.atts, a.ID)
	}
}

// rebuildIndexes recreates what is not persisted.
func (st *state) rebuildIndexes() {
	st.order = map[string][]string{}
	st.nonces = map[string]nonceEntry{}
	st.atts = map[string]string{}
	for _, m := range st.Messages {
		st.order[m.ChannelID] = append(st.order[m.ChannelID], m.ID)
		st.indexAttachments(m.ID, m.Attachments)
	}
	for _, ids := range st.order {
		slices.SortFunc(ids, snowCmp)
	}
	if st.Users == nil {
		st.Users = map[string]*user{}
	}
	if st.Channels == nil {
		st.Channels = map[string]*channel{}
	}
	if st.Messages == nil {
		st.Messages = map[string]*message{}
	}
	if st.Webhooks == nil {
		st.Webhooks = map[string]*webhook{}
	}
	if st.Commands == nil {
		st.Commands = map[string]*command{}
	}
	if st.Roles == nil {
		st.Roles = map[string]*role{}
	}
	if st.MemberRoles == nil {
		st.MemberRoles = map[string][]string{}
	}
}

// timestamp formats t the way Discord does (ISO 8601, microseconds, +00:00).
func timestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000+00:00")
}
