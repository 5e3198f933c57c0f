package discord

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/discofs/discofs/discord/emulator"
	"github.com/discofs/discofs/vault"
)

// TestHostTools runs the notification and sleep inhibition against stand-in tools, and
// checks that a host without them is skipped silently.
func TestHostTools(t *testing.T) {
	t.Parallel()
	h, read := fakeTools(t, "linux", linuxTools)

	h.notify(true, "discofs: archive finished", "#261126-01 photos")
	if got := read(); !strings.Contains(got, "notify --app-name=discofs discofs: archive finished #261126-01 photos") {
		t.Errorf("notify: %q", got)
	}
	h.notify(false, "off", "off")
	if strings.Contains(read(), "off") {
		t.Error("a notification was shown while turned off")
	}

	r1, r2 := h.inhibit(true), h.inhibit(true)
	waitFile(t, read, "start")
	r1()
	r1() // twice is once
	time.Sleep(100 * time.Millisecond)
	if strings.Contains(read(), "end") {
		t.Fatal("the inhibitor ended while an upload still runs")
	}
	r2()
	waitFile(t, read, "end")
	if n := strings.Count(read(), "start"); n != 1 {
		t.Errorf("%d inhibitors started, want 1", n)
	}

	bare := newHost(slog.New(slog.DiscardHandler))
	bare.lookPath = func(string) (string, error) { return "", errors.New("none") }
	bare.notify(true, "x", "y")
	bare.inhibit(true)()
	bare.close()

	if got := appleString(`a "quoted" \ name`); got != `"a \"quoted\" \\ name"` {
		t.Errorf("appleString: %s", got)
	}
}

func waitFile(t *testing.T, read func() string, want string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(read(), want) {
			return
		}
	}
	t.Fatalf("the trace never said %q: %q", want, read())
}

// fakeTools makes a host whose tools are the given stand-in scripts in a new folder, and
// the trace file they append to.
func fakeTools(t *testing.T, goos string, scripts map[string]string) (*host, func() string) {
	t.Helper()
	dir := t.TempDir()
	trace := filepath.Join(dir, "trace")
	for name, body := range scripts {
		body = strings.ReplaceAll(body, "TRACE", trace)
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	h := newHost(slog.New(slog.DiscardHandler))
	h.goos = goos
	h.lookPath = func(name string) (string, error) {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			return "", exec.ErrNotFound
		}
		return p, nil
	}
	return h, func() string { b, _ := os.ReadFile(trace); return string(b) }
}

var linuxTools = map[string]string{
	"notify-send":     `echo "notify $*" >> TRACE`,
	"systemd-inhibit": `echo start >> TRACE; for a; do last=$a; done; $last; echo end >> TRACE`,
}

// TestHostToolsMacOS uses osascript and caffeinate on a host without the Linux tools.
func TestHostToolsMacOS(t *testing.T) {
	t.Parallel()
	h, read := fakeTools(t, "darwin", map[string]string{
		"osascript":  `echo "osascript $*" >> TRACE`,
		"caffeinate": `echo "caffeinate $1" >> TRACE; for a; do last=$a; done; $last; echo end >> TRACE`,
	})
	h.notify(true, "discofs: archive finished", `#261126-01 "photos"`)
	if got := read(); !strings.Contains(got, `osascript -e display notification "#261126-01 \"photos\"" with title "discofs: archive finished"`) {
		t.Errorf("notify: %q", got)
	}
	release := h.inhibit(true)
	waitFile(t, read, "caffeinate -i")
	release()
	waitFile(t, read, "end")
}

// TestBotUploadHostTools runs /upload with notifications and sleep inhibition on: the
// inhibitor runs while the upload does and ends after it, and the notification names the
// archive and holds no secret.
func TestBotUploadHostTools(t *testing.T) {
	t.Parallel()
	fake, read := fakeTools(t, "linux", linuxTools)
	h := newBotHarness(t, nil, func(c *BotConfig, _ emulator.Info) {
		c.Notify, c.InhibitSleep, c.Host = true, true, &Host{h: fake}
	})
	h.store.mu.Lock()
	h.store.delay = 300 * time.Millisecond
	h.store.mu.Unlock()
	src := filepath.Join(t.TempDir(), "receipts")
	writeTree(t, src, 3000)
	m := h.invoke(t, h.info.OwnerID, "upload", map[string]any{"path": src})
	if strings.Contains(m.Content, "Archived") {
		t.Fatalf("the upload ended before the inhibitor could be seen: %q", m.Content)
	}
	waitFile(t, read, "start")
	if strings.Contains(read(), "end") {
		t.Error("the inhibitor ended while the upload runs")
	}
	h.final(t, m, "Archived")
	waitFile(t, read, "end")
	a, err := h.v.Resolve("receipts")
	if err != nil {
		t.Fatal(err)
	}
	got := read()
	want := "notify --app-name=discofs discofs: archive finished " + vault.FormatID(a.ID) + " receipts"
	if !strings.Contains(got, want) || strings.Index(got, "start") > strings.Index(got, "notify") || strings.Index(got, "notify") > strings.Index(got, "end") {
		t.Errorf("trace, want start, %q, end:\n%s", want, got)
	}
	if strings.Contains(got, h.info.Token) || strings.Contains(got, "pass") {
		t.Errorf("the trace holds a secret:\n%s", got)
	}
}

// TestWatchQueue watches a queue (its status stands in for a mount's) with the stand-in
// tools: busy keeps the host awake, and a commit notifies once per archive it changed.
func TestWatchQueue(t *testing.T) {
	t.Parallel()
	fake, read := fakeTools(t, "linux", linuxTools)
	h := newBotHarness(t, nil, nil)
	old := h.archive(t, "old", 100)
	var mu sync.Mutex
	st := vault.WritebackStatus{}
	set := func(f func(*vault.WritebackStatus)) { mu.Lock(); f(&st); mu.Unlock() }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		(&Host{h: fake}).WatchQueue(ctx, QueueWatch{Vault: h.v, Notify: true, InhibitSleep: true, Every: 20 * time.Millisecond,
			Status: func() vault.WritebackStatus { mu.Lock(); defer mu.Unlock(); return st }})
	}()
	defer func() { cancel(); <-done }()
	time.Sleep(60 * time.Millisecond)
	set(func(s *vault.WritebackStatus) { s.Files, s.Uploading = 2, 1 })
	waitFile(t, read, "start")
	id := h.archive(t, "fresh", 100)
	set(func(s *vault.WritebackStatus) { s.Files, s.Uploading, s.Commits = 0, 0, 1 })
	waitFile(t, read, "end")
	got := read()
	if !strings.Contains(got, "discofs: archive committed "+id+" fresh: 3 files") || strings.Contains(got, old) || strings.Count(got, "notify") != 1 {
		t.Errorf("want one notification, for %s:\n%s", id, got)
	}
	// A failed file waiting out its backoff does not keep the host awake.
	set(func(s *vault.WritebackStatus) { s.Files, s.Failed = 1, 1 })
	time.Sleep(100 * time.Millisecond)
	if n := strings.Count(read(), "start"); n != 1 {
		t.Errorf("%d inhibitors started for a failed file", n)
	}
}
