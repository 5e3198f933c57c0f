package emulator

import (
	"bytes"
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
