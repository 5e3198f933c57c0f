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

// TestBotCommand runs `discofs bot` on a local vault against the emulator, asks it for
// the status as an allowed user and stops it with SIGINT.
func TestBotCommand(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.put(writeTreeDir(t))
	srv, _ := emulatortest.Start(t, emulator.FastConfig())
	info := srv.Info()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(info.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	c.fails(exitUsage, "bot", "--discord-api", info.API, "--token-file", tokenFile)
	c.fails(exitUsage, "bot", "--channel", info.ChannelID, "--allow", "someone")
	missing := filepath.Join(t.TempDir(), "missing")
	if r := c.fails(exitFailure, "bot", "--discord-api", info.API, "--channel", info.ChannelID, "--token-file", tokenFile,
		"--legacy-passphrase-file", missing); !strings.Contains(r.stderr, "--legacy-passphrase-file") {
		t.Errorf("missing passphrase file: %s", r.stderr)
	}
	const legacyPass = "v3.1 secret words"
	passFile := filepath.Join(t.TempDir(), "legacy-pass")
	if err := os.WriteFile(passFile, []byte(legacyPass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(binary, "bot", "--discord-api", info.API, "--channel", info.ChannelID,
		"--token-file", tokenFile, "--allow", info.MemberID, "--download-dir", t.TempDir(), "--legacy-passphrase-file", passFile)
	cmd.Env = append(os.Environ(), "DISCOFS_HOME="+c.home, "DISCOFS_PASSPHRASE="+c.pass)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	var log bytes.Buffer
	serving, drained := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "serving; stop with Ctrl-C") && !once {
				once = true
				close(serving)
			}
		}
	}()
	select {
	case <-serving:
	case <-time.After(20 * time.Second):
		t.Fatal("the bot did not start")
	}

	for command, want := range map[string]string{
		"status": "Archives: 1",
		// The passphrase file was read: the import asks for confirmation (and is not run).
		"migrate-legacy": "Import the v3.1 archives",
		"resume":         "Nothing is queued on this host",
	} {
		body, _ := json.Marshal(map[string]any{"user_id": info.MemberID, "command": command, "settle_ms": 200})
		resp, err := http.Post(info.API+"/_emulator/interactions", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var m struct{ Content string }
		if json.Unmarshal(out, &m) != nil || !strings.Contains(m.Content, want) || strings.Contains(m.Content, legacyPass) {
			t.Errorf("/%s: %d %s", command, resp.StatusCode, out)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	<-drained // the pipe must be read to its end before Wait
	if err := cmd.Wait(); err != nil {
		t.Errorf("discofs bot after SIGINT: %v\n%s", err, log.String())
	}
	if strings.Contains(log.String(), info.Token) || strings.Contains(log.String(), c.pass) || strings.Contains(log.String(), legacyPass) {
		t.Error("the bot printed a secret")
	}
	if !strings.Contains(log.String(), "command=status") {
		t.Errorf("the command is not logged:\n%s", log.String())
	}
}

// writeTreeDir makes a small folder to archive.
func writeTreeDir(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "stuff")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
