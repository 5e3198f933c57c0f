package emulator

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"
)

func itoa64(v int64) string { return strconv.FormatInt(v, 10) }

// Interaction callback types.
const (
	cbPong            = 1
	cbMessage         = 4
	cbDeferredMessage = 5
	cbDeferredUpdate  = 6
	cbUpdateMessage   = 7
	cbAutocomplete    = 8
	cbModal           = 9
)

// Interaction types.
const (
	itCommand   = 2
	itComponent = 3
)

// interaction is one slash-command invocation or one click on a button.
// Server.mu guards it.
type interaction struct {
	id, token string
	kind      int // itCommand or itComponent
	userID    string
	channelID string
	command   *command // itCommand
	options   []map[string]any
	// messageID and customID are the clicked message and button (itComponent).
	messageID, customID string
	// follows is set once a click is answered with 6 or 7: the clicked
	// message is then its response, and every edit of it counts as one.
	follows    bool
	created    time.Time
	acked      bool
	originalID string
	eph        map[string]*message // ephemeral responses, never in the channel
	last       *message            // the newest visible response
	changed    chan struct{}       // closed and replaced on every response change
}

func (s *Server) interactionByToken(tok string) *interaction {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.itokens[tok]
}

// _touch records a response change and wakes waiters.
func (i *interaction) _touch(m *message) {
	if m != nil && m.Flags&flagLoading == 0 {
		i.last = m
	}
	close(i.changed)
	i.changed = make(chan struct{})
}

func (s *Server) _expireInteractions(now time.Time) {
	for id, i := range s.interactions {
		if now.Sub(i.created) > s.cfg.InteractionTokenTTL {
			delete(s.interactions, id)
			delete(s.itokens, i.token)
		}
	}
}

// _registerInteraction makes an interaction of kind by userID in channelID
// and files it under its ID and token.
func (s *Server) _registerInteraction(kind int, userID, channelID string, now time.Time) *interaction {
	tok := make([]byte, 48)
	_, _ = rand.Read(tok)
	i := &interaction{
		id: s.st.newSnowflake(now), token: "aW50ZXJhY3Rpb24" + base64.RawURLEncoding.EncodeToString(tok),
		kind: kind, userID: userID, channelID: channelID, created: now,
		eph: map[string]*message{}, changed: make(chan struct{}),
	}
	s.interactions[i.id] = i
	s.itokens[i.token] = i
	return i
}

// _dispatchInteraction sends INTERACTION_CREATE for i with its data and,
// for a click, the clicked message.
func (s *Server) _dispatchInteraction(i *interaction, data map[string]any, m *message) {
	payload := map[string]any{
		"id": i.id, "application_id": s.st.AppID, "type": i.kind, "token": i.token, "version": 1,
		"guild_id": s.st.GuildID, "channel_id": i.channelID, "locale": "en-US", "guild_locale": "en-US",
		"member": s._renderMember(i.userID, true), "app_permissions": itoa64(s.st.BotPermissions),
		"entitlements": []any{}, "authorizing_integration_owners": map[string]string{"0": s.st.GuildID},
		"context": 0, "attachment_size_limit": s.cfg.AttachmentLimit, "data": data,
	}
	if c := s.st.Channels[i.channelID]; c != nil {
		payload["channel"] = s._renderChannel(c)
	}
	if m != nil {
		payload["message"] = s._renderMessage(m, true, time.Now())
	}
	s._emit("INTERACTION_CREATE", 0, func(bool) any { return payload })
}

// _newInteraction creates an invocation of cmd by userID in channelID and
// dispatches INTERACTION_CREATE.
func (s *Server) _newInteraction(cmd *command, userID, channelID string, opts map[string]json.RawMessage, now time.Time) *interaction {
	i := s._registerInteraction(itCommand, userID, channelID, now)
	i.command = cmd
	for name, raw := range opts {
		var v any
		_ = json.Unmarshal(raw, &v)
		i.options = append(i.options, map[string]any{"name": name, "type": optionType(cmd, name, v), "value": v})
	}
	data := map[string]any{"id": cmd.ID, "name": cmd.Name, "type": cmd.Type, "options": i.options}
	if i.options == nil {
		data["options"] = []any{}
	}
	s._dispatchInteraction(i, data, nil)
	return i
}

