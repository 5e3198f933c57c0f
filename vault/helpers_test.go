package vault

import (
	"bytes"
	"context"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/discofs/discofs/chunkstore"
)

// testVault is a vault on an in-memory store with a fast key derivation.
type testVault struct {
	*Vault
	mem   *chunkstore.MemStore
	fault *chunkstore.FaultStore
	paths Paths
	cfg   *Config
}

func newTestVault(t *testing.T) *testVault {
	t.Helper()
	mem := chunkstore.NewMem(chunkstore.Limits{MaxObjectSize: 3 << 20})
	fault := chunkstore.NewFault(mem)
	paths := HomePaths(t.TempDir())
	opts := Options{Store: fault, Catalog: RecordCatalog(mem)}
	cfg, joined, err := Init(context.Background(), paths, "mem:", nil, opts, "pass", fastKDF)
	if err != nil || joined {
		t.Fatalf("init: %v (joined %v)", err, joined)
	}
	tv := &testVault{mem: mem, fault: fault, paths: paths, cfg: cfg}
	tv.open(t)
	return tv
}

func (tv *testVault) open(t *testing.T) {
	t.Helper()
	master, err := Unlock(tv.cfg, "pass")
	if err != nil {
		t.Fatal(err)
	}
	v, err := Open(context.Background(), tv.paths, tv.cfg, master,
		Options{Store: tv.fault, Catalog: RecordCatalog(tv.mem), Now: func() time.Time { return time.Date(2026, 11, 26, 10, 0, 0, 0, time.Local) }})
	if err != nil {
		t.Fatal(err)
	}
	tv.Vault = v
	t.Cleanup(func() { v.Close() })
}

func (tv *testVault) reopen(t *testing.T) {
	t.Helper()
	tv.Vault.Close()
	tv.open(t)
}

// makeTree writes a tree with every kind of entry: files of many sizes (one spanning
// several chunks), an empty file, an empty directory, a symlink and odd modes.
func makeTree(t *testing.T, dir string, seed int64) {
	t.Helper()
	rng := rand.New(rand.NewSource(seed))
	write := func(name string, data []byte, mode os.FileMode) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	random := func(n int) []byte { b := make([]byte, n); rng.Read(b); return b }
	write("big.bin", random(9<<20+12345), 0o644)
	write("text/notes.txt", bytes.Repeat([]byte("hello discofs\n"), 5000), 0o600)
	write("text/empty", nil, 0o640)
	write("deep/a/b/c/file", random(70000), 0o755)
	write("résumé final (v2).pdf", random(1000), 0o444)
	if err := os.MkdirAll(filepath.Join(dir, "empty-dir"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("text/notes.txt", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2020, 2, 29, 12, 0, 0, 123456789, time.UTC)
	if err := os.Chtimes(filepath.Join(dir, "text"), old, old); err != nil {
		t.Fatal(err)
	}
}

// sameTree fails unless two trees hold the same entries, bytes, modes, mtimes and links.
func sameTree(t *testing.T, want, got string) {
	t.Helper()
	seen := 0
	err := filepath.WalkDir(want, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(want, p)
		q := filepath.Join(got, rel)
		wi, _ := os.Lstat(p)
		gi, err := os.Lstat(q)
		if err != nil {
			t.Errorf("%s: missing: %v", rel, err)
			return nil
		}
		seen++
		if wi.Mode() != gi.Mode() {
			t.Errorf("%s: mode %v, want %v", rel, gi.Mode(), wi.Mode())
		}
		if rel != "." && !wi.ModTime().Equal(gi.ModTime()) {
			t.Errorf("%s: mtime %v, want %v", rel, gi.ModTime(), wi.ModTime())
		}
		switch {
		case wi.Mode()&fs.ModeSymlink != 0:
			a, _ := os.Readlink(p)
			b, _ := os.Readlink(q)
			if a != b {
				t.Errorf("%s: link %q, want %q", rel, b, a)
			}
		case wi.Mode().IsRegular():
			a, _ := os.ReadFile(p)
			b, _ := os.ReadFile(q)
			if !bytes.Equal(a, b) {
				t.Errorf("%s: content differs (%d vs %d bytes)", rel, len(b), len(a))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	filepath.WalkDir(got, func(string, fs.DirEntry, error) error { n++; return nil })
	if n != seen {
		t.Errorf("restored tree has %d entries, want %d", n, seen)
	}
}

func storedBytes(t *testing.T, s chunkstore.Store) (n int64) {
	t.Helper()
	for _, ty := range []chunkstore.Type{chunkstore.TypePack, chunkstore.TypeManifest} {
		err := s.List(context.Background(), ty, func(o chunkstore.Object) error { n += o.Size; return nil })
		if err != nil {
			t.Fatal(err)
		}
	}
	return n
}

func damagedPaths(ds []Damaged) string {
	var s []string
	for _, d := range ds {
		s = append(s, d.Path)
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}

// reopenWith closes the vault and opens it again with other options.
func (tv *testVault) reopenWith(t *testing.T, o Options) {
	t.Helper()
	tv.Vault.Close()
	master, err := Unlock(tv.cfg, "pass")
	if err != nil {
		t.Fatal(err)
	}
	v, err := Open(context.Background(), tv.paths, tv.cfg, master, o)
	if err != nil {
		t.Fatal(err)
	}
	tv.Vault = v
	t.Cleanup(func() { v.Close() })
}
