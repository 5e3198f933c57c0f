package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/discofs/discofs/discord/emulator"
	"github.com/discofs/discofs/discord/emulator/emulatortest"
)

// discordCLI is a CLI whose vault lives in an in-process emulator's channel.
type discordCLI struct {
	*cli
	srv       *emulator.Server
	tokenFile string
}

func newDiscordCLI(t *testing.T, srv *emulator.Server) *discordCLI {
	t.Helper()
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte(srv.Info().Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &discordCLI{cli: &cli{t: t, home: t.TempDir(), pass: "correct horse battery staple"}, srv: srv, tokenFile: tok}
}

func (d *discordCLI) initArgs(extra ...string) []string {
	info := d.srv.Info()
	return append([]string{"init", "--store", "discord", "--channel", info.ChannelID, "--discord-api", info.API,
		"--token-file", d.tokenFile, "--kdf-memory", "8", "--kdf-time", "1"}, extra...)
}

// noToken fails the test if r shows the bot token.
func (d *discordCLI) noToken(r result) result {
	d.t.Helper()
	if strings.Contains(r.stdout+r.stderr, d.srv.Info().Token) {
		d.t.Fatalf("discofs printed the bot token")
	}
	return r
}

func TestDiscordEndToEnd(t *testing.T) {
	srv, sess := emulatortest.Start(t, emulator.FastConfig())
	c := newDiscordCLI(t, srv)
	r := c.noToken(c.ok(c.initArgs("--lanes", "3")...))
	if !strings.Contains(r.stdout, "created vault") {
		t.Fatalf("init: %s", r.stdout)
	}
	cfg, _ := os.ReadFile(filepath.Join(c.home, "config.json"))
	if strings.Contains(string(cfg), srv.Info().Token) || !strings.Contains(string(cfg), `"lanes": "3"`) {
		t.Fatalf("config.json keeps the token or lacks the lanes:\n%s", cfg)
	}
	src := t.TempDir()
	writeTree(t, src)
	id := c.put(src)
	dest := filepath.Join(t.TempDir(), "out")
	c.noToken(c.ok("get", id, dest))
	diffTrees(t, src, dest)
	c.noToken(c.ok("verify", "--full"))

	// A second machine joins the vault from the channel alone.
	other := newDiscordCLI(t, srv)
	if r := other.noToken(other.ok(other.initArgs()...)); !strings.Contains(r.stdout, "joined vault") {
		t.Fatalf("second init: %s", r.stdout)
	}
	// It has no local state but its config: rebuild-index brings the archive back whole.
	if r := other.noToken(other.ok("rebuild-index")); !strings.Contains(r.stdout, "indexed 1 archives") {
		t.Fatalf("rebuild-index on the second machine: %s", r.stdout)
	}
	dest2 := filepath.Join(t.TempDir(), "out")
	other.noToken(other.ok("get", id, dest2))
	diffTrees(t, src, dest2)

	// A pack message deleted by hand is reported by verify, naming the archive.
	msgs, err := sess.ChannelMessages(threadOf(t, c, id), 100, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	deleted := false
	for _, m := range msgs {
		if len(m.Attachments) > 0 && strings.HasPrefix(m.Attachments[0].Filename, "pack-") {
			if err := sess.ChannelMessageDelete(m.ChannelID, m.ID); err != nil {
				t.Fatal(err)
			}
			deleted = true
			break
		}
	}
	if !deleted {
		t.Fatal("found no pack message to delete")
	}
	r = c.noToken(c.run("verify"))
	if r.code == 0 || !strings.Contains(r.stdout+r.stderr, id) {
		t.Fatalf("verify after a deleted message: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// threadOf finds the archive's thread from its card, as the emulator's state shows it.
func threadOf(t *testing.T, c *discordCLI, id string) string {
	t.Helper()
	st := c.srv.State("")
	for _, ch := range st.Channels {
		if ch.Name == id+" chunks" {
			return ch.ID
		}
	}
	t.Fatalf("no thread named %q chunks", id)
	return ""
}

func TestDiscordInitErrors(t *testing.T) {
	srv, _ := emulatortest.Start(t, emulator.FastConfig())
	c := newDiscordCLI(t, srv)
	os.WriteFile(c.tokenFile, []byte("wrong-token"), 0o600)
	r := c.run(c.initArgs()...)
	if r.code == 0 || !strings.Contains(r.stderr, "token") || strings.Contains(r.stdout+r.stderr, "wrong-token") {
		t.Fatalf("init with a bad token: exit %d\n%s", r.code, r.stderr)
	}
	c = newDiscordCLI(t, srv)
	args := c.initArgs()
	for i, a := range args {
		if a == "--channel" {
			args[i+1] = "123456789012345678"
		}
	}
	if r := c.noToken(c.run(args...)); r.code == 0 || !strings.Contains(r.stderr, "does not exist") {
		t.Fatalf("init on an unknown channel: exit %d\n%s", r.code, r.stderr)
	}
	c.noToken(c.fails(exitUsage, "init", "--store", "discord"))
}

// TestDiscordMount copies a tree into a mount of a Discord vault, syncs, unmounts, and
// then, with all local state but the config gone, rebuilds the index from the channel and
// reads every file back through a new mount.
func TestDiscordMount(t *testing.T) {
	srv, _ := emulatortest.Start(t, emulator.FastConfig())
	c := newDiscordCLI(t, srv)
	c.noToken(c.ok(c.initArgs()...))
	src := t.TempDir()
	writeTree(t, src)
	mnt := t.TempDir()
	m := c.startMount(mnt)
	if out, err := exec.Command("cp", "-a", src+"/.", filepath.Join(mnt, "copied")+"/").CombinedOutput(); err != nil {
		// cp -a into a directory that does not exist yet makes it: the archive.
		t.Fatalf("cp into the mount: %v\n%s", err, out)
	}
	c.noToken(c.ok("sync", "--timeout", "60s"))
	m.Process.Signal(syscall.SIGINT)
	if err := m.Wait(); err != nil {
		t.Fatalf("unmount: %v\n%s", err, m.Log())
	}
	for _, dir := range []string{"index", "spool", "cache"} {
		os.RemoveAll(filepath.Join(c.home, dir))
	}
	if r := c.noToken(c.ok("rebuild-index")); !strings.Contains(r.stdout, "indexed 1 archives") {
		t.Fatalf("rebuild-index: %s", r.stdout)
	}
	m = c.startMount(mnt, "--read-only")
	defer func() {
		m.Process.Signal(syscall.SIGINT)
		m.Wait()
	}()
	diffTrees(t, src, filepath.Join(mnt, "copied"))
}
