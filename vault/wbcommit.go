package vault

import (
	"context"
	"errors"
	"fmt"

	"github.com/discofs/discofs/index"
)

// included is a file whose uploaded content a commit holds.
type included struct {
	it     *wbItem
	gen    uint64
	chunks []index.ChunkRef
	size   int64
}

// runCommit stores a new manifest generation of an archive: its tree as the index has it,
// with each uploaded file's new content, each file not uploaded yet at its last committed
// content (or left out when it has none). Only once the card points at the manifest do the
// files count as committed and their spool files go.
func (w *Writeback) runCommit(ctx context.Context, archive string) error {
	v := w.v
	v.mu.RLock()
	defer v.mu.RUnlock()
	w.mu.Lock()
	st := w.dirty[archive]
	if st == nil {
		w.mu.Unlock()
		return nil
	}
	a, err := v.idx.GetArchive(archive)
	if errors.Is(err, index.ErrNotFound) {
		delete(w.dirty, archive)
		w.mu.Unlock()
		return v.idx.ClearDirty(archive)
	}
	if err != nil {
		w.mu.Unlock()
		return err
	}
	if a.Legacy {
		// Nothing reaches the queue for it (see Writable); should anything have, its
		// commit could never be stored.
		files, tree, err := w._dropReadOnly(archive)
		if err == nil {
			w._noteDropped(archive, files, tree)
		}
		w.mu.Unlock()
		return err
	}
	nodes, err := v.treeNodes(archive)
	if err != nil {
		w.mu.Unlock()
		return err
	}
	out := make([]index.Node, 0, len(nodes))
	var incl []included
	for _, n := range nodes {
		if n.Type == index.TypeFile && n.State != index.StateCommitted {
			it := w.items[n.Ino]
			if it != nil && it.uploaded && !w._stillStored(it.upChunks) {
				// gc freed a chunk since the upload: upload again.
				it.uploaded = false
				w._schedule(it, w.clock.Now())
			}
			switch {
			case it != nil && it.uploaded:
				n.Chunks, n.Size = it.upChunks, it.upSize
				incl = append(incl, included{it, it.upGen, it.upChunks, it.upSize})
			case (it != nil && it.HasBase) || (it == nil && len(n.Chunks) > 0):
				n.Size = chunkBytes(n.Chunks)
			default:
				continue // nothing of it is stored yet
			}
			n.State = index.StateCommitted
		}
		out = append(out, n)
	}
	changes, stored := st.changes, st.stored
	w.mu.Unlock()

	a.Stored += stored
	if err := v.storeManifest(ctx, &a, out); err != nil {
		return err
	}
	if err := v.saveArchive(ctx, &a, out); err != nil {
		return err
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	defer w._changed()
	st.stored -= stored
	w.stats.Commits++
	byIno, err := w._nodesByIno(archive)
	if err != nil {
		return err
	}
	for _, inc := range incl {
		it := inc.it
		n, ok := byIno[it.Ino]
		if w.items[it.Ino] != it || !ok {
			continue // removed since
		}
		n.Chunks = inc.chunks
		it.HasBase, it.committedGen, it.committedAnything = true, inc.gen, true
		if it.gen.Load() == inc.gen && it.open == 0 {
			// Node first, then the item, then the spool: a crash in between leaves an item
			// whose node is committed, which recover deletes.
			n.State, n.Size = index.StateCommitted, inc.size
			if err := v.idx.PutNode(archive, n); err != nil {
				return err
			}
			if err := v.idx.DeleteQueueItem(it.Ino); err != nil {
				return err
			}
			w._unschedule(it)
			w.left.Add(1)
			delete(w.items, it.Ino)
			w._dropSpool(it.Ino)
			continue
		}
		// Changed or reopened since the upload: it stays queued, now over this content.
		if err := v.idx.PutNode(archive, n); err != nil {
			return err
		}
		if err := v.idx.PutQueueItem(it.QueueItem); err != nil {
			return err
		}
	}
	if st.changes == changes && w.dirty[archive] == st {
		delete(w.dirty, archive)
		return v.idx.ClearDirty(archive)
	}
	return nil
}

// _stillStored reports whether the index still knows every chunk.
func (w *Writeback) _stillStored(cs []index.ChunkRef) bool {
	for _, c := range cs {
		if ok, err := w.v.idx.HasChunk(c.ID); err != nil || !ok {
			return false
		}
	}
	return true
}

// commitDone records a commit's outcome; a failed one is tried again after a backoff.
func (w *Writeback) commitDone(archive string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.dirty[archive]
	if err == nil {
		if st != nil {
			st.attempts, st.lastErr = 0, ""
		}
		return
	}
	w.v.log.Error("commit failed", "archive", FormatID(archive), "err", err)
	w._noteErr(fmt.Sprintf("commit of %s: %v", FormatID(archive), err))
	if st != nil {
		st.attempts++
		st.lastErr = err.Error()
		st.due = w.clock.Now().Add(w.backoff(st.attempts - 1))
	}
	w._changed()
}
