package vault

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/vault/vaulttest"
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
	mem := chunkstore.NewMem(chunkstore.Limits{MaxObjectSize: 5 << 20})
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

// makeTree writes the shared test tree with a 9 MiB file, which spans several packs of the
// test store.
func makeTree(t *testing.T, dir string, seed int64) { vaulttest.MakeTree(t, dir, seed, 9<<20+12345) }

// sameTree fails unless two trees hold the same entries, bytes, modes, mtimes and links.
func sameTree(t *testing.T, want, got string) { vaulttest.SameTree(t, want, got) }

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
