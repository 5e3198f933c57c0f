package fs

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/discofs/discofs/vault"
)

// mountWritable mounts v with a writeback queue; the queue closes after the unmount.
func mountWritable(t testing.TB, v *vault.Vault) (string, *vault.Writeback) {
	t.Helper()
	wb, err := v.StartWriteback(vault.WritebackOptions{Idle: 50 * time.Millisecond, Delay: time.Millisecond, MinBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	srv, err := MountSource(dir, VaultSource{V: v}, MountOptions{Writer: wb})
	if err != nil {
		wb.Close()
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount: %v", err)
		}
		t.Skipf("cannot mount FUSE here: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
		wb.Close()
	})
	return dir, wb
}

func xattr(t *testing.T, p, name string) string {
	t.Helper()
	buf := make([]byte, 64)
	n, err := unix.Getxattr(p, name, buf)
	if err != nil {
		t.Fatalf("getxattr %s %s: %v", p, name, err)
	}
	return string(buf[:n])
}

func TestMountWritesCommitAndSurviveRemount(t *testing.T) {
	v, _ := testVault(t)
	putTree(t, v, "old")
	mnt, wb := mountWritable(t, v)
	arch := filepath.Join(mnt, "new")
	if err := os.Mkdir(arch, 0o755); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	makeTree(t, src)
	makeTree(t, arch) // the same seed, written through the mount
	copyTimes(t, src, arch)
	sameTree(t, src, arch)
	if st := xattr(t, filepath.Join(arch, "big.bin"), XattrState); st != "queued" && st != "uploading" && st != "committed" {
		t.Fatalf("state after close = %q", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := wb.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if st := xattr(t, filepath.Join(arch, "big.bin"), XattrState); st != "committed" {
		t.Fatalf("state after sync = %q", st)
	}
	sameTree(t, src, arch)

	// Copy-up: append to a committed file, then rename and chmod.
	f, err := os.OpenFile(filepath.Join(arch, "text", "notes.txt"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st := xattr(t, filepath.Join(arch, "text", "notes.txt"), XattrState); st != "local" {
		t.Fatalf("state while open = %q", st)
	}
	f.Write([]byte("appended\n"))
	f.Close()
	want, _ := os.ReadFile(filepath.Join(src, "text", "notes.txt"))
	want = append(want, "appended\n"...)
	if err := os.Rename(filepath.Join(arch, "text"), filepath.Join(arch, "prose")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(arch, "prose", "notes.txt"), 0o611); err != nil {
		t.Fatal(err)
	}
	if err := wb.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(arch, "prose", "notes.txt")); !bytes.Equal(got, want) {
		t.Fatal("copy-up content differs")
	}

	// What is not supported says so.
	checks := map[string]struct {
		err  error
		want syscall.Errno
	}{
		"rename across archives": {os.Rename(filepath.Join(arch, "big.bin"), filepath.Join(mnt, "old", "big2")), syscall.EXDEV},
		"hard link":              {os.Link(filepath.Join(arch, "big.bin"), filepath.Join(arch, "l2")), syscall.EPERM},
		"fifo":                   {unix.Mkfifo(filepath.Join(arch, "fifo"), 0o644), syscall.EPERM},
		"file at the root":       {os.WriteFile(filepath.Join(mnt, "f"), nil, 0o644), syscall.EPERM},
		"rmdir full":             {os.Remove(filepath.Join(arch, "prose")), syscall.ENOTEMPTY},
		"setxattr":               {unix.Setxattr(filepath.Join(arch, "big.bin"), "user.x", []byte("y"), 0), syscall.ENOTSUP},
	}
	for what, c := range checks {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: %v, want %v", what, c.err, c.want)
		}
	}

	// A fresh mount of the same vault shows the committed tree.
	mnt2 := mount(t, VaultSource{V: v})
	if got, _ := os.ReadFile(filepath.Join(mnt2, "new", "prose", "notes.txt")); !bytes.Equal(got, want) {
		t.Fatal("remounted content differs")
	}
	os.Rename(filepath.Join(src, "text"), filepath.Join(src, "prose"))
	os.WriteFile(filepath.Join(src, "prose", "notes.txt"), want, 0o611)
	os.Chmod(filepath.Join(src, "prose", "notes.txt"), 0o611)
	info, _ := os.Stat(filepath.Join(mnt2, "new", "prose", "notes.txt"))
	os.Chtimes(filepath.Join(src, "prose", "notes.txt"), info.ModTime(), info.ModTime())
	// Directory times do not follow changes inside them (see the package comment).
	info, _ = os.Stat(filepath.Join(mnt2, "new"))
	os.Chtimes(src, info.ModTime(), info.ModTime())
	sameTree(t, src, filepath.Join(mnt2, "new"))
}

func TestMountFullSpoolIsENOSPC(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	v, _ := testVault(t)
	mnt, wb := mountWritable(t, v)
	spool := wb.SpoolDir()
	if err := unix.Mount("tmpfs", spool, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(spool, unix.MNT_DETACH) })
	arch := filepath.Join(mnt, "a")
	if err := os.Mkdir(arch, 0o755); err != nil {
		t.Fatal(err)
	}
	err := os.WriteFile(filepath.Join(arch, "huge"), make([]byte, 4<<20), 0o644)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("writing past a full spool = %v, want ENOSPC", err)
	}
}

// copyTimes gives every entry under dst the mtime of its twin under src, deepest first
// so a directory's time is set after what is inside it changed.
func copyTimes(t *testing.T, src, dst string) {
	t.Helper()
	var rels []string
	filepath.Walk(src, func(p string, _ os.FileInfo, err error) error {
		rel, _ := filepath.Rel(src, p)
		rels = append(rels, rel)
		return err
	})
	for i := len(rels) - 1; i >= 0; i-- {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(src, rels[i]), &st); err != nil {
			t.Fatal(err)
		}
		ts := []unix.Timespec{st.Atim, st.Mtim}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(dst, rels[i]), ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			t.Fatal(err)
		}
	}
}
