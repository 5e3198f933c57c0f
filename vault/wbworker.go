package vault

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/discofs/discofs/index"
)

// job is the worker's next piece of work: an upload of due files of one archive, or a
// commit of one archive.
type job struct {
	archive string
	items   []*wbItem
	gens    []uint64
	commit  bool
}

// loop is the worker: one job at a time, uploads before commits, so a commit holds every
// file that was due.
func (w *Writeback) loop(ctx context.Context) {
	defer close(w.done)
	for {
		j, wait := w.next()
		if j != nil {
			var err error
			if j.commit {
				err = safely(func() error { return w.runCommit(ctx, j.archive) })
				w.commitDone(j.archive, err)
			} else {
				err = safely(func() error { return w.runUpload(ctx, j) })
				if err != nil {
					w.uploadFailed(j, err)
				}
			}
			if ctx.Err() != nil {
				return
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-w.clock.After(wait):
		}
	}
}

// safely runs fn and turns a panic into an error, so one bad file cannot end the worker.
func safely(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return fn()
}

// next picks a job, or says how long to wait for one.
func (w *Writeback) next() (*job, time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.clock.Now()
	wait := time.Hour
	if len(w.heap) > 0 && !w.heap[0].due.After(now) {
		j := &job{archive: w.heap[0].Archive}
		var later []*wbItem
		for len(w.heap) > 0 && !w.heap[0].due.After(now) && len(j.items) < w.opts.BatchFiles {
			it := heap.Pop(&w.heap).(*wbItem)
			switch {
			case it.open > 0 && !it.force:
				// Still being written: the last close schedules it again.
			case it.Archive != j.archive:
				later = append(later, it)
			default:
				it.state = index.StateUploading
				w.readers[it.Ino]++ // the upload reads the spool; see runUpload
				j.items = append(j.items, it)
				j.gens = append(j.gens, it.gen.Load())
			}
		}
		for _, it := range later {
			heap.Push(&w.heap, it)
		}
		if len(j.items) > 0 {
			w._changed()
			return j, 0
		}
	}
	if len(w.heap) > 0 {
		wait = min(wait, w.heap[0].due.Sub(now))
	}
	for a, st := range w.dirty {
		if !st.due.After(now) {
			return &job{archive: a, commit: true}, 0
		}
		wait = min(wait, st.due.Sub(now))
	}
	return nil, max(wait, time.Millisecond)
}

// runUpload chunks, seals, packs and uploads the job's spool files through the put
// pipeline and records what each file now is, for the next commit.
func (w *Writeback) runUpload(ctx context.Context, j *job) error {
	v := w.v
	// Held until the chunks are recorded, so gc cannot free a chunk deduplicated here.
	v.mu.RLock()
	defer v.mu.RUnlock()
	defer func() {
		w.mu.Lock()
		for _, it := range j.items {
			w._readerDone(it.Ino)
		}
		w.mu.Unlock()
	}()
	pr := &putRun{v: v, archive: j.archive, group: j.archive}
	results := map[uint64]*putFile{}
	var missing []*wbItem
	err := pr.pipeline(ctx, func(ctx context.Context, chunks chan<- *putChunk, files chan<- *putFile) error {
		for _, it := range j.items {
			f := &putFile{node: index.Node{Ino: it.Ino, Type: index.TypeFile}}
			err := pr.chunkFile(ctx, w.spoolPath(it.Ino), f, chunks)
			if errors.Is(err, fs.ErrNotExist) {
				missing = append(missing, it)
				continue
			}
			if err != nil {
				return err
			}
			select {
			case files <- f:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}, func(f *putFile) error { results[f.node.Ino] = f; return nil })
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, it := range missing {
		if w.items[it.Ino] == it {
			w.v.log.Error("spool file missing; the file is dropped", "archive", FormatID(it.Archive), "ino", it.Ino)
			w._noteErr(fmt.Sprintf("%s: spool file of inode %d is missing", FormatID(it.Archive), it.Ino))
			if err := w._dropMissing(it); err != nil {
				return err
			}
		}
	}
	now := w.clock.Now()
	for i, it := range j.items {
		f := results[it.Ino]
		if f == nil || w.items[it.Ino] != it {
			continue // removed meanwhile, or missing
		}
		if it.gen.Load() != j.gens[i] {
			// Written while it was read: what was read is not the file. An fsync waiting
			// on it (force, possibly set while this upload ran) still needs an upload.
			it.state = index.StateQueued
			switch {
			case it.open == 0:
				w._schedule(it, now.Add(w.opts.Delay))
			case it.force:
				it.state = index.StateLocal
				w._schedule(it, now)
			default:
				it.state = index.StateLocal
			}
			continue
		}
		it.force = false
		it.uploaded, it.upGen, it.upChunks, it.upSize = true, j.gens[i], f.node.Chunks, f.node.Size
		it.Attempts, it.LastErr, it.failedSinceRelease = 0, "", false
		w.stats.UploadedFiles++
		w.stats.UploadedBytes += f.node.Size
		if err := w.v.idx.PutQueueItem(it.QueueItem); err != nil {
			return err
		}
	}
	if st := w.dirty[j.archive]; st != nil {
		st.stored += pr.stored.Load()
	}
	if err := w._touch(j.archive); err != nil {
		return err
	}
	w._changed()
	return nil
}

// uploadFailed schedules the job's files again after a backoff.
func (w *Writeback) uploadFailed(j *job, err error) {
	w.v.log.Error("upload failed", "archive", FormatID(j.archive), "files", len(j.items), "err", err)
	w.mu.Lock()
	defer w.mu.Unlock()
	w._noteErr(fmt.Sprintf("upload to %s: %v", FormatID(j.archive), err))
	now := w.clock.Now()
	for _, it := range j.items {
		if w.items[it.Ino] != it {
			continue
		}
		it.Attempts++
		it.LastErr = err.Error()
		it.state = index.StateFailed
		if it.open > 0 {
			it.state = index.StateLocal
		}
		_ = w.v.idx.PutQueueItem(it.QueueItem)
		w._schedule(it, now.Add(w.backoff(it.Attempts-1)))
	}
	w._changed()
}

// _dropMissing forgets a file whose spool is gone: the archive keeps its last committed
// content, or loses it when it never had any, rather than show bytes nobody wrote.
func (w *Writeback) _dropMissing(it *wbItem) error {
	w._unschedule(it)
	w.left.Add(1)
	delete(w.items, it.Ino)
	nodes, err := w._nodesByIno(it.Archive)
	if err != nil {
		return err
	}
	if n, ok := nodes[it.Ino]; ok {
		if it.HasBase {
			n.Size, n.State = chunkBytes(n.Chunks), index.StateCommitted
			err = w.v.idx.PutNode(it.Archive, n)
		} else {
			err = w.v.idx.DeleteNode(it.Archive, n.Path)
		}
		if err != nil {
			return err
		}
	}
	if err := w.v.idx.DeleteQueueItem(it.Ino); err != nil {
		return err
	}
	return w._touch(it.Archive)
}

// _nodesByIno maps an archive's inode numbers to its nodes.
func (w *Writeback) _nodesByIno(archive string) (map[uint64]index.Node, error) {
	m := map[uint64]index.Node{}
	err := w.v.idx.Walk(archive, func(n index.Node) error { m[n.Ino] = n; return nil })
	return m, err
}

func chunkBytes(cs []index.ChunkRef) int64 {
	var n int64
	for _, c := range cs {
		n += int64(c.Len)
	}
	return n
}

// recover loads the persisted queue: every file with its spool is due now; a file whose
// spool is gone is dropped (see _dropMissing); leftovers in the spool are deleted.
func (w *Writeback) recover() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.clock.Now()
	var items []index.QueueItem
	if err := w.v.idx.QueueItems(func(q index.QueueItem) error { items = append(items, q); return nil }); err != nil {
		return err
	}
	byArchive := map[string]map[uint64]index.Node{}
	keep := map[string]bool{}
	// Archives that cannot change (v3.1 ones) lose what is queued for them, after the
	// spool's leftovers are gone (see _dropReadOnly).
	readOnly := map[string]bool{}
	var drop []string
	isReadOnly := func(archive string) (bool, error) {
		ro, ok := readOnly[archive]
		if !ok {
			err := w.v.writable(archive)
			if err != nil && !errors.Is(err, ErrReadOnly) {
				return false, err
			}
			ro = err != nil
			readOnly[archive] = ro
			if ro {
				drop = append(drop, archive)
			}
		}
		return ro, nil
	}
	for _, q := range items {
		if ro, err := isReadOnly(q.Archive); err != nil {
			return err
		} else if ro {
			w.items[q.Ino] = &wbItem{QueueItem: q, hidx: -1, state: index.StateQueued}
			continue
		}
		nodes, ok := byArchive[q.Archive]
		if !ok {
			var err error
			if nodes, err = w._nodesByIno(q.Archive); err != nil {
				return err
			}
			byArchive[q.Archive] = nodes
		}
		it := &wbItem{QueueItem: q, hidx: -1, state: index.StateQueued}
		n, ok := nodes[q.Ino]
		st, serr := os.Stat(w.spoolPath(q.Ino))
		switch {
		case !ok || n.State == index.StateCommitted:
			// Removed, or committed before the item was deleted.
			if err := w.v.idx.DeleteQueueItem(q.Ino); err != nil {
				return err
			}
			continue
		case serr != nil:
			w.v.log.Error("spool file missing after restart; the file is dropped", "archive", FormatID(q.Archive), "path", n.Path)
			w.items[q.Ino] = it
			if err := w._dropMissing(it); err != nil {
				return err
			}
			continue
		}
		it.size = st.Size()
		w.items[q.Ino] = it
		keep[strconvIno(q.Ino)] = true
		w._schedule(it, now)
	}
	err := w.v.idx.DirtyArchives(func(a string) error {
		if _, err := isReadOnly(a); err != nil {
			return err
		}
		w.dirty[a] = &archState{due: now, changes: 1}
		return nil
	})
	if err != nil {
		return err
	}
	ents, err := os.ReadDir(w.spool)
	if err != nil {
		return err
	}
	for _, e := range ents {
		switch name := e.Name(); {
		case keep[name]:
		case strings.HasPrefix(name, freeSpoolPrefix) && len(w.free) < maxFreeSpool:
			w.free = append(w.free, w.spoolPath0(name))
		default:
			os.Remove(w.spoolPath0(name))
		}
	}
	for _, a := range drop {
		files, tree, err := w._dropReadOnly(a)
		if err != nil {
			return err
		}
		w._noteDropped(a, files, tree)
	}
	return nil
}
