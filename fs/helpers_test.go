package fs

import (
	"bytes"
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
	"github.com/discofs/discofs/vault"
)

// testVault opens a vault on an in-memory store behind a fault store.
func testVault(t *testing.T) (*vault.Vault, *chunkstore.FaultStore) {
	t.Helper()
	mem := chunkstore.NewMem(chunkstore.Limits{MaxObjectSize: 3 << 20})
	fault := chunkstore.NewFault(mem)
	paths := vault.HomePaths(t.TempDir())
	opts := vault.Options{Store: fault, Catalog: vault.RecordCatalog(mem),
		Now: func() time.Time { return time.Date(2026, 11, 26, 10, 0, 0, 0, time.Local) }}
	cfg, _, err := vault.Init(context.Background(), paths, "mem:", nil, opts, "pass", vault.KDFParams{Time: 1, Memory: 64, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	master, err := vault.Unlock(cfg, "pass")
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Open(context.Background(), paths, cfg, master, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v, fault
}

// makeTree writes a tree with every kind of entry: a file of several chunks, small and
// empty files, an empty directory, a symlink and odd modes and times.
func makeTree(t *testing.T, dir string) {
	t.Helper()
	rng := rand.New(rand.NewSource(3))
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
	write("big.bin", random(5<<20+12345), 0o644)
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

// putTree archives a fresh tree under the given directory name.
func putTree(t *testing.T, v *vault.Vault, name string) (string, index.Archive) {
	t.Helper()
	src := filepath.Join(t.TempDir(), name)
	makeTree(t, src)
	a, err := v.Put(context.Background(), []string{src}, vault.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return src, a
}
