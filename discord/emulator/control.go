package emulator

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// serveControl is the /_emulator/ API for tests and demos; README.md
// documents it. It is never rate limited nor faulted.
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	type ep struct{ method, path string }
	routes := map[ep]func(http.ResponseWriter, *http.Request) error{
		{"GET", "/_emulator/info"}:               s.ctlInfo,
		{"GET", "/_emulator/state"}:              s.ctlState,
		{"GET", "/_emulator/faults"}:             s.ctlGetFaults,
		{"POST", "/_emulator/faults"}:            s.ctlFaults,
		{"POST", "/_emulator/expire-urls"}:       s.ctlExpire,
		{"POST", "/_emulator/corrupt"}:           s.ctlCorrupt,
		{"POST", "/_emulator/messages"}:          s.ctlMessage,
		{"POST", "/_emulator/interactions"}:      s.ctlInteraction,
		{"POST", "/_emulator/components"}:        s.ctlComponent,
		{"POST", "/_emulator/permissions"}:       s.ctlPermissions,
		{"POST", "/_emulator/roles"}:             s.ctlRoles,
		{"POST", "/_emulator/members"}:           s.ctlMembers,
		{"POST", "/_emulator/gateway/reconnect"}: s.ctlReconnect,
		{"POST", "/_emulator/gateway/drop"}:      s.ctlDrop,
		{"POST", "/_emulator/reset-ratelimits"}:  s.ctlResetLimits,
	}
	fn := routes[ep{r.Method, r.URL.Path}]
	if fn == nil {
		writeError(w, errNotFound())
		return
	}
	if err := fn(w, r); err != nil {
		writeError(w, err)
	}
}

func ctlBad(msg string) error { return errBadRequest(msg) }

// ctlLocked decodes the request's JSON body into body, then runs fn with
// Server.mu held.
func (s *Server) ctlLocked(r *http.Request, body any, fn func() error) error {
	if err := decodeJSON(r, body); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return fn()
}

// inChannel reports whether m exists and is in channelID; an empty
// channelID matches any channel.
func inChannel(m *message, channelID string) bool {
	return m != nil && (channelID == "" || m.ChannelID == channelID)
}

func (s *Server) ctlInfo(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, s.Info())
	return nil
}

func (s *Server) ctlGetFaults(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, s.faults.get())
	return nil
}

// ctlFaults replaces the faults: {"fail_rate","drop_rate","latency_ms",
// "bandwidth","storm_429"}; all 0 turns them off.
func (s *Server) ctlFaults(w http.ResponseWriter, r *http.Request) error {
	var f Faults
	if err := decodeJSON(r, &f); err != nil {
		return err
	}
	if err := s.SetFaults(f); err != nil {
		return ctlBad(err.Error())
	}
	writeJSON(w, http.StatusOK, f)
	return nil
}

func (s *Server) ctlExpire(w http.ResponseWriter, r *http.Request) error {
	if err := s.ExpireURLs(); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"expired": true})
	return nil
}

// ctlCorrupt flips one byte of a stored attachment (the message's first
// when attachment_id is empty).
func (s *Server) ctlCorrupt(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		ChannelID    string `json:"channel_id"`
		MessageID    string `json:"message_id"`
		AttachmentID string `json:"attachment_id"`
		Offset       int64  `json:"offset"`
	}
	var aid string
	err := s.ctlLocked(r, &body, func() error {
		m := s.st.Messages[body.MessageID]
		if !inChannel(m, body.ChannelID) {
			return errUnknownMessage()
		}
		aid = body.AttachmentID
		if aid == "" && len(m.Attachments) > 0 {
			aid = m.Attachments[0].ID
		}
		if !slices.ContainsFunc(m.Attachments, func(a attachment) bool { return a.ID == aid }) {
			return ctlBad("the message has no such attachment")
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.blobs.flip(aid, body.Offset); err != nil {
		return ctlBad(err.Error())
	}
	writeJSON(w, http.StatusOK, map[string]any{"attachment_id": aid, "offset": body.Offset})
	return nil
}

// ctlMessage posts as a user (the member by default) into a channel (the
// vault channel by default) and dispatches MESSAGE_CREATE.
func (s *Server) ctlMessage(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		ChannelID string `json:"channel_id"`
		AuthorID  string `json:"author_id"`
		Content   string `json:"content"`
	}
	err := s.ctlLocked(r, &body, func() error {
		if body.ChannelID == "" {
			body.ChannelID = s.st.ChannelID
		}
		if body.AuthorID == "" {
			body.AuthorID = s.st.MemberID
		}
		if s.st.Users[body.AuthorID] == nil {
			return ctlBad("unknown author_id")
		}
		return nil
	})
	if err != nil {
		return err
	}
	m, _, err := s.post(postSpec{channelID: body.ChannelID, authorID: body.AuthorID, body: messageBody{Content: &body.Content}})
	if err != nil {
		return err
	}
	s.mu.Lock()
	out := s._renderMessage(m, true, time.Now())
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
	return nil
}

// ctlInteraction invokes a slash command as a user and answers with the
// bot's final response message: the newest response once no change came for
// settle_ms (default 300), or 504 when none came within timeout_ms (default
// 10000).
func (s *Server) ctlInteraction(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		UserID    string                     `json:"user_id"`
		ChannelID string                     `json:"channel_id"`
		Command   string                     `json:"command"`
		Options   map[string]json.RawMessage `json:"options"`
		TimeoutMS int                        `json:"timeout_ms"`
		SettleMS  int                        `json:"settle_ms"`
	}
	var i *interaction
	err := s.ctlLocked(r, &body, func() error {
		if body.UserID == "" {
			body.UserID = s.st.MemberID
		}
		if body.ChannelID == "" {
			body.ChannelID = s.st.ChannelID
		}
		cmd := s._findCommand(body.Command)
		switch {
		case cmd == nil:
			return &apiError{Status: 404, Code: CodeUnknownCommand, Message: "Unknown application command"}
		case s.st.Users[body.UserID] == nil:
			return ctlBad("unknown user_id")
		case s.st.Channels[body.ChannelID] == nil:
			return errUnknownChannel()
		}
		i = s._newInteraction(cmd, body.UserID, body.ChannelID, body.Options, time.Now())
		return nil
	})
	if err != nil {
		return err
	}
	s.awaitResponse(w, r, i, body.TimeoutMS, body.SettleMS)
	return nil
}

