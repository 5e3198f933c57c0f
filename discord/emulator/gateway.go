package emulator

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Gateway intents the emulator honours.
const (
	intentGuilds                = 1 << 0
	intentGuildMembers          = 1 << 1
	intentGuildPresences        = 1 << 8
	intentGuildMessages         = 1 << 9
	intentGuildMessageReactions = 1 << 10
	intentMessageContent        = 1 << 15
	knownIntents                = 1<<26 - 1
)

// Gateway close codes.
const (
	closeUnknownError       = 4000
	closeDecodeError        = 4002
	closeNotAuthenticated   = 4003
	closeAuthFailed         = 4004
	closeAlreadyAuth        = 4005
	closeSessionTimedOut    = 4009
	closeInvalidVersion     = 4012
	closeInvalidIntents     = 4013
	closeDisallowedIntents  = 4014
	resumeBuffer            = 4096
	sendQueue               = 4096
	disconnectedSessionTTL  = 5 * time.Minute
	heartbeatGraceFactor    = 1.5
	heartbeatGraceMinimum   = 500 * time.Millisecond
	gatewayWriteTimeout     = 10 * time.Second
	maxGatewayPayloadLength = 4096
)

// hub owns the gateway sessions. hub.mu comes after Server.mu.
type hub struct {
	s        *Server
	mu       sync.Mutex
	sessions map[string]*gwSession
	up       websocket.Upgrader
}

// gwSession outlives its connection so that RESUME can replay what it
// missed.
type gwSession struct {
	id       string
	intents  int64
	seq      int64
	buf      []gwFrame // the last resumeBuffer dispatches
	conn     *gwConn
	lastSeen time.Time
}

type gwFrame struct {
	seq  int64
	data []byte
}

type gwConn struct {
	ws   *websocket.Conn
	out  chan []byte
	done chan struct{}
	once sync.Once
}

func (c *gwConn) close(code int, text string) {
	c.once.Do(func() {
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
		close(c.done)
		_ = c.ws.Close()
	})
}

// drop cuts the connection as a network failure would: the TCP connection closes without
// a close frame, so the client learns of it from a failed read and the session stays
// resumable.
func (c *gwConn) drop() {
	c.once.Do(func() {
		close(c.done)
		_ = c.ws.Close()
	})
}

// send queues a frame; a client too slow to keep up is disconnected and
// may resume.
func (c *gwConn) send(b []byte) {
	select {
	case <-c.done:
	case c.out <- b:
	default:
		c.close(closeUnknownError, "send queue full")
	}
}

func newHub(s *Server) *hub {
	return &hub{
		s:        s,
		sessions: map[string]*gwSession{},
		up: websocket.Upgrader{
			CheckOrigin: func(*http.Request) bool { return true },
		},
	}
}

func opFrame(op int, d any) []byte {
	b, _ := json.Marshal(map[string]any{"op": op, "d": d, "s": nil, "t": nil})
	return b
}

func dispatchFrame(seq int64, event string, d []byte) []byte {
	b := make([]byte, 0, len(d)+len(event)+48)
	b = append(b, `{"op":0,"s":`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `,"t":`...)
	b = strconv.AppendQuote(b, event)
	b = append(b, `,"d":`...)
	b = append(b, d...)
	return append(b, '}')
}

// _emit dispatches an event to every session whose intents include need
// (need 0: always). build is called at most once per MESSAGE_CONTENT
// variant. Server.mu is held.
func (s *Server) _emit(event string, need int64, build func(content bool) any) {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	var cache [2][]byte
	for _, sess := range h.sessions {
		if need != 0 && sess.intents&need == 0 {
			continue
		}
		v := 0
		if sess.intents&intentMessageContent != 0 {
			v = 1
		}
		if cache[v] == nil {
			b, err := json.Marshal(build(v == 1))
			if err != nil {
				continue
			}
			cache[v] = b
		}
		h._dispatch(sess, event, cache[v])
	}
}

// _dispatch numbers, buffers and sends one event. hub.mu is held.
func (h *hub) _dispatch(sess *gwSession, event string, d []byte) {
	sess.seq++
	f := gwFrame{seq: sess.seq, data: dispatchFrame(sess.seq, event, d)}
	if len(sess.buf) >= resumeBuffer {
		sess.buf = append(sess.buf[:0], sess.buf[len(sess.buf)-resumeBuffer/2:]...)
	}
	sess.buf = append(sess.buf, f)
	if sess.conn != nil {
		sess.conn.send(f.data)
	}
}

func (s *Server) _emitMessage(event string, m *message) {
	if m.Flags&flagEphemeral != 0 {
		return
	}
	now := time.Now()
	s._emit(event, intentGuildMessages, func(content bool) any {
		out := s._renderMessage(m, content, now)
		out.GuildID = s.st.GuildID
		if m.WebhookID == "" && s.st.Users[m.AuthorID] != nil {
			mem := s._renderMember(m.AuthorID, false)
			mem.Permissions = ""
			out.Member = &mem
		}
		return out
	})
}

