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
	wantAPIMessage(t, err, 413, CodeRequestTooLarge, "Request entity too large")
	_, err = sendFiles(sess, ch, "", files, "a", "b", "c", "d")
	wantAPIMessage(t, err, 400, CodeMaxAttachments, "Maximum number of attachments in a message reached (3)")

	// The whole request over MaxRequestBytes: 6 × 1000 bytes within 3 files
	// each under the attachment limit is impossible, so lift MaxFiles' use
	// by sending one JSON body that is too big.
	big := strings.Repeat("x", 6000)
	_, err = sess.ChannelMessageSend(ch, big)
	wantAPIMessage(t, err, 413, CodeRequestTooLarge, "Request entity too large")

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
	re := wantAPIMessage(t, err, 400, CodeInvalidFormBody, "Invalid Form Body")
	if !bytes.Contains(re.ResponseBody, []byte(`"content":{"_errors":[{"code":"BASE_TYPE_MAX_LENGTH","message":"Must be 2000 or fewer in length."}]}`)) {
		t.Fatalf("body %s", re.ResponseBody)
	}
	_, err = sess.ChannelMessageSend(ch, "")
	wantAPIMessage(t, err, 400, CodeEmptyMessage, "Cannot send an empty message")

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
		re := wantAPIMessage(t, err, 400, CodeInvalidFormBody, "Invalid Form Body")
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
	wantAPIMessage(t, err, 404, CodeUnknownChannel, "Unknown Channel")
	_, err = sess.ChannelMessage(ch, "123")
	wantAPIMessage(t, err, 404, CodeUnknownMessage, "Unknown Message")
	_, err = sess.ChannelMessageEdit(ch, "123", "x")
	wantAPIMessage(t, err, 404, CodeUnknownMessage, "Unknown Message")
	err = sess.ChannelMessageDelete(ch, "123")
	wantAPIMessage(t, err, 404, CodeUnknownMessage, "Unknown Message")
	_, err = sess.ChannelMessages("123", 10, "", "", "")
	wantAPIMessage(t, err, 404, CodeUnknownChannel, "Unknown Channel")
	_, err = sess.WebhookExecute("123", "token", true, &discordgo.WebhookParams{Content: "x"})
	wantAPIMessage(t, err, 404, CodeUnknownWebhook, "Unknown Webhook")
	_, err = sess.Request("GET", "https://discord.com/api/v10/nowhere", nil)
	wantAPIMessage(t, err, 404, CodeGeneral, "404: Not Found")
	_, err = sess.Request("GET", "https://discord.com/api/v6/users/@me", nil)
	wantAPIMessage(t, err, 400, CodeInvalidAPIVersion, "Invalid API version provided")
	_, err = sess.RequestRaw("POST", discordgo.EndpointChannelMessages(ch), "application/json", []byte("{"), discordgo.EndpointChannelMessages(ch), 0)
	wantAPIMessage(t, err, 400, CodeInvalidJSON, "The request body contains invalid JSON.")

	bad, err := NewSession(srv.URL(), "not-the-token")
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.ChannelMessageSend(ch, "x")
	wantAPIMessage(t, err, 401, CodeGeneral, "401: Unauthorized")
	_, err = bad.User("@me")
	wantAPIMessage(t, err, 401, CodeGeneral, "401: Unauthorized")
	// A webhook's token is checked too.
	wh, err := sess.WebhookCreate(ch, "lane", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = sess.WebhookExecute(wh.ID, "not-its-token", true, &discordgo.WebhookParams{Content: "x"})
	wantAPIMessage(t, err, 401, codeInvalidWebhookToken, "Invalid Webhook Token")
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
	wantAPIMessage(t, err, 403, CodeCannotEditOthers, "Cannot edit a message authored by another user")

	var perms map[string]string
	control(t, srv, "POST", "/_emulator/permissions", map[string]any{"deny": []string{"MANAGE_MESSAGES", "SEND_MESSAGES"}}, &perms)
	_, err = sess.ChannelMessageSend(info.ChannelID, "x")
	wantAPIMessage(t, err, 403, CodeMissingPermissions, "Missing Permissions")
	err = sess.ChannelMessageDelete(info.ChannelID, other.ID)
	wantAPIMessage(t, err, 403, CodeMissingPermissions, "Missing Permissions")
	err = sess.ChannelMessagePin(info.ChannelID, m.ID)
	wantAPIMessage(t, err, 403, CodeMissingPermissions, "Missing Permissions")
	// Deleting its own message needs no permission.
	if err := sess.ChannelMessageDelete(info.ChannelID, m.ID); err != nil {
		t.Fatal(err)
	}
	srv.SetBotPermissions(DefaultBotPermissions &^ PermViewChannel)
	_, err = sess.ChannelMessages(info.ChannelID, 10, "", "", "")
	wantAPIMessage(t, err, 403, CodeMissingAccess, "Missing Access")
	srv.SetBotPermissions(DefaultBotPermissions)
	if _, err := sess.ChannelMessageSend(info.ChannelID, "back"); err != nil {
		t.Fatal(err)
	}
}

// TestLimitsAtDefaults sends what Discord refuses at its own numbers, as
// discordgo sends it: multipart with payload_json.
func TestLimitsAtDefaults(t *testing.T) {
	srv, sess := start(t, nil)
	ch := srv.Info().ChannelID
	const mib = 1 << 20
	big := pattern(25*mib, 7)
	send := func(content string, sizes ...int) (*discordgo.Message, error) {
		ms := &discordgo.MessageSend{Content: content}
		for i, n := range sizes {
			ms.Files = append(ms.Files, &discordgo.File{Name: fmt.Sprint("p", i, ".bin"), Reader: bytes.NewReader(big[:n])})
		}
		return sess.ChannelMessageSendComplex(ch, ms)
	}

	m, err := send("", 10*mib)
	if err != nil {
		t.Fatalf("exactly 10 MiB: %v", err)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].Size != 10*mib {
		t.Fatalf("10 MiB attachment %+v", m.Attachments)
	}
	_, err = send("", 10*mib+1)
	wantAPIMessage(t, err, 413, CodeRequestTooLarge, "Request entity too large")
	ten := []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}
	if _, err := send("", ten...); err != nil {
		t.Fatalf("10 files: %v", err)
	}
	_, err = send("", append(ten, 1)...)
	wantAPIMessage(t, err, 400, CodeMaxAttachments, "Maximum number of attachments in a message reached (10)")
	// Three files each under the attachment limit, 27 MiB in all.
	_, err = send("", 9*mib, 9*mib, 9*mib)
	wantAPIMessage(t, err, 413, CodeRequestTooLarge, "Request entity too large")
	_, err = send(strings.Repeat("a", 2001), 1)
	re := wantAPIMessage(t, err, 400, CodeInvalidFormBody, "Invalid Form Body")
	if !bytes.Contains(re.ResponseBody, []byte(`"content":{"_errors":[{"code":"BASE_TYPE_MAX_LENGTH"`)) {
		t.Fatalf("body %s", re.ResponseBody)
	}
	if _, err := send(strings.Repeat("a", 2000), 1); err != nil {
		t.Fatalf("2000 characters with a file: %v", err)
	}
	if st := srv.State(ch).Totals; st.Messages != 3 || st.AttachmentBytes != 10*mib+11 {
		t.Fatalf("state after the refusals: %+v", st)
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
