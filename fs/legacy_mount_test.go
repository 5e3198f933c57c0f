package fs

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/discofs/discofs/index"
	"github.com/discofs/discofs/vault"
)

// importLegacy imports the small v3.1 fixture (real v3.1 output beside the repository).
func importLegacy(t *testing.T, v *vault.Vault) (index.Archive, string) {
	t.Helper()
	fx, err := filepath.Abs(filepath.Join("..", "..", "shared", "legacy-v3.1", "small"))
	if err != nil {
		t.Fatal(err)
	}
	imps, err := vault.ScanLegacyDir(filepath.Join(fx, "chunks"))
	if err != nil || len(imps) != 1 {
		t.Fatalf("v3.1 fixtures: %d, %v", len(imps), err)
	}
	a, err := v.ImportLegacy(context.Background(), imps[0], "legacy passphrase 27")
	if err != nil {
		t.Fatal(err)
	}
	return a, filepath.Join(fx, "original")
}

// TestMountLegacyIsReadOnly: in a writable mount, every change inside a v3.1 archive, and
// to its directory, is EROFS and changes nothing, not even the queue; its files still
// read, and the discofs archive beside it still takes changes.
func TestMountLegacyIsReadOnly(t *testing.T) {
	v, _ := testVault(t)
	la, orig := importLegacy(t, v)
	putTree(t, v, "old")
	mnt, wb := mountWritable(t, v)
	arch := filepath.Join(mnt, la.Name)
	file := filepath.Join(arch, "notes.txt")
	other := filepath.Join(mnt, "old", "text", "notes.txt")
	var before []index.Node
	v.Index().Walk(la.ID, func(n index.Node) error { before = append(before, n); return nil })

	open := func(flags int) error {
		f, err := os.OpenFile(file, flags, 0o644)
		if err == nil {
			f.Close()
		}
		return err
	}
	omit := unix.Timespec{Nsec: unix.UTIME_OMIT}
	checks := []struct {
		what string
		err  error
	}{
		{"create", os.WriteFile(filepath.Join(arch, "new.txt"), []byte("hi\n"), 0o644)},
		{"append", open(os.O_WRONLY | os.O_APPEND)},
		{"open read-write", open(os.O_RDWR)},
		{"open to empty", open(os.O_WRONLY | os.O_TRUNC)},
		{"open read-only to empty", open(os.O_RDONLY | os.O_TRUNC)},
		{"truncate", os.Truncate(file, 3)},
		{"chmod", os.Chmod(file, 0o600)},
		{"chmod the archive", os.Chmod(arch, 0o700)},
		{"chown to the owner", os.Chown(file, os.Getuid(), os.Getgid())},
		{"utimens", os.Chtimes(file, time.Unix(1, 0), time.Unix(1, 0))},
		{"atime only", unix.UtimesNanoAt(unix.AT_FDCWD, file, []unix.Timespec{unix.NsecToTimespec(1), omit}, 0)},
		{"unlink", os.Remove(file)},
		{"unlink the empty file", os.Remove(filepath.Join(arch, "empty.dat"))},
		{"mkdir", os.Mkdir(filepath.Join(arch, "made"), 0o755)},
		{"mknod", unix.Mknod(filepath.Join(arch, "node"), syscall.S_IFREG|0o644, 0)},
		{"fifo", unix.Mkfifo(filepath.Join(arch, "fifo"), 0o644)},
		{"symlink", os.Symlink("notes.txt", filepath.Join(arch, "link"))},
		{"hard link", os.Link(file, filepath.Join(arch, "link2"))},
		{"hard link into", os.Link(other, filepath.Join(arch, "link3"))},
		{"rename within", os.Rename(file, filepath.Join(arch, "moved.txt"))},
		{"rename over", os.Rename(file, filepath.Join(arch, "empty.dat"))},
		{"rename out of", os.Rename(file, filepath.Join(mnt, "old", "moved.txt"))},
		{"rename into", os.Rename(other, filepath.Join(arch, "moved.txt"))},
		{"rename to the root", os.Rename(file, filepath.Join(mnt, "moved.txt"))},
		{"setxattr", unix.Setxattr(file, "user.x", []byte("y"), 0)},
		{"setxattr discofs", unix.Setxattr(file, XattrState, []byte("y"), 0)},
		{"removexattr", unix.Removexattr(file, "user.x")},
		{"rmdir the archive", unix.Rmdir(arch)},
		{"rename the archive", os.Rename(arch, filepath.Join(mnt, "renamed"))},
		{"move the archive into another", os.Rename(arch, filepath.Join(mnt, "old", "inside"))},
	}
	for _, c := range checks {
		if !errors.Is(c.err, syscall.EROFS) {
			t.Errorf("%s: %v, want EROFS", c.what, c.err)
		}
	}

	var after []index.Node
	v.Index().Walk(la.ID, func(n index.Node) error { after = append(after, n); return nil })
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("the tree changed:\n%+v\n%+v", before, after)
	}
	if s := wb.Status(); s.Files != 0 || len(s.Dirty) != 0 {
		t.Fatalf("queue after refused changes: %+v", s)
	}
	if names, _ := vault.SpoolFiles(wb.SpoolDir()); len(names) != 0 {
		t.Fatalf("spool after refused changes: %v", names)
	}
	entries, _ := os.ReadDir(orig)
	listed, _ := os.ReadDir(arch)
	if len(listed) != len(entries) {
		t.Fatalf("the archive lists %d entries, want %d", len(listed), len(entries))
	}
	for _, e := range entries {
		want, _ := os.ReadFile(filepath.Join(orig, e.Name()))
		got, err := os.ReadFile(filepath.Join(arch, e.Name()))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s reads differently (%v)", e.Name(), err)
		}
	}
	if st := xattr(t, file, XattrState); st != "committed" {
		t.Fatalf("state = %q", st)
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatalf("the file a refused rename would have moved: %v", err)
	}

	// The archive beside it is as writable as ever.
	if err := os.WriteFile(filepath.Join(mnt, "old", "new.txt"), []byte("hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := wb.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}
