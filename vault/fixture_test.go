package vault

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/discofs/discofs/chunkstore"
)

// The vault in testdata/vault-v1 was written by the first version of every stored format:
// the vault header, cards, packs of frames and sealed manifests. It must open, rebuild and
// restore byte for byte forever; a format change that breaks old vaults fails here. It
// holds two archives:
//
//   - #261126-01 "fixture" (fixtureTree), all its frames in one pack;
//   - #261126-02 "two packs" (fixturePacksTree), written to a store whose object limit is
//     the length of its one raw frame, so that frame and its compressed one lie in two
//     packs.
//
// testdata/vault-v1.sha256 holds the SHA-256 of every file of the vault (sha256sum's
// format), so a fixture regenerated or edited by mistake fails too.

const fixturePassphrase = "fixture passphrase"

// fixturePacksLimit is the object limit archive #261126-02 was written under: the length
// of a frame of fixturePacksTree's random.bin (100,000 random bytes: two raw segments).
const fixturePacksLimit = 20 + 2*4 + 100_000 + 2*chunkstore.SegmentOverhead

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

// fixturePacksTree writes the tree of the fixture vault's second archive: a file whose
// frame is stored raw and one whose frame is compressed, one chunk each.
func fixturePacksTree(t *testing.T, dir string) {
	t.Helper()
	rng := rand.New(rand.NewSource(8))
	random := make([]byte, 100_000)
	rng.Read(random)
	files := map[string][]byte{
		"random.bin": random,
		"source.go":  bytes.Repeat([]byte("// Pack is one stored object of frames.\ntype Pack struct{ Ref string }\n"), 2000),
	}
	when := time.Date(2026, 11, 26, 12, 30, 0, 0, time.UTC)
	for name, data := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(dir, 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, when, when)
	}
	os.Chtimes(dir, when, when)
}

func TestVaultFixtureV1(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "tree")
	fixtureTree(t, src)
	src2 := filepath.Join(t.TempDir(), "two packs")
	fixturePacksTree(t, src2)
	switch os.Getenv("DISCOFS_WRITE_FIXTURE") {
	case "1":
		writeFixture(t, src)
		return
	case "2":
		writeFixturePacks(t, src2)
		return
	}
	checkFixtureSums(t)
	store, err := chunkstore.OpenDir(filepath.Join("testdata", "vault-v1"), chunkstore.Limits{})
	if err != nil {
		t.Fatal(err)
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
	if err != nil || rep.Archives != 2 || len(rep.Failed) != 0 {
		t.Fatalf("rebuild: %+v %v", rep, err)
	}
	for id, want := range map[string]string{"#261126-01": src, "#261126-02": src2} {
		dest := filepath.Join(t.TempDir(), "out")
		if d, err := v.Get(ctx, id, dest, nil); err != nil || len(d) != 0 {
			t.Fatalf("get %s: %v %v", id, err, d)
		}
		sameTree(t, want, dest)
	}
	if rep, err := v.Verify(ctx, "", true, nil); err != nil || len(rep.Damaged) != 0 || rep.Packs != 3 {
		t.Fatalf("verify: %v %+v", err, rep)
	}
	checkFixturePacks(t, v, store)
}

// checkFixtureSums fails unless testdata/vault-v1 holds exactly the files
// testdata/vault-v1.sha256 lists, with those contents.
func checkFixtureSums(t *testing.T) {
	t.Helper()
	sums, err := os.ReadFile(filepath.Join("testdata", "vault-v1.sha256"))
	if err != nil {
		t.Fatal(err)
	}
	got := fixtureSums(t)
	if string(sums) != got {
		t.Fatalf("the fixture vault is not the one frozen: its files hash to\n%s\nvault-v1.sha256 says\n%s", got, sums)
	}
}

