package index

import (
	"crypto/sha256"
	"errors"
	"reflect"
	"testing"

	"github.com/discofs/discofs/chunkstore"
)

func TestLegacyRecords(t *testing.T) {
	db := openTest(t)
	a := LegacyArchive{ID: "170126-01", Source: LegacySource{Kind: LegacyDiscord, API: "http://x", Channel: "13"},
		Passphrase: "p", ManifestName: "12-manifest.json", ManifestSum: sha256.Sum256([]byte("m")),
		Encrypted: true, Gzip: true, ChunkSize: 65536, Card: "99"}
	ids := []chunkstore.ID{{1}, {2}}
	chunks := []LegacyChunk{
		{Archive: a.ID, Parts: []LegacyPart{{Name: "0001.bin", Size: 64, Message: "5", Attachment: "6"}}},
		{Archive: a.ID, Parts: []LegacyPart{{Name: "0002.bin"}, {Name: "0003.bin", Size: 9}}},
	}
	if err := db.PutLegacy(a, ids, chunks); err != nil {
		t.Fatal(err)
	}
	other := LegacyArchive{ID: "180126-02", Source: LegacySource{Kind: LegacyDir, Dir: "/d"}, WholeFile: true}
	if err := db.PutLegacy(other, []chunkstore.ID{{3}}, []LegacyChunk{{Archive: other.ID}}); err != nil {
		t.Fatal(err)
	}
	got, err := db.GetLegacy(a.ID)
	if err != nil || !reflect.DeepEqual(got, a) {
		t.Fatalf("got %+v, %v", got, err)
	}
	for i, id := range ids {
		c, err := db.GetLegacyChunk(id)
		if err != nil || !reflect.DeepEqual(c, chunks[i]) {
			t.Fatalf("chunk %d: %+v %v", i, c, err)
		}
	}
	var n int
	if err := db.LegacyArchives(func(LegacyArchive) error { n++; return nil }); err != nil || n != 2 {
		t.Fatalf("%d archives, %v", n, err)
	}
	if err := db.DeleteLegacy(a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetLegacyChunk(ids[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("chunk after delete: %v", err)
	}
	if _, err := db.GetLegacy(a.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("archive after delete: %v", err)
	}
	if _, err := db.GetLegacyChunk(chunkstore.ID{3}); err != nil {
		t.Fatalf("other archive's chunk: %v", err)
	}
}
