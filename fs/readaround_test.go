package fs

import (
	"bytes"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/discofs/discofs/chunkstore"
)

// TestSmallReadsOfferNeighbours: a small read leaves the rest of the 64 KiB segment it
// opened in the kernel's page cache, with the file's bytes, and nothing of segments it
// did not open, on a read-only mount and on a writable one.
func TestSmallReadsOfferNeighbours(t *testing.T) {
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

	writable, _ := mountWritable(t, v)
	for name, mnt := range map[string]string{"read-only": mount(t, VaultSource{v}), "writable": writable} {
		t.Run(name, func(t *testing.T) {
			f := smallRead(t, mnt)
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
	}
}

// TestRandomReadsOfferWholeChunks: a small read leaves its segment in the kernel's page
// cache; a second one in the same chunk, of a page not handed over, leaves the whole chunk,
// with the file's bytes.
func TestRandomReadsOfferWholeChunks(t *testing.T) {
	v, _ := testVault(t)
	want := putFile(t, v, 6<<20, 12)
	a, err := v.Resolve("a")
	if err != nil {
		t.Fatal(err)
	}
	n, err := v.Index().GetNode(a.ID, "/f")
	if err != nil || len(n.Chunks) < 3 {
		t.Fatalf("%d chunks, %v; want a few", len(n.Chunks), err)
	}
	f, err := os.Open(filepath.Join(mount(t, VaultSource{v}), "a", "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// As fio's random reads do: the kernel reads ahead of none, so each read reaches the
	// mount unless its page was handed over.
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_RANDOM)
	page := os.Getpagesize()
	buf := make([]byte, page)
	start, end := int64(n.Chunks[0].Len), int64(n.Chunks[0].Len)+int64(n.Chunks[1].Len)
	first, last := (int(start)+page-1)/page, int(end)/page // pages wholly in the second chunk
	handed := func() int { return cachedPages(pageCache(t, f, len(want))[first:last]) }
	wait := func(what string, pages int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); handed() < pages; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d of the %d pages of the chunk are cached, want %d", what, handed(), last-first, pages)
			}
		}
	}
	// Reads of chunk pages not cached yet; one whose offer did not run (when four were
	// running already) is read again.
	for try := 0; handed() < last-first; try++ {
		if try == 4 {
			t.Fatalf("%d of the %d pages of the chunk are cached", handed(), last-first)
		}
		p := first + slices.Index(pageCache(t, f, len(want))[first:last], false)
		if _, err := f.ReadAt(buf, int64(p)*int64(page)); err != nil {
			t.Fatal(err)
		}
		if try == 0 {
			// The first hands over its segment, no more.
			wait("after one read", 2)
			time.Sleep(50 * time.Millisecond)
			if got := handed(); got > chunkstore.SegmentSize/page {
				t.Fatalf("one read in a chunk left %d of its pages cached; want its segment's", got)
			}
			continue
		}
		wait("after two reads", last-first)
	}
	got := make([]byte, end-start)
	if _, err := f.ReadAt(got, start); err != nil || !bytes.Equal(got, want[start:end]) {
		t.Fatalf("the offered chunk reads back wrong (%v)", err)
	}
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
	waitWorkers(t, errs, 8, time.Minute)
}

// waitWorkers waits for n workers to report on errs, failing at the first error, or
// with a dump of every goroutine when they are not done within limit.
func waitWorkers(t *testing.T, errs <-chan error, n int, limit time.Duration) {
	t.Helper()
	timeout := time.After(limit)
	for range n {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatal(err)
			}
		case <-timeout:
			pprof.Lookup("goroutine").WriteTo(os.Stderr, 2)
			t.Fatalf("workers still busy %v after they were to stop", limit)
		}
	}
}

