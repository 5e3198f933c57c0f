package vault

// Archives the write side refuses: v3.1 archives are read in place, their chunks where the
// v3.1 tool put them, and a commit of theirs could never be stored (their chunks are in no
// pack). Every change the Writeback takes asks Writable first, before it touches the
// index, the spool or the queue; what an older discofs let into the queue for such an
// archive is dropped when the queue resumes (see recover), never retried.

import (
	"errors"
	"fmt"

	"github.com/discofs/discofs/index"
)

// ErrReadOnly is wrapped by the error for a change to an archive that cannot change: a
// v3.1 archive. The mount answers it with EROFS.
var ErrReadOnly = errors.New("read-only v3.1 archive")

// Writable says whether archive may change: nil, or an error wrapping ErrReadOnly that
// names it. An archive the index does not have is no error here; the change itself then
// fails as it would.
func (w *Writeback) Writable(archive string) error { return w.v.writable(archive) }

func (v *Vault) writable(archive string) error {
	a, err := v.idx.GetArchive(archive)
	switch {
	case errors.Is(err, index.ErrNotFound):
		return nil
	case err != nil:
		return err
	case a.Legacy:
		return fmt.Errorf("archive %s is a %w", FormatID(a.ID), ErrReadOnly)
	}
	return nil
}

// Recovered says what the queue dropped since it started, a line per archive, for the user
// to read: changes to read-only archives that an older discofs took into the queue, found
// when the queue resumed them.
func (w *Writeback) Recovered() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.recovered...)
}

// _dropReadOnly takes every queued file of a read-only archive out of the queue, each back
// at the content it was imported with (or gone, when it had none: a file created in it),
// and forgets the archive's uncommitted tree changes, whose commit could only fail. It
// returns how many files it dropped and whether the tree had changes. w.mu is held.
func (w *Writeback) _dropReadOnly(archive string) (files int, tree bool, err error) {
	nodes, err := w._nodesByIno(archive)
	if err != nil {
		return 0, false, err
	}
	for ino, it := range w.items {
		if it.Archive != archive {
			continue
		}
		w._unschedule(it)
		delete(w.items, ino)
		w.left.Add(1)
		files++
		if n, ok := nodes[ino]; ok {
			if it.HasBase {
				n.Size, n.State = chunkBytes(n.Chunks), index.StateCommitted
				err = w.v.idx.PutNode(archive, n)
			} else {
				err = w.v.idx.DeleteNode(archive, n.Path)
			}
			if err != nil {
				return files, tree, err
			}
		}
		if err := w.v.idx.DeleteQueueItem(ino); err != nil {
			return files, tree, err
		}
		if it.open > 0 {
			it.unlinked = true // its handles keep the spool until they close
		} else {
			w._dropSpool(ino)
		}
	}
	if w.dirty[archive] != nil {
		tree = true
		delete(w.dirty, archive)
	}
	if err := w.v.idx.ClearDirty(archive); err != nil {
		return files, tree, err
	}
	w._changed()
	return files, tree, nil
}

// _noteDropped says what _dropReadOnly did, in the log, the queue's errors and Recovered.
// w.mu is held.
func (w *Writeback) _noteDropped(archive string, files int, tree bool) {
	id := FormatID(archive)
	msg := fmt.Sprintf("%s is a read-only v3.1 archive: its queued changes are dropped", id)
	if files > 0 {
		msg += fmt.Sprintf(", %d queued files among them (a changed file is back at its v3.1 content, a new one is gone)", files)
	}
	if tree {
		msg += fmt.Sprintf("; other changes an older discofs made to its tree (new folders, renames, removals) may still show: 'discofs rm %s' and 'discofs import-legacy' give its v3.1 tree back", id)
	}
	w.v.log.Warn(msg)
	w._noteErr(msg)
	w.recovered = append(w.recovered, msg)
}
