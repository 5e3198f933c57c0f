package fs

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
	"github.com/discofs/discofs/vault"
	"github.com/discofs/discofs/vault/vaulttest"
)

// testVault opens a vault on an in-memory store behind a fault store.
func testVault(t testing.TB) (*vault.Vault, *chunkstore.FaultStore) {
	t.Helper()
	mem := chunkstore.NewMem(chunkstore.Limits{MaxObjectSize: 5 << 20})
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

// makeTree writes the shared test tree with a 5 MiB file.
func makeTree(t *testing.T, dir string) { vaulttest.MakeTree(t, dir, 3, 5<<20+12345) }

// sameTree fails unless got holds the same entries, bytes, modes, sizes, mtimes and links.
func sameTree(t *testing.T, want, got string) { vaulttest.SameTree(t, want, got) }

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
