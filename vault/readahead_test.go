package vault

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
)

// A sequential reader gets the next bytes fetched ahead of it; a random reader does not.
func TestReadAheadFetchesWhatComesNext(t *testing.T) {
	tv, src, a := putTree(t)
	ctx := context.Background()
	n, err := tv.Index().GetNode(a.ID, "/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join(src, "big.bin"))
	far := int64(3 << 20)
	// Two random reads start nothing.
	p := make([]byte, 128<<10)
	tv.ReadAt(ctx, n, p, 5<<20)
	tv.ReadAt(ctx, n, p, 1<<20)
	time.Sleep(100 * time.Millisecond)
	if segmentCached(tv, n, far) {
		t.Fatal("random reads fetched ahead")
	}
	// Two sequential ones do.
	for off := int64(0); off < 256<<10; off += int64(len(p)) {
		k, err := tv.ReadAt(ctx, n, p, off)
		if err != nil || !bytes.Equal(p[:k], want[off:off+int64(k)]) {
			t.Fatalf("read at %d: %v", off, err)
		}
	}
	waitCached(t, tv, n, far)
	// What was fetched ahead reads back right.
	k, err := tv.ReadAt(ctx, n, p, far)
	if err != nil || !bytes.Equal(p[:k], want[far:far+int64(k)]) {
		t.Fatalf("read of fetched-ahead bytes: %v", err)
	}
}

// segmentCached says whether the segment holding byte off of n is in the read cache.
func segmentCached(tv *testVault, n index.Node, off int64) bool {
	offs := tv.reads.offsets(n)
	i := chunkHolding(offs, off)
	return tv.reads.get(segKey{n.Chunks[i].ID, int((off - offs[i]) / chunkstore.SegmentSize)}) != nil
}

// waitCached waits until the segment holding byte off of n is cached.
func waitCached(t *testing.T, tv *testVault, n index.Node, off int64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !segmentCached(tv, n, off); {
		if time.Now().After(deadline) {
			t.Fatalf("the segment at %d was not fetched ahead", off)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The kernel sends a sequential reader's read-ahead as several requests at once, and they
// finish in any order: reads that end out of order still count as sequential.
func TestReadAheadFollowsReadsThatFinishOutOfOrder(t *testing.T) {
	tv, _, a := putTree(t)
	n, err := tv.Index().GetNode(a.ID, "/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 128<<10)
	for _, off := range []int64{128 << 10, 0, 256 << 10} {
		if _, err := tv.ReadAt(t.Context(), n, p, off); err != nil {
			t.Fatal(err)
		}
	}
	waitCached(t, tv, n, 3<<20)
}

// loadPeak is a store whose loads take a while, and which counts how many run at once.
type loadPeak struct {
	chunkstore.Store
	now, peak atomic.Int32
}

func (s *loadPeak) Load(ctx context.Context, r chunkstore.Ref, length int, offset int64, fn func(io.Reader) error) error {
	k := s.now.Add(1)
	defer s.now.Add(-1)
	for p := s.peak.Load(); k > p && !s.peak.CompareAndSwap(p, k); p = s.peak.Load() {
	}
	time.Sleep(20 * time.Millisecond)
	return s.Store.Load(ctx, r, length, offset, fn)
}

// Read-ahead from a remote store fetches several chunks at once, so that a sequential
// reader waits for the store's latency once rather than once per chunk.
func TestReadAheadFetchesChunksAtOnce(t *testing.T) {
	tv, _, a := putTree(t)
	slow := &loadPeak{Store: tv.fault}
	tv.Vault.Close()
	master, err := Unlock(tv.cfg, "pass")
	if err != nil {
		t.Fatal(err)
	}
	v, err := Open(t.Context(), tv.paths, tv.cfg, master, Options{Store: slow, Catalog: RecordCatalog(tv.mem)})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	tv.Vault = v
	n, err := v.Index().GetNode(a.ID, "/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Chunks) < 4 {
		t.Fatalf("big.bin has %d chunks; the test needs several", len(n.Chunks))
	}
	p := make([]byte, 128<<10)
	for _, off := range []int64{0, 128 << 10} {
		if _, err := v.ReadAt(t.Context(), n, p, off); err != nil {
			t.Fatal(err)
		}
	}
	waitCached(t, tv, n, n.Size-1)
	if peak := slow.peak.Load(); peak < 3 {
		t.Errorf("read-ahead ran at most %d loads at once, want several", peak)
	}
}
