package main

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMountHelperArgs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // the arguments of 'discofs mount', or "error"
	}{
		{"/var/lib/disco /mnt/d", "--daemon --home /var/lib/disco /mnt/d"},
		{"discofs /mnt/d -o rw,noauto,nofail,x-systemd.automount,_netdev", "--daemon /mnt/d"},
		{"discofs /mnt/d -o ro,allow_other,passphrase_file=/etc/p,cache_size=2G,memory_cache=256M",
			"--daemon --read-only --allow-other --passphrase-file /etc/p --cache-size 2G --memory-cache 256M /mnt/d"},
		{"discofs /mnt/d -oro -n -v -f", "--read-only /mnt/d"},
		{"discofs /mnt/d -t discofs -o metrics_addr=127.0.0.1:9464", "--daemon --metrics-addr 127.0.0.1:9464 /mnt/d"},
		{"discofs /mnt/d -s -o frobnicate", "--daemon /mnt/d"},
		{"discofs /mnt/d -o frobnicate", "error"},
		{"discofs /mnt/d -o passphrase_file", "error"},
		{"discofs /mnt/d -o ro=1", "error"},
		{"discofs /mnt/d -x", "error"},
		{"/mnt/d", "error"},
	} {
		got, err := mountHelperArgs(strings.Fields(tc.in))
		if tc.want == "error" {
			if err == nil {
				t.Errorf("mount.discofs %s = %q, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, strings.Fields(tc.want)) {
			t.Errorf("mount.discofs %s = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// The binary started as mount.discofs, the way mount(8) runs it for an fstab line, mounts
// the vault in the background with the options given, read-only here.
func TestMountHelperMounts(t *testing.T) {
	c := newCLI(t)
	docs := t.TempDir()
	if err := os.WriteFile(filepath.Join(docs, "note.txt"), []byte("hello from fstab\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.put("--name", "docs", docs)
	pass := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(pass, []byte(c.pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	helper := filepath.Join(t.TempDir(), "mount.discofs")
	if err := os.Symlink(binary, helper); err != nil {
		t.Fatal(err)
	}
	mnt := t.TempDir()
	noPass := &cli{t: t, home: c.home} // an empty DISCOFS_PASSPHRASE, as at boot
	r := noPass.runBinary(helper, c.home, mnt, "-o", "rw,nofail,ro,passphrase_file="+pass)
	if r.code != 0 {
		t.Fatalf("mount.discofs: exit %d\n%s", r.code, r.stderr)
	}
	t.Cleanup(func() { c.run("unmount", mnt) })
	got, err := os.ReadFile(filepath.Join(mnt, "docs", "note.txt"))
	if err != nil || string(got) != "hello from fstab\n" {
		t.Fatalf("read through the helper's mount: %q, %v", got, err)
	}
	if err := os.Mkdir(filepath.Join(mnt, "new"), 0o755); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("mkdir in a mount made with -o ro: %v, want EROFS", err)
	}
	c.ok("unmount", mnt)
	for deadline := time.Now().Add(20 * time.Second); mounted(mnt); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("still mounted after unmount")
		}
	}
	if r := noPass.runBinary(helper, c.home, mnt, "-o", "bogus"); r.code != exitUsage || !strings.Contains(r.stderr, `unknown mount option "bogus"`) {
		t.Fatalf("mount.discofs -o bogus: exit %d, %s", r.code, r.stderr)
	}
}