func (s *Server) _emitChannel(event string, c *channel) {
	s._emit(event, intentGuilds, func(bool) any {
		out := s._renderChannel(c)
		if event == "THREAD_CREATE" {
			return struct {
				channelJSON
				NewlyCreated bool `json:"newly_created"`
			}{out, true}
		}
		return out
	})
}

// serve upgrades to a websocket and runs one gateway connection.
func (h *hub) serve(w http.ResponseWriter, r *http.Request) {
	ws, err := h.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	ws.SetReadLimit(maxGatewayPayloadLength)
	c := &gwConn{ws: ws, out: make(chan []byte, sendQueue), done: make(chan struct{})}
	go c.writeLoop()
	if v := r.URL.Query().Get("v"); v != "" && v != "9" && v != "10" {
		c.close(closeInvalidVersion, "Invalid API version")
		return
	}
	interval := h.s.cfg.HeartbeatInterval
	c.send(opFrame(10, map[string]any{"heartbeat_interval": interval.Milliseconds()}))
	h.readLoop(c, interval)
}

func (c *gwConn) writeLoop() {
	for {
		select {
		case <-c.done:
			return
		case b := <-c.out:
			_ = c.ws.SetWriteDeadline(time.Now().Add(gatewayWriteTimeout))
			if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
				c.close(closeUnknownError, "write failed")
				return
			}
		}
	}
}

type gwPayload struct {
	Op int             `json:"op"`
	D  json.RawMessage `json:"d"`
}

// readLoop answers heartbeats and handles IDENTIFY and RESUME until the
// client goes away or misses its heartbeats.
func (h *hub) readLoop(c *gwConn, interval time.Duration) {
	grace := time.Duration(float64(interval)*heartbeatGraceFactor) + heartbeatGraceMinimum
	var sess *gwSession
	defer func() {
		h.detach(sess, c)
		c.close(websocket.CloseNormalClosure, "")
	}()
	for {
		_ = c.ws.SetReadDeadline(time.Now().Add(grace))
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) && (ce.Code == websocket.CloseNormalClosure || ce.Code == websocket.CloseGoingAway) {
				h.forget(sess)
				sess = nil
			} else if isTimeout(err) {
				c.close(closeSessionTimedOut, "Session timed out")
			}
			return
		}
		var p gwPayload
		if err := json.Unmarshal(data, &p); err != nil {
			c.close(closeDecodeError, "Error while decoding payload.")
			return
		}
		switch p.Op {
		case 1:
			c.send(opFrame(11, nil))
		case 2, 6:
			if sess != nil {
				c.close(closeAlreadyAuth, "Already authenticated.")
				return
			}
			var code int
			var text string
			if p.Op == 2 {
				sess, code, text = h.identify(c, p.D)
			} else {
				sess, code, text = h.resume(c, p.D)
			}
			if code != 0 {
				c.close(code, text)
				return
			}
		default:
			if sess == nil {
				c.close(closeNotAuthenticated, "Not authenticated.")
				return
			}
		}
	}
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

func (h *hub) tokenOK(tok string) bool {
	h.s.mu.Lock()
	want := "Bot " + h.s.st.Token
	h.s.mu.Unlock()
	return subtle.ConstantTimeCompare([]byte(tok), []byte(want)) == 1 ||
		subtle.ConstantTimeCompare([]byte("Bot "+tok), []byte(want)) == 1
}