// optionType is the declared type of a command option, or one guessed
// from the value.
func optionType(cmd *command, name string, v any) int {
	for _, o := range cmd.Options {
		if m, ok := o.(map[string]any); ok && m["name"] == name {
			if t, ok := m["type"].(float64); ok {
				return int(t)
			}
		}
	}
	switch x := v.(type) {
	case bool:
		return 5
	case float64:
		if x == float64(int64(x)) {
			return 4
		}
		return 10
	}
	return 3
}

// _interaction finds an interaction by ID and token.
func (s *Server) _interaction(id, tok string) (*interaction, error) {
	i := s.interactions[id]
	if i == nil || i.token != tok {
		return nil, errUnknownInteraction()
	}
	return i, nil
}

// interactionCallback is POST /interactions/{id}/{token}/callback, as JSON
// or as multipart whose payload_json is the {type, data} object.
func (s *Server) interactionCallback(w http.ResponseWriter, r *http.Request) error {
	var cb struct {
		Type int             `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	var files []upload
	var err error
	if isMultipart(r) {
		files, err = s.readMultipart(r, &cb)
		if err != nil {
			_, _ = io.Copy(io.Discard, r.Body)
		}
	} else {
		err = decodeJSON(r, &cb)
	}
	if err != nil {
		return err
	}
	var body messageBody
	if len(cb.Data) > 0 {
		if err := json.Unmarshal(cb.Data, &body); err != nil {
			return &apiError{Status: 400, Code: CodeInvalidJSON, Message: "The request body contains invalid JSON."}
		}
	}
	s.mu.Lock()
	i, err := s._interaction(r.PathValue("interaction_id"), r.PathValue("token"))
	if err == nil && time.Since(i.created) > s.cfg.InteractionAckTimeout {
		err = errUnknownInteraction()
	}
	if err == nil && i.acked {
		err = &apiError{Status: 400, Code: CodeAlreadyAcknowledged, Message: "Interaction has already been acknowledged."}
	}
	if err == nil && (cb.Type == cbPong || cb.Type < 1 || cb.Type > cbModal) {
		err = formError([]string{"type"}, "BASE_TYPE_CHOICES", "Value must be one of {4, 5, 6, 7, 8, 9}.")
	}
	if err != nil {
		s.mu.Unlock()
		return err
	}
	i.acked = true
	s.mu.Unlock()

	eph := body.Flags != nil && *body.Flags&flagEphemeral != 0
	var m *message
	switch {
	case cb.Type == cbMessage:
		m, err = s.respond(i, body, files, eph, false)
	case cb.Type == cbDeferredMessage:
		m, err = s.respond(i, messageBody{}, nil, eph, true)
	case i.kind == itComponent && (cb.Type == cbDeferredUpdate || cb.Type == cbUpdateMessage):
		return s.updateClicked(w, i, cb.Type, body, files)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		i.acked = false
		return err
	}
	if m != nil {
		i.originalID = m.ID
		i._touch(m)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// _editEphemeral edits a response only its user sees; it was never in a
// channel, so no event goes out.
func (s *Server) _editEphemeral(m *message, body messageBody) error {
	if err := s.checkContent(&body); err != nil {
		return err
	}
	if body.Content != nil {
		m.Content = *body.Content
	}
	if body.Embeds != nil {
		m.Embeds = *body.Embeds
	}
	if body.Components != nil {
		m.Components = numberComponents(*body.Components)
	}
	m.Flags &^= flagLoading
	t := time.Now()
	m.Edited = &t
	s._messageChanged(m)
	return nil
}

func isMultipart(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "multipart/form-data"
}

// respond posts a response message of i as the bot; a loading one is the
// "thinking" placeholder of a deferred response.
func (s *Server) respond(i *interaction, body messageBody, files []upload, eph, loading bool) (*message, error) {
	s.mu.Lock()
	appID := s.st.AppID
	meta := &msgInteract{ID: i.id, Type: i.kind, UserID: i.userID}
	msgType, ref := msgSlashCommand, ""
	if i.kind == itComponent {
		// A click's response replies to the clicked message, as on Discord.
		meta.MessageID, msgType, ref = i.messageID, msgReply, i.messageID
	} else {
		meta.Name = i.command.Name
	}
	s.mu.Unlock()
	if loading {
		// Validation rejects empty messages; the placeholder is cleared below.
		placeholder := "\u200b"
		body.Content = &placeholder
	}
	m, _, err := s.post(postSpec{channelID: i.channelID, authorID: appID, webhookID: appID, appID: appID,
		msgType: msgType, body: body, files: files, interaction: meta, ephemeral: eph, refID: ref})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if loading {
		m.Content = ""
		m.Flags |= flagLoading
	}
	if m.Flags&flagEphemeral != 0 {
		i.eph[m.ID] = m
	}
	return m, nil
}

// _responseMessage finds @original or a follow-up of i.
func (s *Server) _responseMessage(i *interaction, mid string) (*message, error) {
	if mid == "@original" {
		if i.originalID == "" {
			return nil, errUnknownMessage()
		}
		mid = i.originalID
	}
	if m := i.eph[mid]; m != nil {
		return m, nil
	}
	if i.follows && mid == i.messageID {
		if m := s._anyMessage(mid); m != nil {
			return m, nil
		}
		return nil, errUnknownMessage()
	}
	m := s.st.Messages[mid]
	if m == nil || m.Interaction == nil || m.Interaction.ID != i.id {
		return nil, errUnknownMessage()
	}
	return m, nil
}

// _interactionOf finds the interaction of a /webhooks/{app}/{token} path.
func (s *Server) _interactionOf(r *http.Request) (*interaction, error) {
	i := s.itokens[r.PathValue("token")]
	if i == nil || r.PathValue("webhook_id") != s.st.AppID {
		return nil, errUnknownWebhook()
	}
	return i, nil
}

func (s *Server) interactionMessage(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, err := s._interactionOf(r)
	if err != nil {
		return err
	}
	m, err := s._responseMessage(i, r.PathValue("message_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s._renderMessage(m, true, time.Now()))
	return nil
}

// editInteractionMessage edits @original or a follow-up.
func (s *Server) editInteractionMessage(w http.ResponseWriter, r *http.Request) error {
	body, files, err := s.parseMessageBody(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	i, err := s._interactionOf(r)
	var m *message
	if err == nil {
		m, err = s._responseMessage(i, r.PathValue("message_id"))
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.updateResponse(w, i, m, body, files)
}

// updateResponse changes a response message; filling in a deferred one
// clears its loading flag.
func (s *Server) updateResponse(w http.ResponseWriter, i *interaction, m *message, body messageBody, files []upload) error {
	if err := s.checkContent(&body); err != nil {
		return err
	}
	s.mu.Lock()
	if m.Flags&flagEphemeral != 0 {
		defer s.mu.Unlock()
		if err := s._editEphemeral(m, body); err != nil {
			return err
		}
		i._touch(m)
		writeJSON(w, http.StatusOK, s._renderMessage(m, true, time.Now()))
		return nil
	}
	cid, mid, appID := m.ChannelID, m.ID, s.st.AppID
	s.mu.Unlock()
	m, err := s.edit(cid, mid, appID, body, files)
	if err != nil {
		return err
	}
	s.mu.Lock()
	m.Flags &^= flagLoading
	i._touch(m)
	s.mu.Unlock()
	s.writeMessage(w, m)
	return nil
}

func (s *Server) deleteInteractionMessage(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, err := s._interactionOf(r)
	if err != nil {
		return err
	}
	m, err := s._responseMessage(i, r.PathValue("message_id"))
	if err != nil {
		return err
	}
	if m.Flags&flagEphemeral != 0 {
		delete(i.eph, m.ID)
	} else {
		s._delete(s.st.Channels[m.ChannelID], m)
	}
	if i.last == m {
		i.last = nil
	}
	i._touch(nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// followup is POST /webhooks/{application_id}/{interaction_token}. The first
// follow-up after a deferred response fills in the "thinking" original, as
// on Discord.
func (s *Server) followup(w http.ResponseWriter, r *http.Request) error {
	body, files, err := s.parseMessageBody(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	i, err := s._interactionOf(r)
	if err == nil && !i.acked {
		err = errUnknownMessage()
	}
	var orig *message
	if err == nil {
		if o, oerr := s._responseMessage(i, "@original"); oerr == nil && o.Flags&flagLoading != 0 {
			orig = o
		}
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if orig != nil {
		return s.updateResponse(w, i, orig, body, files)
	}
	eph := body.Flags != nil && *body.Flags&flagEphemeral != 0
	m, err := s.respond(i, body, files, eph, false)
	if err != nil {
		return err
	}
	s.mu.Lock()
	i._touch(m)
	out := s._renderMessage(m, true, time.Now())
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
	return nil
}
