package fs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/discofs/discofs/vault"
)

// passthroughHere skips a test of passed-through writes where the kernel cannot pass
// writes through: that needs root and Linux 6.9 or later.
func passthroughHere(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("only root may pass writes through")
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	rel := unix.ByteSliceToString(u.Release[:])
	var major, minor int
	fmt.Sscanf(rel, "%d.%d", &major, &minor)
	if major < 6 || major == 6 && minor < 9 {
		t.Skipf("Linux %s cannot pass FUSE writes through", rel)
	}
}

func randomBytes(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// readAll reads a file through a new handle.
func readAll(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// committedBytes reads what the last commit holds of archive a's file p, from the store.
func committedBytes(t *testing.T, v *vault.Vault, a, p string) []byte {
	t.Helper()
	arch, err := v.Resolve(a)
	if err != nil {
		t.Fatal(err)
	}
	n, err := v.Index().GetNode(arch.ID, p)
	if err != nil {
		t.Fatal(err)
	}
	n.Size = 0 // an open file's record has its spool's size
	for _, c := range n.Chunks {
		n.Size += int64(c.Len)
	}
	b := make([]byte, n.Size)
	if _, err := v.ReadAt(context.Background(), n, b, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	return b
}

// TestWritesPassThrough: writes of a file nothing else has open go from the kernel
// straight to its spool file, none through discofs; what they wrote is committed and
// reads back, through a new open, after it.
func TestWritesPassThrough(t *testing.T) {
	passthroughHere(t)
	v, _ := testVault(t)
	p, wb := mountNewArchive(t, v)
	want := randomBytes(3<<20, 1)
	before := writeRequests.Load()
	if err := os.WriteFile(p, want, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	patch := randomBytes(100_000, 2)
	if _, err := f.WriteAt(patch, 1<<20); err != nil {
		t.Fatal(err)
	}
	copy(want[1<<20:], patch)
	got := make([]byte, len(want))
	if _, err := f.ReadAt(got, 0); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("a read-write handle reads back other bytes than it wrote (%v)", err)
	}
	f.Close()
	if n := writeRequests.Load() - before; n != 0 {
		t.Fatalf("%d writes came to discofs; want all passed through", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := wb.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if st := xattr(t, p, XattrState); st != "committed" {
		t.Fatalf("state after sync = %q", st)
	}
	if !bytes.Equal(committedBytes(t, v, "a", "/f"), want) {
		t.Fatal("the commit holds other bytes than were written")
	}
	if !bytes.Equal(readAll(t, p), want) {
		t.Fatal("reads back other bytes than were written")
	}
}

// TestHandlesBesideAPassedThroughWriter: the kernel refuses to mix passed-through and
// page-cache handles on a file; opens beside a passed-through writer still succeed and
// see every write at once, and a writer opened beside a reader that uses the page cache
// writes through discofs and is seen by it.
func TestHandlesBesideAPassedThroughWriter(t *testing.T) {
	passthroughHere(t)
	v, _ := testVault(t)
	p, _ := mountNewArchive(t, v)
	want := randomBytes(1<<20, 3)
	w, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	before := writeRequests.Load()
	w.Write(want)
	r, err := os.Open(p)
	if err != nil {
		t.Fatalf("open for reading beside a passed-through writer: %v", err)
	}
	defer r.Close()
	readerSees(t, r, want, "first write")
	patch := randomBytes(5000, 4)
	w.WriteAt(patch, 7000)
	copy(want[7000:], patch)
	readerSees(t, r, want, "a write while the reader is open")
	w2, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("a second writer: %v", err)
	}
	w2.WriteAt(patch[:100], 0)
	copy(want, patch[:100])
	readerSees(t, r, want, "the second writer's write")
	w2.Close()
	w.Close()
	if n := writeRequests.Load() - before; n != 0 {
		t.Fatalf("%d writes came to discofs; want all passed through", n)
	}
	readerSees(t, r, want, "after the writers closed")
}

// readerSees fails the test unless r reads want from its start.
func readerSees(t *testing.T, r *os.File, want []byte, what string) {
	t.Helper()
	got := make([]byte, len(want))
	if _, err := r.ReadAt(got, 0); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s: the reader does not see what was written (%v)", what, err)
	}
}

// TestReaderBesideAPassedThroughWriterLetsItCommit: a reader opened beside a passed-
// through writer (tail -f) does not keep the file from being committed once the writer
// closes, and a writer opened after the commit, while the reader is still open, writes to
// the file the reader reads.
func TestReaderBesideAPassedThroughWriterLetsItCommit(t *testing.T) {
	passthroughHere(t)
	v, _ := testVault(t)
	p, wb := mountNewArchive(t, v)
	want := randomBytes(300_000, 7)
	w, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(want)
	r, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w.Close()
	sync := func(what string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := wb.Sync(ctx); err != nil {
			t.Fatalf("sync %s: %v", what, err)
		}
		if st := xattr(t, p, XattrState); st != "committed" {
			t.Fatalf("state %s = %q", what, st)
		}
	}
	sync("with the reader open")
	readerSees(t, r, want, "after the commit")
	w2, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("a writer after the commit, beside the reader: %v", err)
	}
	before := writeRequests.Load()
	patch := randomBytes(5000, 8)
	w2.WriteAt(patch, 1000)
	copy(want[1000:], patch)
	readerSees(t, r, want, "the new writer's write")
	w2.Close()
	r.Close()
	if n := writeRequests.Load() - before; n != 0 {
		t.Fatalf("%d writes came to discofs; want all passed through", n)
	}
	sync("after all closed")
	if got := readAll(t, p); !bytes.Equal(got, want) {
		t.Fatal("the file reads back other bytes after the second commit")
	}
}

// TestWriterBesideAPageCacheReader: a writer opened while a reader that uses the page
// cache is open writes through discofs, and the reader sees its writes.
func TestWriterBesideAPageCacheReader(t *testing.T) {
	passthroughHere(t)
	p, want, _ := mountCommittedFile(t, 1<<20, 6)
	r := openRead(t, p)
	defer r.Close()
	w, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("a writer beside a reader that uses the page cache: %v", err)
	}
	defer w.Close()
	before := writeRequests.Load()
	w.WriteAt([]byte("through discofs"), 100)
	copy(want[100:], "through discofs")
	if writeRequests.Load() == before {
		t.Fatal("a writer beside a reader that uses the page cache was passed through")
	}
	readerSees(t, r, want, "a write through discofs")
}

// openRead opens p and reads it whole, so the kernel caches its pages.
func openRead(t *testing.T, p string) *os.File {
	t.Helper()
	r, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, r)
	return r
}

