package emulator

import (
	"net/http"
	"slices"
)

// StateDump is what GET /_emulator/state answers: every channel, thread and
// message, with attachment sizes but not their bytes.
type StateDump struct {
	GuildID       string         `json:"guild_id"`
	ChannelID     string         `json:"channel_id"`
	ApplicationID string         `json:"application_id"`
	Permissions   string         `json:"bot_permissions"`
	Channels      []ChannelState `json:"channels"`
	Messages      []MessageState `json:"messages"`
	Totals        Totals         `json:"totals"`
}

// ChannelState is one channel or thread.
type ChannelState struct {
	ID           string `json:"id"`
	Type         int    `json:"type"`
	Name         string `json:"name"`
	ParentID     string `json:"parent_id,omitempty"`
	Archived     bool   `json:"archived,omitempty"`
	Locked       bool   `json:"locked,omitempty"`
	AutoArchive  int    `json:"auto_archive_duration,omitempty"`
	MessageCount int    `json:"message_count"`
}

// MessageState is one message.
type MessageState struct {
	ID          string            `json:"id"`
	ChannelID   string            `json:"channel_id"`
	AuthorID    string            `json:"author_id"`
	WebhookID   string            `json:"webhook_id,omitempty"`
	Type        int               `json:"type"`
	Content     string            `json:"content"`
	Pinned      bool              `json:"pinned,omitempty"`
	Embeds      int               `json:"embeds,omitempty"`
	Attachments []AttachmentState `json:"attachments,omitempty"`
}

// AttachmentState is one attachment's identity and size.
type AttachmentState struct {
	ID       string `json:"id"`
	Filename string `json:"filename"`
	Size     int64  `json:"size"`
}

// Totals sums up a StateDump.
type Totals struct {
	Channels        int   `json:"channels"`
	Threads         int   `json:"threads"`
	Messages        int   `json:"messages"`
	Attachments     int   `json:"attachments"`
	AttachmentBytes int64 `json:"attachment_bytes"`
}

// State returns the whole state, channels then messages in ID order;
// channelID, when set, keeps one channel and its messages.
func (s *Server) State(channelID string) StateDump {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := StateDump{GuildID: s.st.GuildID, ChannelID: s.st.ChannelID, ApplicationID: s.st.AppID,
		Permissions: itoa64(s.st.BotPermissions), Channels: []ChannelState{}, Messages: []MessageState{}}
	for _, c := range s.st.Channels {
		if channelID != "" && c.ID != channelID {
			continue
		}
		if c.isThread() {
			d.Totals.Threads++
		} else {
			d.Totals.Channels++
		}
		d.Channels = append(d.Channels, ChannelState{ID: c.ID, Type: c.Type, Name: c.Name, ParentID: c.ParentID,
			Archived: c.Archived, Locked: c.Locked, AutoArchive: c.AutoMin, MessageCount: len(s.st.order[c.ID])})
		for _, id := range s.st.order[c.ID] {
			m := s.st.Messages[id]
			ms := MessageState{ID: m.ID, ChannelID: m.ChannelID, AuthorID: m.AuthorID, WebhookID: m.WebhookID,
				Type: m.Type, Content: m.Content, Pinned: m.Pinned, Embeds: len(m.Embeds)}
			for _, a := range m.Attachments {
				ms.Attachments = append(ms.Attachments, AttachmentState{ID: a.ID, Filename: a.Filename, Size: a.Size})
				d.Totals.Attachments++
				d.Totals.AttachmentBytes += a.Size
			}
			d.Messages = append(d.Messages, ms)
		}
	}
	slices.SortFunc(d.Channels, func(a, b ChannelState) int { return snowCmp(a.ID, b.ID) })
	slices.SortFunc(d.Messages, func(a, b MessageState) int { return snowCmp(a.ID, b.ID) })
	d.Totals.Messages = len(d.Messages)
	return d
}

func (s *Server) ctlState(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, s.State(r.URL.Query().Get("channel_id")))
	return nil
}
