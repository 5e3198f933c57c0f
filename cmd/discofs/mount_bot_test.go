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

	body, _ := json.Marshal(map[string]any{"user_id": info.MemberID, "command": "status", "settle_ms": 200})
	resp, err := http.Post(info.API+"/_emulator/interactions", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var m struct{ Content string }
	if json.Unmarshal(out, &m) != nil || !strings.Contains(m.Content, "Archives: 1") || !strings.Contains(m.Content, "Writeback queue") ||
		!strings.Contains(m.Content, "Read cache:") || !strings.Contains(m.Content, "Store: ") {
		t.Errorf("/status beside the mount: %d %s", resp.StatusCode, out)
	}

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
}
