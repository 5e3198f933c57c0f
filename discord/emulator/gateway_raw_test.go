package emulator

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

type rawFrame struct {
	Op int             `json:"op"`
	S  *int64          `json:"s"`
	T  *string         `json:"t"`
	D  json.RawMessage `json:"d"`
}

func dialRaw(t *testing.T, srv *Server) *websocket.Conn {
	t.Helper()
	u := "ws" + strings.TrimPrefix(srv.URL(), "http") + "/gateway/?v=10&encoding=json"
	c, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func readFrame(t *testing.T, c *websocket.Conn) rawFrame {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var f rawFrame
	if err := c.ReadJSON(&f); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestGatewayProtocol(t *testing.T) {
	t.Parallel()
	srv, _ := start(t, func(c *Config) { c.HeartbeatInterval = 300 * time.Millisecond })
	c := dialRaw(t, srv)
	hello := readFrame(t, c)
	var h struct {
		Interval int64 `json:"heartbeat_interval"`
	}
	if hello.Op != 10 || json.Unmarshal(hello.D, &h) != nil || h.Interval != 300 {
		t.Fatalf("HELLO %+v", hello)
	}
	if err := c.WriteJSON(map[string]any{"op": 1, "d": nil}); err != nil {
		t.Fatal(err)
	}
	if ack := readFrame(t, c); ack.Op != 11 {
		t.Fatalf("heartbeat answered with op %d", ack.Op)
	}
	if err := c.WriteJSON(map[string]any{"op": 2, "d": map[string]any{"token": "Bot " + srv.Info().Token, "intents": 1 << 9,
		"properties": map[string]string{"os": "linux"}}}); err != nil {
		t.Fatal(err)
	}
	ready, guild := readFrame(t, c), readFrame(t, c)
	if ready.Op != 0 || *ready.T != "READY" || *ready.S != 1 || *guild.T != "GUILD_CREATE" || *guild.S != 2 {
		t.Fatalf("after IDENTIFY: %+v %+v", ready, guild)
	}
	var r struct {
		SessionID string `json:"session_id"`
		ResumeURL string `json:"resume_gateway_url"`
	}
	if err := json.Unmarshal(ready.D, &r); err != nil || r.SessionID == "" || !strings.HasPrefix(r.ResumeURL, "ws://127.0.0.1:") {
		t.Fatalf("READY %s", ready.D)
	}
	// Silence past the heartbeat interval ends the session with 4009.
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != closeSessionTimedOut {
				t.Fatalf("closed with %v, want 4009", err)
			}
			break
		}
	}
	// A resume of that session replays nothing new and says RESUMED.
	c2 := dialRaw(t, srv)
	readFrame(t, c2)
	if err := c2.WriteJSON(map[string]any{"op": 6, "d": map[string]any{"token": "Bot " + srv.Info().Token,
		"session_id": r.SessionID, "seq": 2}}); err != nil {
		t.Fatal(err)
	}
	if f := readFrame(t, c2); f.Op != 0 || *f.T != "RESUMED" || *f.S != 3 {
		t.Fatalf("resume: %+v", f)
	}
	// An unknown session is invalid (op 9, not resumable).
	c3 := dialRaw(t, srv)
	readFrame(t, c3)
	_ = c3.WriteJSON(map[string]any{"op": 6, "d": map[string]any{"token": "Bot " + srv.Info().Token, "session_id": "nope", "seq": 1}})
	if f := readFrame(t, c3); f.Op != 9 || string(f.D) != "false" {
		t.Fatalf("unknown session: %+v", f)
	}
	// Anything but heartbeats before IDENTIFY closes with 4003.
	c4 := dialRaw(t, srv)
	readFrame(t, c4)
	_ = c4.WriteJSON(map[string]any{"op": 3, "d": map[string]any{}})
	_ = c4.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := c4.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != closeNotAuthenticated {
		t.Fatalf("op 3 before IDENTIFY: %v", err)
	}
}