// TestPassedThroughWritesLeaveNoStalePages: a passed-through write does not touch the
// kernel's page cache of the file, so pages cached from a read before it must not be
// served after it.
func TestPassedThroughWritesLeaveNoStalePages(t *testing.T) {
	passthroughHere(t)
	p, want, _ := mountCommittedFile(t, 1<<20, 5)
	r := openRead(t, p)
	if cachedPages(pageCache(t, r, len(want))) == 0 {
		t.Fatal("mincore sees no page of a file just read")
	}
	r.Close()
	for round := range 3 {
		patch := randomBytes(64<<10, int64(10+round))
		w, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		w.WriteAt(patch, int64(round)*100_000)
		w.Close()
		copy(want[round*100_000:], patch)
		if !bytes.Equal(readAll(t, p), want) {
			t.Fatalf("round %d: a read after a passed-through write gets old bytes", round)
		}
	}
}

// TestFsyncOfAPassedThroughWriter: every fsync commits what was written before it, though
// discofs saw none of the writes.
func TestFsyncOfAPassedThroughWriter(t *testing.T) {
	passthroughHere(t)
	v, _ := testVault(t)
	p, _ := mountNewArchive(t, v)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for round := range 4 {
		want := randomBytes(200_000, int64(20+round))
		if _, err := f.WriteAt(want, 0); err != nil {
			t.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		if got := committedBytes(t, v, "a", "/f"); !bytes.Equal(got, want) {
			t.Fatalf("round %d: the commit after fsync holds other bytes than were written before it (%d bytes, want %d)", round, len(got), len(want))
		}
	}
}

// TestOpensOfEveryKindAtOnce: readers and writers open and close one file from several
// goroutines at once, so handles of both kinds come and go while others are released.
// No open fails (the kernel gives EIO to an open of a kind it cannot mix with the open
// ones, or passed through to another spool file than theirs), and the file reads back as
// last written.
func TestOpensOfEveryKindAtOnce(t *testing.T) {
	passthroughHere(t)
	v, _ := testVault(t)
	p, wb := mountNewArchive(t, v)
	if err := os.WriteFile(p, make([]byte, 8192), 0o644); err != nil {
		t.Fatal(err)
	}
	// Releases return late, so that go-fuse's part of them often comes after the next
	// open.
	wait := func() {
		if rand.Intn(4) == 0 {
			time.Sleep(time.Duration(rand.Intn(1000)) * time.Microsecond)
		}
	}
	releaseDelay.Store(&wait)
	defer releaseDelay.Store(nil)
	// (Each open holds a spool file open until its late Release: a few hundred at most.)
	errs := make(chan error, 6)
	for g := range 6 {
		go func() {
			buf := make([]byte, 4096)
			for i := range 400 {
				flag := os.O_RDONLY
				if (g+i)%3 == 0 {
					flag = os.O_RDWR
				}
				f, err := os.OpenFile(p, flag, 0)
				if err != nil {
					errs <- err
					return
				}
				if flag == os.O_RDWR {
					_, err = f.WriteAt(buf, int64(g%2)*4096)
				} else {
					_, err = f.ReadAt(buf, 0)
				}
				f.Close()
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	waitWorkers(t, errs, 6, time.Minute)
	want := randomBytes(8192, 30)
	if err := os.WriteFile(p, want, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := wb.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readAll(t, p), want) {
		t.Fatal("the file does not read back as last written")
	}
}
