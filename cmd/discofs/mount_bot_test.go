package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
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
	cmd := exec.Command(binary, "mount", "--bot", "--discord-api", info.API, "--channel", info.ChannelID,
		"--token-file", tokenFile, "--allow", info.MemberID, mnt)
	cmd.Env = append(os.Environ(), "DISCOFS_HOME="+c.home, "DISCOFS_PASSPHRASE="+c.pass)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); syscall.Unmount(mnt, syscall.MNT_DETACH) })
	var log bytes.Buffer
	mounted, drained := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "mounted at") && !once {
				once = true
				close(mounted)
			}
		}
	}()
	select {
	case <-mounted:
	case <-time.After(30 * time.Second):
		t.Fatalf("the mount did not start:\n%s", log.String())
	}

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
	if json.Unmarshal(out, &m) != nil || !strings.Contains(m.Content, "Archives: 1") || !strings.Contains(m.Content, "Writeback queue") {
		t.Errorf("/status beside the mount: %d %s", resp.StatusCode, out)
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	<-drained
	if err := cmd.Wait(); err != nil {
		t.Fatalf("discofs mount --bot after SIGINT: %v\n%s", err, log.String())
	}
	if strings.Contains(log.String(), info.Token) {
		t.Error("the token was printed")
	}
	dest := filepath.Join(t.TempDir(), "out")
	c.ok("get", "notes", dest)
	got, err := os.ReadFile(filepath.Join(dest, "a.txt"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the file copied into the mount reads back wrong: %v", err)
	}
}
