package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/discofs/discofs/discord/emulator"
	"github.com/discofs/discofs/discord/emulator/emulatortest"
)

// TestMountWithBot runs `discofs mount --bot`: a file copied into the mount is archived
// while the bot, in the same process, answers /status with the mount's queue.
func TestMountWithBot(t *testing.T) {
	c := newCLI(t)
	srv, _ := emulatortest.Start(t, emulator.FastConfig())
	info := srv.Info()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(info.Token), 0o600); err != nil {
		t.Fatal(err)
	}
	mnt := t.TempDir()
	d := c.startMount(mnt, "--bot", "--discord-api", info.API, "--channel", info.ChannelID,
		"--token-file", tokenFile, "--allow", info.MemberID)
	t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) })

	if err := os.Mkdir(filepath.Join(mnt, "notes"), 0o755); err != nil {
		t.Fatal(err)
	}
	want := bytes.Repeat([]byte("archived through the mount\n"), 1000)
	if err := os.WriteFile(filepath.Join(mnt, "notes", "a.txt"), want, 0o644); err != nil {
		t.Fatal(err)
	}
	c.ok("sync", "--timeout", "60s")

	if got := askBot(t, info, "status", nil); !strings.Contains(got, "Archives: 1") || !strings.Contains(got, "Writeback queue") ||
		!strings.Contains(got, "Read cache:") || !strings.Contains(got, "Store: ") {
		t.Errorf("/status beside the mount: %s", got)
	}

	// An upload that fails (the store's packs folder is not a folder) is retried by /resume
	// once the store is back, without waiting out its backoff.
	packs := filepath.Join(c.home, "store", "packs")
	if err := os.Rename(packs, packs+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(packs, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	more := []byte("written while the store was down\n")
	if err := os.WriteFile(filepath.Join(mnt, "notes", "b.txt"), more, 0o644); err != nil {
		t.Fatal(err)
	}
	waitBot(t, info, "status", "1 failed")
	if err := os.Remove(packs); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(packs+".away", packs); err != nil {
		t.Fatal(err)
	}
	if got := askBot(t, info, "resume", nil); !strings.Contains(got, "Re-queued 1 file(s) of the writeback queue") {
		t.Errorf("/resume beside the mount: %s", got)
	}
	waitBot(t, info, "status", "Writeback queue: 0 files")

	if err := d.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := d.Wait(); err != nil {
		t.Fatalf("discofs mount --bot after SIGINT: %v\n%s", err, d.Log())
	}
	if strings.Contains(d.Log(), info.Token) {
		t.Error("the token was printed")
	}
	dest := filepath.Join(t.TempDir(), "out")
	c.ok("get", "notes", dest)
	got, err := os.ReadFile(filepath.Join(dest, "a.txt"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the file copied into the mount reads back wrong: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(dest, "b.txt")); err != nil || !bytes.Equal(got, more) {
		t.Fatalf("the file resumed reads back wrong: %q %v", got, err)
	}
}

// askBot runs a slash command as the emulator's member and returns the bot's settled
// answer.
func askBot(t *testing.T, info emulator.Info, command string, options map[string]any) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"user_id": info.MemberID, "command": command, "options": options, "settle_ms": 200})
	resp, err := http.Post(info.API+"/_emulator/interactions", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var m struct{ Content string }
	if json.Unmarshal(out, &m) != nil {
		t.Fatalf("/%s: %d %s", command, resp.StatusCode, out)
	}
	return m.Content
}

// waitBot asks the bot command until its answer holds want.
func waitBot(t *testing.T, info emulator.Info, command, want string) {
	t.Helper()
	var got string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if got = askBot(t, info, command, nil); strings.Contains(got, want) {
			return
		}
	}
	t.Fatalf("/%s never said %q; last: %s", command, want, got)
}
