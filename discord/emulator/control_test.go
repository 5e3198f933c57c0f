package emulator

import (
	"testing"
	"time"
)

func TestControlStateInfoAndReset(t *testing.T) {
	srv, sess := start(t, func(c *Config) {
		c.DisableRouteLimits = false
		c.RouteLimits = map[string]RouteLimit{RouteMessageCreate: {Requests: 1, Per: time.Hour}}
	})
	info := srv.Info()
	m, err := sendFiles(sess, info.ChannelID, "card", map[string][]byte{"a.bin": pattern(1234, 1)}, "a.bin")
	if err != nil {
		t.Fatal(err)
	}
	var st StateDump
	if code := control(t, srv, "GET", "/_emulator/state", nil, &st); code != 200 {
		t.Fatalf("state: %d", code)
	}
	if st.GuildID != info.GuildID || st.Totals.Messages != 1 || st.Totals.AttachmentBytes != 1234 ||
		len(st.Messages) != 1 || st.Messages[0].ID != m.ID || st.Messages[0].Attachments[0].Size != 1234 {
		t.Fatalf("state %+v", st)
	}
	var got Info
	control(t, srv, "GET", "/_emulator/info", nil, &got)
	if got != info {
		t.Fatalf("info %+v, want %+v", got, info)
	}
	var f Faults
	control(t, srv, "POST", "/_emulator/faults", Faults{LatencyMS: 1}, nil)
	control(t, srv, "GET", "/_emulator/faults", nil, &f)
	if f.LatencyMS != 1 {
		t.Fatalf("faults %+v", f)
	}
	// The one-per-hour bucket is spent; a reset lets the next message
	// through (a raw request: discordgo would wait for the hour itself).
	path := "/channels/" + info.ChannelID + "/messages"
	if resp, _ := rawREST(t, srv, info.Token, "POST", path, `{"content":"x"}`); resp.StatusCode != 429 {
		t.Fatalf("spent bucket: %d", resp.StatusCode)
	}
	control(t, srv, "POST", "/_emulator/reset-ratelimits", nil, nil)
	if resp, _ := rawREST(t, srv, info.Token, "POST", path, `{"content":"x"}`); resp.StatusCode != 200 {
		t.Fatalf("after reset: %d", resp.StatusCode)
	}
	if code := control(t, srv, "GET", "/_emulator/nothing", nil, nil); code != 404 {
		t.Fatalf("unknown control path: %d", code)
	}
	if code := control(t, srv, "POST", "/_emulator/permissions", map[string]any{"deny": []string{"FLY"}}, nil); code != 400 {
		t.Fatalf("unknown permission: %d", code)
	}
}
