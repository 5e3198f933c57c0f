package vault

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
)

// Segments read once come back from the disk cache after a restart, even with the store
// gone; a damaged cache file is fetched again; the cache stays within its bound.
func TestFrameCacheSurvivesRestart(t *testing.T) {
	tv, n, want := withFrameCache(t)
	ctx := context.Background()
	p := make([]byte, 300<<10)
	if _, err := tv.ReadAt(ctx, n, p, 2<<20); err != nil {
		t.Fatal(err)
	}
	tv.fault.Add(chunkstore.Fault{Op: chunkstore.OpLoad, Times: -1, Err: chunkstore.Classify(chunkstore.Permanent, os.ErrClosed)})
	tv.reopenWith(t, tv.opts)
	q := make([]byte, len(p))
	if _, err := tv.ReadAt(ctx, n, q, 2<<20); err != nil || !bytes.Equal(q, want[2<<20:2<<20+len(q)]) {
		t.Fatalf("read from the disk cache with the store down: %v", err)
	}
	// Flip a byte in every KiB of the cache: each segment is a miss, and with the store
	// down an error, never wrong bytes.
	dir := filepath.Join(tv.paths.Cache, "frames")
	files := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			for i := 512; i < len(b); i += 1024 {
				b[i] ^= 1
			}
			os.WriteFile(p, b, 0o600)
			files++
		}
		return nil
	})
	if files == 0 {
		t.Fatal("nothing was cached on disk")
	}
	tv.reopenWith(t, tv.opts)
	if _, err := tv.ReadAt(ctx, n, q, 2<<20); err == nil {
		t.Fatal("a damaged cache with the store down gave bytes")
	}
	// A small bound evicts.
	tv.fault = chunkstore.NewFault(tv.mem)
	tv.opts.Store = tv.fault
	tv.opts.FrameCacheBytes = 200 << 10
	tv.reopenWith(t, tv.opts)
	for off := int64(0); off < int64(len(want)); off += int64(len(p)) {
		k, err := tv.ReadAt(ctx, n, p, off)
		if err != nil && k == 0 || !bytes.Equal(p[:k], want[off:off+int64(k)]) {
			t.Fatalf("read at %d: %v", off, err)
		}
	}
	// Read-ahead may still be filling the cache: wait until every fetch of it is done.
	for range cap(tv.ahead.slots) {
		tv.ahead.slots <- struct{}{}
	}
	var size int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			info, _ := d.Info()
			size += info.Size()
		}
		return nil
	})
	if size > 200<<10 {
		t.Fatalf("the cache holds %d bytes, over its 200 KiB bound", size)
	}
}

// A crash can leave the last record of a log torn: the records before it are still found
// after a restart, and the torn one is a miss. Files of an older layout are removed.
func TestFrameCacheTornLog(t *testing.T) {
	tv, n, want := withFrameCache(t)
	ctx := context.Background()
	const off, size = 2 << 20, 300 << 10
	p := make([]byte, size)
	if _, err := tv.ReadAt(ctx, n, p, off); err != nil {
		t.Fatal(err)
	}
	tv.Vault.Close()
	dir := filepath.Join(tv.paths.Cache, "frames")
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(logs) != 1 {
		t.Fatalf("logs after one read: %v", logs)
	}
	info, _ := os.Stat(logs[0])
	os.Truncate(logs[0], info.Size()-100)
	stale := filepath.Join(dir, "ab", "abcd-00000001")
	os.MkdirAll(filepath.Dir(stale), 0o700)
	os.WriteFile(stale, []byte("an older layout's file"), 0o600)
	tv.fault.Add(chunkstore.Fault{Op: chunkstore.OpLoad, Times: -1, Err: chunkstore.Classify(chunkstore.Permanent, os.ErrClosed)})
	tv.reopenWith(t, tv.opts)
	// Segments were appended in file order, so the torn one holds the range's end.
	q := make([]byte, 4096)
	if _, err := tv.ReadAt(ctx, n, q, off); err != nil || !bytes.Equal(q, want[off:off+len(q)]) {
		t.Fatalf("read of a record before the torn one: %v", err)
	}
	if _, err := tv.ReadAt(ctx, n, q, int64(off+size-len(q))); err == nil {
		t.Fatal("the torn record gave bytes with the store down")
	}
	if _, err := os.Stat(filepath.Dir(stale)); !os.IsNotExist(err) {
		t.Errorf("an older layout's folder is still there: %v", err)
	}
}

// withFrameCache is a test vault with a 64 MiB disk cache, big.bin's node and its bytes.
func withFrameCache(t *testing.T) (*testVault, index.Node, []byte) {
	tv, src, a := putTree(t)
	tv.opts.FrameCacheBytes = 64 << 20
	tv.reopenWith(t, tv.opts)
	n, err := tv.Index().GetNode(a.ID, "/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(src, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	return tv, n, want
}

// Readers at random offsets through a disk cache far smaller than the file, so that logs
// are deleted while others read from them and segments are appended again as they are
// found in old logs: every read gives the file's bytes.
func TestFrameCacheUnderConcurrentReads(t *testing.T) {
	tv, n, want := withFrameCache(t)
	tv.opts.FrameCacheBytes = 400 << 10
	tv.opts.MemoryCacheBytes = 1 << 20
	tv.reopenWith(t, tv.opts)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for r := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewSource(int64(r)))
			p := make([]byte, 96<<10)
			for range 30 {
				off := rng.Int63n(n.Size)
				k, err := tv.ReadAt(t.Context(), n, p, off)
				if err != nil && err != io.EOF || !bytes.Equal(p[:k], want[off:off+int64(k)]) {
					errs <- fmt.Errorf("read of %d at %d: %v", len(p), off, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
