package index

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/discofs/discofs/chunkstore"
)

func openTest(t *testing.T) *DB {
	t.Helper()
	db, err := Open(t.TempDir(), bytes.Repeat([]byte{1}, 32), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestArchivesAndLots(t *testing.T) {
	db := openTest(t)
	for want := 1; want <= 3; want++ {
		lot, err := db.NextLot(0)
		if err != nil || lot != want {
			t.Fatalf("lot %d, want %d (%v)", lot, want, err)
		}
	}
	if lot, _ := db.NextLot(41); lot != 42 {
		t.Fatalf("lot above floor 41 is %d", lot)
	}
	a := Archive{ID: "261126-07", Lot: 7, Name: "photos", Created: time.Unix(1700000000, 5), Status: StatusSuccess,
		Generation: 2, Manifest: []ManifestPart{{Ref: "m/1", Size: 99}}, Files: 3, Size: 1 << 40, Stored: 5, Chunks: 9, CardStale: true}
	if err := db.PutArchive(a); err != nil {
		t.Fatal(err)
	}
	got, err := db.GetArchive(a.ID)
	if err != nil || !reflect.DeepEqual(got, a) {
		t.Fatalf("got %+v, want %+v (%v)", got, a, err)
	}
	if _, err := db.GetArchive("010101-01"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing archive: %v", err)
	}
	first, _ := db.NextInodes(10)
	second, _ := db.NextInodes(1)
	if first < 2 || second != first+10 {
		t.Fatalf("inodes %d then %d", first, second)
	}
}

func TestTreeOrderAndChildren(t *testing.T) {
	db := openTest(t)
	paths := []string{"/", "/b", "/a", "/a/x", "/a/x/deep", "/ab", "/a/y", "/b/z"}
	for i, p := range paths {
		typ := TypeDir
		if p == "/a/x/deep" || p == "/b/z" || p == "/a/y" {
			typ = TypeFile
		}
		n := Node{Path: p, Type: typ, Ino: uint64(i + 2), Mode: 0o644}
		if typ == TypeFile {
			n.Chunks = []ChunkRef{{ID: chunkstore.ID{byte(i)}, Len: 5}}
		}
		if err := db.PutNode("A", n); err != nil {
			t.Fatal(err)
		}
	}
	db.PutNode("B", Node{Path: "/", Type: TypeDir})
	var walked []string
	db.Walk("A", func(n Node) error { walked = append(walked, n.Path); return nil })
	seen := map[string]bool{}
	for _, p := range walked {
		if p != "/" && !seen[parentOf(p)] {
			t.Fatalf("walk met %s before its directory: %v", p, walked)
		}
		seen[p] = true
	}
	if len(walked) != len(paths) {
		t.Fatalf("walk: %v", walked)
	}
	children := func(dir string) (out []string) {
		db.Children("A", dir, func(n Node) error { out = append(out, n.Path); return nil })
		return out
	}
	if got := children("/"); !reflect.DeepEqual(got, []string{"/a", "/ab", "/b"}) {
		t.Fatalf("children of /: %v", got)
	}
	if got := children("/a"); !reflect.DeepEqual(got, []string{"/a/x", "/a/y"}) {
		t.Fatalf("children of /a: %v", got)
	}
	if err := db.DeleteTree("A", "/a"); err != nil {
		t.Fatal(err)
	}
	walked = nil
	db.Walk("A", func(n Node) error { walked = append(walked, n.Path); return nil })
	if !reflect.DeepEqual(walked, []string{"/", "/ab", "/b", "/b/z"}) {
		t.Fatalf("after DeleteTree(/a): %v", walked)
	}
	if _, err := db.GetNode("B", "/"); err != nil {
		t.Fatal("another archive's tree was touched")
	}
}

func parentOf(p string) string {
	i := len(p) - 1
	for p[i] != '/' {
		i--
	}
	if i == 0 {
		return "/"
	}
	return p[:i]
}

func TestPacksAndChunks(t *testing.T) {
	db := openTest(t)
	ids := []chunkstore.ID{{1}, {2}}
	locs := []Location{{Pack: "p/1", Offset: 0, Length: 10, Header: []byte("hdr")}, {Pack: "p/1", Offset: 10, Length: 20}}
	if err := db.PutPack(Pack{Ref: "p/1", Type: chunkstore.TypePack, Name: "ab", Size: 30}, ids, locs); err != nil {
		t.Fatal(err)
	}
	if ok, _ := db.HasChunk(ids[0]); !ok {
		t.Fatal("chunk 1 unknown")
	}
	l, err := db.GetChunk(ids[1])
	if err != nil || l.Offset != 10 || l.Length != 20 {
		t.Fatalf("chunk 2: %+v %v", l, err)
	}
	if err := db.DeletePack("p/1", ids); err != nil {
		t.Fatal(err)
	}
	if ok, _ := db.HasChunk(ids[0]); ok {
		t.Fatal("chunk survives its pack")
	}
	if _, err := db.GetPack("p/1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pack: %v", err)
	}
}

func TestReopenWithWrongKey(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, bytes.Repeat([]byte{1}, 32), nil)
	if err != nil {
		t.Fatal(err)
	}
	db.PutArchive(Archive{ID: "x", Status: StatusSuccess})
	db.Close()
	if _, err := Open(dir, bytes.Repeat([]byte{2}, 32), nil); err == nil {
		t.Fatal("opened with another key")
	}
}

