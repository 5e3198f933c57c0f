package emulator

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
)

func TestRestartWithData(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.DataDir = dir
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	sess, _ := srv.Session()
	info := srv.Info()
	data := pattern(200000, 3)
	card, err := sess.ChannelMessageSend(info.ChannelID, "card")
	if err != nil {
		t.Fatal(err)
	}
	th, err := sess.MessageThreadStartComplex(info.ChannelID, card.ID, &discordgo.ThreadStart{Name: "chunks"})
	if err != nil {
		t.Fatal(err)
	}
	pack, err := sendFiles(sess, th.ID, "", map[string][]byte{"p.bin": data}, "p.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rawSend(sess, th.ID, map[string]any{"content": "n", "nonce": "k", "enforce_nonce": true}); err != nil {
		t.Fatal(err)
	}
	before := srv.State("")
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}

	srv2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv2.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	info2 := srv2.Info()
	if info2.Token != info.Token || info2.GuildID != info.GuildID || info2.ChannelID != info.ChannelID || info2.ApplicationID != info.ApplicationID {
		t.Fatalf("identity changed across restart: %+v vs %+v", info2, info)
	}
	after := srv2.State("")
	if !equalJSON(t, before, after) {
		t.Fatalf("state changed across restart:\n%+v\n%+v", before.Totals, after.Totals)
	}
	sess2, _ := srv2.Session()
	got, err := sess2.ChannelMessage(th.ID, pack.ID)
	if err != nil {
		t.Fatal(err)
	}
	if status, body, _ := fetch(t, sess2, got.Attachments[0].URL, "bytes=100000-100099"); status != 206 || !bytes.Equal(body, data[100000:100100]) {
		t.Fatalf("ranged read after restart: %d", status)
	}
	// New IDs stay above the old ones.
	m, err := sess2.ChannelMessageSend(th.ID, "later")
	if err != nil || !snowLess(pack.ID, m.ID) {
		t.Fatalf("new ID %s not after %s (%v)", m.ID, pack.ID, err)
	}
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return bytes.Equal(x, y)
}

// seedPath finds the v3.1 fixture relative to this package.
func seedPath(t *testing.T) string {
	p := filepath.Join("..", "..", "..", "shared", "legacy-v3.1", "discord-state.json")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("v3.1 fixture not found at %s", p)
	}
	return p
}

func TestSeedLegacyState(t *testing.T) {
	path := seedPath(t)
	srv, sess := start(t, func(c *Config) { c.SeedFile = path })
	var sf seedFile
	raw, _ := os.ReadFile(path)
	if err := json.Unmarshal(raw, &sf); err != nil {
		t.Fatal(err)
	}
	info := srv.Info()
	if info.GuildID != sf.GuildID || info.ChannelID != sf.ChannelID {
		t.Fatalf("info %+v", info)
	}
	pins, err := sess.ChannelMessagesPinned(info.ChannelID)
	if err != nil || len(pins) != len(sf.Archives) {
		t.Fatalf("pinned cards: %v %d", err, len(pins))
	}
	archived, err := sess.ThreadsArchived(info.ChannelID, nil, 10)
	if err != nil || len(archived.Threads) != len(sf.Archives) {
		t.Fatalf("archived threads: %v %+v", err, archived)
	}
	for _, a := range sf.Archives {
		msgs, err := sess.ChannelMessages(a.Thread.ID, 100, "", "", "")
		if err != nil || len(msgs) != len(a.ThreadMessages) {
			t.Fatalf("thread %s: %v %d", a.Thread.ID, err, len(msgs))
		}
		for _, m := range msgs[:2] {
			var want []byte
			for _, tm := range a.ThreadMessages {
				if tm.ID == m.ID {
					want, _ = os.ReadFile(filepath.Join(filepath.Dir(path), tm.Attachments[0].Path))
				}
			}
			status, body, _ := fetch(t, sess, m.Attachments[0].URL, "")
			if status != 200 || !bytes.Equal(body, want) || m.Attachments[0].Filename == "" {
				t.Fatalf("attachment of %s: %d, %d bytes, want %d", m.ID, status, len(body), len(want))
			}
		}
	}
	card, err := sess.ChannelMessage(info.ChannelID, sf.Archives[0].Card.ID)
	if err != nil || card.Thread == nil || len(card.Embeds) != 1 || card.Embeds[0].Color != 0x2ECC71 {
		t.Fatalf("card: %v %+v", err, card)
	}
}

func TestMainCommand(t *testing.T) {
	dir := t.TempDir()
	infoFile := filepath.Join(dir, "info.json")
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Main(ctx, []string{"--listen", "127.0.0.1:0", "--data", filepath.Join(dir, "state"),
			"--attachment-limit", "1000", "--url-ttl", "1m", "--latency", "1ms", "--info", infoFile}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadBytes('\n')
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	var info Info
	if err := json.Unmarshal(line, &info); err != nil {
		t.Fatalf("%v in %s", err, line)
	}
	if info.Token == "" || info.OwnerID == "" || info.MemberID == "" || info.ApplicationID == "" {
		t.Fatalf("info %s", line)
	}
	if b, err := os.ReadFile(infoFile); err != nil || !bytes.Equal(b, line) {
		t.Fatalf("--info file: %v %q", err, b)
	}
	sess, err := NewSession(info.API, info.Token)
	if err != nil {
		t.Fatal(err)
	}
	_, err = sess.ChannelFileSend(info.ChannelID, "big.bin", bytes.NewReader(pattern(1001, 1)))
	wantAPIError(t, err, 413, CodeRequestTooLarge)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Main did not return after cancel")
	}
	if _, err := os.Stat(filepath.Join(dir, "state", stateFile)); err != nil {
		t.Fatalf("state not kept: %v", err)
	}
	if err := Main(context.Background(), []string{"--listen", "0.0.0.0:0"}, io.Discard, io.Discard); err == nil {
		t.Fatal("a non-loopback address was accepted")
	}
}