// awaitResponse answers a control request with i's newest response once no
// change came for settleMS (default 300), or 504 when none came within
// timeoutMS (default 10000).
func (s *Server) awaitResponse(w http.ResponseWriter, r *http.Request, i *interaction, timeoutMS, settleMS int) {
	timeout := time.Duration(timeoutMS) * time.Millisecond
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	settle := time.Duration(settleMS) * time.Millisecond
	if settle <= 0 {
		settle = 300 * time.Millisecond
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		last, changed := i.last, i.changed
		s.mu.Unlock()
		var quiet <-chan time.Time
		if last != nil {
			quiet = time.After(settle)
		}
		select {
		case <-changed:
			continue
		case <-quiet:
		case <-deadline.C:
			if last == nil {
				writeJSON(w, http.StatusGatewayTimeout, map[string]any{"code": 0,
					"message": "the bot did not answer interaction " + i.id + " within " + timeout.String()})
				return
			}
		case <-r.Context().Done():
			return
		}
		s.mu.Lock()
		out := s._renderMessage(last, true, time.Now())
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
		return
	}
}

// ctlComponent clicks a button as a user: a MESSAGE_COMPONENT interaction
// on the message goes out on the gateway, and the answer is the bot's final
// response as for ctlInteraction. After a 6 or 7 callback the response is
// the clicked message, followed through every edit, whoever makes it.
func (s *Server) ctlComponent(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		UserID    string `json:"user_id"`
		ChannelID string `json:"channel_id"`
		MessageID string `json:"message_id"`
		CustomID  string `json:"custom_id"`
		TimeoutMS int    `json:"timeout_ms"`
		SettleMS  int    `json:"settle_ms"`
	}
	var i *interaction
	err := s.ctlLocked(r, &body, func() error {
		if body.UserID == "" {
			body.UserID = s.st.MemberID
		}
		m := s._anyMessage(body.MessageID)
		switch {
		case s.st.Users[body.UserID] == nil:
			return ctlBad("unknown user_id")
		case !inChannel(m, body.ChannelID):
			return errUnknownMessage()
		case m.AuthorID != s.st.AppID && m.AppID != s.st.AppID:
			return ctlBad("the message is not the application's: clicks on it never reach the bot")
		}
		switch b := findButton(m.Components, body.CustomID); {
		case b == nil || b.Style == styleLink || b.Style == stylePremium:
			return ctlBad("the message has no button with custom_id " + strconv.Quote(body.CustomID))
		case b.Disabled:
			return ctlBad("the button " + strconv.Quote(body.CustomID) + " is disabled")
		}
		i = s._newClick(m, body.CustomID, body.UserID, time.Now())
		return nil
	})
	if err != nil {
		return err
	}
	s.awaitResponse(w, r, i, body.TimeoutMS, body.SettleMS)
	return nil
}

// ctlPermissions sets the bot's permissions: {"permissions":"<bitfield>"}
// replaces them; {"deny":[names]} and {"allow":[names]} change them.
func (s *Server) ctlPermissions(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Permissions *string  `json:"permissions"`
		Allow       []string `json:"allow"`
		Deny        []string `json:"deny"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	s.mu.Lock()
	p := s.st.BotPermissions
	s.mu.Unlock()
	if body.Permissions != nil {
		v, err := strconv.ParseInt(*body.Permissions, 10, 64)
		if err != nil {
			return ctlBad("permissions must be a decimal bitfield string")
		}
		p = v
	}
	allow, err := permBits(body.Allow)
	if err != nil {
		return ctlBad(err.Error())
	}
	deny, err := permBits(body.Deny)
	if err != nil {
		return ctlBad(err.Error())
	}
	p = (p | allow) &^ deny
	s.SetBotPermissions(p)
	writeJSON(w, http.StatusOK, map[string]string{"permissions": strconv.FormatInt(p, 10)})
	return nil
}

func (s *Server) ctlReconnect(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]int{"sessions": s.hub.reconnectAll()})
	return nil
}

// ctlDrop cuts every gateway connection without a close frame, as a network failure does;
// the clients find out on their next read and RESUME.
func (s *Server) ctlDrop(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]int{"sessions": s.hub.dropAll()})
	return nil
}

func (s *Server) ctlResetLimits(w http.ResponseWriter, r *http.Request) error {
	s.limiter.reset()
	writeJSON(w, http.StatusOK, map[string]bool{"reset": true})
	return nil
}
