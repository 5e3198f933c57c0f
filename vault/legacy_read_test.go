package vault

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
)

// countingFetcher reads v3.1 chunks from a folder, whatever their source says, and counts
// the fetches by chunk name.
type countingFetcher struct {
	dir string
	mu  sync.Mutex
	n   map[string]int
}

func (f *countingFetcher) FetchLegacy(_ context.Context, _ index.LegacySource, p index.LegacyPart) ([]byte, error) {
	f.mu.Lock()
	f.n[p.Name]++
	f.mu.Unlock()
	return os.ReadFile(filepath.Join(f.dir, p.Name))
}

// take returns the fetches counted since the last take.
func (f *countingFetcher) take() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.n
	f.n = map[string]int{}
	return n
}

// TestLegacyReadFetchesPerMissAndDerivesPerSalt holds the v3.1 read path to its promises:
// a read that misses fetches and decrypts each v3.1 chunk it needs once, readers missing on
// one chunk at once share that fetch, a hit fetches nothing, and the PBKDF2 key of a chunk
// is derived once per salt, not once per read: a vault opened again (its read cache empty)
// fetches the chunk again but derives nothing. The vault's store is not asked at all.
func TestLegacyReadFetchesPerMissAndDerivesPerSalt(t *testing.T) {
	ctx := context.Background()
	tv := newTestVault(t)
	fx := legacyFixtures(t)
	dir := filepath.Join(fx, "small", "chunks")
	cf := &countingFetcher{dir: dir, n: map[string]int{}}
	imps, err := ScanLegacyDir(dir)
	if err != nil || len(imps) != 1 {
		t.Fatalf("scan: %v", err)
	}
	// As if the chunks were attachments: every read goes through the fetcher.
	imps[0].Source = index.LegacySource{Kind: index.LegacyDiscord, Channel: "1"}
	imps[0].Fetcher = cf
	a, err := tv.ImportLegacy(ctx, imps[0], legacyPass)
	if err != nil {
		t.Fatal(err)
	}
	keys := &legacyKeys{}
	metrics := chunkstore.NewMetrics(tv.fault)
	open := func() {
		tv.reopenWith(t, Options{Store: metrics, Catalog: RecordCatalog(tv.mem), Legacy: cf})
		tv.legacy = keys
	}
	open()
	cf.take()

	n, err := tv.Index().GetNode(a.ID, "/photo-001.jpg")
	if err != nil || len(n.Chunks) != 5 {
		t.Fatalf("node %+v %v", n, err)
	}
	orig, err := os.ReadFile(filepath.Join(fx, "small", "original", "photo-001.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	name := make([]string, len(n.Chunks)) // the v3.1 chunk of each of the file's chunks
	for i, c := range n.Chunks {
		rec, err := tv.Index().GetLegacyChunk(c.ID)
		if err != nil || len(rec.Parts) != 1 {
			t.Fatalf("chunk %d: %+v %v", i, rec, err)
		}
		name[i] = rec.Parts[0].Name
	}
	const cs = 64 << 10
	// read reads through ReadAside, the mount's path without the read-ahead, whose
	// fetches run in the background and are no reader's miss.
	read := func(off int64, size int) {
		t.Helper()
		parts, release, err := tv.ReadAside(ctx, n, off, size)
		defer release()
		if err != nil || !bytes.Equal(bytes.Join(parts, nil), orig[off:off+int64(size)]) {
			t.Errorf("read %d+%d: %v", off, size, err)
		}
	}
	expect := func(what string, fetched map[string]int, derived int64) {
		t.Helper()
		if got := cf.take(); !reflect.DeepEqual(got, fetched) {
			t.Errorf("%s: fetched %v, want %v", what, got, fetched)
		}
		if got := keys.derived.Swap(0); got != derived {
			t.Errorf("%s: %d keys derived, want %d", what, got, derived)
		}
	}

	read(2*cs+100, 1000)
	expect("a miss", map[string]int{name[2]: 1}, 1)
	read(2*cs+100, 1000)
	read(2*cs+5000, 30000)
	expect("hits", map[string]int{}, 0)
	read(cs-50, 100)
	expect("a read over a chunk boundary", map[string]int{name[0]: 1, name[1]: 1}, 2)

	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { read(3*cs+int64(i)*1000, 500) })
	}
	wg.Wait()
	expect("eight readers missing on one chunk", map[string]int{name[3]: 1}, 1)
	read(0, len(orig))
	expect("the whole file", map[string]int{name[4]: 1}, 1)

	// Opened again: the read cache is new, the keys are the process's.
	open()
	read(2*cs+100, 1000)
	expect("a miss after the vault opened again", map[string]int{name[2]: 1}, 0)
	if got, _ := metrics.Outcomes(); len(got) != 0 {
		t.Fatalf("v3.1 reads asked the vault's store: %v", got)
	}
}
