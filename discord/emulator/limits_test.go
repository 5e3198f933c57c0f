package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/bwmarrin/discordgo"
)

func TestAttachmentLimits(t *testing.T) {
	srv, sess := start(t, func(c *Config) {
		c.AttachmentLimit = 1000
		c.MaxRequestBytes = 5000
		c.MaxFiles = 3
	})
	ch := srv.Info().ChannelID
	files := map[string][]byte{"ok": pattern(1000, 1), "big": pattern(1001, 2), "a": pattern(10, 3), "b": pattern(10, 4), "c": pattern(10, 5), "d": pattern(10, 6)}

	if _, err := sendFiles(sess, ch, "", files, "ok"); err != nil {
		t.Fatalf("exactly the limit: %v", err)
	}
	_, err := sendFiles(sess, ch, "", files, "big")
	re := wantAPIError(t, err, 413, CodeRequestTooLarge)
	if re.Message.Message != "Request entity too large" {
		t.Fatalf("message %q", re.Message.Message)
	}
	_, err = sendFiles(sess, ch, "", files, "a", "b", "c", "d")
	wantAPIError(t, err, 400, CodeMaxAttachments)

	// The whole request over MaxRequestBytes: 6 × 1000 bytes within 3 files
	// each under the attachment limit is impossible, so lift MaxFiles' use
	// by sending one JSON body that is too big.
	big := strings.Repeat("x", 6000)
	_, err = sess.ChannelMessageSend(ch, big)
	wantAPIError(t, err, 413, CodeRequestTooLarge)

	if st := srv.State(ch); st.Totals.Messages != 1 || st.Totals.AttachmentBytes != 1000 {
		t.Fatalf("state after rejections: %+v", st.Totals)
	}
}

func TestContentAndEmbedLimits(t *testing.T) {
	srv, sess := start(t, nil)
	ch := srv.Info().ChannelID
	if _, err := sess.ChannelMessageSend(ch, strings.Repeat("é", 2000)); err != nil {
		t.Fatalf("2000 characters: %v", err)
	}
	_, err := sess.ChannelMessageSend(ch, strings.Repeat("a", 2001))
	re := wantAPIError(t, err, 400, CodeInvalidFormBody)
	if !bytes.Contains(re.ResponseBody, []byte(`"content":{"_errors":[{"code":"BASE_TYPE_MAX_LENGTH"`)) {
		t.Fatalf("body %s", re.ResponseBody)
	}
	_, err = sess.ChannelMessageSend(ch, "")
	wantAPIError(t, err, 400, CodeEmptyMessage)

	field := func(n int, v string) []*discordgo.MessageEmbedField {
		var fs []*discordgo.MessageEmbedField
		for i := range n {
			fs = append(fs, &discordgo.MessageEmbedField{Name: fmt.Sprint("f", i), Value: v})
		}
		return fs
	}
	cases := []struct {
		name string
		e    *discordgo.MessageEmbed
		path string
	}{
		{"26 fields", &discordgo.MessageEmbed{Fields: field(26, "v")}, `"fields":{"_errors"`},
		{"field value 1025", &discordgo.MessageEmbed{Fields: field(1, strings.Repeat("v", 1025))}, `"value":{"_errors"`},
		{"title 257", &discordgo.MessageEmbed{Title: strings.Repeat("t", 257)}, `"title":{"_errors"`},
		{"6001 in all", &discordgo.MessageEmbed{Description: strings.Repeat("d", 4000), Fields: field(3, strings.Repeat("v", 667))}, `MAX_EMBED_SIZE_EXCEEDED`},
	}
	for _, c := range cases {
		_, err := sess.ChannelMessageSendEmbed(ch, c.e)
		re := wantAPIError(t, err, 400, CodeInvalidFormBody)
		if !bytes.Contains(re.ResponseBody, []byte(c.path)) {
			t.Errorf("%s: body %s", c.name, re.ResponseBody)
		}
	}
	if _, err := sess.ChannelMessageSendEmbed(ch, &discordgo.MessageEmbed{Fields: field(25, strings.Repeat("v", 200))}); err != nil {
		t.Fatalf("25 fields of 200: %v", err)
	}
}

