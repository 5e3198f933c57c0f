package emulator

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestGatewayDrop cuts a connection with /_emulator/gateway/drop: the client reads no close
// frame, and a RESUME on a new connection replays what was dispatched meanwhile.
func TestGatewayDrop(t *testing.T) {
	t.Parallel()
	srv, _ := start(t, nil)
	tok := "Bot " + srv.Info().Token
	c := dialRaw(t, srv)
	readFrame(t, c)
	if err := c.WriteJSON(map[string]any{"op": 2, "d": map[string]any{"token": tok, "intents": intentGuildMessages | intentMessageContent,
		"properties": map[string]string{"os": "linux"}}}); err != nil {
		t.Fatal(err)
	}
	var ready struct {
		SessionID string `json:"session_id"`
	}
	if f := readFrame(t, c); json.Unmarshal(f.D, &ready) != nil || ready.SessionID == "" {
		t.Fatalf("READY %+v", f)
	}
	readFrame(t, c) // GUILD_CREATE, seq 2

	var n map[string]int
	if control(t, srv, "POST", "/_emulator/gateway/drop", nil, &n); n["sessions"] != 1 {
		t.Fatalf("drop reached %v", n)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := c.ReadMessage()
	// gorilla reports a connection that ended without a close frame as 1006, a code no
	// close frame may carry.
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseAbnormalClosure {
		t.Fatalf("after the drop the client read %v, want the connection cut without a close frame", err)
	}
	if control(t, srv, "POST", "/_emulator/gateway/drop", nil, &n); n["sessions"] != 0 {
		t.Fatalf("a second drop reached %v", n)
	}
	control(t, srv, "POST", "/_emulator/messages", map[string]string{"content": "while away"}, nil)

	c2 := dialRaw(t, srv)
	readFrame(t, c2)
	if err := c2.WriteJSON(map[string]any{"op": 6, "d": map[string]any{"token": tok, "session_id": ready.SessionID, "seq": 2}}); err != nil {
		t.Fatal(err)
	}
	var m struct {
		Content string `json:"content"`
	}
	if f := readFrame(t, c2); *f.T != "MESSAGE_CREATE" || *f.S != 3 || json.Unmarshal(f.D, &m) != nil || m.Content != "while away" {
		t.Fatalf("the first frame after RESUME: %+v", f)
	}
	if f := readFrame(t, c2); *f.T != "RESUMED" || *f.S != 4 {
		t.Fatalf("the second frame after RESUME: %+v", f)
	}
}
