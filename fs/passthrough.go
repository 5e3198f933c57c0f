package fs

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Writes of a file open for writing can bypass the mount: the kernel passes them straight
// to the spool file (FUSE passthrough, Linux 6.9 and later, as root), at the speed of the
// disk the spool is on, instead of sending each to this process. The spool holds the
// file's plain bytes either way; what is stored and cached stays encrypted.
//
// The kernel does not mix the two kinds of I/O on one file: while a handle is passed
// through, every open must be passed through too, to the same file, and none can be while
// a handle using the page cache is open (the open fails with EIO). So a writer is passed
// through only when no handle using the page cache is open; a reader opened beside a
// passed-through handle is passed through to the same spool file, which stays where it
// is while such a reader is open, even once the file is committed, so that a writer
// opened next writes to it too (see vault's Join).
// Passed-through writes leave the kernel's page cache of the file as it was; a passed-
// through open never keeps it (go-fuse takes FOPEN_KEEP_CACHE away), so the kernel drops
// it then, and nothing can cache pages of the file until the last such handle is closed.

// ioModes counts a file's open handles by kind. Opens decide and count with mu held;
// handles are counted down after Release (see rawFS).
type ioModes struct {
	mu     sync.Mutex
	cached int // handles that use the kernel's page cache (or write with direct I/O)
	passed int // handles passed through to the spool file
}

// close counts a handle gone, passed through or not.
func (m *ioModes) close(passed bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if passed {
		m.passed--
	} else {
		m.cached--
	}
}

// passHandle is a handle whose I/O the kernel passes through to its spool file.
type passHandle struct{ *handle }

var _ = (fs.FilePassthroughFder)((*passHandle)(nil))

// PassthroughFd gives go-fuse the spool file for the kernel; it asks only when no
// other handle of the file is passed through.
func (p *passHandle) PassthroughFd() (int, bool) { return p.sf.Fd(), true }

// go-fuse registers the spool file of a file's first passed-through handle with the
// kernel, and the file's later handles share it. It counts the handles that share it,
// and counts one down at every Release of the file's handles, after discofs's Release
// has returned; at zero it unregisters the spool file. So each handle is counted gone
// here (and, for one open for writing, in the writeback queue, where a commit can then
// drop the spool file) only once go-fuse is done with its Release, which rawFS runs
// after it. Until then no handle of another kind is opened on the file, and no new
// spool file is given, so go-fuse's count is exact: it never drops the spool file of
// open passed-through handles (the kernel would then refuse the next one with EIO),
// nor hands an open the spool file of a file that has moved on to another.

// rawFS is go-fuse's request handler with a step after Release, and without flushes.
type rawFS struct {
	fuse.RawFileSystem
	fsys *filesys
}

func (r rawFS) Release(cancel <-chan struct{}, in *fuse.ReleaseIn) {
	r.RawFileSystem.Release(cancel, in)
	r.fsys.releases.mu.Lock()
	fn := r.fsys.releases.after[cancel]
	delete(r.fsys.releases.after, cancel)
	r.fsys.releases.mu.Unlock()
	if fn != nil {
		fn()
	}
}

// flushRequests counts the FLUSH requests of every mount in the process, for tests.
var flushRequests atomic.Int64

// Flush answers that flushes are not implemented, which the kernel remembers for the
// mount: a close that is not a file's last does nothing in discofs, and the last one is
// Release, which the closing process does not wait for. Each close then saves a round
// trip.
func (r rawFS) Flush(cancel <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	flushRequests.Add(1)
	return fuse.ENOSYS
}

// afterReleases holds what Releases leave for after go-fuse's part, by request: go-fuse
// gives each request running a cancel channel of its own, and the node's Release sees it
// in its context.
type afterReleases struct {
	mu    sync.Mutex
	after map[<-chan struct{}]func()
	on    bool // requests come through rawFS
}

// afterRelease has fn run once go-fuse has finished the Release request of ctx; false
// (fn is not run) when the request does not come through rawFS, as when tests call node
// methods directly.
func (f *filesys) afterRelease(ctx context.Context, fn func()) bool {
	fc, ok := ctx.(*fuse.Context)
	if !ok || fc.Cancel == nil || !f.releases.on {
		return false
	}
	f.releases.mu.Lock()
	defer f.releases.mu.Unlock()
	if f.releases.after == nil {
		f.releases.after = map[<-chan struct{}]func(){}
	}
	f.releases.after[fc.Cancel] = fn
	return true
}

// asHandle is the handle behind what go-fuse passes back.
func asHandle(f fs.FileHandle) (*handle, bool) {
	switch h := f.(type) {
	case *handle:
		return h, true
	case *passHandle:
		return h.handle, true
	}
	return nil, false
}
