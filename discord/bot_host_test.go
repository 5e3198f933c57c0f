package discord

import (
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHostTools runs the notification and sleep inhibition against stand-in tools, and
// checks that a host without them is skipped silently.
func TestHostTools(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	trace := filepath.Join(dir, "trace")
	script := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script("notify-send", `echo "notify $*" >> `+trace)
	// Like systemd-inhibit: hold the lock while the command given last runs.
	script("systemd-inhibit", `echo start >> `+trace+`; for a; do last=$a; done; $last; echo end >> `+trace)
	h := newHost(slog.New(slog.DiscardHandler))
	h.goos = "linux"
	h.lookPath = func(name string) (string, error) {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			return "", exec.ErrNotFound
		}
		return p, nil
	}
	read := func() string { b, _ := os.ReadFile(trace); return string(b) }

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
