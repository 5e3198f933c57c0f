package emulator

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
)

// CodeInvalidJSON is Discord's answer to a body that is not JSON.
const CodeInvalidJSON = 50109

type authKind int

const (
	authBot  authKind = iota // Authorization: Bot <token>
	authNone                 // the token is in the path (webhooks, interactions)
)

// route says how a REST endpoint is authenticated and rate limited.
type route struct {
	bucket string   // key into Config.RouteLimits
	major  string   // path wildcard whose value splits the bucket
	auth   authKind // who may call it
}

type handlerFunc func(w http.ResponseWriter, r *http.Request) error

const banMessage = "You are being blocked from accessing our API temporarily due to exceeding our rate limits frequently."

// restMux registers every REST endpoint under /api/{version}.
func (s *Server) restMux() *http.ServeMux {
	mux := http.NewServeMux()
	h := func(pattern string, rt route, fn handlerFunc) {
		method, path, _ := strings.Cut(pattern, " ")
		mux.HandleFunc(method+" /api/{version}"+path, s.wrap(rt, fn))
	}
	bot := func(bucket, major string) route { return route{bucket: bucket, major: major} }
	open := func(bucket, major string) route { return route{bucket: bucket, major: major, auth: authNone} }

	h("GET /gateway", open(RouteDefault, ""), s.getGateway)
	h("GET /gateway/bot", bot(RouteDefault, ""), s.getGatewayBot)
	h("GET /users/@me", bot(RouteDefault, ""), s.getMe)
	h("GET /users/@me/guilds", bot(RouteDefault, ""), s.getMyGuilds)
	h("GET /users/{user_id}", bot(RouteDefault, ""), s.getUser)
	h("GET /guilds/{guild_id}", bot(RouteGuild, "guild_id"), s.getGuild)
	h("GET /guilds/{guild_id}/channels", bot(RouteGuild, "guild_id"), s.getGuildChannels)
	h("POST /guilds/{guild_id}/channels", bot(RouteGuild, "guild_id"), s.createGuildChannel)
	h("GET /guilds/{guild_id}/roles", bot(RouteGuild, "guild_id"), s.getRoles)
	h("GET /guilds/{guild_id}/members/{user_id}", bot(RouteGuild, "guild_id"), s.getMember)
	h("GET /guilds/{guild_id}/threads/active", bot(RouteGuild, "guild_id"), s.activeThreads)

	h("GET /channels/{channel_id}", bot(RouteChannel, "channel_id"), s.getChannel)
	h("PATCH /channels/{channel_id}", bot(RouteChannel, "channel_id"), s.patchChannel)
	h("DELETE /channels/{channel_id}", bot(RouteChannel, "channel_id"), s.deleteChannel)

	h("GET /channels/{channel_id}/messages", bot(RouteMessageRead, "channel_id"), s.listMessages)
	h("POST /channels/{channel_id}/messages", bot(RouteMessageCreate, "channel_id"), s.createMessage)
	h("POST /channels/{channel_id}/messages/bulk-delete", bot(RouteMessageDelete, "channel_id"), s.bulkDelete)
	h("GET /channels/{channel_id}/messages/{message_id}", bot(RouteMessageRead, "channel_id"), s.getMessage)
	h("PATCH /channels/{channel_id}/messages/{message_id}", bot(RouteMessageEdit, "channel_id"), s.editMessage)
	h("DELETE /channels/{channel_id}/messages/{message_id}", bot(RouteMessageDelete, "channel_id"), s.deleteMessage)

	for _, pins := range []string{"/channels/{channel_id}/pins", "/channels/{channel_id}/messages/pins"} {
		h("GET "+pins, bot(RouteMessageRead, "channel_id"), s.listPins)
		h("PUT "+pins+"/{message_id}", bot(RouteMessageEdit, "channel_id"), s.pin(true))
	}
	h("DELETE /channels/{channel_id}/pins/{message_id}", bot(RouteMessageEdit, "channel_id"), s.pin(false))
	// DELETE .../messages/pins/{id} and .../messages/{id}/reactions share a
	// shape that ServeMux cannot tell apart.
	h("DELETE /channels/{channel_id}/messages/{a}/{b}", bot(RouteMessageEdit, "channel_id"), s.deleteMessageSub)
	react := "/channels/{channel_id}/messages/{message_id}/reactions"
	h("PUT "+react+"/{emoji}/@me", bot(RouteReaction, "channel_id"), s.addReaction)
	h("DELETE "+react+"/{emoji}/@me", bot(RouteReaction, "channel_id"), s.removeReaction)
	h("DELETE "+react+"/{emoji}/{user_id}", bot(RouteReaction, "channel_id"), s.removeReaction)
	h("GET "+react+"/{emoji}", bot(RouteMessageRead, "channel_id"), s.listReactions)

	h("POST /channels/{channel_id}/messages/{message_id}/threads", bot(RouteThreadCreate, "channel_id"), s.startThreadFromMessage)
	h("POST /channels/{channel_id}/threads", bot(RouteThreadCreate, "channel_id"), s.startThread)
	h("GET /channels/{channel_id}/threads/archived/public", bot(RouteChannel, "channel_id"), s.archivedThreads(chanPublicThread))
	h("GET /channels/{channel_id}/threads/archived/private", bot(RouteChannel, "channel_id"), s.archivedThreads(chanPrivateThread))
	h("PUT /channels/{channel_id}/thread-members/@me", bot(RouteChannel, "channel_id"), s.joinThread)
	h("DELETE /channels/{channel_id}/thread-members/@me", bot(RouteChannel, "channel_id"), s.joinThread)
	h("GET /channels/{channel_id}/thread-members", bot(RouteChannel, "channel_id"), s.threadMembers)

	h("POST /channels/{channel_id}/webhooks", bot(RouteChannel, "channel_id"), s.createWebhook)
	h("GET /channels/{channel_id}/webhooks", bot(RouteChannel, "channel_id"), s.channelWebhooks)
	h("GET /webhooks/{webhook_id}", bot(RouteDefault, "webhook_id"), s.getWebhook)
	h("DELETE /webhooks/{webhook_id}", bot(RouteDefault, "webhook_id"), s.deleteWebhook)
	h("GET /webhooks/{webhook_id}/{token}", open(RouteDefault, "webhook_id"), s.getWebhook)
	h("POST /webhooks/{webhook_id}/{token}", open(RouteWebhookExecute, "webhook_id"), s.executeWebhook)
	h("GET /webhooks/{webhook_id}/{token}/messages/{message_id}", open(RouteDefault, "webhook_id"), s.getWebhookMessage)
	h("PATCH /webhooks/{webhook_id}/{token}/messages/{message_id}", open(RouteMessageEdit, "webhook_id"), s.editWebhookMessage)
	h("DELETE /webhooks/{webhook_id}/{token}/messages/{message_id}", open(RouteMessageDelete, "webhook_id"), s.deleteWebhookMessage)

	for _, cmds := range []string{"/applications/{app_id}/commands", "/applications/{app_id}/guilds/{guild_id}/commands"} {
		h("GET "+cmds, bot(RouteCommands, "app_id"), s.listCommands)
		h("PUT "+cmds, bot(RouteCommands, "app_id"), s.overwriteCommands)
		h("POST "+cmds, bot(RouteCommands, "app_id"), s.createCommand)
		h("GET "+cmds+"/{command_id}", bot(RouteCommands, "app_id"), s.getCommand)
		h("DELETE "+cmds+"/{command_id}", bot(RouteCommands, "app_id"), s.deleteCommand)
	}
	h("POST /interactions/{interaction_id}/{token}/callback", open(RouteInteraction, "interaction_id"), s.interactionCallback)
	h("POST /attachments/refresh-urls", bot(RouteAttachmentsLink, ""), s.refreshURLs)

	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) { writeError(w, errNotFound()) })
	return mux
}

