package vault

// Tree changes through a writable mount. Each changes the index at once (so the mount
// shows it) and marks the archive for its next commit; a read-only archive refuses them
// all before anything changes (see Writable).

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"time"

	"github.com/discofs/discofs/index"
)

// MakeArchive makes a new, empty archive named name and commits it, so it exists in the
// store (card and manifest) before anything is written into it.
func (w *Writeback) MakeArchive(ctx context.Context, name string, mode uint32) (index.Archive, error) {
	v := w.v
	v.mu.RLock()
	defer v.mu.RUnlock()
	a, err := v.newArchive(ctx, name)
	if err != nil {
		return a, err
	}
	if err := v.idx.PutArchive(a); err != nil {
		return a, err
	}
	ino, err := v.idx.NextInodes(1)
	if err != nil {
		return a, err
	}
	root := index.Node{Path: "/", Type: index.TypeDir, Mode: mode & 0o7777, Mtime: w.clock.Now().UnixNano(), Ino: ino}
	if err := v.idx.PutNode(a.ID, root); err != nil {
		return a, err
	}
	return a, v.commitStaged(ctx, &a, a.ID)
}

// newNode adds a directory or symlink.
func (w *Writeback) newNode(archive string, n index.Node) (index.Node, error) {
	if err := w.Writable(archive); err != nil {
		return n, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.v.idx.GetNode(archive, n.Path); err == nil {
		return n, fs.ErrExist
	}
	ino, err := w.inos.alloc()
	if err != nil {
		return n, err
	}
	n.Ino, n.Mtime = ino, w.clock.Now().UnixNano()
	if err := w.v.idx.PutNode(archive, n); err != nil {
		return n, err
	}
	return n, w._touch(archive)
}

// Mkdir makes a directory.
func (w *Writeback) Mkdir(archive, p string, mode uint32) (index.Node, error) {
	return w.newNode(archive, index.Node{Path: p, Type: index.TypeDir, Mode: mode & 0o7777})
}

// Symlink makes a symbolic link.
func (w *Writeback) Symlink(archive, p, target string) (index.Node, error) {
	return w.newNode(archive, index.Node{Path: p, Type: index.TypeSymlink, Mode: 0o777, Target: target, Size: int64(len(target))})
}

// Remove removes a file or symlink (dir false) or an empty directory (dir true). A queued
// file leaves the queue; its spool goes once nothing has it open.
func (w *Writeback) Remove(archive, p string, dir bool) error {
	if err := w.Writable(archive); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.v.idx.GetNode(archive, p)
	if err != nil {
		return err
	}
	if err := w._removable(archive, n, dir); err != nil {
		return err
	}
	if err := w._remove(archive, n); err != nil {
		return err
	}
	return w._touch(archive)
}

func (w *Writeback) _removable(archive string, n index.Node, dir bool) error {
	switch {
	case dir && n.Type != index.TypeDir:
		return ErrNotDir
	case !dir && n.Type == index.TypeDir:
		return ErrIsDir
	case n.Type == index.TypeDir:
		empty := true
		err := w.v.idx.Children(archive, n.Path, func(index.Node) error { empty = false; return errStop })
		if err != nil && !errors.Is(err, errStop) {
			return err
		}
		if !empty {
			return ErrNotEmpty
		}
	}
	return nil
}

var errStop = errors.New("stop")

func (w *Writeback) _remove(archive string, n index.Node) error {
	if it := w.items[n.Ino]; it != nil {
		w._unschedule(it)
		delete(w.items, n.Ino)
		if err := w.v.idx.DeleteQueueItem(n.Ino); err != nil {
			return err
		}
		if it.open > 0 {
			it.unlinked = true
		} else {
			w._dropSpool(n.Ino)
		}
		w._changed()
	}
	return w.v.idx.DeleteNode(archive, n.Path)
}

// Rename moves a node and what is below it within one archive, replacing what is at to
// unless noReplace (then fs.ErrExist).
func (w *Writeback) Rename(archive, from, to string, noReplace bool) error {
	if err := w.Writable(archive); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	src, err := w.v.idx.GetNode(archive, from)
	if err != nil {
		return err
	}
	if dst, err := w.v.idx.GetNode(archive, to); err == nil {
		if noReplace {
			return fs.ErrExist
		}
		if dst.Ino == src.Ino {
			return nil
		}
		if err := w._removable(archive, dst, src.Type == index.TypeDir); err != nil {
			return err
		}
		if err := w._remove(archive, dst); err != nil {
			return err
		}
	} else if !errors.Is(err, index.ErrNotFound) {
		return err
	}
	if err := w.v.idx.MoveTree(archive, from, to); err != nil {
		return err
	}
	return w._touch(archive)
}

// SetAttr are the attribute changes of one setattr; nil fields stay.
type SetAttr struct {
	Mode  *uint32
	Mtime *time.Time
}

// SetAttr changes a node's mode or modification time.
func (w *Writeback) SetAttr(archive, p string, a SetAttr) (index.Node, error) {
	if err := w.Writable(archive); err != nil {
		return index.Node{}, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.v.idx.GetNode(archive, p)
	if err != nil {
		return n, err
	}
	if a.Mode != nil {
		n.Mode = *a.Mode & 0o7777
	}
	if a.Mtime != nil {
		n.Mtime = a.Mtime.UnixNano()
		if w.items[n.Ino] != nil {
			// The spool's time is the file's while it is queued.
			os.Chtimes(w.spoolPath(n.Ino), *a.Mtime, *a.Mtime)
		}
	}
	if err := w.v.idx.PutNode(archive, n); err != nil {
		return n, err
	}
	return n, w._touch(archive)
}

// Truncate sets a file's size without an open handle.
func (w *Writeback) Truncate(archive, p string, size int64) (index.Node, error) {
	n, f, err := w.OpenWrite(archive, p, size == 0)
	if err != nil {
		return n, err
	}
	err = f.Truncate(size)
	if rerr := f.Release(p); err == nil {
		err = rerr
	}
	n.Size = size
	return n, err
}
