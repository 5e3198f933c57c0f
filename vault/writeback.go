package vault

// The writeback queue: files written through the mount wait in the spool until a worker has
// chunked, sealed, packed and uploaded them and a commit of their archive holds them. The
// queue is persisted in the index (one item per file, one mark per changed archive), so a
// restart resumes it; in memory it is a heap by due time with capped backoff.
//
// A file node's Chunks are always its last committed content (none for a new file) until a
// commit holds newer content, so the index never points at chunks a manifest does not
// have, and gc, which walks the nodes, keeps what the store's manifests need.
//
// Lock order: Vault.mu (read) before Writeback.mu. Writeback.mu is never held across an
// upload, a download or a store call. Methods whose names start with _ need it held.

import (
	"container/heap"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/discofs/discofs/index"
)

// Clock is the writeback queue's time, injectable so tests need not sleep.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// WritebackOptions shape the queue.
type WritebackOptions struct {
	// Idle is how long an archive stays unchanged before its changes are committed
	// (default 2s). Sync and fsync do not wait for it.
	Idle time.Duration
	// Delay is how long a closed file waits before upload, so the small files of one copy
	// share packs (default 200ms).
	Delay time.Duration
	// MinBackoff is the first wait before a failed upload or commit is tried again
	// (default 1s); each failure doubles it up to MaxBackoff (default 5m).
	MinBackoff, MaxBackoff time.Duration
	// BatchFiles caps the files of one upload run (default 512).
	BatchFiles int
	// Clock is the time source; nil means the real one.
	Clock Clock
}

func (o *WritebackOptions) fill() {
	if o.Idle <= 0 {
		o.Idle = 2 * time.Second
	}
	if o.Delay <= 0 {
		o.Delay = 200 * time.Millisecond
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Minute
	}
	if o.BatchFiles <= 0 {
		o.BatchFiles = 512
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
}

// wbItem is one queued file in memory.
type wbItem struct {
	index.QueueItem
	state index.FileState
	due   time.Time
	hidx  int // position in the heap; -1 when not in it
	open  int // write handles
	// gen changes with every open for writing, write and truncate, so an upload that read
	// the spool while it changed is not taken for the file's content.
	gen      atomic.Uint64
	force    bool          // fsync asked for it: upload even while open
	unlinked bool          // removed while open: the spool goes at the last close
	copying  chan struct{} // closed when a copy-up finishes
	// What the last upload stored, for the next commit.
	uploaded           bool
	upGen              uint64
	upChunks           []index.ChunkRef
	upSize             int64
	size               int64  // spool bytes at the last close
	committedGen       uint64 // upGen of the newest commit that holds this file
	committedAnything  bool
	failedSinceRelease bool
}

// archState is an archive whose tree changed since its last commit.
type archState struct {
	due      time.Time
	changes  uint64
	attempts int
	lastErr  string
	stored   int64 // bytes uploaded for it since the last commit
}

// Writeback is a vault's write side: the spool, the tree changes of a writable mount and
// the worker that uploads and commits them. Its methods are safe for concurrent use.
type Writeback struct {
	v     *Vault
	opts  WritebackOptions
	clock Clock
	spool string

	mu      sync.Mutex
	items   map[uint64]*wbItem
	readers map[uint64]int // open SpoolReaders and running uploads, by inode
	joined  map[uint64]int // readers passed through to a file's spool file, by inode (see Join)
	free    []string       // emptied spool files kept for new files (see _dropSpool)
	inos    inodeAllocator // inode numbers for new files, directories and symlinks
	heap    itemHeap
	dirty   map[string]*archState
	changed chan struct{} // closed and replaced whenever the queue changes
	wake    chan struct{}
	stats   WritebackStatus
	// recovered says what was dropped for read-only archives (see Recovered).
	recovered []string
	// left counts files leaving the queue (see Left); it changes only with mu held.
	left atomic.Uint64

	cancel context.CancelFunc
	done   chan struct{}
}

// WritebackStatus is what the queue holds and has done.
type WritebackStatus struct {
	Files         int       `json:"files"`          // files waiting (open, queued, uploading, failed)
	Bytes         int64     `json:"bytes"`          // their spool bytes
	Uploading     int       `json:"uploading"`      // files in the upload running now
	Failed        int       `json:"failed"`         // files whose last upload failed
	Dirty         []string  `json:"dirty_archives"` // archives with uncommitted changes
	UploadedFiles int64     `json:"uploaded_files"` // since the queue started
	UploadedBytes int64     `json:"uploaded_bytes"` // plaintext bytes, since the queue started
	Commits       int64     `json:"commits"`
	Started       time.Time `json:"started"`
	Errors        []string  `json:"errors,omitempty"` // the latest failures
}

// StartWriteback resumes the persisted queue and starts its worker. Close stops it; what is
// not committed by then stays queued for the next start.
func (v *Vault) StartWriteback(opts WritebackOptions) (*Writeback, error) {
	opts.fill()
	w := &Writeback{v: v, opts: opts, clock: opts.Clock, spool: v.paths.SpoolDir(),
		items: map[uint64]*wbItem{}, readers: map[uint64]int{}, joined: map[uint64]int{}, dirty: map[string]*archState{},
		inos: inodeAllocator{db: v.idx}, changed: make(chan struct{}), wake: make(chan struct{}, 1), done: make(chan struct{})}
	w.stats.Started = w.clock.Now()
	if err := os.MkdirAll(w.spool, 0o700); err != nil {
		return nil, err
	}
	if err := w.recover(); err != nil {
		return nil, fmt.Errorf("resume the writeback queue: %w", err)
	}
	var ctx context.Context
	ctx, w.cancel = context.WithCancel(v.life)
	go w.loop(ctx)
	return w, nil
}

// Close stops the worker and waits for it. An upload or commit in progress is abandoned;
// its files stay queued.
func (w *Writeback) Close() error {
	w.cancel()
	<-w.done
	return nil
}

// SpoolDir is where queued files wait.
func (w *Writeback) SpoolDir() string { return w.spool }

func (w *Writeback) spoolPath(ino uint64) string {
	return filepath.Join(w.spool, strconv.FormatUint(ino, 10))
}

// _changed wakes Sync and fsync waiters.
func (w *Writeback) _changed() {
	close(w.changed)
	w.changed = make(chan struct{})
}

func (w *Writeback) kick() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// _touch records a change to an archive's tree: it is committed once the archive has been
// idle for a while.
func (w *Writeback) _touch(archive string) error {
	st := w.dirty[archive]
	if st == nil {
		if err := w.v.idx.MarkDirty(archive); err != nil {
			return err
		}
		st = &archState{}
		w.dirty[archive] = st
	}
	st.changes++
	if st.attempts == 0 {
		st.due = w.clock.Now().Add(w.opts.Idle)
	}
	w.kick()
	return nil
}

// _schedule puts an item in the heap, due at t.
func (w *Writeback) _schedule(it *wbItem, t time.Time) {
	it.due = t
	if it.hidx >= 0 {
		heap.Fix(&w.heap, it.hidx)
	} else {
		heap.Push(&w.heap, it)
	}
	w.kick()
}

func (w *Writeback) _unschedule(it *wbItem) {
	if it.hidx >= 0 {
		heap.Remove(&w.heap, it.hidx)
	}
}

// backoff is the wait before attempt n+1: MinBackoff doubled n times, up to MaxBackoff.
func (w *Writeback) backoff(n int) time.Duration {
	d := w.opts.MinBackoff << min(n, 20)
	return min(d, w.opts.MaxBackoff)
}

// Status reports the queue.
func (w *Writeback) Status() WritebackStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.stats
	s.Errors = append([]string(nil), s.Errors...)
	for _, it := range w.items {
		s.Files++
		s.Bytes += it.size
		switch it.state {
		case index.StateUploading:
			s.Uploading++
		case index.StateFailed:
			s.Failed++
		}
	}
	for a := range w.dirty {
		s.Dirty = append(s.Dirty, a)
	}
	slices.Sort(s.Dirty)
	return s
}

