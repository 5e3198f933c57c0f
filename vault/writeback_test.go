package vault

import (
	"bytes"
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
)

func startWB(t *testing.T, tv *testVault) *Writeback {
	t.Helper()
	return startWBWith(t, tv, WritebackOptions{Idle: 20 * time.Millisecond, Delay: time.Millisecond, MinBackoff: 10 * time.Millisecond})
}

// startWBWith starts a writeback queue on tv with opts; it closes when the test ends.
func startWBWith(t *testing.T, tv *testVault, opts WritebackOptions) *Writeback {
	t.Helper()
	w, err := tv.StartWriteback(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// startArchiveWB starts a writeback queue on a new test vault with an empty archive "x".
func startArchiveWB(t *testing.T) (*testVault, *Writeback, index.Archive) {
	t.Helper()
	tv := newTestVault(t)
	w := startWB(t, tv)
	return tv, w, makeArchive(t, w)
}

// makeArchive makes an empty archive "x" through w.
func makeArchive(t *testing.T, w *Writeback) index.Archive {
	t.Helper()
	a, err := w.MakeArchive(context.Background(), "x", 0o755)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func writeFile(t *testing.T, w *Writeback, archive, p string, data []byte) {
	t.Helper()
	_, f, err := w.Create(archive, p, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Release(p); err != nil {
		t.Fatal(err)
	}
}

func syncWB(t *testing.T, w *Writeback) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}

// committedContent checks a file through the newest manifest in the store, not the index.
func committedContent(t *testing.T, tv *testVault, archive, p string, want []byte) {
	t.Helper()
	a, err := tv.idx.GetArchive(archive)
	if err != nil {
		t.Fatal(err)
	}
	m, err := tv.loadManifest(context.Background(), a.ID, a.Generation, a.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range m.Nodes {
		if n.Path != p {
			continue
		}
		got := make([]byte, n.Size)
		if _, err := tv.ReadAt(context.Background(), n, got, 0); err != nil && n.Size > 0 {
			t.Fatalf("%s: %v", p, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: committed content differs (%d vs %d bytes)", p, len(got), len(want))
		}
		return
	}
	if want != nil {
		t.Fatalf("%s is not in the manifest of generation %d", p, a.Generation)
	}
}

func TestWritebackCommitsFilesAndTreeChanges(t *testing.T) {
	tv := newTestVault(t)
	w := startWB(t, tv)
	ctx := context.Background()
	a, err := w.MakeArchive(ctx, "docs", 0o755)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	big := make([]byte, 3<<20+77)
	rng.Read(big)
	if _, err := w.Mkdir(a.ID, "/d", 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, w, a.ID, "/d/big", big)
	writeFile(t, w, a.ID, "/small", []byte("hello"))
	writeFile(t, w, a.ID, "/gone", []byte("bye"))
	if _, err := w.Symlink(a.ID, "/link", "d/big"); err != nil {
		t.Fatal(err)
	}
	if err := w.Rename(a.ID, "/d", "/e", false); err != nil {
		t.Fatal(err)
	}
	if err := w.Remove(a.ID, "/gone", false); err != nil {
		t.Fatal(err)
	}
	if err := w.Remove(a.ID, "/e", true); err != ErrNotEmpty {
		t.Fatalf("rmdir of a full directory = %v", err)
	}
	syncWB(t, w)
	committedContent(t, tv, a.ID, "/e/big", big)
	committedContent(t, tv, a.ID, "/small", []byte("hello"))
	committedContent(t, tv, a.ID, "/gone", nil)
	n, err := tv.idx.GetNode(a.ID, "/e/big")
	if err != nil || n.State != index.StateCommitted {
		t.Fatalf("node %+v, %v", n.State, err)
	}
	if names, _ := SpoolFiles(tv.paths.SpoolDir()); len(names) != 0 {
		t.Fatalf("spool holds %v after sync", names)
	}

	// Copy-up: a write into the middle of a committed file.
	_, f, err := w.OpenWrite(a.ID, "/e/big", false)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := w.State(n.Ino); st != index.StateLocal {
		t.Fatalf("state while open = %v", st)
	}
	f.WriteAt([]byte("PATCH"), 1<<20)
	copy(big[1<<20:], "PATCH")
	f.Release("/e/big")
	syncWB(t, w)
	committedContent(t, tv, a.ID, "/e/big", big)

	// O_TRUNC skips the download: a failing store does not matter.
	small, _ := tv.idx.GetNode(a.ID, "/small")
	loc, err := tv.idx.GetChunk(small.Chunks[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	tv.fault.Add(chunkstore.Fault{Op: chunkstore.OpLoad, Ref: loc.Pack})
	_, f, err = w.OpenWrite(a.ID, "/small", true)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("new"), 0)
	f.Release("/small")
	if len(tv.fault.Unexercised()) != 1 {
		t.Fatal("opening with O_TRUNC downloaded the file")
	}
	syncWB(t, w)
	committedContent(t, tv, a.ID, "/small", []byte("new"))
}

func TestWritebackResumesAfterRestart(t *testing.T) {
	tv := newTestVault(t)
	w, err := tv.StartWriteback(WritebackOptions{Idle: time.Hour, Delay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	a, err := w.MakeArchive(context.Background(), "x", 0o755)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, w, a.ID, "/kept", []byte("kept content"))
	writeFile(t, w, a.ID, "/lost", []byte("its spool is deleted"))
	lost, _ := tv.idx.GetNode(a.ID, "/lost")
	w.Close()
	os.Remove(w.spoolPath(lost.Ino))
	tv.reopen(t)
	w = startWB(t, tv)
	if _, err := tv.idx.GetNode(a.ID, "/lost"); err == nil {
		t.Fatal("a file whose spool is gone is still shown")
	}
	syncWB(t, w)
	committedContent(t, tv, a.ID, "/kept", []byte("kept content"))
	committedContent(t, tv, a.ID, "/lost", nil)
}

func TestWritebackRetriesFailedUploads(t *testing.T) {
	tv := newTestVault(t)
	// Nothing is uploaded before Sync asks (a first attempt that failed and was retried
	// before it would be none of its business).
	w := startWBWith(t, tv, WritebackOptions{Idle: 20 * time.Millisecond, Delay: time.Hour, MinBackoff: 10 * time.Millisecond})
	a := makeArchive(t, w)
	tv.fault.Add(chunkstore.Fault{Op: chunkstore.OpPut, Type: chunkstore.TypePack})
	writeFile(t, w, a.ID, "/f", []byte("content"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.Sync(ctx); err == nil {
		t.Fatal("sync hid a failed upload")
	}
	if s := w.Status(); s.Files != 1 || len(s.Errors) == 0 {
		t.Fatalf("status %+v", s)
	}
	syncWB(t, w) // the backoff is a few seconds at most here
	committedContent(t, tv, a.ID, "/f", []byte("content"))
}

// TestSpoolFilesAreReused: a committed file's spool file is emptied and kept, across a
// restart, and the next new file takes it instead of the file system making another.
func TestSpoolFilesAreReused(t *testing.T) {
	tv, w, a := startArchiveWB(t)
	writeFile(t, w, a.ID, "/first", []byte("first content"))
	syncWB(t, w)
	ents, _ := os.ReadDir(tv.paths.SpoolDir())
	if len(ents) != 1 {
		t.Fatalf("spool holds %d files after one file was committed, want its emptied one", len(ents))
	}
	kept, err := os.Stat(filepath.Join(tv.paths.SpoolDir(), ents[0].Name()))
	if err != nil || kept.Size() != 0 {
		t.Fatalf("kept spool file: %v, %v", kept, err)
	}
	w.Close()
	tv.reopen(t)
	w = startWB(t, tv)
	n, f, err := w.Create(a.ID, "/second", 0o600)
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.Stat()
	if err != nil || !os.SameFile(st, kept) || st.Size() != 0 {
		t.Fatalf("the new file's spool is not the kept one, emptied (%v)", err)
	}
	f.WriteAt([]byte("second"), 0)
	f.Release("/second")
	syncWB(t, w)
	committedContent(t, tv, a.ID, "/first", []byte("first content"))
	committedContent(t, tv, a.ID, "/second", []byte("second"))
	if got, _ := tv.idx.GetNode(a.ID, "/second"); got.Ino != n.Ino || got.Size != 6 {
		t.Fatalf("node %+v", got)
	}
}

// TestSpoolReaderKeepsItsBytes: a spool file a reader has open when its file is committed
// is unlinked, not emptied for the next new file, so the reader reads what it opened.
func TestSpoolReaderKeepsItsBytes(t *testing.T) {
	tv, w, a := startArchiveWB(t)
	want := []byte("the reader's bytes")
	writeFile(t, w, a.ID, "/read", want)
	n, _ := tv.idx.GetNode(a.ID, "/read")
	r, err := w.OpenSpool(n.Ino)
	if err != nil {
		t.Fatal(err)
	}
	syncWB(t, w) // commits /read while r has its spool open
	writeFile(t, w, a.ID, "/next", bytes.Repeat([]byte("x"), 100))
	got := make([]byte, 100)
	k, _ := r.ReadAt(got, 0)
	if !bytes.Equal(got[:k], want) {
		t.Fatalf("a reader of a committed file's spool reads %q, want %q", got[:k], want)
	}
	r.Close()
	// Without readers the next commit keeps its spool file for reuse.
	syncWB(t, w)
	if names, _ := SpoolFiles(tv.paths.SpoolDir()); len(names) != 0 {
		t.Fatalf("spool holds %v after sync", names)
	}
	if ents, _ := os.ReadDir(tv.paths.SpoolDir()); len(ents) != 1 {
		t.Fatalf("%d spool files kept, want 1", len(ents))
	}
}

// An fsync waits for its file to be uploaded even when another handle opens the file
// while the upload waits its turn: the open does not take the file off the queue.
func TestFsyncSurvivesAnotherOpen(t *testing.T) {
	tv, w, a := startArchiveWB(t)
	writeFile(t, w, a.ID, "/other", bytes.Repeat([]byte("o"), 100_000))
	_, f, err := w.Create(a.ID, "/f", 0o640)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("first"), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Release("/f"); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Keep the worker busy with another file's upload while the fsync waits its turn.
	tv.fault.Add(chunkstore.Fault{Op: chunkstore.OpPut, Action: chunkstore.FaultDelay, Delay: 500 * time.Millisecond})
	_, busy, err := w.OpenWrite(a.ID, "/other", false)
	if err != nil {
		t.Fatal(err)
	}
	busy.WriteAt([]byte("changed"), 0)
	busy.Release("/other")
	time.Sleep(50 * time.Millisecond) // its upload has started
	_, fa, err := w.OpenWrite(a.ID, "/f", false)
	if err != nil {
		t.Fatal(err)
	}
	fa.WriteAt([]byte("second"), 0)
	synced := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		synced <- fa.Sync(ctx)
	}()
	time.Sleep(50 * time.Millisecond) // the fsync has queued the file
	_, fb, err := w.OpenWrite(a.ID, "/f", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-synced; err != nil {
		t.Fatalf("fsync with another handle opened meanwhile: %v", err)
	}
	fb.Release("/f")
	fa.Release("/f")
}

// TestSyncDoesNotWaitOutTheIdleTime: the upload Sync starts ends by setting the archive's
// idle time again; Sync commits at once all the same, here with an idle time of an hour.
func TestSyncDoesNotWaitOutTheIdleTime(t *testing.T) {
	tv := newTestVault(t)
	w := startWBWith(t, tv, WritebackOptions{Idle: time.Hour, Delay: time.Hour})
	a := makeArchive(t, w)
	want := []byte("committed by sync")
	writeFile(t, w, a.ID, "/f", want)
	syncWB(t, w)
	committedContent(t, tv, a.ID, "/f", want)
}

// TestJoinedReaderKeepsTheSpoolFileNotTheQueue: a reader joined beside a writer does not
// hold the file out of the queue; the commit leaves the spool file where it is while the
// reader is open, and the next writer writes to that very file, fetching nothing.
func TestJoinedReaderKeepsTheSpoolFileNotTheQueue(t *testing.T) {
	tv, w, a := startArchiveWB(t)
	_, f, err := w.Create(a.ID, "/f", 0o640)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("first"), 0)
	r, err := w.Join(ino(t, tv, a.ID, "/f"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Release("/f"); err != nil {
		t.Fatal(err)
	}
	syncWB(t, w) // would wait for the reader, were it a writer
	committedContent(t, tv, a.ID, "/f", []byte("first"))
	spool := w.spoolPath(ino(t, tv, a.ID, "/f"))
	before, err := os.Stat(spool)
	if err != nil {
		t.Fatalf("the spool file of a joined reader is gone after the commit: %v", err)
	}
	// The next writer takes the same file, without a download (a fault that changes
	// nothing shows whether anything was loaded).
	tv.fault.Add(chunkstore.Fault{Op: chunkstore.OpLoad, Action: chunkstore.FaultDelay})
	_, g, err := w.OpenWrite(a.ID, "/f", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(tv.fault.Unexercised()) == 0 {
		t.Fatal("the next writer downloaded the file")
	}
	g.WriteAt([]byte("F"), 0)
	if st, err := g.Stat(); err != nil || !os.SameFile(st, before) {
		t.Fatalf("the next writer writes to another file (%v)", err)
	}
	buf := make([]byte, 5)
	if _, err := r.ReadAt(buf, 0); err != nil || string(buf) != "First" {
		t.Fatalf("the joined reader reads %q (%v), want the writer's %q", buf, err, "First")
	}
	if err := r.Release("/f"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(spool); err != nil {
		t.Fatalf("the last joined reader took the spool file of a file open for writing: %v", err)
	}
	g.Release("/f")
	syncWB(t, w)
	committedContent(t, tv, a.ID, "/f", []byte("First"))
	if names, _ := SpoolFiles(w.spool); len(names) != 0 {
		t.Fatalf("spool files left after the last commit: %v", names)
	}
}

func ino(t *testing.T, tv *testVault, archive, p string) uint64 {
	t.Helper()
	n, err := tv.idx.GetNode(archive, p)
	if err != nil {
		t.Fatal(err)
	}
	return n.Ino
}
