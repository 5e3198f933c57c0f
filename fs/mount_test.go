package fs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
	"github.com/discofs/discofs/vault"
	"github.com/discofs/discofs/vault/vaulttest"
)

// mount mounts v in a temporary directory and unmounts it when the test ends. A test that
// cannot mount fails in CI and is skipped elsewhere.
func mount(t testing.TB, src Source) string {
	t.Helper()
	dir := t.TempDir()
	srv, err := MountSource(dir, src, MountOptions{})
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount: %v", err)
		}
		t.Skipf("cannot mount FUSE here: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
	return dir
}

func TestMountShowsArchives(t *testing.T) {
	v, _ := testVault(t)
	src, a := putTree(t, v, "photos")
	putTree(t, v, "docs")
	_, a3 := putTree(t, v, "docs")
	mnt := mount(t, VaultSource{v})

	entries, err := os.ReadDir(mnt)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"docs [261126-02]", "docs [261126-03]", "photos"}
	if len(names) != 3 || names[0] != want[0] || names[1] != want[1] || names[2] != want[2] {
		t.Fatalf("root lists %q, want %q", names, want)
	}
	sameTree(t, src, filepath.Join(mnt, "photos"))

	// Stable inode numbers: the same file seen twice, and archive roots distinct.
	var st1, st2, st3 unix.Stat_t
	mustStat(t, filepath.Join(mnt, "photos"), &st1)
	mustStat(t, filepath.Join(mnt, "docs [261126-03]"), &st2)
	mustStat(t, filepath.Join(mnt, "photos"), &st3)
	if st1.Ino == st2.Ino || st1.Ino != st3.Ino || st1.Ino < 2 {
		t.Fatalf("archive inodes %d, %d, %d", st1.Ino, st2.Ino, st3.Ino)
	}

	// Extended attributes.
	f := filepath.Join(mnt, "photos", "text", "notes.txt")
	buf := make([]byte, 64)
	n, err := unix.Getxattr(f, XattrArchive, buf)
	if err != nil || string(buf[:n]) != "#"+a.ID {
		t.Fatalf("%s = %q, %v", XattrArchive, buf[:n], err)
	}
	n, err = unix.Getxattr(filepath.Join(mnt, "docs [261126-03]"), XattrArchive, buf)
	if err != nil || string(buf[:n]) != "#"+a3.ID {
		t.Fatalf("%s of an archive root = %q, %v", XattrArchive, buf[:n], err)
	}
	n, err = unix.Getxattr(f, XattrState, buf)
	if err != nil || string(buf[:n]) != "committed" {
		t.Fatalf("%s = %q, %v", XattrState, buf[:n], err)
	}
	n, err = unix.Listxattr(f, buf)
	if err != nil || string(buf[:n]) != string(xattrNames) {
		t.Fatalf("listxattr = %q, %v", buf[:n], err)
	}
	if _, err := unix.Getxattr(f, "user.other", buf); !errors.Is(err, unix.ENODATA) {
		t.Fatalf("getxattr of an unknown attribute = %v", err)
	}
	// Namespaces discofs does not support at all say so, on files and on the root: ls -l
	// then stops asking for labels and ACLs.
	for _, p := range []string{f, mnt} {
		for _, name := range []string{"security.selinux", "system.posix_acl_access", "trusted.x"} {
			if _, err := unix.Lgetxattr(p, name, buf); !errors.Is(err, unix.ENOTSUP) {
				t.Fatalf("getxattr %s of %s = %v, want ENOTSUP", name, p, err)
			}
		}
	}
}