func (w *Writeback) _noteErr(msg string) {
	w.stats.Errors = append(w.stats.Errors, msg)
	if len(w.stats.Errors) > 10 {
		w.stats.Errors = w.stats.Errors[1:]
	}
}

// Sync uploads and commits everything queued now, without waiting for idle times, and
// returns once the queue is empty. It fails when an upload or commit fails after Sync began
// (they are still retried), or when ctx ends first.
func (w *Writeback) Sync(ctx context.Context) error {
	w.mu.Lock()
	now := w.clock.Now()
	fails := map[string]int{}
	for _, it := range w.items {
		fails[fmt.Sprint(it.Ino)] = it.Attempts
		if it.hidx >= 0 {
			w._schedule(it, now)
		}
	}
	for a, st := range w.dirty {
		fails[a] = st.attempts
		st.due = now
	}
	w.kick()
	w.mu.Unlock()
	for {
		w.mu.Lock()
		if len(w.items) == 0 && len(w.dirty) == 0 {
			w.mu.Unlock()
			return nil
		}
		for _, it := range w.items {
			if it.Attempts > fails[fmt.Sprint(it.Ino)] && it.state == index.StateFailed {
				w.mu.Unlock()
				return fmt.Errorf("upload of a file in %s failed: %s", FormatID(it.Archive), it.LastErr)
			}
		}
		for a, st := range w.dirty {
			if st.attempts > fails[a] {
				w.mu.Unlock()
				return fmt.Errorf("commit of %s failed: %s", FormatID(a), st.lastErr)
			}
		}
		w._commitUploaded()
		ch := w.changed
		w.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%w with %d files still queued", ctx.Err(), w.Status().Files)
		}
	}
}

// _commitUploaded makes every archive whose queued files are all uploaded due for its
// commit now, for Sync: each upload that ends sets the archive's idle time again, which a
// waiting Sync would otherwise sit out. An archive whose last commit failed keeps its
// backoff. w.mu is held.
func (w *Writeback) _commitUploaded() {
	waiting := map[string]bool{}
	for _, it := range w.items {
		if !it.uploaded {
			waiting[it.Archive] = true
		}
	}
	now := w.clock.Now()
	for a, st := range w.dirty {
		if st.attempts == 0 && st.due.After(now) && !waiting[a] {
			st.due = now
			w.kick()
		}
	}
}

// itemHeap orders items by due time.
type itemHeap []*wbItem

func (h itemHeap) Len() int           { return len(h) }
func (h itemHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h itemHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hidx, h[j].hidx = i, j
}
func (h *itemHeap) Push(x any) {
	it := x.(*wbItem)
	it.hidx = len(*h)
	*h = append(*h, it)
}
func (h *itemHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	it.hidx = -1
	return it
}

func strconvIno(ino uint64) string { return strconv.FormatUint(ino, 10) }

func (w *Writeback) spoolPath0(name string) string { return filepath.Join(w.spool, name) }
