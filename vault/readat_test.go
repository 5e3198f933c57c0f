package vault

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
)

// putTree archives a makeTree tree and returns the vault, the source dir and the archive.
func putTree(t *testing.T) (*testVault, string, index.Archive) {
	t.Helper()
	tv := newTestVault(t)
	src := filepath.Join(t.TempDir(), "photos")
	makeTree(t, src, 7)
	a, err := tv.Put(context.Background(), []string{src}, PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tv, src, a
}

func TestReadAtRandomRanges(t *testing.T) {
	tv, src, a := putTree(t)
	ctx := context.Background()
	rng := rand.New(rand.NewSource(1))
	for _, name := range []string{"big.bin", "text/notes.txt", "deep/a/b/c/file", "résumé final (v2).pdf"} {
		want, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		n, err := tv.Index().GetNode(a.ID, "/"+name)
		if err != nil {
			t.Fatal(err)
		}
		// Offsets that sit on and around chunk and segment boundaries, and random ones.
		var offs []int64
		var pos int64
		for _, c := range n.Chunks {
			offs = append(offs, pos, pos-1, pos+1)
			for s := int64(chunkstore.SegmentSize); s < int64(c.Len); s += chunkstore.SegmentSize {
				offs = append(offs, pos+s-1, pos+s)
			}
			pos += int64(c.Len)
		}
		for range 60 {
			offs = append(offs, rng.Int63n(int64(len(want))+10))
		}
		for _, off := range offs {
			off = max(off, 0)
			size := []int{1, 7, 4096, 65536, 131072, 1<<20 + 3}[rng.Intn(6)]
			p := make([]byte, size)
			got, err := tv.ReadAt(ctx, n, p, off)
			wantN := max(0, min(int64(size), int64(len(want))-off))
			if int64(got) != wantN {
				t.Fatalf("%s: ReadAt(%d, %d) = %d bytes, want %d (err %v)", name, off, size, got, wantN, err)
			}
			if got < size && !errors.Is(err, io.EOF) || got == size && err != nil {
				t.Fatalf("%s: ReadAt(%d, %d): err %v with %d bytes", name, off, size, err, got)
			}
			if got > 0 && !bytes.Equal(p[:got], want[off:off+int64(got)]) {
				t.Fatalf("%s: ReadAt(%d, %d): bytes differ", name, off, size)
			}
		}
	}
}

func TestReadAtSharesConcurrentFetches(t *testing.T) {
	tv, src, a := putTree(t)
	want, _ := os.ReadFile(filepath.Join(src, "big.bin"))
	n, err := tv.Index().GetNode(a.ID, "/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(g)))
			for range 40 {
				off := rng.Int63n(int64(len(want)))
				p := make([]byte, 1+rng.Intn(200000))
				got, err := tv.ReadAt(context.Background(), n, p, off)
				if err != nil && !errors.Is(err, io.EOF) {
					t.Error(err)
					return
				}
				if !bytes.Equal(p[:got], want[off:off+int64(got)]) {
					t.Errorf("ReadAt(%d, %d): bytes differ", off, len(p))
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestReadAtCorruptSegmentIsAnError(t *testing.T) {
	tv, _, a := putTree(t)
	n, err := tv.Index().GetNode(a.ID, "/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	loc, err := tv.Index().GetChunk(n.Chunks[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	// Flip a bit inside the second segment of the first chunk, in every Load of its pack.
	tv.fault.Add(chunkstore.Fault{Op: chunkstore.OpLoad, Ref: loc.Pack, Action: chunkstore.FaultFlipBit, Offset: 100, Times: -1})
	p := make([]byte, 4096)
	got, err := tv.ReadAt(context.Background(), n, p, chunkstore.SegmentSize+10)
	if !errors.Is(err, chunkstore.ErrAuth) {
		t.Fatalf("ReadAt = %d, %v; want an error wrapping ErrAuth", got, err)
	}
	if got != 0 || !bytes.Equal(p, make([]byte, len(p))) {
		t.Fatalf("ReadAt put %d bytes of a corrupt segment into p", got)
	}
	tv.fault.VerifyAllFaultsExercised(t)
}

func TestReadAtGivesUpWhenAskedButFetchGoesOn(t *testing.T) {
	tv, src, a := putTree(t)
	want, _ := os.ReadFile(filepath.Join(src, "deep/a/b/c/file"))
	n, err := tv.Index().GetNode(a.ID, "/deep/a/b/c/file")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tv.ReadAt(ctx, n, make([]byte, 10), 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("ReadAt on a cancelled context = %v", err)
	}
	p := make([]byte, len(want))
	if got, err := tv.ReadAt(context.Background(), n, p, 0); err != nil || !bytes.Equal(p[:got], want) {
		t.Fatalf("ReadAt after a cancelled read = %d, %v", got, err)
	}
}

func TestReadAtRejectsNonFiles(t *testing.T) {
	tv, _, a := putTree(t)
	d, err := tv.Index().GetNode(a.ID, "/text")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tv.ReadAt(context.Background(), d, make([]byte, 1), 0); !errors.Is(err, ErrNotAFile) {
		t.Fatalf("ReadAt on a directory = %v", err)
	}
	e, err := tv.Index().GetNode(a.ID, "/text/empty")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tv.ReadAt(context.Background(), e, make([]byte, 1), 0); got != 0 || err != io.EOF {
		t.Fatalf("ReadAt on an empty file = %d, %v", got, err)
	}
}

func TestReadCacheEvicts(t *testing.T) {
	rc := newReadCache(100)
	for i := range 10 {
		rc.put(segKey{seg: i}, make([]byte, 30), nil)
	}
	if rc.bytes > 100 || rc.lru.Len() != 3 {
		t.Fatalf("cache holds %d bytes in %d entries", rc.bytes, rc.lru.Len())
	}
	if rc.get(segKey{seg: 0}) != nil || rc.get(segKey{seg: 9}) == nil {
		t.Fatal("cache kept the oldest entry or dropped the newest")
	}
}

// An evicted segment's memory is reused only once no reader holds it: a slice handed to
// the kernel must not change under it.
func TestReadCacheReusesOnlyUnpinnedSlots(t *testing.T) {
	seg := int64(chunkstore.SegmentSize)
	rc := newReadCache(2 * seg)
	fill := func(k int) {
		s := rc.slot(chunkstore.SegmentSize)
		for i := range s {
			s[i] = byte(k)
		}
		rc.put(segKey{seg: k}, s, s)
	}
	fill(0)
	held := rc.get(segKey{seg: 0})
	fill(1)
	fill(2) // evicts 0, which is pinned
	if rc.get(segKey{seg: 0}) != nil {
		t.Fatal("segment 0 is still cached")
	}
	fill(3) // evicts 1, unpinned: its slot is reused at once
	for k := 4; k < 10; k++ {
		fill(k)
	}
	for _, b := range held.data {
		if b != 0 {
			t.Fatal("a pinned segment's memory was reused")
		}
	}
	mem := held.data
	rc.unpin(held)
	if len(rc.free) == 0 {
		t.Fatal("the unpinned slot did not come free")
	}
	if s := rc.slot(chunkstore.SegmentSize); &s[0] != &mem[0] {
		t.Fatal("the freed slot is not the next one handed out")
	}
}

// Options.MemoryCacheBytes bounds the opened segments kept in memory: once a file that fits
// it has been read, random reads of it open no segment again; with a smaller bound they do.
func TestMemoryCacheBoundsWhatRandomReadsFind(t *testing.T) {
	tv, src, a := putTree(t)
	want, err := os.ReadFile(filepath.Join(src, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		limit int64
		fits  bool
	}{{16 << 20, true}, {1 << 20, false}} {
		tv.Vault.Close()
		master, err := Unlock(tv.cfg, "pass")
		if err != nil {
			t.Fatal(err)
		}
		v, err := Open(t.Context(), tv.paths, tv.cfg, master, Options{Store: tv.fault, Catalog: RecordCatalog(tv.mem), MemoryCacheBytes: tc.limit})
		if err != nil {
			t.Fatal(err)
		}
		tv.Vault = v
		n, err := v.Index().GetNode(a.ID, "/big.bin")
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1<<20)
		for off := int64(0); off < n.Size; off += int64(len(buf)) {
			if _, err := v.ReadAt(t.Context(), n, buf, off); err != nil && err != io.EOF {
				t.Fatal(err)
			}
		}
		for range cap(v.ahead.slots) { // read-ahead may still be filling the cache
			v.ahead.slots <- struct{}{}
		}
		_, before := v.ReadCacheStats()
		rng := rand.New(rand.NewSource(5))
		small := make([]byte, 4096)
		for range 200 {
			off := rng.Int63n(n.Size - int64(len(small)))
			if _, err := v.ReadAt(t.Context(), n, small, off); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(small, want[off:off+int64(len(small))]) {
				t.Fatalf("limit %d: read at %d gave other bytes", tc.limit, off)
			}
		}
		_, after := v.ReadCacheStats()
		if tc.fits && after != before {
			t.Errorf("limit %d: %d random reads of a %d-byte file it holds opened %d segments again", tc.limit, 200, n.Size, after-before)
		}
		if !tc.fits && after-before < 100 {
			t.Errorf("limit %d: only %d of 200 random reads of a %d-byte file missed", tc.limit, after-before, n.Size)
		}
	}
}

// A reader that gives up while its read waits on a slow remote store returns at once,
// even when it was the first to miss and started the fetch; the fetch goes on and serves
// the next reader.
func TestReaderGivesUpOnASlowFetchAtOnce(t *testing.T) {
	tv, src, a := putTree(t)
	want, err := os.ReadFile(filepath.Join(src, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := tv.Index().GetNode(a.ID, "/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	tv.fault.Add(chunkstore.Fault{Op: chunkstore.OpLoad, Action: chunkstore.FaultDelay, Delay: 5 * time.Second})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	buf := make([]byte, 4096)
	if _, err := tv.ReadAt(ctx, n, buf, 1<<20); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read that gave up = %v, want its context's error", err)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Fatalf("a reader that gave up waited %v for the fetch it started", waited)
	}
	if _, err := tv.ReadAt(t.Context(), n, buf, 1<<20); err != nil || !bytes.Equal(buf, want[1<<20:1<<20+4096]) {
		t.Fatalf("the next read: %v", err)
	}
}

// ReadAround widens a small read to the segments that hold it: its bytes are the file's
// from a segment boundary on, and cover what was asked.
func TestReadAroundWidensToSegments(t *testing.T) {
	tv, src, a := putTree(t)
	want, _ := os.ReadFile(filepath.Join(src, "big.bin"))
	n, err := tv.Index().GetNode(a.ID, "/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	offs := tv.readCache().offsets(n)
	rng := rand.New(rand.NewSource(3))
	for range 50 {
		off := rng.Int63n(n.Size)
		size := 1 + rng.Intn(8192)
		start, parts, release, err := tv.ReadAround(context.Background(), n, off, size)
		if err != nil && err != io.EOF {
			t.Fatal(err)
		}
		got := bytes.Join(parts, nil)
		release()
		i := chunkHolding(offs, start)
		if (start-offs[i])%chunkstore.SegmentSize != 0 {
			t.Fatalf("read at %d starts at %d, %d into its chunk: not a segment boundary", off, start, start-offs[i])
		}
		end := min(off+int64(size), n.Size)
		if start > off || start+int64(len(got)) < end {
			t.Fatalf("read of %d at %d gave [%d, %d)", size, off, start, start+int64(len(got)))
		}
		if len(got) > 2*chunkstore.SegmentSize+8192 {
			t.Fatalf("read of %d at %d was widened to %d bytes", size, off, len(got))
		}
		if !bytes.Equal(got, want[start:start+int64(len(got))]) {
			t.Fatalf("read of %d at %d: bytes differ", size, off)
		}
	}
}