func TestMountRandomReads(t *testing.T) {
	v, _ := testVault(t)
	src, _ := putTree(t, v, "photos")
	mnt := mount(t, VaultSource{v})
	want, err := os.ReadFile(filepath.Join(src, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(mnt, "photos", "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rng := rand.New(rand.NewSource(5))
	for range 200 {
		off := rng.Int63n(int64(len(want)))
		if err := readsLike(f, want, off, make([]byte, 1+rng.Intn(300000))); err != nil {
			t.Fatal(err)
		}
	}
}

// readsLike reads len(p) bytes of f at off into p and says how they differ from want's,
// the file's whole content.
func readsLike(f *os.File, want []byte, off int64, p []byte) error {
	n, err := f.ReadAt(p, off)
	if n < len(p) && int64(n) != int64(len(want))-off {
		return fmt.Errorf("ReadAt(%d, %d) = %d, %v", off, len(p), n, err)
	}
	if !bytes.Equal(p[:n], want[off:off+int64(n)]) {
		return fmt.Errorf("ReadAt(%d, %d): bytes differ", off, len(p))
	}
	return nil
}

func TestMountRefusesWrites(t *testing.T) {
	v, _ := testVault(t)
	putTree(t, v, "photos")
	mnt := mount(t, VaultSource{v})
	arch := filepath.Join(mnt, "photos")
	file := filepath.Join(arch, "text", "notes.txt")
	checks := map[string]error{
		"open for write": func() error { f, err := os.OpenFile(file, os.O_WRONLY, 0); f.Close(); return err }(),
		"truncate":       os.Truncate(file, 0),
		"create":         os.WriteFile(filepath.Join(arch, "new"), nil, 0o644),
		"mkdir":          os.Mkdir(filepath.Join(arch, "d"), 0o755),
		"mkdir archive":  os.Mkdir(filepath.Join(mnt, "new archive"), 0o755),
		"unlink":         os.Remove(file),
		"rmdir":          os.Remove(filepath.Join(arch, "empty-dir")),
		"rename":         os.Rename(file, file+".old"),
		"chmod":          os.Chmod(file, 0o777),
		"symlink":        os.Symlink("x", filepath.Join(arch, "l")),
		"setxattr":       unix.Setxattr(file, "user.x", []byte("y"), 0),
	}
	for what, err := range checks {
		if !errors.Is(err, syscall.EROFS) {
			t.Errorf("%s: %v, want EROFS", what, err)
		}
	}
	if got, _ := os.ReadFile(file); len(got) != 70000 {
		t.Errorf("the file changed: %d bytes", len(got))
	}
}

func mustStat(t *testing.T, p string, st *unix.Stat_t) {
	t.Helper()
	if err := unix.Lstat(p, st); err != nil {
		t.Fatal(err)
	}
}

func TestMountCorruptReadIsEIO(t *testing.T) {
	v, fault := testVault(t)
	_, a := putTree(t, v, "photos")
	n, err := v.Index().GetNode(a.ID, "/deep/a/b/c/file")
	if err != nil {
		t.Fatal(err)
	}
	loc, err := v.Index().GetChunk(n.Chunks[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	fault.Add(chunkstore.Fault{Op: chunkstore.OpLoad, Ref: loc.Pack, Action: chunkstore.FaultFlipBit, Offset: 40, Times: -1})
	var logs syncBuffer
	dir := t.TempDir()
	srv, err := MountSource(dir, VaultSource{v}, MountOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount: %v", err)
		}
		t.Skipf("cannot mount FUSE here: %v", err)
	}
	t.Cleanup(func() { srv.Unmount() })
	got, err := os.ReadFile(filepath.Join(dir, "photos", "deep", "a", "b", "c", "file"))
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("reading a corrupt file = %d bytes, %v; want EIO", len(got), err)
	}
	line := logs.String()
	for _, want := range []string{"#" + a.ID, "/deep/a/b/c/file", n.Chunks[0].ID.String(), "authentication"} {
		if !strings.Contains(line, want) {
			t.Errorf("log %q does not name %q", line, want)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// countingSource counts the index lookups of single nodes.
type countingSource struct {
	Source
	nodes atomic.Int64
}

func (s *countingSource) Node(archive, p string) (index.Node, error) {
	s.nodes.Add(1)
	return s.Source.Node(archive, p)
}

// Listing a folder with every file's attributes (ls -l) reads the folder's records once:
// READDIRPLUS describes each child from the listing, not from one index lookup per child.
func TestListingWithAttributesIsOneScan(t *testing.T) {
	v, _ := testVault(t)
	src := filepath.Join(t.TempDir(), "many")
	vaulttest.ManyFiles(t, src, 1, 500)
	if _, err := v.Put(context.Background(), []string{src}, vault.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	cs := &countingSource{Source: VaultSource{v}}
	mnt := mount(t, cs)
	dirs, err := os.ReadDir(filepath.Join(mnt, "many"))
	if err != nil || len(dirs) != 1 {
		t.Fatalf("archive root: %d entries, %v", len(dirs), err)
	}
	dir := filepath.Join(mnt, "many", dirs[0].Name())
	before := cs.nodes.Load()
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 500 {
		t.Fatalf("listing: %d entries, %v", len(entries), err)
	}
	for _, e := range entries {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(dir, e.Name()), &st); err != nil || st.Size != 0 {
			t.Fatalf("lstat %s: %v", e.Name(), err)
		}
	}
	if n := cs.nodes.Load() - before; n > 10 {
		t.Errorf("listing 500 files with their attributes looked %d of them up one by one", n)
	}
}

// A name found missing is cached as missing for a moment, so the kernel does not ask again
// at once (cp looks a name up three times before it creates it), while an archive made
// outside the kernel's view still shows within about a second.
func TestMissingNamesAreCachedBriefly(t *testing.T) {
	v, _ := testVault(t)
	putTree(t, v, "photos")
	cs := &countingSource{Source: VaultSource{v}}
	mnt := mount(t, cs)
	missing := filepath.Join(mnt, "photos", "missing")
	if _, err := os.Stat(filepath.Dir(missing)); err != nil {
		t.Fatal(err)
	}
	before := cs.nodes.Load()
	for range 3 {
		if _, err := os.Stat(missing); !os.IsNotExist(err) {
			t.Fatalf("stat of a missing name: %v", err)
		}
	}
	if n := cs.nodes.Load() - before; n != 1 {
		t.Errorf("three stats of a missing name made %d lookups, want 1", n)
	}

	later := filepath.Join(mnt, "later")
	if _, err := os.Stat(later); !os.IsNotExist(err) {
		t.Fatalf("stat of an archive not made yet: %v", err)
	}
	putTree(t, v, "later")
	deadline := time.Now().Add(5 * rootTimeout)
	for {
		_, err := os.Stat(later)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("an archive made after its name was found missing does not show: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