// fixtureSums lists the SHA-256 of every file of testdata/vault-v1 as sha256sum does, run
// in testdata, in path order.
func fixtureSums(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(filepath.Join("testdata", "vault-v1"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("testdata", p)
		fmt.Fprintf(&b, "%x  %s\n", sha256.Sum256(data), filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// checkFixturePacks reads the second archive's frames straight from the pack files: one
// raw and one compressed, in two packs, each where the manifest says, with the header it
// recorded.
func checkFixturePacks(t *testing.T, v *Vault, store *chunkstore.DirStore) {
	t.Helper()
	packs := map[chunkstore.Ref]bool{}
	compressed := map[bool]int{}
	for _, name := range []string{"/random.bin", "/source.go"} {
		n, err := v.Index().GetNode("261126-02", name)
		if err != nil || len(n.Chunks) != 1 {
			t.Fatalf("%s: %d chunks, %v", name, len(n.Chunks), err)
		}
		loc, err := v.Index().GetChunk(n.Chunks[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		packs[loc.Pack] = true
		b, err := os.ReadFile(filepath.Join(store.Root(), filepath.FromSlash(string(loc.Pack))))
		if err != nil {
			t.Fatal(err)
		}
		if loc.Offset+loc.Length > int64(len(b)) {
			t.Fatalf("%s: frame at %d+%d in a %d-byte pack", name, loc.Offset, loc.Length, len(b))
		}
		frame := b[loc.Offset : loc.Offset+loc.Length]
		h, hl, err := chunkstore.ParseFrameHeader(frame)
		if err != nil || !bytes.Equal(frame[:hl], loc.Header) || h.FrameLen() != loc.Length {
			t.Fatalf("%s: the frame in the pack does not match its location: %v", name, err)
		}
		for _, e := range h.Segs {
			compressed[e&(1<<31) != 0]++
		}
		if int64(len(b)) > fixturePacksLimit {
			t.Errorf("%s: its pack holds %d bytes, above the %d it was written under", name, len(b), fixturePacksLimit)
		}
	}
	if len(packs) != 2 || compressed[true] == 0 || compressed[false] == 0 {
		t.Fatalf("the second archive's frames lie in %d packs, with %d compressed and %d raw segments", len(packs), compressed[true], compressed[false])
	}
}

// writeFixture makes the fixture vault and its first archive; run once with
// DISCOFS_WRITE_FIXTURE=1 on an empty testdata/vault-v1.
func writeFixture(t *testing.T, src string) {
	store, err := chunkstore.OpenDir(filepath.Join("testdata", "vault-v1"), chunkstore.Limits{})
	if err != nil {
		t.Fatal(err)
	}
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

// writeFixturePacks adds the second archive to the fixture vault and writes
// testdata/vault-v1.sha256; run once with DISCOFS_WRITE_FIXTURE=2 on the vault
// writeFixture made.
func writeFixturePacks(t *testing.T, src string) {
	store, err := chunkstore.OpenDir(filepath.Join("testdata", "vault-v1"), chunkstore.Limits{MaxObjectSize: fixturePacksLimit})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	paths := HomePaths(t.TempDir())
	opts := Options{Store: store, Catalog: RecordCatalog(store),
		Now: func() time.Time { return time.Date(2026, 11, 26, 12, 30, 0, 0, time.Local) }}
	cfg, joined, err := Init(ctx, paths, "dir:", nil, opts, fixturePassphrase, fastKDF)
	if err != nil || !joined {
		t.Fatalf("join the fixture vault: %v (joined %v)", err, joined)
	}
	master, _ := Unlock(cfg, fixturePassphrase)
	v, err := Open(ctx, paths, cfg, master, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if rep, err := v.Rebuild(ctx, nil); err != nil || rep.Archives != 1 {
		t.Fatalf("rebuild: %+v %v", rep, err)
	}
	if _, err := v.Put(ctx, []string{src}, PutOptions{Name: "two packs"}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("testdata", "vault-v1.sha256"), []byte(fixtureSums(t)), 0o644); err != nil {
		t.Fatal(err)
	}
}
