package emulator

import (
	"strconv"
	"strings"
	"time"
)

// The *JSON types are the wire shapes of Discord's OpenAPI description
// (UserResponse, MessageResponse, MessageAttachmentResponse,
// GuildChannelResponse, ThreadResponse).

type userJSON struct {
	ID            string  `json:"id"`
	Username      string  `json:"username"`
	Avatar        *string `json:"avatar"`
	Discriminator string  `json:"discriminator"`
	PublicFlags   int     `json:"public_flags"`
	Flags         int     `json:"flags"`
	Bot           bool    `json:"bot,omitempty"`
	GlobalName    *string `json:"global_name"`
}

type attachmentJSON struct {
	ID          string `json:"id"`
	Filename    string `json:"filename"`
	Size        int64  `json:"size"`
	URL         string `json:"url"`
	ProxyURL    string `json:"proxy_url"`
	ContentType string `json:"content_type,omitempty"`
	Description string `json:"description,omitempty"`
}

type reactionJSON struct {
	Count        int            `json:"count"`
	CountDetails map[string]int `json:"count_details"`
	Me           bool           `json:"me"`
	MeBurst      bool           `json:"me_burst"`
	BurstColors  []string       `json:"burst_colors"`
	Emoji        map[string]any `json:"emoji"`
}

type messageJSON struct {
	ID                  string           `json:"id"`
	Type                int              `json:"type"`
	Content             string           `json:"content"`
	ChannelID           string           `json:"channel_id"`
	Author              userJSON         `json:"author"`
	Attachments         []attachmentJSON `json:"attachments"`
	Embeds              []embed          `json:"embeds"`
	Mentions            []userJSON       `json:"mentions"`
	MentionRoles        []string         `json:"mention_roles"`
	Pinned              bool             `json:"pinned"`
	MentionEveryone     bool             `json:"mention_everyone"`
	TTS                 bool             `json:"tts"`
	Timestamp           string           `json:"timestamp"`
	EditedTimestamp     *string          `json:"edited_timestamp"`
	Flags               int              `json:"flags"`
	Components          []component      `json:"components"`
	Reactions           []reactionJSON   `json:"reactions,omitempty"`
	Nonce               string           `json:"nonce,omitempty"`
	WebhookID           string           `json:"webhook_id,omitempty"`
	ApplicationID       string           `json:"application_id,omitempty"`
	Position            *int             `json:"position,omitempty"`
	Thread              *channelJSON     `json:"thread,omitempty"`
	MessageReference    *messageRefJSON  `json:"message_reference,omitempty"`
	InteractionMetadata *interactMeta    `json:"interaction_metadata,omitempty"`
	GuildID             string           `json:"guild_id,omitempty"`
	Member              *memberJSON      `json:"member,omitempty"`
}

type messageRefJSON struct {
	Type      int    `json:"type"`
	MessageID string `json:"message_id,omitempty"`
	ChannelID string `json:"channel_id"`
	GuildID   string `json:"guild_id,omitempty"`
}

type interactMeta struct {
	ID                           string            `json:"id"`
	Type                         int               `json:"type"`
	User                         userJSON          `json:"user"`
	Name                         string            `json:"name,omitempty"`
	AuthorizingIntegrationOwners map[string]string `json:"authorizing_integration_owners"`
	InteractedMessageID          string            `json:"interacted_message_id,omitempty"`
}

type memberJSON struct {
	User        *userJSON `json:"user,omitempty"`
	Nick        *string   `json:"nick"`
	Roles       []string  `json:"roles"`
	JoinedAt    string    `json:"joined_at"`
	Deaf        bool      `json:"deaf"`
	Mute        bool      `json:"mute"`
	Flags       int       `json:"flags"`
	Pending     bool      `json:"pending"`
	Permissions string    `json:"permissions,omitempty"`
}

type threadMetaJSON struct {
	Archived            bool   `json:"archived"`
	ArchiveTimestamp    string `json:"archive_timestamp"`
	AutoArchiveDuration int    `json:"auto_archive_duration"`
	Locked              bool   `json:"locked"`
	CreateTimestamp     string `json:"create_timestamp"`
	Invitable           *bool  `json:"invitable,omitempty"`
}

type channelJSON struct {
	ID                   string          `json:"id"`
	Type                 int             `json:"type"`
	GuildID              string          `json:"guild_id"`
	Name                 string          `json:"name"`
	ParentID             *string         `json:"parent_id"`
	LastMessageID        *string         `json:"last_message_id"`
	RateLimitPerUser     int             `json:"rate_limit_per_user"`
	Flags                int             `json:"flags"`
	Position             *int            `json:"position,omitempty"`
	Topic                *string         `json:"topic,omitempty"`
	NSFW                 *bool           `json:"nsfw,omitempty"`
	PermissionOverwrites []any           `json:"permission_overwrites,omitempty"`
	OwnerID              string          `json:"owner_id,omitempty"`
	MessageCount         *int            `json:"message_count,omitempty"`
	MemberCount          *int            `json:"member_count,omitempty"`
	TotalMessageSent     *int            `json:"total_message_sent,omitempty"`
	ThreadMetadata       *threadMetaJSON `json:"thread_metadata,omitempty"`
}

func strPtr(s string) *string { return &s }
func intPtr(i int) *int       { return &i }

