package emulator

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

const (
	maxPins          = 50
	codeMaxPins      = 30003
	msgPinnedNotice  = 6
	codeUnknownEmoji = 10014
)

// listPins answers the legacy /pins with an array and /messages/pins with
// {items, has_more}, newest pin first.
func (s *Server) listPins(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	c, err := s._channel(r.PathValue("channel_id"), now)
	if err == nil {
		err = s._botNeeds(PermReadMessageHistory)
	}
	if err != nil {
		return err
	}
	var pinned []messageJSON
	ids := s.st.order[c.ID]
	for i := len(ids) - 1; i >= 0; i-- {
		if m := s.st.Messages[ids[i]]; m.Pinned {
			pinned = append(pinned, s._renderMessage(m, s.cfg.MessageContentIntent, now))
		}
	}
	if !strings.Contains(r.URL.Path, "/messages/pins") {
		if pinned == nil {
			pinned = []messageJSON{}
		}
		writeJSON(w, http.StatusOK, pinned)
		return nil
	}
	items := []map[string]any{}
	for _, m := range pinned {
		items = append(items, map[string]any{"pinned_at": m.Timestamp, "message": m})
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "has_more": false})
	return nil
}

// pin pins or unpins a message; pinning posts Discord's "pinned a message"
// notice into the channel, as Discord does.
func (s *Server) pin(on bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		now := time.Now()
		c, m, err := s._message(r.PathValue("channel_id"), r.PathValue("message_id"), now)
		if err == nil {
			err = s._botNeeds(PermManageMessages)
		}
		if err != nil {
			return err
		}
		if c.isThread() && c.Archived {
			return errThreadArchived()
		}
		if on && !m.Pinned {
			n := 0
			for _, id := range s.st.order[c.ID] {
				if s.st.Messages[id].Pinned {
					n++
				}
			}
			if n >= maxPins {
				return &apiError{Status: 400, Code: codeMaxPins, Message: "Maximum number of pins reached (50)"}
			}
			m.Pinned = true
			notice := &message{ID: s.st.newSnowflake(now), ChannelID: c.ID, AuthorID: s.st.AppID,
				Type: msgPinnedNotice, Timestamp: now, RefID: m.ID}
			s._insert(c, notice, now)
		} else if !on {
			m.Pinned = false
		}
		s._emitMessage("MESSAGE_UPDATE", m)
		s._emit("CHANNEL_PINS_UPDATE", intentGuilds, func(bool) any {
			return map[string]any{"guild_id": s.st.GuildID, "channel_id": c.ID, "last_pin_timestamp": timestamp(now)}
		})
		s.markDirty()
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

func (s *Server) _reactable(r *http.Request, now time.Time) (*message, error) {
	c, m, err := s._message(r.PathValue("channel_id"), r.PathValue("message_id"), now)
	if err != nil {
		return nil, err
	}
	if c.isThread() && c.Archived {
		return nil, errThreadArchived()
	}
	if r.PathValue("emoji") == "" {
		return nil, &apiError{Status: 400, Code: codeUnknownEmoji, Message: "Unknown Emoji"}
	}
	return m, nil
}

func (s *Server) addReaction(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	m, err := s._reactable(r, now)
	if err == nil {
		err = s._botNeeds(PermAddReactions | PermReadMessageHistory)
	}
	if err != nil {
		return err
	}
	s._react(m, r.PathValue("emoji"), s.st.AppID, true)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) removeReaction(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	m, err := s._reactable(r, now)
	if err != nil {
		return err
	}
	who := r.PathValue("user_id")
	if who == "" {
		who = s.st.AppID
	} else if who != s.st.AppID {
		if err := s._botNeeds(PermManageMessages); err != nil {
			return err
		}
	}
	s._react(m, r.PathValue("emoji"), who, false)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// _react adds or removes one user's reaction and tells the gateway.
func (s *Server) _react(m *message, emoji, userID string, add bool) {
	i := slices.IndexFunc(m.Reactions, func(r reaction) bool { return r.Emoji == emoji })
	if add {
		if i < 0 {
			m.Reactions = append(m.Reactions, reaction{Emoji: emoji})
			i = len(m.Reactions) - 1
		}
		if slices.Contains(m.Reactions[i].Users, userID) {
			return
		}
		m.Reactions[i].Users = append(m.Reactions[i].Users, userID)
	} else {
		if i < 0 {
			return
		}
		j := slices.Index(m.Reactions[i].Users, userID)
		if j < 0 {
			return
		}
		m.Reactions[i].Users = slices.Delete(m.Reactions[i].Users, j, j+1)
		if len(m.Reactions[i].Users) == 0 {
			m.Reactions = slices.Delete(m.Reactions, i, i+1)
		}
	}
	event := "MESSAGE_REACTION_REMOVE"
	if add {
		event = "MESSAGE_REACTION_ADD"
	}
	s._emit(event, intentGuildMessageReactions, func(bool) any {
		return map[string]any{"user_id": userID, "channel_id": m.ChannelID, "message_id": m.ID,
			"guild_id": s.st.GuildID, "emoji": emojiJSON(emoji), "burst": false, "type": 0}
	})
	s.markDirty()
}

func (s *Server) listReactions(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, m, err := s._message(r.PathValue("channel_id"), r.PathValue("message_id"), time.Now())
	if err != nil {
		return err
	}
	out := []userJSON{}
	for _, re := range m.Reactions {
		if re.Emoji == r.PathValue("emoji") {
			for _, u := range re.Users {
				out = append(out, s._renderUser(u))
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) clearReactions(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, m, err := s._message(r.PathValue("channel_id"), r.PathValue("message_id"), time.Now())
	if err == nil {
		err = s._botNeeds(PermManageMessages)
	}
	if err != nil {
		return err
	}
	m.Reactions = nil
	s.markDirty()
	w.WriteHeader(http.StatusNoContent)
	return nil
}
