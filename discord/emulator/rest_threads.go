package emulator

import (
	"net/http"
	"slices"
	"strconv"
	"time"
)

const (
	codeInvalidChannelType = 50024
	codeThreadExists       = 160004
)

type threadBody struct {
	Name                string `json:"name"`
	AutoArchiveDuration int    `json:"auto_archive_duration"`
	Type                int    `json:"type"`
	Invitable           *bool  `json:"invitable"`
}

func (b *threadBody) validate() error {
	if n := chars(b.Name); n < 1 || n > 100 {
		return formError([]string{"name"}, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
	}
	if b.AutoArchiveDuration == 0 {
		b.AutoArchiveDuration = 1440
	}
	if !validArchiveDuration(b.AutoArchiveDuration) {
		return formError([]string{"auto_archive_duration"}, "BASE_TYPE_CHOICES", "Value must be one of {60, 1440, 4320, 10080}.")
	}
	return nil
}

func validArchiveDuration(m int) bool {
	return m == 60 || m == 1440 || m == 4320 || m == 10080
}

// startThreadFromMessage is POST /channels/{channel_id}/messages/{message_id}/threads:
// a public thread whose ID is the message's.
func (s *Server) startThreadFromMessage(w http.ResponseWriter, r *http.Request) error {
	var body threadBody
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if err := body.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	c, m, err := s._message(r.PathValue("channel_id"), r.PathValue("message_id"), now)
	if err == nil {
		err = s._botNeeds(PermCreatePublicThreads)
	}
	if err != nil {
		return err
	}
	if c.isThread() {
		return &apiError{Status: 400, Code: codeInvalidChannelType, Message: "Cannot execute action on this channel type"}
	}
	if s.st.Channels[m.ID] != nil {
		return &apiError{Status: 400, Code: codeThreadExists, Message: "A thread has already been created for this message"}
	}
	t := s._newThread(m.ID, c.ID, chanPublicThread, body, now)
	m.Flags |= flagHasThread
	s._emitMessage("MESSAGE_UPDATE", m)
	writeJSON(w, http.StatusCreated, s._renderChannel(t))
	return nil
}

// startThread is POST /channels/{channel_id}/threads: a thread without a
// starter message (type 12 unless told 11). A public one posts Discord's
// THREAD_CREATED notice (type 18) into the parent.
func (s *Server) startThread(w http.ResponseWriter, r *http.Request) error {
	var body threadBody
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if err := body.validate(); err != nil {
		return err
	}
	if body.Type == 0 {
		body.Type = chanPrivateThread
	}
	if body.Type != chanPublicThread && body.Type != chanPrivateThread {
		return formError([]string{"type"}, "BASE_TYPE_CHOICES", "Value must be one of {11, 12}.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	c, err := s._channel(r.PathValue("channel_id"), now)
	if err != nil {
		return err
	}
	need := PermCreatePublicThreads
	if body.Type == chanPrivateThread {
		need = PermCreatePrivateThreads
	}
	if err := s._botNeeds(need); err != nil {
		return err
	}
	if c.isThread() {
		return &apiError{Status: 400, Code: codeInvalidChannelType, Message: "Cannot execute action on this channel type"}
	}
	t := s._newThread(s.st.newSnowflake(now), c.ID, body.Type, body, now)
	if body.Type == chanPublicThread {
		notice := &message{ID: s.st.newSnowflake(now), ChannelID: c.ID, AuthorID: s.st.AppID,
			Type: msgThreadCreated, Content: t.Name, Timestamp: now}
		s._insert(c, notice, now)
	}
	writeJSON(w, http.StatusCreated, s._renderChannel(t))
	return nil
}

func (s *Server) _newThread(id, parent string, typ int, body threadBody, now time.Time) *channel {
	t := &channel{ID: id, Type: typ, Name: body.Name, ParentID: parent, OwnerID: s.st.AppID,
		Created: now, Activity: now, AutoMin: body.AutoArchiveDuration, Invitable: true}
	if body.Invitable != nil {
		t.Invitable = *body.Invitable
	}
	s.st.Channels[id] = t
	s._emitChannel("THREAD_CREATE", t)
	s.markDirty()
	return t
}

// activeThreads is GET /guilds/{guild_id}/threads/active.
func (s *Server) activeThreads(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.PathValue("guild_id") != s.st.GuildID {
		return &apiError{Status: 404, Code: CodeUnknownGuild, Message: "Unknown Guild"}
	}
	now := time.Now()
	s._sweepThreads(now)
	out := []channelJSON{}
	for _, c := range s._threads("", func(c *channel) bool { return !c.Archived }) {
		out = append(out, s._renderChannel(c))
	}
	writeJSON(w, http.StatusOK, map[string]any{"threads": out, "members": []any{}})
	return nil
}

// _threads lists threads of parent (any when empty) that keep says to,
// newest first.
func (s *Server) _threads(parent string, keep func(*channel) bool) []*channel {
	var out []*channel
	for _, c := range s.st.Channels {
		if c.isThread() && (parent == "" || c.ParentID == parent) && keep(c) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b *channel) int { return snowCmp(b.ID, a.ID) })
	return out
}

// archivedThreads is GET /channels/{channel_id}/threads/archived/{public,private}:
// newest archive first, before an ISO 8601 timestamp, at most limit.
func (s *Server) archivedThreads(typ int) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		limit := 50
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 2 || n > 100 {
				return formError([]string{"limit"}, "NUMBER_TYPE_MIN", "Must be between 2 and 100.")
			}
			limit = n
		}
		var before time.Time
		if v := q.Get("before"); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return formError([]string{"before"}, "DATE_TIME_TYPE_PARSE", "Could not parse "+v+". Should be ISO8601.")
			}
			before = t
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		now := time.Now()
		c, err := s._channel(r.PathValue("channel_id"), now)
		if err == nil {
			need := PermReadMessageHistory
			if typ == chanPrivateThread {
				need |= PermManageThreads
			}
			err = s._botNeeds(need)
		}
		if err != nil {
			return err
		}
		s._sweepThreads(now)
		list := s._threads(c.ID, func(t *channel) bool {
			return t.Type == typ && t.Archived && (before.IsZero() || t.ArchivedAt.Before(before))
		})
		slices.SortStableFunc(list, func(a, b *channel) int { return b.ArchivedAt.Compare(a.ArchivedAt) })
		more := len(list) > limit
		if more {
			list = list[:limit]
		}
		out := []channelJSON{}
		for _, t := range list {
			out = append(out, s._renderChannel(t))
		}
		writeJSON(w, http.StatusOK, map[string]any{"threads": out, "members": []any{}, "has_more": more})
		return nil
	}
}

func (s *Server) joinThread(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s._channel(r.PathValue("channel_id"), time.Now())
	if err != nil {
		return err
	}
	if !c.isThread() {
		return &apiError{Status: 400, Code: codeInvalidChannelType, Message: "Cannot execute action on this channel type"}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) threadMembers(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s._channel(r.PathValue("channel_id"), time.Now())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, []map[string]any{{
		"id": c.ID, "user_id": c.OwnerID, "join_timestamp": timestamp(c.Created), "flags": 0,
	}})
	return nil
}
