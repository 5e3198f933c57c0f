package emulator

import (
	"strconv"
	"time"
)

// postSpec is one message about to be created by anyone: the bot, a
// webhook, an interaction response or a user through the control API.
type postSpec struct {
	channelID   string
	authorID    string
	webhookID   string
	appID       string
	msgType     int
	body        messageBody
	files       []upload
	interaction *msgInteract
	refID       string // replies to this message (a clicked one), unchecked
	nonceKey    bool   // enforce_nonce: a repeat returns the first message
	ephemeral   bool   // stored, never listed in the channel
}

// post validates, stores the attachments outside the lock and creates the
// message. The bool is false when an earlier message with the same nonce
// was returned instead.
func (s *Server) post(p postSpec) (*message, bool, error) {
	nonce, err := nonceString(p.body.Nonce)
	if err != nil {
		return nil, false, err
	}
	if err := s.checkContent(&p.body); err != nil {
		return nil, false, err
	}
	content := ""
	if p.body.Content != nil {
		content = *p.body.Content
	}
	var embeds []embed
	if p.body.Embeds != nil {
		embeds = *p.body.Embeds
	}
	var comps []component
	if p.body.Components != nil {
		comps = numberComponents(*p.body.Components)
	}
	if content == "" && len(embeds) == 0 && len(comps) == 0 && len(p.files) == 0 {
		return nil, false, &apiError{Status: 400, Code: CodeEmptyMessage, Message: "Cannot send an empty message"}
	}
	key := p.channelID + "|" + p.authorID + "|" + nonce
	enforce := p.nonceKey && p.body.EnforceNonce && nonce != ""

	s.mu.Lock()
	now := time.Now()
	_, err = s._lookupChannel(p.channelID, now)
	if err == nil && enforce {
		if m := s._nonceHit(key, now); m != nil {
			s.mu.Unlock()
			return m, false, nil
		}
	}
	atts := make([]attachment, len(p.files))
	for i, f := range p.files {
		atts[i] = attachment{ID: s.st.newSnowflake(now), Filename: f.filename, Size: int64(len(f.data)), ContentType: f.contentType}
	}
	s.mu.Unlock()
	if err != nil {
		return nil, false, err
	}
	if err := s.storeUploads(atts, p.files, p.body.Attachments); err != nil {
		return nil, false, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now = time.Now()
	c, err := s._lookupChannel(p.channelID, now)
	if err != nil {
		s.dropBlobs(atts)
		return nil, false, err
	}
	if enforce {
		if m := s._nonceHit(key, now); m != nil {
			s.dropBlobs(atts)
			return m, false, nil
		}
	}
	if c.isThread() && c.Archived {
		if c.Locked && s._userPerms(p.authorID)&PermManageThreads == 0 {
			s.dropBlobs(atts)
			return nil, false, errThreadArchived()
		}
		c.Archived, c.ArchivedAt = false, now
		s._emitChannel("THREAD_UPDATE", c)
	}
	m := &message{
		ID: s.st.newSnowflake(now), ChannelID: c.ID, AuthorID: p.authorID, WebhookID: p.webhookID,
		AppID: p.appID, Type: p.msgType, Content: content, Embeds: embeds, Attachments: atts, Components: comps,
		Timestamp: now, Nonce: nonce, Interaction: p.interaction,
	}
	if p.body.Flags != nil {
		m.Flags = *p.body.Flags & (1<<2 | 1<<12) // SUPPRESS_EMBEDS, SUPPRESS_NOTIFICATIONS
	}
	if ref := p.body.MessageReference; ref != nil && ref.MessageID != "" {
		if s.st.Messages[ref.MessageID] == nil {
			s.dropBlobs(atts)
			return nil, false, formError([]string{"message_reference"}, "REPLIES_UNKNOWN_MESSAGE", "Unknown message")
		}
		m.RefID = ref.MessageID
		if m.Type == msgDefault {
			m.Type = msgReply
		}
	}
	if p.refID != "" {
		m.RefID = p.refID
	}
	if p.ephemeral {
		m.Flags |= flagEphemeral
		return m, true, nil
	}
	s._insert(c, m, now)
	if enforce {
		s.st.nonces[key] = nonceEntry{messageID: m.ID, at: now}
	}
	return m, true, nil
}

// _insert files m into c, counts it and tells the gateway.
func (s *Server) _insert(c *channel, m *message, now time.Time) {
	if c.isThread() {
		pos := c.TotalSent
		m.Position = &pos
		c.MsgCount++
		c.TotalSent++
		c.Activity = now
	}
	c.LastMsgID = m.ID
	s.st.addMessage(m)
	s._emitMessage("MESSAGE_CREATE", m)
	s.markDirty()
}

// _nonceHit finds the message an earlier request with the same nonce made.
func (s *Server) _nonceHit(key string, now time.Time) *message {
	e, ok := s.st.nonces[key]
	if !ok {
		return nil
	}
	if now.Sub(e.at) > s.cfg.NonceWindow {
		delete(s.st.nonces, key)
		return nil
	}
	return s.st.Messages[e.messageID]
}

// storeUploads writes each upload under its attachment's ID, applying the
// filename and description given in payload_json's attachments.
func (s *Server) storeUploads(atts []attachment, files []upload, refs *[]attachmentRef) error {
	for i, f := range files {
		if refs != nil {
			for _, r := range *refs {
				if r.id() == itoa(f.index) {
					if r.Filename != "" {
						atts[i].Filename = r.Filename
					}
					atts[i].Description = r.Description
				}
			}
		}
		if err := s.blobs.put(atts[i].ID, f.data); err != nil {
			s.dropBlobs(atts[:i])
			return &apiError{Status: 500, Code: CodeGeneral, Message: "500: Internal Server Error"}
		}
	}
	return nil
}

func (s *Server) dropBlobs(atts []attachment) {
	for _, a := range atts {
		s.blobs.remove(a.ID)
	}
}

// _channel finds a channel the bot can see, archiving an idle thread first.
func (s *Server) _channel(id string, now time.Time) (*channel, error) {
	c, err := s._lookupChannel(id, now)
	if err != nil {
		return nil, err
	}
	if err := s._botNeeds(PermViewChannel); err != nil {
		return nil, err
	}
	return c, nil
}

// _lookupChannel finds a channel whoever asks, archiving an idle thread first.
func (s *Server) _lookupChannel(id string, now time.Time) (*channel, error) {
	c := s.st.Channels[id]
	if c == nil {
		return nil, errUnknownChannel()
	}
	s._autoArchive(c, now)
	return c, nil
}

// _autoArchive archives a thread idle for its auto_archive_duration.
func (s *Server) _autoArchive(c *channel, now time.Time) {
	if !c.isThread() || c.Archived || c.AutoMin <= 0 {
		return
	}
	idle := time.Duration(c.AutoMin) * s.cfg.AutoArchiveMinute
	if now.Sub(c.Activity) < idle {
		return
	}
	c.Archived = true
	c.ArchivedAt = c.Activity.Add(idle)
	s._emitChannel("THREAD_UPDATE", c)
	s.markDirty()
}

// _sweepThreads archives every idle thread, so THREAD_UPDATE arrives even
// when nobody asks.
func (s *Server) _sweepThreads(now time.Time) {
	for _, c := range s.st.Channels {
		s._autoArchive(c, now)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
