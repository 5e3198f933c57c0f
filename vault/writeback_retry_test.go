package vault

import (
	"testing"
	"time"

	"github.com/discofs/discofs/chunkstore"
)

// TestWritebackRetryFailedNow fails one upload with a backoff far longer than the test, so
// only RetryFailed can make it go through.
func TestWritebackRetryFailedNow(t *testing.T) {
	tv := newTestVault(t)
	w := startWBWith(t, tv, WritebackOptions{Idle: 10 * time.Millisecond, Delay: time.Millisecond, MinBackoff: time.Hour})
	a := makeArchive(t, w)
	tv.fault.Add(chunkstore.Fault{Op: chunkstore.OpPut, Type: chunkstore.TypePack})
	writeFile(t, w, a.ID, "/f", []byte("content"))
	waitStatus(t, w, "the upload to fail", func(s WritebackStatus) bool { return s.Failed == 1 })

	if n := w.RetryFailed("010101-99"); n != 0 {
		t.Fatalf("RetryFailed of another archive re-queued %d files", n)
	}
	if n := w.RetryFailed(a.ID); n != 1 {
		t.Fatalf("RetryFailed re-queued %d files, want 1", n)
	}
	waitStatus(t, w, "the retried file to be committed", func(s WritebackStatus) bool { return s.Files == 0 && len(s.Dirty) == 0 })
	committedContent(t, tv, a.ID, "/f", []byte("content"))
	if n := w.RetryFailed(""); n != 0 {
		t.Fatalf("RetryFailed of an empty queue re-queued %d files", n)
	}
}

func waitStatus(t *testing.T, w *Writeback, what string, ok func(WritebackStatus) bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if ok(w.Status()) {
			return
		}
	}
	t.Fatalf("timed out waiting for %s: %+v", what, w.Status())
}
