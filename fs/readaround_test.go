package fs

import (
	"bytes"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/discofs/discofs/chunkstore"
)

// TestReadOnlyMountOffersNeighbours: on a read-only mount a small read leaves the rest of
// the 64 KiB segment it opened in the kernel's page cache, with the file's bytes, and
// nothing of segments it did not open; a writable mount offers nothing.
func TestReadOnlyMountOffersNeighbours(t *testing.T) {
	// A file no longer than the smallest chunk is one chunk, so its segments start at
	// 64 KiB multiples (a longer one may be cut anywhere past MinChunkSize).
	const size = chunkstore.MinChunkSize
	v, _ := testVault(t)
	want := putFile(t, v, size, 9)
	page := os.Getpagesize()
	seg := chunkstore.SegmentSize / page // pages per segment
	const first = 2                      // the segment read from

	// smallRead reads one page in the middle of segment first and returns the file.
	smallRead := func(t *testing.T, mnt string) *os.File {
		f, err := os.Open(filepath.Join(mnt, "a", "f"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		off := int64(first*chunkstore.SegmentSize + 7*page)
		got := make([]byte, page)
		if _, err := f.ReadAt(got, off); err != nil || !bytes.Equal(got, want[off:off+int64(page)]) {
			t.Fatalf("small read: %v", err)
		}
		return f
	}

	t.Run("read-only", func(t *testing.T) {
		f := smallRead(t, mount(t, VaultSource{v}))
		deadline := time.Now().Add(5 * time.Second)
		for {
			in := pageCache(t, f, size)
			all := true
			for p := first * seg; p < (first+1)*seg; p++ {
				all = all && in[p]
			}
			if all {
				for p := range in {
					if in[p] && (p < first*seg || p >= (first+1)*seg) {
						t.Errorf("page %d, outside the segment read, is cached", p)
					}
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the segment's pages were not offered: %v", in[first*seg:(first+1)*seg])
			}
			time.Sleep(10 * time.Millisecond)
		}
		// What was offered is the file's bytes (these reads come from the page cache).
		got := make([]byte, chunkstore.SegmentSize)
		if _, err := f.ReadAt(got, first*chunkstore.SegmentSize); err != nil || !bytes.Equal(got, want[first*chunkstore.SegmentSize:(first+1)*chunkstore.SegmentSize]) {
			t.Fatalf("the offered segment reads back wrong (%v)", err)
		}
	})

	t.Run("writable", func(t *testing.T) {
		mnt, _ := mountWritable(t, v)
		f := smallRead(t, mnt)
		time.Sleep(200 * time.Millisecond) // an offer would have landed by now
		if n := cachedPages(pageCache(t, f, size)); n > 1 {
			t.Errorf("%d pages cached after a one-page read on a writable mount", n)
		}
	})
}

// TestReadOnlyMountOffersUnderConcurrentReads: readers hammer a multi-chunk file with
// small reads at random offsets while their offers land in the page cache; every read
// returns the file's bytes and none waits on another's offer for long.
func TestReadOnlyMountOffersUnderConcurrentReads(t *testing.T) {
	v, _ := testVault(t)
	src, _ := putTree(t, v, "photos")
	want, err := os.ReadFile(filepath.Join(src, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(mount(t, VaultSource{v}), "photos", "big.bin")
	deadline := time.Now().Add(2 * time.Second)
	errs := make(chan error, 8)
	for r := range 8 {
		go func() {
			f, err := os.Open(p)
			if err != nil {
				errs <- err
				return
			}
			defer f.Close()
			rng := rand.New(rand.NewSource(int64(r)))
			buf := make([]byte, 64<<10)
			for time.Now().Before(deadline) {
				off := rng.Int63n(int64(len(want)))
				if err := readsLike(f, want, off, buf[:1+rng.Intn(len(buf)-1)]); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(time.Minute):
			t.Fatal("readers still busy a minute after they were to stop")
		}
	}
}
