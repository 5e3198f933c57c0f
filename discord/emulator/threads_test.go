package emulator

import (
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
)

func TestThreadFromCard(t *testing.T) {
	srv, sess := start(t, nil)
	info := srv.Info()
	card, err := sess.ChannelMessageSend(info.ChannelID, "card")
	if err != nil {
		t.Fatal(err)
	}
	th, err := sess.MessageThreadStartComplex(info.ChannelID, card.ID, &discordgo.ThreadStart{Name: "#170126-01 chunks", AutoArchiveDuration: 1440})
	if err != nil {
		t.Fatal(err)
	}
	if th.ID != card.ID || th.Type != discordgo.ChannelTypeGuildPublicThread || th.ParentID != info.ChannelID || th.ThreadMetadata == nil || th.ThreadMetadata.AutoArchiveDuration != 1440 {
		t.Fatalf("thread %+v", th)
	}
	_, err = sess.MessageThreadStartComplex(info.ChannelID, card.ID, &discordgo.ThreadStart{Name: "again"})
	wantAPIError(t, err, 400, codeThreadExists)
	_, err = sess.MessageThreadStartComplex(info.ChannelID, card.ID+"0", &discordgo.ThreadStart{Name: "x"})
	wantAPIError(t, err, 404, CodeUnknownMessage)

	for i := range 3 {
		m, err := sess.ChannelMessageSend(th.ID, fmt.Sprint("pack ", i))
		if err != nil {
			t.Fatal(err)
		}
		if m.ChannelID != th.ID {
			t.Fatalf("posted to %s", m.ChannelID)
		}
	}
	got, _ := sess.ChannelMessage(info.ChannelID, card.ID)
	if got.Thread == nil || got.Thread.ID != th.ID || got.Flags&discordgo.MessageFlagsHasThread == 0 {
		t.Fatalf("card thread %+v flags %d", got.Thread, got.Flags)
	}
	c, _ := sess.Channel(th.ID)
	if c.MessageCount != 3 {
		t.Fatalf("message count %d", c.MessageCount)
	}
	active, err := sess.GuildThreadsActive(info.GuildID)
	if err != nil || len(active.Threads) != 1 || active.Threads[0].ID != th.ID {
		t.Fatalf("active: %v %+v", err, active)
	}
}

func TestThreadWithoutMessage(t *testing.T) {
	srv, sess := start(t, nil)
	ch := srv.Info().ChannelID
	pub, err := sess.ThreadStartComplex(ch, &discordgo.ThreadStart{Name: "lane 1", Type: discordgo.ChannelTypeGuildPublicThread})
	if err != nil || pub.Type != discordgo.ChannelTypeGuildPublicThread {
		t.Fatalf("public: %v %+v", err, pub)
	}
	priv, err := sess.ThreadStartComplex(ch, &discordgo.ThreadStart{Name: "lane 2", Type: discordgo.ChannelTypeGuildPrivateThread})
	if err != nil || priv.Type != discordgo.ChannelTypeGuildPrivateThread {
		t.Fatalf("private: %v %+v", err, priv)
	}
	// A public thread without a message leaves Discord's THREAD_CREATED
	// notice in the parent; a private one does not.
	list, _ := sess.ChannelMessages(ch, 10, "", "", "")
	if len(list) != 1 || list[0].Type != discordgo.MessageTypeThreadCreated || list[0].Content != "lane 1" {
		t.Fatalf("parent after threads: %+v", list)
	}
	_, err = sess.ThreadStartComplex(ch, &discordgo.ThreadStart{Name: "x", Type: 11, AutoArchiveDuration: 30})
	wantAPIError(t, err, 400, CodeInvalidFormBody)
}

func TestAutoArchiveUnarchiveAndListing(t *testing.T) {
	t.Parallel()
	srv, sess := start(t, func(c *Config) { c.AutoArchiveMinute = 2 * time.Millisecond })
	ch := srv.Info().ChannelID
	var threads []*discordgo.Channel
	for i := range 5 {
		card, err := sess.ChannelMessageSend(ch, fmt.Sprint("card ", i))
		if err != nil {
			t.Fatal(err)
		}
		th, err := sess.MessageThreadStartComplex(ch, card.ID, &discordgo.ThreadStart{Name: fmt.Sprint("t", i), AutoArchiveDuration: 60})
		if err != nil {
			t.Fatal(err)
		}
		threads = append(threads, th)
		time.Sleep(15 * time.Millisecond) // distinct archive timestamps
	}
	pack, err := sess.ChannelMessageSend(threads[0].ID, "pack")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // 60 "minutes" of 2 ms
	c, _ := sess.Channel(threads[0].ID)
	if !c.ThreadMetadata.Archived {
		t.Fatal("thread not archived after its auto-archive duration")
	}
	active, _ := sess.GuildThreadsActive(srv.Info().GuildID)
	if len(active.Threads) != 0 {
		t.Fatalf("%d active threads", len(active.Threads))
	}
	_, err = sess.ChannelMessageEdit(threads[0].ID, pack.ID, "edited")
	wantAPIError(t, err, 400, CodeThreadArchived)

	// Paging the archive: newest archive first, has_more, before.
	b, err := sess.Request("GET", discordgo.EndpointChannelPublicArchivedThreads(ch)+"?limit=2", nil)
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Threads []struct {
			ID   string `json:"id"`
			Meta struct {
				ArchiveTimestamp string `json:"archive_timestamp"`
			} `json:"thread_metadata"`
		} `json:"threads"`
		HasMore bool `json:"has_more"`
	}
	if err := json.Unmarshal(b, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Threads) != 2 || !page.HasMore {
		t.Fatalf("first page %s", b)
	}
	seen := map[string]bool{}
	last := "9999"
	for {
		for _, th := range page.Threads {
			if th.Meta.ArchiveTimestamp > last {
				t.Fatalf("archive order: %s after %s", th.Meta.ArchiveTimestamp, last)
			}
			last = th.Meta.ArchiveTimestamp
			seen[th.ID] = true
		}
		if !page.HasMore {
			break
		}
		b, err = sess.Request("GET", discordgo.EndpointChannelPublicArchivedThreads(ch)+"?limit=2&before="+url.QueryEscape(last), nil)
		if err != nil {
			t.Fatal(err)
		}
		page.Threads, page.HasMore = nil, false
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != 5 {
		t.Fatalf("paged through %d archived threads, want 5", len(seen))
	}

	// Sending unarchives; then edits work again.
	if _, err := sess.ChannelMessageSend(threads[0].ID, "wake"); err != nil {
		t.Fatal(err)
	}
	if _, err := sess.ChannelMessageEdit(threads[0].ID, pack.ID, "edited"); err != nil {
		t.Fatalf("edit after unarchive: %v", err)
	}
	// Renaming an archived thread fails; unarchiving through PATCH works.
	_, err = sess.ChannelEdit(threads[1].ID, &discordgo.ChannelEdit{Name: "renamed"})
	wantAPIError(t, err, 400, CodeThreadArchived)
	no := false
	c, err = sess.ChannelEdit(threads[1].ID, &discordgo.ChannelEdit{Archived: &no})
	if err != nil || c.ThreadMetadata.Archived {
		t.Fatalf("unarchive: %v", err)
	}
}
