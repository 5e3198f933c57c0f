package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// As root a mount is made directly; as anyone else it goes through fusermount3. The
// binary, run as nobody, makes a vault of its own, mounts it, serves a file to its owner,
// and unmounts through fusermount3.
func TestMountAsNormalUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test switches to another user and needs root")
	}
	if _, err := exec.LookPath("fusermount3"); err != nil {
		t.Fatal("fusermount3 is not installed (apt-get install fuse3)")
	}
	if st, err := os.Stat("/dev/fuse"); err != nil || st.Mode().Perm()&0o006 != 0o006 {
		t.Fatal("/dev/fuse is not open to every user, as udev makes it (chmod 0666 /dev/fuse); .ci/run does it")
	}
	base, err := os.MkdirTemp("", "discofs-user-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	home, mnt, src := filepath.Join(base, "home"), filepath.Join(base, "mnt"), filepath.Join(base, "docs")
	for _, d := range []string{home, mnt, src} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	want := []byte("mounted without root\n")
	if err := os.WriteFile(filepath.Join(src, "note.txt"), want, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{base, home, mnt, src, filepath.Join(src, "note.txt")} {
		if err := os.Chown(p, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	// The user must reach the test binary's folder.
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(binary), 0o755); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "HOME="+base, "DISCOFS_HOME="+home, "DISCOFS_PASSPHRASE=not root")
	asUser := func(name string, args ...string) (string, error) { return asNobody(env, name, args...) }
	for _, args := range [][]string{{"init", "--kdf-memory", "8", "--kdf-time", "1"}, {"put", "--name", "docs", src}, {"mount", "--daemon", mnt}} {
		if out, err := asUser(binary, args...); err != nil {
			t.Fatalf("discofs %s as nobody: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() {
		if mounted(mnt) {
			syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
	})
	line := ""
	for _, l := range strings.Split(readFile(t, "/proc/mounts"), "\n") {
		if strings.Contains(l, " "+mnt+" ") {
			line = l
		}
	}
	if !strings.Contains(line, "fuse.discofs") || !strings.Contains(line, "user_id=65534") {
		t.Fatalf("the mount as /proc/mounts shows it: %q", line)
	}
	if out, err := asUser("cat", filepath.Join(mnt, "docs", "note.txt")); err != nil || out != string(want) {
		t.Fatalf("cat through the user's mount: %q, %v", out, err)
	}
	if out, err := asUser(binary, "unmount", mnt); err != nil {
		t.Fatalf("discofs unmount as nobody: %v\n%s", err, out)
	}
	for deadline := time.Now().Add(20 * time.Second); mounted(mnt); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("still mounted after fusermount3 -u")
		}
	}
}

// asNobody runs a command as the user nobody with env (nil: this process's), and returns
// what it printed.
func asNobody(env []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// nobody is the uid and gid of the user nobody.
const nobody = 65534

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// --allow-other lets other users into the mount, and the kernel checks each file's mode
// for them (default_permissions); without it they are kept out altogether.
func TestMountAllowOther(t *testing.T) {
	c := newCLI(t)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "public.txt"), []byte("for everyone\n"), 0o644)
	os.WriteFile(filepath.Join(src, "secret.txt"), []byte("for root\n"), 0o600)
	c.put("--name", "docs", src)
	// nobody must reach the mount point to be let in or kept out by the mount itself.
	base, err := os.MkdirTemp("", "discofs-other-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	for _, allow := range []bool{true, false} {
		mnt, err := os.MkdirTemp(base, "mnt-")
		if err != nil {
			t.Fatal(err)
		}
		os.Chmod(mnt, 0o755)
		args := []string{"mount", "--daemon", mnt}
		if allow {
			args = []string{"mount", "--daemon", "--allow-other", mnt}
		}
		c.ok(args...)
		public, publicErr := asNobody(nil, "cat", filepath.Join(mnt, "docs", "public.txt"))
		_, secretErr := asNobody(nil, "cat", filepath.Join(mnt, "docs", "secret.txt"))
		c.ok("unmount", mnt)
		for deadline := time.Now().Add(20 * time.Second); mounted(mnt); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("still mounted after unmount")
			}
		}
		switch {
		case allow && (publicErr != nil || public != "for everyone\n"):
			t.Errorf("--allow-other: nobody reading a 0644 file: %q, %v", public, publicErr)
		case allow && secretErr == nil:
			t.Error("--allow-other: nobody read a 0600 file of root's")
		case !allow && publicErr == nil:
			t.Error("without --allow-other nobody read a file in root's mount")
		}
	}
}