func sampleManifest() *Manifest {
	return &Manifest{
		Archive: Archive{ID: "261126-01", Lot: 1, Name: "résumé", Created: time.Unix(0, 1e18), Status: StatusSuccess, Generation: 1, Files: 1, Size: 12},
		Nodes: []Node{
			{Path: "/", Type: TypeDir, Mode: 0o755, Ino: 2},
			{Path: "/f", Type: TypeFile, Mode: 0o4755, Size: 12, Mtime: -5, Ino: 3, Chunks: []ChunkRef{{ID: chunkstore.ID{9}, Len: 12}}},
			{Path: "/l", Type: TypeSymlink, Target: "f", Size: 1, Ino: 4},
		},
		Chunks: []ChunkEntry{{ID: chunkstore.ID{9}, Location: Location{Pack: "p/x", Offset: 3, Length: 60, Header: []byte{1, 2}}}},
		Packs:  []Pack{{Ref: "p/x", Type: chunkstore.TypePack, Name: "x", Group: "261126-01", Size: 63}},
	}
}

func TestManifestRoundTrip(t *testing.T) {
	m := sampleManifest()
	got, err := DecodeManifest(EncodeManifest(nil, m))
	if err != nil || !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip:\n got %+v\nwant %+v\n%v", got, m, err)
	}
	b := EncodeManifest(nil, m)
	for i := range len(b) - 1 {
		if _, err := DecodeManifest(b[:i]); err == nil {
			t.Fatalf("a manifest cut at %d decoded", i)
		}
	}
}

func FuzzDecodeManifest(f *testing.F) {
	f.Add(EncodeManifest(nil, sampleManifest()))
	f.Add(EncodeManifest(nil, &Manifest{}))
	f.Add([]byte("DMAN\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeManifest(b)
		if err != nil {
			return
		}
		again, err := DecodeManifest(EncodeManifest(nil, m))
		if err != nil || fmt.Sprint(again) != fmt.Sprint(m) {
			t.Fatalf("a decoded manifest does not survive a round trip: %v", err)
		}
	})
}

// TestManifestFixtureV1 decodes a manifest encoded by the first version of the format: a
// change that stops old manifests from opening fails here.
func TestManifestFixtureV1(t *testing.T) {
	b, err := os.ReadFile("testdata/manifest-v1/sample.bin")
	if err != nil {
		t.Fatal(err)
	}
	m, err := DecodeManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, sampleManifest()) {
		t.Fatalf("the frozen manifest decodes to\n%+v\nwant\n%+v", m, sampleManifest())
	}
}
