package fs

import (
	"context"
	"errors"
	"io"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/discofs/discofs/index"
)

// Open opens a file. On a writable mount, opening for writing moves the file to the spool
// (copying a committed file up, unless O_TRUNC empties it); a queued file is read from its
// spool. A file's bytes change only through this mount, which the kernel sees, so an open
// keeps the kernel's page cache (what was just written reads back from memory) unless the
// index was rebuilt since the file's last open.
func (d *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	keep := uint32(fuse.FOPEN_KEEP_CACHE)
	rebuilds := d.fsys.src.Rebuilds() // before the node is read, as left below
	if d.rebuilds.Swap(rebuilds) != rebuilds {
		keep = 0 // the kernel drops what it cached of the file
	}
	var left uint64
	if d.fsys.wr != nil {
		left = d.fsys.wr.Left() // before the node is read; see handle.left
	}
	n := d.current()
	if n.Type != index.TypeFile {
		return nil, 0, syscall.EISDIR
	}
	if flags&(syscall.O_WRONLY|syscall.O_RDWR|syscall.O_TRUNC|syscall.O_APPEND) != 0 {
		if d.fsys.wr == nil {
			return nil, 0, syscall.EROFS
		}
		d.fence.change(true) // until Release
		p := d.path()
		// Not under the lock: a copy-up fetches the whole file, and other opens of it need
		// not wait for that. The spool file is the one any passed-through handle of the
		// file has: while such a handle is open its spool file stays (see vault's Join).
		n, sf, err := d.fsys.wr.OpenWrite(d.archive.ID, p, flags&syscall.O_TRUNC != 0)
		if err != nil {
			d.fence.writerGone()
			return nil, 0, d.fsys.errno(err, "open", d.archive.ID, p)
		}
		d.io.mu.Lock()
		defer d.io.mu.Unlock()
		h, flags := d.writeHandle(sf, n, flags)
		return h, keep | flags, 0
	}
	// Under the lock, the kind of I/O the file's handles do and the spool file a passed-
	// through one has stay as this open finds them (see passthrough.go).
	d.io.mu.Lock()
	defer d.io.mu.Unlock()
	if d.io.passed > 0 {
		// Beside a passed-through writer, the kernel takes only passed-through handles.
		sf, err := d.fsys.wr.Join(n.Ino)
		if err != nil {
			return nil, 0, d.fsys.errno(err, "open", d.archive.ID, n.Path)
		}
		d.io.passed++
		return &passHandle{&handle{sf: sf, n: n, joined: true}}, 0, 0
	}
	if d.fsys.wr != nil && n.State != index.StateCommitted {
		f, err := d.fsys.wr.OpenSpool(n.Ino)
		if err == nil {
			d.io.cached++
			h := &handle{n: n, left: left, rebuilds: rebuilds}
			h.setSpool(f)
			return h, keep, 0
		}
		// Committed since it was looked up: its spool is gone.
		n = d.current()
		if n.State != index.StateCommitted {
			return nil, 0, d.fsys.errno(err, "open", d.archive.ID, n.Path)
		}
	}
	d.io.cached++
	return &handle{n: n, left: left, rebuilds: rebuilds}, keep, 0
}

// Read serves a read from the spool or through the vault. A read that fails (a missing
// pack, a frame that fails authentication) is EIO and a log line, never wrong bytes.
func (d *node) Read(ctx context.Context, f fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h, ok := asHandle(f)
	if !ok {
		h = &handle{n: d.n}
	}
	res, n, err := h.read(ctx, d, dest, off)
	if err == nil || errors.Is(err, io.EOF) {
		return res, 0
	}
	res.Done() // no byte of a failed read goes out
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil, syscall.EINTR
	}
	d.fsys.log.Error("read failed", "archive", "#"+d.archive.ID, "path", h.n.Path,
		"ino", h.n.Ino, "offset", off, "chunk", chunkAt(h.n, off+int64(n)), "err", err)
	return nil, syscall.EIO
}

// chunkAt names the chunk holding byte off of a file, for log lines.
func chunkAt(n index.Node, off int64) string {
	var pos int64
	for _, c := range n.Chunks {
		pos += int64(c.Len)
		if off < pos {
			return c.ID.String()
		}
	}
	return ""
}

// Readlink returns a symlink's target.
func (d *node) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	n := d.current()
	if n.Type != index.TypeSymlink {
		return nil, syscall.EINVAL
	}
	return []byte(n.Target), 0
}
