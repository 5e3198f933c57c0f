package vault

// The spool side of the writeback queue: files created or opened for writing through a
// mount live in the spool, one plaintext file per inode, until a commit holds them.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/discofs/discofs/index"
)

// SpoolFile is a file open for writing in the spool. Writes go to the spool file; the last
// Release of a file puts it in the writeback queue.
type SpoolFile struct {
	f   *os.File
	w   *Writeback
	it  *wbItem // nil for a joined reader
	rel bool
	// bypass: the kernel writes to f itself (see Bypass).
	bypass bool
	// joined is the inode of a reader passed through beside the writers (see Join).
	joined uint64
}

// Fd is the spool file's descriptor, for the kernel to pass writes through to.
func (s *SpoolFile) Fd() int { return int(s.f.Fd()) }

// Bypass says the handle's writes reach the spool file without WriteAt: the kernel passes
// them through. Nothing counts them, so an fsync and the last close take the file as
// changed, and an upload that read it meanwhile is not taken for its content.
func (s *SpoolFile) Bypass() { s.bypass = true }

// WriteAt writes to the spool. A full disk is an error wrapping ENOSPC for the writer;
// nothing already written is lost.
func (s *SpoolFile) WriteAt(p []byte, off int64) (int, error) {
	// Bumped on both sides, so an upload reading the spool meanwhile is never taken for
	// the content.
	s.it.gen.Add(1)
	n, err := s.f.WriteAt(p, off)
	s.it.gen.Add(1)
	return n, err
}

// ReadAt reads from the spool.
func (s *SpoolFile) ReadAt(p []byte, off int64) (int, error) { return s.f.ReadAt(p, off) }

// Truncate changes the file's size.
func (s *SpoolFile) Truncate(size int64) error {
	s.it.gen.Add(1)
	err := truncate(s.f, size)
	s.it.gen.Add(1)
	return err
}

// truncate sets a spool file's size. ext4 marks a file truncated to nothing as one being
// replaced, and at the next close of any descriptor of it writes out all that was
// written to it since. A descriptor opened and closed at once takes the mark away while
// there is nothing to write; otherwise the close of the file's writer would pay for
// writing it all out, and that is the writing process's own close when the kernel passes
// its writes through.
func truncate(f *os.File, size int64) error {
	if err := f.Truncate(size); err != nil || size != 0 {
		return err
	}
	if g, err := os.Open(f.Name()); err == nil {
		g.Close()
	}
	return nil
}

// Allocate is fallocate(2) on the spool file: mode 0 reserves space (ENOSPC now rather
// than at a later write), FALLOC_FL_KEEP_SIZE does so without growing the file, and
// FALLOC_FL_PUNCH_HOLE zeroes a range.
func (s *SpoolFile) Allocate(off, size int64, mode uint32) error {
	s.it.gen.Add(1)
	err := syscall.Fallocate(int(s.f.Fd()), mode, off, size)
	s.it.gen.Add(1)
	if err != nil {
		return &os.PathError{Op: "fallocate", Path: s.f.Name(), Err: err}
	}
	return nil
}

// Stat describes the spool file (size and modification time are the file's).
func (s *SpoolFile) Stat() (os.FileInfo, error) { return s.f.Stat() }

// SetMtime sets the file's modification time.
func (s *SpoolFile) SetMtime(t time.Time) error { return os.Chtimes(s.f.Name(), t, t) }