func TestUnknownAndUnauthorized(t *testing.T) {
	srv, sess := start(t, nil)
	ch := srv.Info().ChannelID
	_, err := sess.ChannelMessageSend("123", "x")
	wantAPIError(t, err, 404, CodeUnknownChannel)
	_, err = sess.ChannelMessage(ch, "123")
	wantAPIError(t, err, 404, CodeUnknownMessage)
	_, err = sess.ChannelMessageEdit(ch, "123", "x")
	wantAPIError(t, err, 404, CodeUnknownMessage)

	bad, err := NewSession(srv.URL(), "not-the-token")
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.ChannelMessageSend(ch, "x")
	wantAPIError(t, err, 401, 0)
	_, err = bad.User("@me")
	wantAPIError(t, err, 401, 0)
}

func TestMissingPermissions(t *testing.T) {
	srv, sess := start(t, nil)
	info := srv.Info()
	m, err := sess.ChannelMessageSend(info.ChannelID, "mine")
	if err != nil {
		t.Fatal(err)
	}
	var other discordgo.Message
	if code := control(t, srv, "POST", "/_emulator/messages", map[string]string{"content": "member's"}, &other); code != 200 {
		t.Fatalf("control message: %d", code)
	}
	// The bot may not edit others' messages at all.
	_, err = sess.ChannelMessageEdit(info.ChannelID, other.ID, "x")
	wantAPIError(t, err, 403, CodeCannotEditOthers)

	var perms map[string]string
	control(t, srv, "POST", "/_emulator/permissions", map[string]any{"deny": []string{"MANAGE_MESSAGES", "SEND_MESSAGES"}}, &perms)
	_, err = sess.ChannelMessageSend(info.ChannelID, "x")
	wantAPIError(t, err, 403, CodeMissingPermissions)
	err = sess.ChannelMessageDelete(info.ChannelID, other.ID)
	wantAPIError(t, err, 403, CodeMissingPermissions)
	err = sess.ChannelMessagePin(info.ChannelID, m.ID)
	wantAPIError(t, err, 403, CodeMissingPermissions)
	// Deleting its own message needs no permission.
	if err := sess.ChannelMessageDelete(info.ChannelID, m.ID); err != nil {
		t.Fatal(err)
	}
	srv.SetBotPermissions(DefaultBotPermissions &^ PermViewChannel)
	_, err = sess.ChannelMessages(info.ChannelID, 10, "", "", "")
	wantAPIError(t, err, 403, CodeMissingAccess)
	srv.SetBotPermissions(DefaultBotPermissions)
	if _, err := sess.ChannelMessageSend(info.ChannelID, "back"); err != nil {
		t.Fatal(err)
	}
}

// rawSend posts a JSON body the discordgo structs cannot express.
func rawSend(sess *discordgo.Session, channelID string, body map[string]any) (*discordgo.Message, error) {
	b, err := sess.RequestWithBucketID("POST", discordgo.EndpointChannelMessages(channelID), body, discordgo.EndpointChannelMessages(channelID))
	if err != nil {
		return nil, err
	}
	var m discordgo.Message
	return &m, json.Unmarshal(b, &m)
}

func TestNonceIdempotency(t *testing.T) {
	srv, sess := start(t, nil)
	ch := srv.Info().ChannelID
	first, err := rawSend(sess, ch, map[string]any{"content": "pack 1", "nonce": "n-1", "enforce_nonce": true})
	if err != nil {
		t.Fatal(err)
	}
	again, err := rawSend(sess, ch, map[string]any{"content": "pack 1 retried", "nonce": "n-1", "enforce_nonce": true})
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != first.ID || again.Content != "pack 1" {
		t.Fatalf("repeat made %s %q, want %s", again.ID, again.Content, first.ID)
	}
	// Without enforce_nonce a repeat is a new message, as on Discord.
	other, err := rawSend(sess, ch, map[string]any{"content": "x", "nonce": "n-1"})
	if err != nil || other.ID == first.ID {
		t.Fatalf("unenforced: %v %v", err, other)
	}
	// An integer nonce works too; 26 characters do not.
	if _, err := rawSend(sess, ch, map[string]any{"content": "y", "nonce": 12345, "enforce_nonce": true}); err != nil {
		t.Fatal(err)
	}
	_, err = rawSend(sess, ch, map[string]any{"content": "z", "nonce": strings.Repeat("n", 26), "enforce_nonce": true})
	wantAPIError(t, err, 400, CodeInvalidFormBody)
	if n := srv.State(ch).Totals.Messages; n != 3 {
		t.Fatalf("%d messages, want 3", n)
	}
}
