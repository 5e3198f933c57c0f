package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

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

	d, ok := c.startDaemon("serving; stop with Ctrl-C", "bot", "--discord-api", info.API, "--channel", info.ChannelID,
		"--token-file", tokenFile, "--allow", info.MemberID, "--download-dir", t.TempDir(), "--legacy-passphrase-file", passFile)
	if !ok {
		t.Fatalf("the bot did not start:\n%s", d.Log())
	}

	for command, want := range map[string]string{
		"status": "Archives: 1",
		// The passphrase file was read: the import asks for confirmation (and is not run).
		"migrate-legacy": "Import the v3.1 archives",
		"resume":         "No interrupted upload to resume",
	} {
		if got := askBot(t, info, command, nil); !strings.Contains(got, want) || strings.Contains(got, legacyPass) {
			t.Errorf("/%s: %s", command, got)
		}
	}

	if err := d.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := d.Wait(); err != nil {
		t.Errorf("discofs bot after SIGINT: %v\n%s", err, d.Log())
	}
	if log := d.Log(); strings.Contains(log, info.Token) || strings.Contains(log, c.pass) || strings.Contains(log, legacyPass) {
		t.Error("the bot printed a secret")
	}
	if !strings.Contains(d.Log(), "command=status") {
		t.Errorf("the command is not logged:\n%s", d.Log())
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
