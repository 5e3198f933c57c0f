package emulator

import (
	"bytes"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
)

func refresh(t *testing.T, sess *discordgo.Session, urls ...string) map[string]string {
	t.Helper()
	b, err := sess.RequestWithBucketID("POST", discordgo.EndpointAPI+"attachments/refresh-urls",
		map[string]any{"attachment_urls": urls}, discordgo.EndpointAPI+"attachments/refresh-urls")
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Refreshed []struct{ Original, Refreshed string } `json:"refreshed_urls"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, r := range out.Refreshed {
		m[r.Original] = r.Refreshed
	}
	return m
}

func TestURLExpiryAndRefresh(t *testing.T) {
	t.Parallel()
	srv, sess := start(t, func(c *Config) { c.URLTTL = time.Second })
	ch := srv.Info().ChannelID
	data := pattern(5000, 9)
	m, err := sendFiles(sess, ch, "", map[string][]byte{"p.bin": data}, "p.bin")
	if err != nil {
		t.Fatal(err)
	}
	u := m.Attachments[0].URL
	q := mustQuery(t, u)
	if q.Get("ex") == "" || q.Get("is") == "" || len(q.Get("hm")) != 64 {
		t.Fatalf("unsigned URL %s", u)
	}
	if status, _, _ := fetch(t, sess, u, ""); status != 200 {
		t.Fatalf("fresh URL: %d", status)
	}
	// Unsigned and tampered URLs are refused.
	for _, bad := range []string{u[:bytes.IndexByte([]byte(u), '?')], u[:len(u)-3] + "00&"} {
		if status, _, _ := fetch(t, sess, bad, ""); status != 404 {
			t.Fatalf("%s: %d", bad, status)
		}
	}
	time.Sleep(2100 * time.Millisecond)
	status, body, _ := fetch(t, sess, u, "")
	if status != 404 || string(body) != "This content is no longer available.\n" {
		t.Fatalf("expired URL: %d %q", status, body)
	}
	fresh := refresh(t, sess, u, "https://example.invalid/other")[u]
	if fresh == "" || fresh == u {
		t.Fatalf("not refreshed: %q", fresh)
	}
	if status, body, _ := fetch(t, sess, fresh, ""); status != 200 || !bytes.Equal(body, data) {
		t.Fatalf("refreshed URL: %d", status)
	}
	// Fetching the message again also signs afresh.
	again, err := sess.ChannelMessage(ch, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if status, _, _ := fetch(t, sess, again.Attachments[0].URL, ""); status != 200 {
		t.Fatalf("re-fetched message URL: %d", status)
	}
}

func TestExpireURLsNowAndCorrupt(t *testing.T) {
	srv, sess := start(t, nil)
	ch := srv.Info().ChannelID
	data := pattern(3000, 7)
	m, err := sendFiles(sess, ch, "", map[string][]byte{"p.bin": data}, "p.bin")
	if err != nil {
		t.Fatal(err)
	}
	u := m.Attachments[0].URL
	control(t, srv, "POST", "/_emulator/expire-urls", nil, nil)
	if status, _, _ := fetch(t, sess, u, ""); status != 404 {
		t.Fatalf("URL after expire-urls: %d", status)
	}
	u = refresh(t, sess, u)[u]
	code := control(t, srv, "POST", "/_emulator/corrupt", map[string]any{"channel_id": ch, "message_id": m.ID, "offset": 1234}, nil)
	if code != 200 {
		t.Fatalf("corrupt: %d", code)
	}
	_, got, _ := fetch(t, sess, u, "")
	diff := 0
	for i := range got {
		if got[i] != data[i] {
			diff++
			if i != 1234 {
				t.Fatalf("byte %d changed", i)
			}
		}
	}
	if diff != 1 || len(got) != len(data) {
		t.Fatalf("%d bytes differ", diff)
	}
	if code := control(t, srv, "POST", "/_emulator/corrupt", map[string]any{"message_id": m.ID, "offset": 3000}, nil); code != 400 {
		t.Fatalf("offset past the end: %d", code)
	}
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}
