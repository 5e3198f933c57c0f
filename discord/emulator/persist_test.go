package emulator

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
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

// runMain runs the emulator command with args, as `discofs emulator` does,
// until stop; it returns the info line Main printed.
func runMain(t *testing.T, args ...string) (info Info, line []byte, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Main(ctx, args, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadBytes('\n')
	if err != nil {
		cancel()
		t.Fatalf("no info line: %v (Main: %v)", err, <-done)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if err := json.Unmarshal(line, &info); err != nil {
		t.Fatalf("%v in %s", err, line)
	}
	stopped := false
	stop = func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Main did not return after cancel")
		}
	}
	t.Cleanup(stop)
	return info, line, stop
}

func TestMainCommand(t *testing.T) {
	dir := t.TempDir()
	infoFile := filepath.Join(dir, "info.json")
	info, line, stop := runMain(t, "--listen", "127.0.0.1:0", "--data", filepath.Join(dir, "state"),
		"--attachment-limit", "1000", "--url-ttl", "1m", "--latency", "1ms", "--info", infoFile)
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
	stop()
	if _, err := os.Stat(filepath.Join(dir, "state", stateFile)); err != nil {
		t.Fatalf("state not kept: %v", err)
	}
	if err := Main(context.Background(), []string{"--listen", "0.0.0.0:0"}, io.Discard, io.Discard); err == nil {
		t.Fatal("a non-loopback address was accepted")
	}
}

// ctlGet GETs a control path of the emulator at api into out.
func ctlGet(t *testing.T, api, path string, out any) {
	t.Helper()
	resp, err := http.Get(api + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
	}
}

// TestMainRestartWithData runs the command twice on one --data directory:
// the second run has the first one's identity, state and commands.
func TestMainRestartWithData(t *testing.T) {
	data := filepath.Join(t.TempDir(), "state")
	info, _, stop := runMain(t, "--listen", "127.0.0.1:0", "--data", data)
	sess, err := NewSession(info.API, info.Token)
	if err != nil {
		t.Fatal(err)
	}
	card, err := sess.ChannelMessageSend(info.ChannelID, "card")
	if err != nil {
		t.Fatal(err)
	}
	th, err := sess.MessageThreadStartComplex(info.ChannelID, card.ID, &discordgo.ThreadStart{Name: "chunks"})
	if err != nil {
		t.Fatal(err)
	}
	data1 := pattern(5000, 9)
	pack, err := sendFiles(sess, th.ID, "", map[string][]byte{"p.bin": data1}, "p.bin")
	if err != nil {
		t.Fatal(err)
	}
	cmds, err := sess.ApplicationCommandBulkOverwrite(info.ApplicationID, "", []*discordgo.ApplicationCommand{
		{Name: "status", Description: "Show an archive"},
		{Name: "download", Description: "Fetch an archive"},
	})
	if err != nil || len(cmds) != 2 {
		t.Fatalf("register commands: %v %d", err, len(cmds))
	}
	var before StateDump
	ctlGet(t, info.API, "/_emulator/state", &before)
	stop()

	info2, _, _ := runMain(t, "--listen", "127.0.0.1:0", "--data", data)
	again := info2
	again.API = info.API
	if again != info {
		t.Fatalf("identity changed across restart:\n%+v\n%+v", info2, info)
	}
	var after StateDump
	ctlGet(t, info2.API, "/_emulator/state", &after)
	if before.Totals.Messages != 2 || !equalJSON(t, before, after) {
		t.Fatalf("state changed across restart:\n%+v\n%+v", before, after)
	}
	sess2, err := NewSession(info2.API, info2.Token)
	if err != nil {
		t.Fatal(err)
	}
	got, err := sess2.ApplicationCommands(info2.ApplicationID, "")
	if err != nil || len(got) != 2 {
		t.Fatalf("commands after restart: %v %d", err, len(got))
	}
	names := map[string]string{}
	for _, c := range cmds {
		names[c.ID] = c.Name
	}
	for _, c := range got {
		if names[c.ID] != c.Name {
			t.Fatalf("command %s %q after restart, want %q", c.ID, c.Name, names[c.ID])
		}
	}
	m, err := sess2.ChannelMessage(th.ID, pack.ID)
	if err != nil {
		t.Fatal(err)
	}
	if status, body, _ := fetch(t, sess2, m.Attachments[0].URL, ""); status != 200 || !bytes.Equal(body, data1) {
		t.Fatalf("attachment after restart: %d, %d bytes", status, len(body))
	}
}

// writeSeed writes a v3.1 discord-state.json of one archive, its card and
// a thread of two one-attachment chunk messages, into dir.
func writeSeed(t *testing.T, dir string) (path string, sf seedFile) {
	t.Helper()
	const seed = `{
  "guild_id": "1330000000000000001",
  "archive_channel_id": "1330000000000000002",
  "archives": [{
    "card": {"id": "1330000000000000010", "content": "card", "pinned": true},
    "thread": {"id": "1330000000000000010", "name": "#170126-01 chunks", "archived": true},
    "thread_messages": [
      {"id": "1330000000000000011", "attachments": [{"filename": "c0.bin", "size": 300, "path": "chunks/c0.bin"}]},
      {"id": "1330000000000000012", "attachments": [{"filename": "c1.bin", "path": "chunks/c1.bin"}]}
    ]
  }]
}`
	if err := os.MkdirAll(filepath.Join(dir, "chunks"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, n := range map[string]int{"c0.bin": 300, "c1.bin": 200} {
		if err := os.WriteFile(filepath.Join(dir, "chunks", name), pattern(n, byte(n)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path = filepath.Join(dir, "discord-state.json")
	if err := os.WriteFile(path, []byte(seed), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(seed), &sf); err != nil {
		t.Fatal(err)
	}
	return path, sf
}

// TestMainFlags checks that --seed, --bandwidth, --fail-rate and the other
// fault flags take effect.
func TestMainFlags(t *testing.T) {
	path, sf := writeSeed(t, t.TempDir())
	info, _, _ := runMain(t, "--listen", "127.0.0.1:0", "--seed", path,
		"--bandwidth", "12500000", "--fail-rate", "0.25", "--drop-rate", "0.125", "--storm-429", "0.5", "--latency", "7ms")
	if info.GuildID != sf.GuildID || info.ChannelID != sf.ChannelID {
		t.Fatalf("info line %+v, want the seeded guild %s and channel %s", info, sf.GuildID, sf.ChannelID)
	}
	var st StateDump
	ctlGet(t, info.API, "/_emulator/state", &st)
	if st.GuildID != sf.GuildID || st.ChannelID != sf.ChannelID || st.Totals.Messages != 3 || st.Totals.AttachmentBytes != 500 {
		t.Fatalf("seeded state %+v", st)
	}
	ids := map[string]string{}
	for _, m := range st.Messages {
		ids[m.ID] = m.ChannelID
	}
	a := sf.Archives[0]
	if ids[a.Card.ID] != sf.ChannelID || ids[a.ThreadMessages[0].ID] != a.Thread.ID || ids[a.ThreadMessages[1].ID] != a.Thread.ID {
		t.Fatalf("seeded messages %v", ids)
	}
	var f Faults
	ctlGet(t, info.API, "/_emulator/faults", &f)
	if want := (Faults{FailRate: 0.25, DropRate: 0.125, LatencyMS: 7, Bandwidth: 12500000, Storm429: 0.5}); f != want {
		t.Fatalf("faults %+v, want %+v", f, want)
	}
}
