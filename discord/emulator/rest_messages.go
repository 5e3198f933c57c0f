package emulator

import (
	"net/http"
	"strconv"
	"time"
)

// createMessage is POST /channels/{channel_id}/messages.
func (s *Server) createMessage(w http.ResponseWriter, r *http.Request) error {
	body, files, err := s.parseMessageBody(r)
	if err != nil {
		return err
	}
	cid := r.PathValue("channel_id")
	s.mu.Lock()
	c, err := s._channel(cid, time.Now())
	if err == nil {
		need := PermSendMessages
		if c.isThread() {
			need = PermSendMessagesInThreads
		}
		if len(files) > 0 {
			need |= PermAttachFiles
		}
		err = s._botNeeds(need)
	}
	appID := s.st.AppID
	s.mu.Unlock()
	if err != nil {
		return err
	}
	m, _, err := s.post(postSpec{channelID: cid, authorID: appID, body: body, files: files, nonceKey: true})
	if err != nil {
		return err
	}
	s.writeMessage(w, m)
	return nil
}

// writeMessage answers 200 with m as the bot sees it.
func (s *Server) writeMessage(w http.ResponseWriter, m *message) {
	s.writeMessageAs(w, m, s.cfg.MessageContentIntent)
}

// writeMessageAs answers 200 with m, its content shown when hasIntent.
func (s *Server) writeMessageAs(w http.ResponseWriter, m *message, hasIntent bool) {
	s.mu.Lock()
	out := s._renderMessage(m, hasIntent, time.Now())
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// _message finds a message of a channel the bot can read.
func (s *Server) _message(cid, mid string, now time.Time) (*channel, *message, error) {
	c, err := s._channel(cid, now)
	if err != nil {
		return nil, nil, err
	}
	m := s.st.Messages[mid]
	if m == nil || m.ChannelID != cid {
		return nil, nil, errUnknownMessage()
	}
	return c, m, nil
}

func (s *Server) getMessage(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	_, m, err := s._message(r.PathValue("channel_id"), r.PathValue("message_id"), now)
	if err == nil {
		err = s._botNeeds(PermReadMessageHistory)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s._renderMessage(m, s.cfg.MessageContentIntent, now))
	return nil
}

// listMessages is GET /channels/{channel_id}/messages: newest first, at most
// limit (1–100, default 50), around/before/after a snowflake.
func (s *Server) listMessages(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return formError([]string{"limit"}, "NUMBER_TYPE_MAX", "int value should be less than or equal to 100.")
		}
		limit = n
	}
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
	ids := s.st.order[c.ID]
	var lo, hi int // the window ids[lo:hi], ascending
	switch {
	case q.Get("around") != "":
		at := searchID(ids, q.Get("around"))
		lo = max(0, at-limit/2)
		hi = min(len(ids), lo+limit)
	case q.Get("after") != "":
		lo = searchAfter(ids, q.Get("after"))
		hi = min(len(ids), lo+limit)
	default:
		hi = len(ids)
		if b := q.Get("before"); b != "" {
			hi = searchID(ids, b)
		}
		lo = max(0, hi-limit)
	}
	out := make([]messageJSON, 0, hi-lo)
	for i := hi - 1; i >= lo; i-- {
		out = append(out, s._renderMessage(s.st.Messages[ids[i]], s.cfg.MessageContentIntent, now))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// searchID is the index of the first ID not below id.
func searchID(ids []string, id string) int {
	lo, hi := 0, len(ids)
	for lo < hi {
		mid := (lo + hi) / 2
		if snowLess(ids[mid], id) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// searchAfter is the index of the first ID above id.
func searchAfter(ids []string, id string) int {
	i := searchID(ids, id)
	if i < len(ids) && ids[i] == id {
		i++
	}
	return i
}

// editMessage is PATCH /channels/{channel_id}/messages/{message_id}.
func (s *Server) editMessage(w http.ResponseWriter, r *http.Request) error {
	body, files, err := s.parseMessageBody(r)
	if err != nil {
		return err
	}
	m, err := s.edit(r.PathValue("channel_id"), r.PathValue("message_id"), "", body, files)
	if err != nil {
		return err
	}
	s.writeMessage(w, m)
	return nil
}

// edit changes content, embeds, flags and attachments of a message written
// by author (the bot when empty).
func (s *Server) edit(cid, mid, author string, body messageBody, files []upload) (*message, error) {
	if err := s.checkContent(&body); err != nil {
		return nil, err
	}
	s.mu.Lock()
	now := time.Now()
	if author == "" {
		author = s.st.AppID
	}
	_, m, err := s._editable(cid, mid, author, now)
	if err == nil && len(files) > 0 {
		kept := len(m.Attachments)
		if body.Attachments != nil {
			kept = len(*body.Attachments)
		}
		if kept+len(files) > s.cfg.MaxFiles {
			err = &apiError{Status: 400, Code: CodeMaxAttachments, Message: "Maximum number of attachments in a message reached (" + itoa(s.cfg.MaxFiles) + ")"}
		}
	}
	atts := make([]attachment, len(files))
	for i, f := range files {
		atts[i] = attachment{ID: s.st.newSnowflake(now), Filename: f.filename, Size: int64(len(f.data)), ContentType: f.contentType}
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := s.storeUploads(atts, files, body.Attachments); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now = time.Now()
	if _, m, err = s._editable(cid, mid, author, now); err != nil {
		s.dropBlobs(atts)
		return nil, err
	}
	content, embeds, comps := m.Content, m.Embeds, m.Components
	if body.Content != nil {
		content = *body.Content
	}
	if body.Embeds != nil {
		embeds = *body.Embeds
	}
	if body.Components != nil {
		comps = numberComponents(*body.Components)
	}
	kept, dropped := m.Attachments, []attachment(nil)
	if body.Attachments != nil {
		keep := map[string]bool{}
		for _, a := range *body.Attachments {
			keep[a.id()] = true
		}
		kept = nil
		for _, a := range m.Attachments {
			if keep[a.ID] {
				kept = append(kept, a)
			} else {
				dropped = append(dropped, a)
			}
		}
	}
	if content == "" && len(embeds) == 0 && len(comps) == 0 && len(kept)+len(atts) == 0 {
		s.dropBlobs(atts)
		return nil, &apiError{Status: 400, Code: CodeEmptyMessage, Message: "Cannot send an empty message"}
	}
	m.Content, m.Embeds, m.Components = content, embeds, comps
	if body.Flags != nil {
		m.Flags = m.Flags&^(1<<2) | *body.Flags&(1<<2)
	}
	s.st.unindexAttachments(dropped)
	s.dropBlobs(dropped)
	m.Attachments = append(kept, atts...)
	s.st.indexAttachments(m.ID, atts)
	t := now
	m.Edited = &t
	s._emitMessage("MESSAGE_UPDATE", m)
	s._messageChanged(m)
	s.markDirty()
	return m, nil
}

// _editable finds a message author may edit: not in an archived thread.
func (s *Server) _editable(cid, mid, author string, now time.Time) (*channel, *message, error) {
	c, err := s._lookupChannel(cid, now)
	if err != nil {
		return nil, nil, err
	}
	m := s.st.Messages[mid]
	if m == nil || m.ChannelID != cid {
		return nil, nil, errUnknownMessage()
	}
	if m.AuthorID != author && m.WebhookID != author {
		return nil, nil, &apiError{Status: http.StatusForbidden, Code: CodeCannotEditOthers, Message: "Cannot edit a message authored by another user"}
	}
	if c.isThread() && c.Archived {
		return nil, nil, errThreadArchived()
	}
	return c, m, nil
}

// deleteMessage is DELETE /channels/{channel_id}/messages/{message_id}.
func (s *Server) deleteMessage(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	c, m, err := s._message(r.PathValue("channel_id"), r.PathValue("message_id"), now)
	if err != nil {
		return err
	}
	if m.AuthorID != s.st.AppID {
		if err := s._botNeeds(PermManageMessages); err != nil {
			return err
		}
	}
	if c.isThread() && c.Archived {
		return errThreadArchived()
	}
	s._delete(c, m)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// _delete removes m, its attachments' bytes, and tells the gateway.
func (s *Server) _delete(c *channel, m *message) {
	s.st.removeMessage(m)
	s.dropBlobs(m.Attachments)
	if c.isThread() && c.MsgCount > 0 {
		c.MsgCount--
	}
	s._emit("MESSAGE_DELETE", intentGuildMessages, func(bool) any {
		return map[string]any{"id": m.ID, "channel_id": m.ChannelID, "guild_id": s.st.GuildID}
	})
	s.markDirty()
}

// bulkDelete is POST /channels/{channel_id}/messages/bulk-delete.
func (s *Server) bulkDelete(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Messages []string `json:"messages"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if len(body.Messages) < 2 || len(body.Messages) > 100 {
		return formError([]string{"messages"}, "BASE_TYPE_BAD_LENGTH", "Must be between 2 and 100 in length.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	c, err := s._channel(r.PathValue("channel_id"), now)
	if err == nil {
		err = s._botNeeds(PermManageMessages)
	}
	if err != nil {
		return err
	}
	for _, id := range body.Messages {
		if m := s.st.Messages[id]; m != nil && m.ChannelID == c.ID {
			s._delete(c, m)
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
