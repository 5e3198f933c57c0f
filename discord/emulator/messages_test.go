package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"github.com/bwmarrin/discordgo"
)

func TestSendGetEditDelete(t *testing.T) {
	srv, sess := start(t, nil)
	ch := srv.Info().ChannelID

	m, err := sess.ChannelMessageSend(ch, "hello")
	if err != nil {
		t.Fatal(err)
	}
	if m.Content != "hello" || m.Author.ID != srv.Info().ApplicationID || !m.Author.Bot || m.ChannelID != ch {
		t.Fatalf("message %+v", m)
	}
	got, err := sess.ChannelMessage(ch, m.ID)
	if err != nil || got.Content != "hello" {
		t.Fatalf("get: %v %+v", err, got)
	}
	title := "📦 Archive #170126-01"
	ed, err := sess.ChannelMessageEditComplex(&discordgo.MessageEdit{
		ID: m.ID, Channel: ch, Content: ptr("edited"),
		Embeds: &[]*discordgo.MessageEmbed{{Title: title, Color: 0x2ECC71,
			Fields: []*discordgo.MessageEmbedField{{Name: "Status", Value: "success"}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if ed.Content != "edited" || ed.EditedTimestamp == nil || len(ed.Embeds) != 1 || ed.Embeds[0].Title != title || ed.Embeds[0].Type != "rich" {
		t.Fatalf("edited %+v", ed)
	}
	if err := sess.ChannelMessageDelete(ch, m.ID); err != nil {
		t.Fatal(err)
	}
	_, err = sess.ChannelMessage(ch, m.ID)
	wantAPIError(t, err, 404, CodeUnknownMessage)
	err = sess.ChannelMessageDelete(ch, m.ID)
	wantAPIError(t, err, 404, CodeUnknownMessage)
}

func ptr[T any](v T) *T { return &v }

func TestAPIVersions(t *testing.T) {
	srv, sess := start(t, nil)
	for _, v := range []string{"v9", "v10"} {
		b, err := sess.Request("GET", srv.URL()+"/api/"+v+"/users/@me", nil)
		if err != nil || !bytes.Contains(b, []byte(srv.Info().ApplicationID)) {
			t.Fatalf("%s: %v %s", v, err, b)
		}
	}
	_, err := sess.Request("GET", srv.URL()+"/api/v6/users/@me", nil)
	wantAPIError(t, err, 400, CodeInvalidAPIVersion)
	_, err = sess.Request("GET", "https://discord.com/api/v10/nowhere", nil)
	wantAPIError(t, err, 404, 0)
}

func TestAttachmentsAndRangedCDN(t *testing.T) {
	srv, sess := start(t, nil)
	ch := srv.Info().ChannelID
	files := map[string][]byte{"a.bin": pattern(100000, 1), "b.bin": pattern(3, 2), "c d(1).bin": pattern(70000, 3)}
	m, err := sendFiles(sess, ch, "pack", files, "a.bin", "b.bin", "c d(1).bin")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Attachments) != 3 {
		t.Fatalf("attachments %+v", m.Attachments)
	}
	for _, a := range m.Attachments {
		want := files[a.Filename]
		if a.Size != len(want) {
			t.Fatalf("%s: size %d, want %d", a.Filename, a.Size, len(want))
		}
		status, body, h := fetch(t, sess, a.URL, "")
		if status != 200 || !bytes.Equal(body, want) || h.Get("Content-Length") != strconv.Itoa(len(want)) {
			t.Fatalf("%s: status %d, %d bytes, Content-Length %s", a.Filename, status, len(body), h.Get("Content-Length"))
		}
	}
	a := m.Attachments[0]
	status, body, h := fetch(t, sess, a.URL, "bytes=65536-65635")
	if status != http.StatusPartialContent || !bytes.Equal(body, files["a.bin"][65536:65636]) {
		t.Fatalf("range: status %d, %d bytes", status, len(body))
	}
	if h.Get("Content-Length") != "100" || h.Get("Content-Range") != "bytes 65536-65635/100000" {
		t.Fatalf("range headers %v", h)
	}
	status, _, _ = fetch(t, sess, a.URL, "bytes=200000-")
	if status != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("range past the end: %d", status)
	}
	// The same URL with the host Discord would use reaches the emulator.
	cdn := "https://cdn.discordapp.com" + a.URL[len(srv.URL()):]
	if status, body, _ := fetch(t, sess, cdn, ""); status != 200 || len(body) != 100000 {
		t.Fatalf("cdn host: %d %d", status, len(body))
	}
}

func TestListPaging(t *testing.T) {
	srv, sess := start(t, nil)
	ch := srv.Info().ChannelID
	var ids []string
	for i := range 120 {
		m, err := sess.ChannelMessageSend(ch, fmt.Sprint(i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	page, err := sess.ChannelMessages(ch, 0, "", "", "")
	if err != nil || len(page) != 50 || page[0].ID != ids[119] || page[49].ID != ids[70] {
		t.Fatalf("default page: %v, %d", err, len(page))
	}
	page, err = sess.ChannelMessages(ch, 100, ids[100], "", "")
	if err != nil || len(page) != 100 || page[0].ID != ids[99] || page[99].ID != ids[0] {
		t.Fatalf("before: %v, %d", err, len(page))
	}
	page, err = sess.ChannelMessages(ch, 10, "", ids[5], "")
	if err != nil || len(page) != 10 || page[0].ID != ids[15] || page[9].ID != ids[6] {
		t.Fatalf("after (newest first): %v, %d", err, len(page))
	}
	page, err = sess.ChannelMessages(ch, 5, "", "", ids[60])
	if err != nil || len(page) != 5 || page[0].ID != ids[62] || page[4].ID != ids[58] {
		t.Fatalf("around: %v %d", err, len(page))
	}
	_, err = sess.ChannelMessages(ch, 101, "", "", "")
	wantAPIError(t, err, 400, CodeInvalidFormBody)
}

func TestPinsAndReactions(t *testing.T) {
	srv, sess := start(t, nil)
	ch := srv.Info().ChannelID
	m, err := sess.ChannelMessageSend(ch, "vault header")
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.ChannelMessagePin(ch, m.ID); err != nil {
		t.Fatal(err)
	}
	pins, err := sess.ChannelMessagesPinned(ch)
	if err != nil || len(pins) != 1 || pins[0].ID != m.ID || !pins[0].Pinned {
		t.Fatalf("pins: %v %+v", err, pins)
	}
	// Discord posts a "pinned a message" notice; listings see it.
	list, err := sess.ChannelMessages(ch, 10, "", "", "")
	if err != nil || len(list) != 2 || list[0].Type != discordgo.MessageTypeChannelPinnedMessage {
		t.Fatalf("after pin: %v %+v", err, list)
	}
	if err := sess.MessageReactionAdd(ch, m.ID, "✅"); err != nil {
		t.Fatal(err)
	}
	got, _ := sess.ChannelMessage(ch, m.ID)
	if len(got.Reactions) != 1 || got.Reactions[0].Count != 1 || !got.Reactions[0].Me || got.Reactions[0].Emoji.Name != "✅" {
		t.Fatalf("reactions %+v", got.Reactions)
	}
	if err := sess.ChannelMessageUnpin(ch, m.ID); err != nil {
		t.Fatal(err)
	}
	if pins, _ := sess.ChannelMessagesPinned(ch); len(pins) != 0 {
		t.Fatalf("pins after unpin: %d", len(pins))
	}
}

func TestChannels(t *testing.T) {
	srv, sess := start(t, nil)
	info := srv.Info()
	c, err := sess.Channel(info.ChannelID)
	if err != nil || c.GuildID != info.GuildID || c.Type != discordgo.ChannelTypeGuildText {
		t.Fatalf("channel: %v %+v", err, c)
	}
	nc, err := sess.GuildChannelCreate(info.GuildID, "lane-2", discordgo.ChannelTypeGuildText)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sess.ChannelMessageSend(nc.ID, "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := sess.ChannelDelete(nc.ID); err != nil {
		t.Fatal(err)
	}
	_, err = sess.ChannelMessageSend(nc.ID, "x")
	wantAPIError(t, err, 404, CodeUnknownChannel)
	_, err = sess.Channel("1")
	wantAPIError(t, err, 404, CodeUnknownChannel)
}

func TestReactions(t *testing.T) {
	srv, sess := start(t, nil)
	info := srv.Info()
	ch := info.ChannelID
	m, err := sess.ChannelMessageSend(ch, "card")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []string{"✅", "🔥"} {
		if err := sess.MessageReactionAdd(ch, m.ID, e); err != nil {
			t.Fatal(err)
		}
	}
	users, err := sess.MessageReactions(ch, m.ID, "✅", 100, "", "")
	if err != nil || len(users) != 1 || users[0].ID != info.ApplicationID {
		t.Fatalf("who reacted ✅: %v %+v", err, users)
	}
	if users, err := sess.MessageReactions(ch, m.ID, "👀", 100, "", ""); err != nil || len(users) != 0 {
		t.Fatalf("who reacted 👀: %v %+v", err, users)
	}
	reactions := func() []string {
		t.Helper()
		got, err := sess.ChannelMessage(ch, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range got.Reactions {
			out = append(out, fmt.Sprint(r.Emoji.Name, r.Count))
		}
		return out
	}
	if got := fmt.Sprint(reactions()); got != "[✅1 🔥1]" {
		t.Fatalf("reactions %s", got)
	}
	// Removing its own reaction needs no permission; another user's needs
	// MANAGE_MESSAGES, as does clearing them all.
	srv.SetBotPermissions(DefaultBotPermissions &^ PermManageMessages)
	if err := sess.MessageReactionRemove(ch, m.ID, "✅", "@me"); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(reactions()); got != "[🔥1]" {
		t.Fatalf("after removing its own ✅: %s", got)
	}
	err = sess.MessageReactionRemove(ch, m.ID, "🔥", info.MemberID)
	wantAPIMessage(t, err, 403, CodeMissingPermissions, "Missing Permissions")
	err = sess.MessageReactionsRemoveAll(ch, m.ID)
	wantAPIMessage(t, err, 403, CodeMissingPermissions, "Missing Permissions")
	srv.SetBotPermissions(DefaultBotPermissions)
	// The member never reacted: removing their reaction changes nothing.
	if err := sess.MessageReactionRemove(ch, m.ID, "🔥", info.MemberID); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(reactions()); got != "[🔥1]" {
		t.Fatalf("after removing the member's 🔥: %s", got)
	}
	// The bot's own ID in the user's place is its own reaction.
	if err := sess.MessageReactionRemove(ch, m.ID, "🔥", info.ApplicationID); err != nil {
		t.Fatal(err)
	}
	if got := reactions(); len(got) != 0 {
		t.Fatalf("after removing its 🔥 by ID: %v", got)
	}
	for _, e := range []string{"✅", "🔥"} {
		if err := sess.MessageReactionAdd(ch, m.ID, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := sess.MessageReactionsRemoveAll(ch, m.ID); err != nil {
		t.Fatal(err)
	}
	if got := reactions(); len(got) != 0 {
		t.Fatalf("after clearing: %v", got)
	}
	err = sess.MessageReactionAdd(ch, "123", "✅")
	wantAPIMessage(t, err, 404, CodeUnknownMessage, "Unknown Message")
}

// v10 is an API base on API version 10; discordgo's own endpoints are v9.
const v10 = "https://discord.com/api/v10/"

func TestNewPinsPath(t *testing.T) {
	srv, sess := start(t, nil)
	ch := srv.Info().ChannelID
	m, err := sess.ChannelMessageSend(ch, "vault header")
	if err != nil {
		t.Fatal(err)
	}
	pins := v10 + "channels/" + ch + "/messages/pins"
	if _, err := sess.Request("PUT", pins+"/"+m.ID, nil); err != nil {
		t.Fatal(err)
	}
	var list struct {
		Items []struct {
			PinnedAt string             `json:"pinned_at"`
			Message  *discordgo.Message `json:"message"`
		} `json:"items"`
		HasMore *bool `json:"has_more"`
	}
	b, err := sess.Request("GET", pins, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Message.ID != m.ID || !list.Items[0].Message.Pinned || list.Items[0].PinnedAt == "" || list.HasMore == nil || *list.HasMore {
		t.Fatalf("pins %s", b)
	}
	// The legacy path lists the same pin.
	if old, err := sess.ChannelMessagesPinned(ch); err != nil || len(old) != 1 || old[0].ID != m.ID {
		t.Fatalf("legacy pins: %v %+v", err, old)
	}
	if _, err := sess.Request("DELETE", pins+"/"+m.ID, nil); err != nil {
		t.Fatal(err)
	}
	if b, err := sess.Request("GET", pins, nil); err != nil || string(b) != `{"has_more":false,"items":[]}` {
		t.Fatalf("pins after unpin: %v %s", err, b)
	}
	_, err = sess.Request("PUT", pins+"/123", nil)
	wantAPIMessage(t, err, 404, CodeUnknownMessage, "Unknown Message")
}

// TestV10Messages creates, reads, edits, lists and deletes messages on
// /api/v10/, JSON and multipart, through discordgo's request path.
func TestV10Messages(t *testing.T) {
	srv, sess := start(t, nil)
	ch := srv.Info().ChannelID
	msgs := v10 + "channels/" + ch + "/messages"
	decode := func(b []byte, err error) *discordgo.Message {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var m discordgo.Message
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return &m
	}
	m := decode(sess.Request("POST", msgs, map[string]any{"content": "on v10"}))
	if m.ID == "" || m.Content != "on v10" || m.ChannelID != ch {
		t.Fatalf("created %+v", m)
	}
	data := pattern(3000, 4)
	ctype, body, err := discordgo.MultipartBodyWithJSON(&discordgo.MessageSend{Content: "pack"},
		[]*discordgo.File{{Name: "p.bin", Reader: bytes.NewReader(data)}})
	if err != nil {
		t.Fatal(err)
	}
	pack := decode(sess.RequestRaw("POST", msgs, ctype, body, msgs, 0))
	if len(pack.Attachments) != 1 || pack.Attachments[0].Size != len(data) {
		t.Fatalf("multipart on v10: %+v", pack)
	}
	got := decode(sess.Request("GET", msgs+"/"+pack.ID, nil))
	if got.ID != pack.ID || got.Content != "pack" || len(got.Attachments) != 1 {
		t.Fatalf("get on v10: %+v", got)
	}
	if status, b, _ := fetch(t, sess, got.Attachments[0].URL, ""); status != 200 || !bytes.Equal(b, data) {
		t.Fatalf("attachment of a v10 message: %d, %d bytes", status, len(b))
	}
	ed := decode(sess.Request("PATCH", msgs+"/"+m.ID, map[string]any{"content": "edited on v10"}))
	if ed.Content != "edited on v10" || ed.EditedTimestamp == nil {
		t.Fatalf("edit on v10: %+v", ed)
	}
	b, err := sess.Request("GET", msgs+"?limit=10", nil)
	var list []*discordgo.Message
	if err != nil || json.Unmarshal(b, &list) != nil || len(list) != 2 || list[0].ID != pack.ID {
		t.Fatalf("list on v10: %v %s", err, b)
	}
	if _, err := sess.Request("DELETE", msgs+"/"+m.ID, nil); err != nil {
		t.Fatal(err)
	}
	_, err = sess.Request("GET", msgs+"/"+m.ID, nil)
	wantAPIMessage(t, err, 404, CodeUnknownMessage, "Unknown Message")
	_, err = sess.Request("POST", v10+"channels/123/messages", map[string]any{"content": "x"})
	wantAPIMessage(t, err, 404, CodeUnknownChannel, "Unknown Channel")
}
