package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMountDaemon: `mount --daemon` returns once the mount serves; files copied in are
// archived; `discofs unmount` ends the background process.
func TestMountDaemon(t *testing.T) {
	c := newCLI(t)
	mnt := t.TempDir()
	wrong := *c
	wrong.pass = "not it"
	wrong.fails(exitPassphrase, "mount", "--daemon", mnt)

	r := c.ok("mount", "--daemon", mnt)
	if !strings.Contains(r.stderr, "mounted at "+mnt) {
		t.Fatalf("mount --daemon: %s", r.stderr)
	}
	mounted := func() bool {
		b, _ := os.ReadFile("/proc/mounts")
		return strings.Contains(string(b), " "+mnt+" ")
	}
	t.Cleanup(func() {
		if mounted() {
			c.run("unmount", mnt)
		}
	})
	want := bytes.Repeat([]byte("in the background\n"), 500)
	if err := os.Mkdir(filepath.Join(mnt, "bg"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "bg", "f.txt"), want, 0o644); err != nil {
		t.Fatal(err)
	}
	c.ok("sync", "--timeout", "60s")
	c.ok("unmount", mnt)
	for deadline := time.Now().Add(20 * time.Second); mounted(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the mount is still there after unmount")
		}
	}
	// The background process has let go of the index once this works.
	var got []byte
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		dest := filepath.Join(t.TempDir(), "out")
		r := c.run("get", "bg", dest)
		if r.code == 0 {
			got, _ = os.ReadFile(filepath.Join(dest, "f.txt"))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("get after unmount: %s", r.stderr)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the file copied into the background mount reads back wrong")
	}
	if log, _ := os.ReadFile(filepath.Join(c.home, "mount.log")); !strings.Contains(string(log), "unmounted") || strings.Contains(string(log), c.pass) {
		t.Fatalf("mount.log:\n%s", log)
	}
}
