package emulator

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"time"
)

const codeInvalidWebhookToken = 50027

func (s *Server) _renderWebhook(wh *webhook, withToken bool) map[string]any {
	out := map[string]any{
		"id": wh.ID, "type": 1, "guild_id": s.st.GuildID, "channel_id": wh.ChannelID, "name": wh.Name,
		"avatar": nil, "application_id": nil, "user": s._renderUser(wh.CreatorID),
	}
	if withToken {
		out["token"] = wh.Token
		out["url"] = s.base + "/api/webhooks/" + wh.ID + "/" + wh.Token
	}
	return out
}

// createWebhook is POST /channels/{channel_id}/webhooks.
func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if n := chars(body.Name); n < 1 || n > 80 {
		return formError([]string{"name"}, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 80 in length.")
	}
	if l := strings.ToLower(body.Name); strings.Contains(l, "discord") || strings.Contains(l, "clyde") {
		return formError([]string{"name"}, "USERNAME_INVALID_CONTAINS", "Username cannot contain \"discord\"")
	}
	tok := make([]byte, 51)
	if _, err := rand.Read(tok); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s._channel(r.PathValue("channel_id"), time.Now())
	if err == nil {
		err = s._botNeeds(PermManageWebhooks)
	}
	if err != nil {
		return err
	}
	if c.isThread() {
		return &apiError{Status: 400, Code: codeInvalidChannelType, Message: "Cannot execute action on this channel type"}
	}
	wh := &webhook{ID: s.st.newSnowflake(time.Now()), Token: base64.RawURLEncoding.EncodeToString(tok),
		ChannelID: c.ID, Name: body.Name, CreatorID: s.st.AppID}
	s.st.Webhooks[wh.ID] = wh
	s.markDirty()
	writeJSON(w, http.StatusOK, s._renderWebhook(wh, true))
	return nil
}

func (s *Server) channelWebhooks(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s._channel(r.PathValue("channel_id"), time.Now())
	if err == nil {
		err = s._botNeeds(PermManageWebhooks)
	}
	if err != nil {
		return err
	}
	out := []map[string]any{}
	for _, wh := range s.st.Webhooks {
		if wh.ChannelID == c.ID {
			out = append(out, s._renderWebhook(wh, true))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// _webhook finds a webhook; when the path has a token it must match.
func (s *Server) _webhook(r *http.Request) (*webhook, error) {
	wh := s.st.Webhooks[r.PathValue("webhook_id")]
	if wh == nil {
		return nil, errUnknownWebhook()
	}
	if tok := r.PathValue("token"); tok != "" && tok != wh.Token {
		return nil, &apiError{Status: http.StatusUnauthorized, Code: codeInvalidWebhookToken, Message: "Invalid Webhook Token"}
	}
	return wh, nil
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	wh, err := s._webhook(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s._renderWebhook(wh, r.PathValue("token") == ""))
	return nil
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	wh, err := s._webhook(r)
	if err == nil {
		err = s._botNeeds(PermManageWebhooks)
	}
	if err != nil {
		return err
	}
	delete(s.st.Webhooks, wh.ID)
	s.markDirty()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// _webhookTarget is the channel a webhook posts to: its own or, with
// thread_id, one of its threads.
func (s *Server) _webhookTarget(wh *webhook, r *http.Request) (string, error) {
	tid := r.URL.Query().Get("thread_id")
	if tid == "" {
		return wh.ChannelID, nil
	}
	t := s.st.Channels[tid]
	if t == nil || !t.isThread() || t.ParentID != wh.ChannelID {
		return "", errUnknownChannel()
	}
	return tid, nil
}

// executeWebhook is POST /webhooks/{webhook_id}/{token}[?wait=true&thread_id=];
// with an interaction token it is a follow-up.
func (s *Server) executeWebhook(w http.ResponseWriter, r *http.Request) error {
	if s.interactionByToken(r.PathValue("token")) != nil {
		return s.followup(w, r)
	}
	body, files, err := s.parseMessageBody(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	wh, err := s._webhook(r)
	var target string
	if err == nil {
		target, err = s._webhookTarget(wh, r)
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	m, _, err := s.post(postSpec{channelID: target, authorID: wh.ID, webhookID: wh.ID, body: body, files: files})
	if err != nil {
		return err
	}
	if r.URL.Query().Get("wait") != "true" {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	s.writeMessageAs(w, m, true) // in full: its sender holds the webhook's token
	return nil
}

// _webhookMessage finds a message a webhook wrote.
func (s *Server) _webhookMessage(r *http.Request) (*webhook, *message, error) {
	wh, err := s._webhook(r)
	if err != nil {
		return nil, nil, err
	}
	target, err := s._webhookTarget(wh, r)
	if err != nil {
		return nil, nil, err
	}
	m := s.st.Messages[r.PathValue("message_id")]
	if m == nil || m.ChannelID != target || m.WebhookID != wh.ID {
		return nil, nil, errUnknownMessage()
	}
	return wh, m, nil
}

func (s *Server) getWebhookMessage(w http.ResponseWriter, r *http.Request) error {
	if s.interactionByToken(r.PathValue("token")) != nil {
		return s.interactionMessage(w, r)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, m, err := s._webhookMessage(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s._renderMessage(m, true, time.Now()))
	return nil
}

func (s *Server) editWebhookMessage(w http.ResponseWriter, r *http.Request) error {
	if s.interactionByToken(r.PathValue("token")) != nil {
		return s.editInteractionMessage(w, r)
	}
	body, files, err := s.parseMessageBody(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	wh, m, err := s._webhookMessage(r)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	m, err = s.edit(m.ChannelID, m.ID, wh.ID, body, files)
	if err != nil {
		return err
	}
	s.writeMessageAs(w, m, true) // in full: its sender holds the webhook's token
	return nil
}

func (s *Server) deleteWebhookMessage(w http.ResponseWriter, r *http.Request) error {
	if s.interactionByToken(r.PathValue("token")) != nil {
		return s.deleteInteractionMessage(w, r)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, m, err := s._webhookMessage(r)
	if err != nil {
		return err
	}
	c := s.st.Channels[m.ChannelID]
	if c.isThread() && c.Archived {
		return errThreadArchived()
	}
	s._delete(c, m)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
