package vault

import (
	"bytes"
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/discofs/discofs/chunkstore"
)

// The vault in testdata/vault-v1 was written by the first version of every stored format:
// the vault header, cards, packs of frames and a sealed manifest. It must open, rebuild and
// restore byte for byte forever; a format change that breaks old vaults fails here.

const fixturePassphrase = "fixture passphrase"

// fixtureTree writes the tree the fixture vault holds.
func fixtureTree(t *testing.T, dir string) {
	t.Helper()
	rng := rand.New(rand.NewSource(7))
	big := make([]byte, 300_000)
	rng.Read(big)
	files := map[string][]byte{
		"hello.txt":         []byte("hello discofs\n"),
		"empty":             nil,
		"data/random.bin":   big,
		"data/source.txt":   bytes.Repeat([]byte("func main() { println(\"discofs\") }\n"), 3000),
		"naïve name (1).md": []byte("# notes\n"),
	}
	when := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for name, data := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o640); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, when, when)
	}
	os.Symlink("hello.txt", filepath.Join(dir, "link"))
	if err := setTimes(filepath.Join(dir, "link"), when.UnixNano(), true); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"data", "."} {
		os.Chtimes(filepath.Join(dir, d), when, when)
	}
}

func TestVaultFixtureV1(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "tree")
	fixtureTree(t, src)
	store, err := chunkstore.OpenDir(filepath.Join("testdata", "vault-v1"), chunkstore.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("DISCOFS_WRITE_FIXTURE") == "1" {
		writeFixture(t, store, src)
		return
	}
	paths := HomePaths(t.TempDir())
	opts := Options{Store: store, Catalog: RecordCatalog(store)}
	cfg, joined, err := Init(ctx, paths, "dir:", nil, opts, fixturePassphrase, fastKDF)
	if err != nil || !joined {
		t.Fatalf("join the fixture vault: %v (joined %v)", err, joined)
	}
	master, err := Unlock(cfg, fixturePassphrase)
	if err != nil {
		t.Fatal(err)
	}
	v, err := Open(ctx, paths, cfg, master, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	rep, err := v.Rebuild(ctx, nil)
	if err != nil || rep.Archives != 1 || len(rep.Failed) != 0 {
		t.Fatalf("rebuild: %+v %v", rep, err)
	}
	dest := filepath.Join(t.TempDir(), "out")
	if d, err := v.Get(ctx, "#261126-01", dest, nil); err != nil || len(d) != 0 {
		t.Fatalf("get: %v %v", err, d)
	}
	sameTree(t, src, dest)
	if rep, err := v.Verify(ctx, "", true, nil); err != nil || len(rep.Damaged) != 0 {
		t.Fatalf("verify: %v %v", err, rep)
	}
}

// writeFixture makes the fixture vault; run once with DISCOFS_WRITE_FIXTURE=1 on an empty
// testdata/vault-v1.
func writeFixture(t *testing.T, store *chunkstore.DirStore, src string) {
	ctx := context.Background()
	paths := HomePaths(t.TempDir())
	opts := Options{Store: store, Catalog: RecordCatalog(store),
		Now: func() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.Local) }}
	cfg, _, err := Init(ctx, paths, "dir:", nil, opts, fixturePassphrase, fastKDF)
	if err != nil {
		t.Fatal(err)
	}
	master, _ := Unlock(cfg, fixturePassphrase)
	v, err := Open(ctx, paths, cfg, master, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if _, err := v.Put(ctx, []string{src}, PutOptions{Name: "fixture"}); err != nil {
		t.Fatal(err)
	}
}