// TestOffersNeverBringOldBytesBack: on a writable mount, offers of a file's old bytes,
// however late they come, never show once the file has been written. Offers are made
// to wait before and after they check the file's fence, so that some are stopped by it
// and others hold up the open for writing, in every round.
func TestOffersNeverBringOldBytesBack(t *testing.T) {
	const size = chunkstore.MinChunkSize
	p, _, _ := mountCommittedFile(t, size, 21)
	rng := rand.New(rand.NewSource(21))
	delay := func() { time.Sleep(time.Duration(rand.Intn(20)) * time.Millisecond) } // the global source is safe for concurrent use
	offerDelay.Store(&delay)
	defer offerDelay.Store(nil)
	page := os.Getpagesize()
	for round := range 30 {
		// The file is committed: small reads come from the vault and offer their segments.
		r, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		unix.Fadvise(int(r.Fd()), 0, 0, unix.FADV_DONTNEED)
		buf := make([]byte, page)
		for range 4 {
			if _, err := r.ReadAt(buf, int64(rng.Intn(size/page)*page)); err != nil {
				t.Fatal(err)
			}
		}
		r.Close()
		// Write the next version at once, through the page cache, and commit it.
		next := make([]byte, size)
		rand.New(rand.NewSource(int64(round))).Read(next)
		w, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.WriteAt(next, 0); err != nil {
			t.Fatal(err)
		}
		if err := w.Sync(); err != nil {
			t.Fatal(err)
		}
		w.Close()
		time.Sleep(50 * time.Millisecond) // every offer of the old bytes is over by now
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, next) {
			for i := range got {
				if i < len(next) && got[i] != next[i] {
					t.Fatalf("round %d: byte %d (page %d) is not what was written (%v)", round, i, i/page, err)
				}
			}
			t.Fatalf("round %d: read back %d bytes: %v", round, len(got), err)
		}
	}
}

// TestOffersUnderWrites: readers make small reads of a file, and so offers, while others
// write it whole, fsync it, truncate it and write it again, for a few seconds (half a
// minute with DISCOFS_LONG=1). Nothing hangs or fails, and once they stop, the file reads
// back as last written.
func TestOffersUnderWrites(t *testing.T) {
	const size = chunkstore.MinChunkSize
	p, _, _ := mountCommittedFile(t, size, 5)
	fill := func(version byte) error {
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := f.WriteAt(bytes.Repeat([]byte{version}, size), 0); err != nil {
			return err
		}
		return f.Sync()
	}
	if err := fill(1); err != nil {
		t.Fatal(err)
	}
	run := 3 * time.Second
	if os.Getenv("DISCOFS_LONG") == "1" {
		run = 30 * time.Second
	}
	deadline := time.Now().Add(run)
	page := os.Getpagesize()
	errs := make(chan error, 6)
	for r := range 4 {
		go func() {
			rng := rand.New(rand.NewSource(int64(r)))
			buf := make([]byte, page)
			for time.Now().Before(deadline) {
				f, err := os.Open(p)
				if err != nil {
					errs <- err
					return
				}
				for range 16 {
					// (A page read while it is written may hold bytes of both versions.)
					if _, err := f.ReadAt(buf, int64(rng.Intn(size/page)*page)); err != nil && err != io.EOF {
						f.Close()
						errs <- err
						return
					}
				}
				f.Close()
			}
			errs <- nil
		}()
	}
	go func() { // writes whole versions
		for v := byte(2); time.Now().Before(deadline); v++ {
			if err := fill(v); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	go func() { // truncates by path, with no handle, and fills again
		for time.Now().Before(deadline) {
			if err := os.Truncate(p, 0); err != nil {
				errs <- err
				return
			}
			if err := fill(0); err != nil {
				errs <- err
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		errs <- nil
	}()
	waitWorkers(t, errs, 6, run+time.Minute)
	if err := fill(200); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // any offer still under way lands
	if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, bytes.Repeat([]byte{200}, size)) {
		t.Fatalf("the file does not read back as last written (%v)", err)
	}
}
