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

// Open opens a committed file for reading. Its bytes never change under this mount, so the
// kernel may keep its page cache across opens.
func (d *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if d.n.Type != index.TypeFile {
		return nil, 0, syscall.EISDIR
	}
	if flags&(syscall.O_WRONLY|syscall.O_RDWR|syscall.O_TRUNC|syscall.O_APPEND) != 0 {
		return nil, 0, syscall.EROFS
	}
	return nil, fuse.FOPEN_KEEP_CACHE, 0
}

// Read serves a read through the vault. A read that fails (a missing pack, a frame that
// fails authentication) is EIO and a log line, never wrong bytes.
func (d *node) Read(ctx context.Context, f fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n, err := d.fsys.src.ReadAt(ctx, d.n, dest, off)
	switch {
	case err == nil || errors.Is(err, io.EOF):
		return fuse.ReadResultData(dest[:n]), 0
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return nil, syscall.EINTR
	}
	d.fsys.log.Error("read failed", "archive", "#"+d.archive.ID, "path", d.n.Path,
		"ino", d.n.Ino, "offset", off, "chunk", chunkAt(d.n, off+int64(n)), "err", err)
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
	if d.n.Type != index.TypeSymlink {
		return nil, syscall.EINVAL
	}
	return []byte(d.n.Target), 0
}
