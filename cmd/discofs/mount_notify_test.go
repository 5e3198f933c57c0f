package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeHostTools writes stand-ins for notify-send and systemd-inhibit into a new folder
// that each append what they do to the returned trace file.
func fakeHostTools(t *testing.T) (dir, trace string) {
	t.Helper()
	dir = t.TempDir()
	trace = filepath.Join(dir, "trace")
	for name, body := range map[string]string{
		"notify-send": `echo "notify $*" >> ` + trace,
		// Like systemd-inhibit: hold the lock while the command given last runs.
		"systemd-inhibit": `echo start >> ` + trace + `; for a; do last=$a; done; $last; echo end >> ` + trace,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir, trace
}

// TestMountNotify runs `discofs mount --notify --inhibit-sleep` with stand-in tools: the
// host is kept awake while the queue uploads and commits, and a commit shows one
// notification naming the archive.
func TestMountNotify(t *testing.T) {
	c := newCLI(t)
	tools, trace := fakeHostTools(t)
	c.env = []string{"PATH=" + tools + ":" + os.Getenv("PATH")}
	mnt := t.TempDir()
	d := c.startMount(mnt, "--notify", "--inhibit-sleep")
	t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) })
	read := func() string { b, _ := os.ReadFile(trace); return string(b) }

	if err := os.Mkdir(filepath.Join(mnt, "holiday"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a.jpg", "b.jpg", "c.jpg"} {
		if err := os.WriteFile(filepath.Join(mnt, "holiday", name), []byte(strings.Repeat(name, 5000)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	waitTrace(t, read, "end")
	got := read()
	if !strings.HasPrefix(got, "start\n") || strings.Index(got, "notify") > strings.Index(got, "end") {
		t.Errorf("the inhibitor did not cover the commit:\n%s", got)
	}
	if n := strings.Count(got, "notify "); n != 1 || !strings.Contains(got, "discofs: archive committed #") ||
		!strings.Contains(got, " holiday: 3 files") {
		t.Errorf("want one notification for the archive:\n%s", got)
	}
	if strings.Contains(got, c.pass) {
		t.Error("a notification holds the passphrase")
	}
	if err := d.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := d.Wait(); err != nil {
		t.Fatalf("mount after SIGINT: %v\n%s", err, d.Log())
	}
}

func waitTrace(t *testing.T, read func() string, want string) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if strings.Contains(read(), want) {
			return
		}
	}
	t.Fatalf("the trace never said %q:\n%s", want, read())
}