// identify starts a session: READY, then GUILD_CREATE.
func (h *hub) identify(c *gwConn, raw json.RawMessage) (*gwSession, int, string) {
	var d struct {
		Token   string `json:"token"`
		Intents *int64 `json:"intents"`
	}
	if json.Unmarshal(raw, &d) != nil {
		return nil, closeDecodeError, "Error while decoding payload."
	}
	if !h.tokenOK(d.Token) {
		return nil, closeAuthFailed, "Authentication failed."
	}
	if d.Intents == nil || *d.Intents&^knownIntents != 0 || *d.Intents < 0 {
		return nil, closeInvalidIntents, "Invalid intent(s)."
	}
	if *d.Intents&intentMessageContent != 0 && !h.s.cfg.MessageContentIntent {
		return nil, closeDisallowedIntents, "Disallowed intent(s)."
	}
	idb := make([]byte, 16)
	_, _ = rand.Read(idb)
	sess := &gwSession{id: hex.EncodeToString(idb), intents: *d.Intents, conn: c}

	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	ready := map[string]any{
		"v": 10, "user": s._renderUser(s.st.AppID), "session_id": sess.id, "session_type": "normal",
		"resume_gateway_url": "ws" + s.base[len("http"):] + "/gateway",
		"guilds":             []any{map[string]any{"id": s.st.GuildID, "unavailable": true}},
		"application":        map[string]any{"id": s.st.AppID, "flags": 0},
		"shard":              []int{0, 1}, "private_channels": []any{}, "relationships": []any{},
		"presences": []any{}, "geo_ordered_rtc_regions": []any{}, "auth": map[string]any{},
		"user_settings": map[string]any{},
	}
	guild := s._guild()
	guild["joined_at"] = timestamp(snowflakeTime(s.st.GuildID))
	guild["large"], guild["unavailable"], guild["member_count"] = false, false, len(s.st.Users)
	guild["channels"] = s._textChannels()
	threads := []channelJSON{}
	for _, t := range s._threads("", func(t *channel) bool { return !t.Archived }) {
		threads = append(threads, s._renderChannel(t))
	}
	guild["threads"] = threads
	members := []memberJSON{s._renderMember(s.st.AppID, true)}
	if sess.intents&intentGuildMembers != 0 {
		members = append(members, s._renderMember(s.st.OwnerID, true), s._renderMember(s.st.MemberID, true),
			s._renderMember(s.st.AdminID, true))
	}
	for i := range members {
		members[i].Permissions = ""
	}
	guild["members"] = members
	for _, k := range []string{"voice_states", "presences", "stage_instances", "guild_scheduled_events", "soundboard_sounds"} {
		guild[k] = []any{}
	}
	rb, _ := json.Marshal(ready)
	gb, _ := json.Marshal(guild)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sessions[sess.id] = sess
	h._dispatch(sess, "READY", rb)
	h._dispatch(sess, "GUILD_CREATE", gb)
	return sess, 0, ""
}

// resume reattaches a session and replays what it missed, or answers
// INVALID_SESSION when it cannot.
func (h *hub) resume(c *gwConn, raw json.RawMessage) (*gwSession, int, string) {
	var d struct {
		Token     string `json:"token"`
		SessionID string `json:"session_id"`
		Seq       int64  `json:"seq"`
	}
	if json.Unmarshal(raw, &d) != nil {
		return nil, closeDecodeError, "Error while decoding payload."
	}
	if !h.tokenOK(d.Token) {
		return nil, closeAuthFailed, "Authentication failed."
	}
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	sess := h.sessions[d.SessionID]
	if sess == nil || (len(sess.buf) > 0 && sess.buf[0].seq > d.Seq+1) || d.Seq > sess.seq {
		c.send(opFrame(9, false))
		return nil, 0, ""
	}
	if old := sess.conn; old != nil && old != c {
		old.close(closeUnknownError, "Resumed elsewhere")
	}
	sess.conn = c
	for _, f := range sess.buf {
		if f.seq > d.Seq {
			c.send(f.data)
		}
	}
	h._dispatch(sess, "RESUMED", []byte(`{}`))
	return sess, 0, ""
}

// detach keeps a session resumable after its connection ends.
func (h *hub) detach(sess *gwSession, c *gwConn) {
	if sess == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if sess.conn == c {
		sess.conn = nil
		sess.lastSeen = time.Now()
	}
}

// forget ends a session the client closed normally: it cannot be resumed.
func (h *hub) forget(sess *gwSession) {
	if sess == nil {
		return
	}
	h.mu.Lock()
	delete(h.sessions, sess.id)
	h.mu.Unlock()
}

// reap archives idle threads and drops sessions long disconnected.
func (h *hub) reap(done <-chan struct{}) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			h.s.mu.Lock()
			h.s._sweepThreads(now)
			h.s._expireInteractions(now)
			h.s.mu.Unlock()
			h.mu.Lock()
			for id, sess := range h.sessions {
				if sess.conn == nil && now.Sub(sess.lastSeen) > disconnectedSessionTTL {
					delete(h.sessions, id)
				}
			}
			h.mu.Unlock()
		}
	}
}

// reconnectAll asks every client to reconnect (op 7), as Discord does
// before a gateway restart.
func (h *hub) reconnectAll() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, sess := range h.sessions {
		if sess.conn != nil {
			sess.conn.send(opFrame(7, nil))
			n++
		}
	}
	return n
}

// dropAll cuts every gateway connection (see gwConn.drop). Their sessions stay resumable,
// and what is dispatched to them meanwhile is replayed on RESUME.
func (h *hub) dropAll() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	now := time.Now()
	for _, sess := range h.sessions {
		if c := sess.conn; c != nil {
			sess.conn, sess.lastSeen = nil, now
			c.drop()
			n++
		}
	}
	return n
}

func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, sess := range h.sessions {
		if sess.conn != nil {
			sess.conn.close(websocket.CloseServiceRestart, "emulator shutting down")
		}
	}
}
