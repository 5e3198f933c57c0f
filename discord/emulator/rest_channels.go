package emulator

import (
	"net/http"
	"strconv"
	"time"
)

const codeUnknownMember = 10007

func (s *Server) getMe(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	u := s._renderUser(s.st.AppID)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"id": u.ID, "username": u.Username, "avatar": nil, "discriminator": u.Discriminator,
		"public_flags": 0, "flags": 0, "bot": true, "global_name": nil,
		"mfa_enabled": false, "locale": "en-US", "premium_type": 0, "verified": true, "email": nil,
	})
	return nil
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("user_id")
	if s.st.Users[id] == nil {
		return &apiError{Status: 404, Code: 10013, Message: "Unknown User"}
	}
	writeJSON(w, http.StatusOK, s._renderUser(id))
	return nil
}

func (s *Server) getMyGuilds(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, []map[string]any{{
		"id": s.st.GuildID, "name": s.st.GuildName, "icon": nil, "banner": nil, "owner": false,
		"permissions": strconv.FormatInt(s.st.BotPermissions, 10), "features": []string{},
	}})
	return nil
}

func (s *Server) _guildOr404(id string) error {
	if id != s.st.GuildID {
		return &apiError{Status: 404, Code: CodeUnknownGuild, Message: "Unknown Guild"}
	}
	return nil
}

func (s *Server) _guild() map[string]any {
	return map[string]any{
		"id": s.st.GuildID, "name": s.st.GuildName, "icon": nil, "splash": nil, "discovery_splash": nil,
		"owner_id": s.st.OwnerID, "afk_channel_id": nil, "afk_timeout": 300, "verification_level": 0,
		"default_message_notifications": 1, "explicit_content_filter": 0, "roles": s._roles(),
		"emojis": []any{}, "stickers": []any{}, "features": []string{}, "mfa_level": 0,
		"application_id": nil, "system_channel_id": nil, "system_channel_flags": 0,
		"rules_channel_id": nil, "vanity_url_code": nil, "description": nil, "banner": nil,
		"premium_tier": 0, "preferred_locale": "en-US", "public_updates_channel_id": nil,
		"nsfw_level": 0, "premium_progress_bar_enabled": false,
	}
}

func (s *Server) getGuild(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s._guildOr404(r.PathValue("guild_id")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s._guild())
	return nil
}

func (s *Server) getRoles(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s._guildOr404(r.PathValue("guild_id")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s._roles())
	return nil
}

func (s *Server) getMember(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s._guildOr404(r.PathValue("guild_id")); err != nil {
		return err
	}
	id := r.PathValue("user_id")
	if u := s.st.Users[id]; u == nil {
		return &apiError{Status: 404, Code: codeUnknownMember, Message: "Unknown Member"}
	}
	writeJSON(w, http.StatusOK, s._renderMember(id, true))
	return nil
}

// _textChannels lists the guild's channels that are not threads.
func (s *Server) _textChannels() []channelJSON {
	out := []channelJSON{}
	for _, c := range s.st.Channels {
		if !c.isThread() {
			out = append(out, s._renderChannel(c))
		}
	}
	return out
}

func (s *Server) getGuildChannels(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s._guildOr404(r.PathValue("guild_id")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s._textChannels())
	return nil
}

// createGuildChannel is POST /guilds/{guild_id}/channels (text channels only).
func (s *Server) createGuildChannel(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name  string `json:"name"`
		Type  int    `json:"type"`
		Topic string `json:"topic"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if n := chars(body.Name); n < 1 || n > 100 {
		return formError([]string{"name"}, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
	}
	if body.Type != chanText {
		return formError([]string{"type"}, "BASE_TYPE_CHOICES", "The emulator only makes text channels (type 0).")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s._guildOr404(r.PathValue("guild_id")); err != nil {
		return err
	}
	if err := s._botNeeds(PermManageChannels); err != nil {
		return err
	}
	now := time.Now()
	c := &channel{ID: s.st.newSnowflake(now), Type: chanText, Name: body.Name, Topic: body.Topic,
		Created: now, Position: len(s._textChannels())}
	s.st.Channels[c.ID] = c
	s._emitChannel("CHANNEL_CREATE", c)
	s.markDirty()
	writeJSON(w, http.StatusCreated, s._renderChannel(c))
	return nil
}

func (s *Server) getChannel(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s._channel(r.PathValue("channel_id"), time.Now())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s._renderChannel(c))
	return nil
}

// patchChannel renames a channel or topic, or archives, unarchives, locks
// or renames a thread. An archived thread takes no change but unarchiving.
func (s *Server) patchChannel(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name                *string `json:"name"`
		Topic               *string `json:"topic"`
		Archived            *bool   `json:"archived"`
		Locked              *bool   `json:"locked"`
		AutoArchiveDuration *int    `json:"auto_archive_duration"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	c, err := s._channel(r.PathValue("channel_id"), now)
	if err != nil {
		return err
	}
	if !c.isThread() {
		if err := s._botNeeds(PermManageChannels); err != nil {
			return err
		}
		if body.Name != nil {
			c.Name = *body.Name
		}
		if body.Topic != nil {
			c.Topic = *body.Topic
		}
		s._emitChannel("CHANNEL_UPDATE", c)
		s.markDirty()
		writeJSON(w, http.StatusOK, s._renderChannel(c))
		return nil
	}
	if c.OwnerID != s.st.AppID || body.Locked != nil || c.Locked {
		if err := s._botNeeds(PermManageThreads); err != nil {
			return err
		}
	}
	unarchive := body.Archived != nil && !*body.Archived
	if c.Archived && !unarchive {
		return errThreadArchived()
	}
	if d := body.AutoArchiveDuration; d != nil {
		if !validArchiveDuration(*d) {
			return formError([]string{"auto_archive_duration"}, "BASE_TYPE_CHOICES", "Value must be one of {60, 1440, 4320, 10080}.")
		}
		c.AutoMin = *d
	}
	if body.Name != nil {
		c.Name = *body.Name
	}
	if body.Locked != nil {
		c.Locked = *body.Locked
	}
	if body.Archived != nil && *body.Archived != c.Archived {
		c.Archived, c.ArchivedAt = *body.Archived, now
		if !c.Archived {
			c.Activity = now
		}
	}
	s._emitChannel("THREAD_UPDATE", c)
	s.markDirty()
	writeJSON(w, http.StatusOK, s._renderChannel(c))
	return nil
}

// deleteChannel removes a channel or thread with its messages (and a
// channel's threads).
func (s *Server) deleteChannel(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s._channel(r.PathValue("channel_id"), time.Now())
	if err != nil {
		return err
	}
	need := PermManageChannels
	if c.isThread() {
		need = PermManageThreads
	}
	if err := s._botNeeds(need); err != nil {
		return err
	}
	out := s._renderChannel(c)
	if !c.isThread() {
		for _, t := range s._threads(c.ID, func(*channel) bool { return true }) {
			s._removeChannel(t)
		}
	}
	s._removeChannel(c)
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) _removeChannel(c *channel) {
	for _, id := range s.st.order[c.ID] {
		if m := s.st.Messages[id]; m != nil {
			delete(s.st.Messages, id)
			s.st.unindexAttachments(m.Attachments)
			s.dropBlobs(m.Attachments)
		}
	}
	delete(s.st.order, c.ID)
	delete(s.st.Channels, c.ID)
	event := "CHANNEL_DELETE"
	if c.isThread() {
		event = "THREAD_DELETE"
	}
	s._emitChannel(event, c)
	s.markDirty()
}
