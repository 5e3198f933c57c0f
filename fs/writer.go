package fs

import (
	"context"
	"errors"
	iofs "io/fs"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/discofs/discofs/index"
	"github.com/discofs/discofs/vault"
)

// Writer is the write side a writable mount needs; *vault.Writeback provides it.
type Writer interface {
	MakeArchive(ctx context.Context, name string, mode uint32) (index.Archive, error)
	Create(archive, p string, mode uint32) (index.Node, *vault.SpoolFile, error)
	OpenWrite(archive, p string, trunc bool) (index.Node, *vault.SpoolFile, error)
	OpenSpool(ino uint64) (*os.File, error)
	Mkdir(archive, p string, mode uint32) (index.Node, error)
	Symlink(archive, p, target string) (index.Node, error)
	Remove(archive, p string, dir bool) error
	Rename(archive, from, to string, noReplace bool) error
	SetAttr(archive, p string, a vault.SetAttr) (index.Node, error)
	Truncate(archive, p string, size int64) (index.Node, error)
	State(ino uint64) (index.FileState, bool)
	SpoolDir() string
}

// commitTimeout bounds making an archive, which stores its first manifest. It runs on
// its own context: an interrupted mkdir must not leave half an archive.
const commitTimeout = 5 * time.Minute

// writeAttrTimeout is how long the kernel keeps attributes of a writable mount's files:
// the worker changes a file's state behind the kernel's back, never its size or times.
const writeAttrTimeout = time.Second

// errno turns a vault or index error into the errno the kernel gets, logging the ones
// that are not an ordinary answer.
func (f *filesys) errno(err error, what, archive, p string) syscall.Errno {
	var en syscall.Errno
	switch {
	case err == nil:
		return 0
	case errors.Is(err, index.ErrNotFound), errors.Is(err, iofs.ErrNotExist):
		return syscall.ENOENT
	case errors.Is(err, iofs.ErrExist):
		return syscall.EEXIST
	case errors.Is(err, vault.ErrIsDir):
		return syscall.EISDIR
	case errors.Is(err, vault.ErrNotDir):
		return syscall.ENOTDIR
	case errors.Is(err, vault.ErrNotEmpty):
		return syscall.ENOTEMPTY
	case errors.As(err, &en):
		if en == syscall.ENOSPC || en == syscall.EDQUOT {
			f.log.Warn("spool disk full", "op", what, "archive", "#"+archive, "path", p)
		}
		return en
	}
	f.log.Error(what+" failed", "archive", "#"+archive, "path", p, "err", err)
	return syscall.EIO
}

// path is the node's path within its archive as the kernel's tree has it now, which
// follows renames; a read-only mount's never change.
func (d *node) path() string {
	if d.fsys.wr == nil {
		return d.n.Path
	}
	p := d.Path(nil)
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return "/" + p[i+1:]
	}
	return "/"
}

func joinPath(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// current is the node's index record now; on a writable mount it is read again, since
// renames, chmod and the worker change it. An unlinked node keeps its last record.
func (d *node) current() index.Node {
	if d.fsys.wr == nil {
		return d.n
	}
	n, err := d.fsys.src.Node(d.archive.ID, d.path())
	if err != nil || n.Ino != d.StableAttr().Ino {
		return d.n
	}
	return n
}

// attr fills attributes; a file not yet committed has its spool's size and times.
func (f *filesys) attr(n index.Node, ino uint64, out *fuse.Attr) {
	f.fill(n, ino, out)
	if f.wr == nil || n.Type != index.TypeFile || n.State == index.StateCommitted {
		return
	}
	if st, err := os.Stat(f.wr.SpoolDir() + "/" + uitoa(n.Ino)); err == nil {
		out.Size = uint64(st.Size())
		out.Blocks = (out.Size + 511) / 512
		mt := st.ModTime()
		out.SetTimes(&mt, &mt, &mt)
	}
}

func uitoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}

// entry describes a new or found child and makes its inode.
func (d *node) entry(ctx context.Context, c index.Node, out *fuse.EntryOut) *fs.Inode {
	d.fsys.attr(c, c.Ino, &out.Attr)
	out.SetEntryTimeout(archiveTimeout)
	if d.fsys.wr != nil && c.Type == index.TypeFile {
		out.SetAttrTimeout(writeAttrTimeout)
	} else {
		out.SetAttrTimeout(archiveTimeout)
	}
	child := &node{fsys: d.fsys, archive: d.archive, n: c}
	return d.NewInode(ctx, child, fs.StableAttr{Mode: typeBits(c.Type), Ino: c.Ino})
}

// handle is an open file: a spool file open for writing, a spool file open for reading,
// or a committed file read through the vault.
type handle struct {
	sf    *vault.SpoolFile
	spool *os.File
	n     index.Node
}

func (h *handle) readAt(ctx context.Context, f *filesys, p []byte, off int64) (int, error) {
	switch {
	case h.sf != nil:
		return h.sf.ReadAt(p, off)
	case h.spool != nil:
		return h.spool.ReadAt(p, off)
	}
	return f.src.ReadAt(ctx, h.n, p, off)
}