// Sync makes the spool durable and has the file uploaded and its archive committed now,
// even while it is open; it returns once a commit holds what was written before the call.
func (s *SpoolFile) Sync(ctx context.Context) error {
	if err := s.f.Sync(); err != nil {
		return err
	}
	w := s.w
	w.mu.Lock()
	it := s.it
	if w.items[it.Ino] != it {
		w.mu.Unlock()
		return nil
	}
	if s.bypass {
		it.gen.Add(1)
	}
	gen := it.gen.Load()
	it.force = true
	w._schedule(it, w.clock.Now())
	if st := w.dirty[it.Archive]; st != nil && st.attempts == 0 {
		st.due = w.clock.Now()
	}
	w.mu.Unlock()
	for {
		w.mu.Lock()
		if w.items[it.Ino] != it || (it.committedAnything && it.committedGen >= gen) {
			w.mu.Unlock()
			return nil
		}
		if it.state == index.StateFailed {
			w.mu.Unlock()
			return fmt.Errorf("upload: %s", it.LastErr)
		}
		if st := w.dirty[it.Archive]; st != nil && st.attempts == 0 && st.due.After(w.clock.Now()) && it.uploaded && it.upGen >= gen {
			st.due = w.clock.Now()
			w.kick()
		}
		ch := w.changed
		w.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Release closes the handle. At the last close of a file it enters the queue; p is where
// the file is now (it may have been renamed while open).
func (s *SpoolFile) Release(p string) error {
	if s.rel {
		return nil
	}
	s.rel = true
	err := s.release(p)
	// Closed outside the lock, once the queue knows: closing a spool file can make the file
	// system start writing it out (ext4 does for a file that was once emptied, as a reused
	// spool file was), and new files wait for the lock.
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// release is Release but for closing the spool file, under the lock.
func (s *SpoolFile) release(p string) error {
	w := s.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if s.it == nil {
		w._joinedDone(s.joined)
		return nil
	}
	// Under the lock, so a setattr racing the kernel's asynchronous release cannot have
	// its time overwritten by the one read here.
	st, statErr := s.f.Stat()
	it := s.it
	if s.bypass {
		it.gen.Add(1)
	}
	it.open--
	if w.items[it.Ino] != it {
		if it.unlinked && it.open == 0 {
			w._dropSpool(it.Ino)
		}
		return nil
	}
	if it.open > 0 {
		return nil
	}
	if statErr != nil {
		return statErr
	}
	it.size = st.Size()
	it.state = index.StateQueued
	if it.failedSinceRelease {
		it.state = index.StateFailed
	}
	n, gerr := w._node(it, p)
	if gerr == nil {
		n.Size, n.Mtime, n.State = st.Size(), st.ModTime().UnixNano(), index.StateQueued
		if perr := w.v.idx.PutNode(it.Archive, n); perr != nil {
			return perr
		}
	}
	w._schedule(it, w.clock.Now().Add(w.opts.Delay))
	if terr := w._touch(it.Archive); terr != nil {
		return terr
	}
	w._changed()
	return nil
}

// _node finds an item's node: at p when it is there, else by inode number.
func (w *Writeback) _node(it *wbItem, p string) (index.Node, error) {
	if n, err := w.v.idx.GetNode(it.Archive, p); err == nil && n.Ino == it.Ino {
		return n, nil
	}
	nodes, err := w._nodesByIno(it.Archive)
	if err != nil {
		return index.Node{}, err
	}
	n, ok := nodes[it.Ino]
	if !ok {
		return n, index.ErrNotFound
	}
	return n, nil
}

// Create makes a new empty file open for writing.
func (w *Writeback) Create(archive, p string, mode uint32) (index.Node, *SpoolFile, error) {
	if err := w.Writable(archive); err != nil {
		return index.Node{}, nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.v.idx.GetNode(archive, p); err == nil {
		return index.Node{}, nil, fs.ErrExist
	}
	ino, err := w.inos.alloc()
	if err != nil {
		return index.Node{}, nil, err
	}
	it := &wbItem{QueueItem: index.QueueItem{Ino: ino, Archive: archive}, hidx: -1, state: index.StateLocal}
	f, err := w._newSpool(ino)
	if err != nil {
		return index.Node{}, nil, err
	}
	n := index.Node{Path: p, Type: index.TypeFile, Mode: mode & 0o7777, Mtime: w.clock.Now().UnixNano(), Ino: ino, State: index.StateQueued}
	os.Chtimes(f.Name(), time.Unix(0, n.Mtime), time.Unix(0, n.Mtime))
	if err := w.v.idx.PutQueuedNode(archive, n, it.QueueItem); err != nil {
		f.Close()
		return index.Node{}, nil, err
	}
	it.open = 1
	w.items[ino] = it
	if err := w._touch(archive); err != nil {
		return n, nil, err
	}
	return n, &SpoolFile{f: f, w: w, it: it}, nil
}

// OpenWrite opens an existing file for writing. A committed file is copied up into the
// spool first; with trunc it starts empty and nothing is downloaded.
func (w *Writeback) OpenWrite(archive, p string, trunc bool) (index.Node, *SpoolFile, error) {
	if err := w.Writable(archive); err != nil {
		return index.Node{}, nil, err
	}
	w.mu.Lock()
	for {
		n, err := w.v.idx.GetNode(archive, p)
		if err != nil {
			w.mu.Unlock()
			return n, nil, err
		}
		if n.Type != index.TypeFile {
			w.mu.Unlock()
			return n, nil, ErrIsDir
		}
		it := w.items[n.Ino]
		if it != nil && it.copying != nil {
			ch := it.copying
			w.mu.Unlock()
			<-ch
			w.mu.Lock()
			continue
		}
		if it != nil {
			defer w.mu.Unlock()
			it.gen.Add(1)
			f, err := os.OpenFile(w.spoolPath(n.Ino), os.O_RDWR, 0)
			if err != nil {
				return n, nil, err
			}
			if trunc {
				if err := truncate(f, 0); err != nil {
					f.Close()
					return n, nil, err
				}
			}
			it.open++
			it.state = index.StateLocal
			if !it.force {
				// The last close schedules it again. (An fsync waiting on it keeps it
				// scheduled: no close may come while the fsync waits.)
				w._unschedule(it)
			}
			return n, &SpoolFile{f: f, w: w, it: it}, nil
		}
		return w.copyUp(n, archive, trunc)
	}
}

// copyUp is OpenWrite of a committed file; it is called with w.mu held and releases it.
// The download runs without the lock; others opening the file meanwhile wait for it. A
// file whose spool file a reader of Join still has needs none: that file holds the
// committed bytes (nothing writes to it without an item), and the writer must write to
// it, as the kernel does for a writer passed through beside such a reader.
func (w *Writeback) copyUp(n index.Node, archive string, trunc bool) (index.Node, *SpoolFile, error) {
	it := &wbItem{QueueItem: index.QueueItem{Ino: n.Ino, Archive: archive, HasBase: true}, hidx: -1,
		state: index.StateLocal, copying: make(chan struct{})}
	w.items[n.Ino] = it
	var err error
	if w.joined[n.Ino] == 0 {
		w.mu.Unlock()
		err = w.download(n, trunc)
		w.mu.Lock()
	} else if trunc {
		err = emptySpool(w.spoolPath(n.Ino))
	}
	defer w.mu.Unlock()
	close(it.copying)
	it.copying = nil
	var f *os.File
	if err == nil {
		f, err = os.OpenFile(w.spoolPath(n.Ino), os.O_RDWR, 0)
	}
	if err == nil {
		n.State = index.StateQueued
		if err = w.v.idx.PutQueuedNode(archive, n, it.QueueItem); err != nil {
			f.Close()
		}
	}
	if err != nil {
		delete(w.items, n.Ino)
		w._dropSpool(n.Ino)
		return n, nil, err
	}
	it.open = 1
	if trunc {
		n.Size = 0
	}
	return n, &SpoolFile{f: f, w: w, it: it}, nil
}

// download writes a committed file's content into its spool file, through a temporary
// file so a crash never leaves a partial copy under the file's name. It runs on the
// vault's context, never a FUSE request's.
func (w *Writeback) download(n index.Node, empty bool) error {
	tmp, err := os.CreateTemp(w.spool, "copy-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if !empty && n.Size > 0 {
		r := io.NewSectionReader(readerAt{w.v, n}, 0, n.Size)
		if _, err := io.Copy(tmp, r); err != nil {
			tmp.Close()
			return fmt.Errorf("copy %s up: %w", n.Path, err)
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	mt := time.Unix(0, n.Mtime)
	os.Chtimes(tmp.Name(), mt, mt)
	return os.Rename(tmp.Name(), w.spoolPath(n.Ino))
}

type readerAt struct {
	v *Vault
	n index.Node
}

func (r readerAt) ReadAt(p []byte, off int64) (int, error) { return r.v.ReadAt(r.v.life, r.n, p, off) }

// Join opens, for reading, the spool file of a file that the kernel passes its handles
// through to: one open for writing, or one that such a reader still has open. The kernel
// reads that file for the reader, and writes a writer's handles to the file its first
// passed-through handle gave (it shares it among them), so until the reader is released
// the spool file stays where it is: a commit of the file leaves it, and the next writer
// writes to it (see copyUp). The reader does not hold the file out of the queue. An
// error wrapping fs.ErrNotExist when no handle of the file is passed through.
func (w *Writeback) Join(ino uint64) (*SpoolFile, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if it := w.items[ino]; (it == nil || it.open == 0) && w.joined[ino] == 0 {
		return nil, fmt.Errorf("inode %d is not open for writing: %w", ino, fs.ErrNotExist)
	}
	f, err := os.Open(w.spoolPath(ino))
	if err != nil {
		return nil, err
	}
	w.joined[ino]++
	return &SpoolFile{f: f, w: w, joined: ino}, nil
}

// _joinedDone counts a reader of Join gone; the spool file of a file no longer queued goes
// with the last one. w.mu is held.
func (w *Writeback) _joinedDone(ino uint64) {
	if w.joined[ino]--; w.joined[ino] > 0 {
		return
	}
	delete(w.joined, ino)
	if w.items[ino] == nil {
		w._dropSpool(ino)
	}
}

// OpenSpool opens a queued file's spool for reading; an error wrapping fs.ErrNotExist when
// the file has none (it is committed).
func (w *Writeback) OpenSpool(ino uint64) (*SpoolReader, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f, err := os.Open(w.spoolPath(ino))
	if err != nil {
		return nil, err
	}
	w.readers[ino]++
	return &SpoolReader{f: f, w: w, ino: ino}, nil
}

// SpoolReader is a queued file's spool open for reading. Once the file is committed its
// spool is unlinked, never emptied for reuse while a reader has it open, so a reader keeps
// the bytes it opened.
type SpoolReader struct {
	f   *os.File
	w   *Writeback
	ino uint64
}

// ReadAt reads from the spool file.
func (r *SpoolReader) ReadAt(p []byte, off int64) (int, error) { return r.f.ReadAt(p, off) }

// Stat describes the spool file.
func (r *SpoolReader) Stat() (os.FileInfo, error) { return r.f.Stat() }

// Close closes the reader.
func (r *SpoolReader) Close() error {
	r.w.mu.Lock()
	r.w._readerDone(r.ino)
	r.w.mu.Unlock()
	return r.f.Close()
}

// _readerDone counts a reader of ino's spool gone: a SpoolReader or an upload. w.mu is
// held.
func (w *Writeback) _readerDone(ino uint64) {
	if w.readers[ino]--; w.readers[ino] <= 0 {
		delete(w.readers, ino)
	}
}

// Spool files are reused: once a file is committed its spool file is emptied and kept
// under a free name, and a new file takes one by renaming it, instead of the file system
// freeing an inode per committed file and allocating one per new file. A folder of small
// files copied in does both thousands of times, and ext4 without a journal scans past
// every inode freed in the last minute or more to allocate one (a third of the mount's
// time in such a copy before).
const (
	freeSpoolPrefix = "free-"
	maxFreeSpool    = 1 << 16
)

// _newSpool creates the empty spool file of a new file, from a free one when there is
// one. w.mu is held.
func (w *Writeback) _newSpool(ino uint64) (*os.File, error) {
	p := w.spoolPath(ino)
	for len(w.free) > 0 {
		free := w.free[len(w.free)-1]
		w.free = w.free[:len(w.free)-1]
		if os.Rename(free, p) == nil {
			// Emptied when it was freed (see emptySpool); truncated again only if not.
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			if err != nil {
				return nil, err
			}
			if st, err := f.Stat(); err != nil || st.Size() != 0 {
				truncate(f, 0)
			}
			return f, nil
		}
	}
	return os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
}

// _dropSpool removes the spool file of ino: emptied and kept for a new file, unless a
// reader or an upload has it open (an unlinked file keeps its bytes for them) or enough
// are kept. A name kept twice (a file committed again before its first spool was taken)
// only makes _newSpool skip it. w.mu is held.
func (w *Writeback) _dropSpool(ino uint64) {
	if w.joined[ino] > 0 {
		return // the last of them drops it (see Join)
	}
	p := w.spoolPath(ino)
	if w.readers[ino] == 0 && len(w.free) < maxFreeSpool {
		free := w.spoolPath0(freeSpoolPrefix + strconvIno(ino))
		if emptySpool(p) == nil && os.Rename(p, free) == nil {
			w.free = append(w.free, free)
			return
		}
	}
	if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
		w.v.log.Warn("remove spool file", "err", err)
	}
}

// emptySpool empties a spool file for reuse, and closes it at once (see truncate).
func emptySpool(p string) error {
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(0)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// SpoolFiles lists the spool files in a spool directory, leaving out the emptied ones
// kept for reuse.
func SpoolFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), freeSpoolPrefix) {
			names = append(names, e.Name())
		}
	}
	return names, err
}

// Left counts the files that have left the queue, committed or dropped. A file that is
// not queued keeps its committed content until Left changes: a reader that calls State
// and then Left, and finds Left as it was when it last read the file's node, may read
// that node's content again without asking the index.
func (w *Writeback) Left() uint64 { return w.left.Load() }

// State says where a file's content is.
func (w *Writeback) State(ino uint64) (index.FileState, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	it := w.items[ino]
	if it == nil {
		return index.StateCommitted, false
	}
	return it.state, true
}

// Errors of tree changes, turned into errno values by the mount.
var (
	ErrIsDir    = errors.New("is a directory")
	ErrNotDir   = errors.New("not a directory")
	ErrNotEmpty = errors.New("directory not empty")
)