func (s *Server) deleteMessageSub(w http.ResponseWriter, r *http.Request) error {
	a, b := r.PathValue("a"), r.PathValue("b")
	switch {
	case a == "pins":
		r.SetPathValue("message_id", b)
		return s.pin(false)(w, r)
	case b == "reactions":
		r.SetPathValue("message_id", a)
		return s.clearReactions(w, r)
	}
	return errNotFound()
}

// serveREST applies the invalid-request ban, then the endpoint, and counts
// the answer towards the ban.
func (s *Server) serveREST(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	if until, banned := s.limiter.banned(now); banned {
		rateLimited(w, until.Sub(now), "global", banMessage)
		return
	}
	rec := &statusRecorder{ResponseWriter: w}
	if r.ContentLength > s.cfg.MaxRequestBytes {
		writeError(rec, errTooLarge())
	} else {
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxRequestBytes)
		s.rest.ServeHTTP(rec, r)
	}
	switch rec.status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests:
		// A fault's 429 storm (scope "shared", which Discord does not count) is answered
		// before a request gets here.
		s.limiter.noteInvalid(time.Now(), s.cfg.InvalidRequestLimit, s.cfg.InvalidRequestWindow, s.cfg.BanDuration)
	}
}

// wrap checks the API version, the token, the global and the route limit
// before fn runs.
func (s *Server) wrap(rt route, fn handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if v := r.PathValue("version"); v != "v9" && v != "v10" {
			writeError(w, &apiError{Status: http.StatusBadRequest, Code: CodeInvalidAPIVersion, Message: "Invalid API version provided"})
			return
		}
		now := time.Now()
		if rt.auth == authBot {
			tok, ok := s.botToken(r)
			if !ok {
				writeError(w, errUnauthorized())
				return
			}
			if s.cfg.GlobalRate > 0 {
				if reset, ok := s.limiter.takeGlobal(tok, s.cfg.GlobalRate, now); !ok {
					rateLimited(w, reset.Sub(now), "global", "")
					return
				}
			}
		}
		if rl := s.cfg.routeLimit(rt.bucket); rl.Requests > 0 {
			key := rt.bucket + "/" + r.PathValue(rt.major)
			remaining, reset, ok := s.limiter.take(key, rl, now)
			setBucketHeaders(w.Header(), rt.bucket, rl, remaining, reset, now)
			if !ok {
				rateLimited(w, reset.Sub(now), "user", "")
				return
			}
		}
		if err := fn(w, r); err != nil {
			writeError(w, err)
		}
	}
}

// botToken checks "Authorization: Bot <token>".
func (s *Server) botToken(r *http.Request) (string, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bot ")
	if !ok || tok == "" {
		return "", false
	}
	s.mu.Lock()
	want := s.st.Token
	s.mu.Unlock()
	return tok, subtle.ConstantTimeCompare([]byte(tok), []byte(want)) == 1
}

// decodeJSON reads a JSON body into v.
func decodeJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		if isTooLarge(err) {
			return errTooLarge()
		}
		return errBadRequest("400: Bad Request")
	}
	if len(b) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return &apiError{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "The request body contains invalid JSON."}
	}
	return nil
}

func isTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

func (s *Server) getGateway(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{"url": s.gatewayURL()})
	return nil
}

func (s *Server) getGatewayBot(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{
		"url":    s.gatewayURL(),
		"shards": 1,
		"session_start_limit": map[string]any{
			"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1,
		},
	})
	return nil
}

func (s *Server) gatewayURL() string {
	return "ws" + strings.TrimPrefix(s.URL(), "http") + "/gateway"
}