func (s *Server) _renderUser(id string) userJSON {
	u := s.st.Users[id]
	if u == nil {
		if wh := s.st.Webhooks[id]; wh != nil {
			return userJSON{ID: wh.ID, Username: wh.Name, Discriminator: "0000", Bot: true}
		}
		u = &user{ID: id, Username: "unknown-" + id}
	}
	out := userJSON{ID: u.ID, Username: u.Username, Discriminator: "0", Bot: u.Bot}
	if u.GlobalName != "" {
		out.GlobalName = strPtr(u.GlobalName)
	}
	return out
}

func (s *Server) _renderChannel(c *channel) channelJSON {
	out := channelJSON{ID: c.ID, Type: c.Type, GuildID: s.st.GuildID, Name: c.Name}
	if c.ParentID != "" {
		out.ParentID = strPtr(c.ParentID)
	}
	if c.LastMsgID != "" {
		out.LastMessageID = strPtr(c.LastMsgID)
	}
	if !c.isThread() {
		out.Position = intPtr(c.Position)
		out.Topic = strPtr(c.Topic)
		out.NSFW = new(bool)
		out.PermissionOverwrites = []any{}
		return out
	}
	out.OwnerID = c.OwnerID
	out.MessageCount = intPtr(c.MsgCount)
	out.MemberCount = intPtr(1)
	out.TotalMessageSent = intPtr(c.TotalSent)
	archTS := c.ArchivedAt
	if archTS.IsZero() {
		archTS = c.Created
	}
	out.ThreadMetadata = &threadMetaJSON{
		Archived:            c.Archived,
		ArchiveTimestamp:    timestamp(archTS),
		AutoArchiveDuration: c.AutoMin,
		Locked:              c.Locked,
		CreateTimestamp:     timestamp(c.Created),
	}
	if c.Type == chanPrivateThread {
		out.ThreadMetadata.Invitable = &c.Invitable
	}
	return out
}

// _contentHidden says whether a reader without MESSAGE_CONTENT sees m
// empty: everything but the bot's own messages and those mentioning it.
func (s *Server) _contentHidden(m *message, hasIntent bool) bool {
	if hasIntent || m.AuthorID == s.st.AppID {
		return false
	}
	return !strings.Contains(m.Content, "<@"+s.st.AppID+">")
}

// _renderMessage shapes m for the wire, signing fresh attachment URLs.
func (s *Server) _renderMessage(m *message, hasIntent bool, now time.Time) messageJSON {
	out := messageJSON{
		ID:            m.ID,
		Type:          m.Type,
		Content:       m.Content,
		ChannelID:     m.ChannelID,
		Author:        s._renderUser(m.AuthorID),
		Attachments:   []attachmentJSON{},
		Embeds:        m.Embeds,
		Mentions:      []userJSON{},
		MentionRoles:  []string{},
		Pinned:        m.Pinned,
		Timestamp:     timestamp(m.Timestamp),
		Flags:         m.Flags,
		Components:    m.Components,
		Nonce:         m.Nonce,
		WebhookID:     m.WebhookID,
		ApplicationID: m.AppID,
		Position:      m.Position,
	}
	if out.Embeds == nil {
		out.Embeds = []embed{}
	}
	if out.Components == nil {
		out.Components = []component{}
	}
	if m.Edited != nil {
		out.EditedTimestamp = strPtr(timestamp(*m.Edited))
	}
	if strings.Contains(m.Content, "<@"+s.st.AppID+">") {
		out.Mentions = append(out.Mentions, s._renderUser(s.st.AppID))
	}
	for _, a := range m.Attachments {
		u := s._signURL(m.ChannelID, a, now)
		out.Attachments = append(out.Attachments, attachmentJSON{
			ID: a.ID, Filename: a.Filename, Size: a.Size, URL: u, ProxyURL: u,
			ContentType: a.ContentType, Description: a.Description,
		})
	}
	for _, r := range m.Reactions {
		me := false
		for _, u := range r.Users {
			me = me || u == s.st.AppID
		}
		out.Reactions = append(out.Reactions, reactionJSON{
			Count: len(r.Users), CountDetails: map[string]int{"burst": 0, "normal": len(r.Users)},
			Me: me, BurstColors: []string{}, Emoji: emojiJSON(r.Emoji),
		})
	}
	if t := s.st.Channels[m.ID]; t != nil && t.isThread() && t.ParentID == m.ChannelID {
		tj := s._renderChannel(t)
		out.Thread = &tj
	}
	if m.RefID != "" {
		out.MessageReference = &messageRefJSON{MessageID: m.RefID, ChannelID: m.ChannelID, GuildID: s.st.GuildID}
	}
	if m.Interaction != nil {
		out.InteractionMetadata = &interactMeta{
			ID: m.Interaction.ID, Type: m.Interaction.Type, User: s._renderUser(m.Interaction.UserID),
			Name: m.Interaction.Name, AuthorizingIntegrationOwners: map[string]string{"0": s.st.GuildID},
			InteractedMessageID: m.Interaction.MessageID,
		}
	}
	if s._contentHidden(m, hasIntent) {
		out.Content = ""
		out.Embeds = []embed{}
		out.Attachments = []attachmentJSON{}
		out.Components = []component{}
	}
	return out
}

func emojiJSON(e string) map[string]any {
	if name, id, ok := strings.Cut(e, ":"); ok {
		return map[string]any{"id": id, "name": name}
	}
	return map[string]any{"id": nil, "name": e}
}

func (s *Server) _renderMember(userID string, withUser bool) memberJSON {
	m := memberJSON{Roles: s._memberRoles(userID), JoinedAt: timestamp(snowflakeTime(s.st.GuildID))}
	if withUser {
		u := s._renderUser(userID)
		m.User = &u
	}
	m.Permissions = strconv.FormatInt(s._userPerms(userID), 10)
	return m
}
