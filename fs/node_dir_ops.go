package fs

import (
	"context"
	"errors"
	"os"
	"path"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/discofs/discofs/index"
)

// Getattr describes the root directory.
func (r *rootNode) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFDIR | 0o755
	out.Nlink = 2
	out.Owner = fuse.Owner{Uid: r.fsys.uid, Gid: r.fsys.gid}
	t := r.fsys.started
	out.SetTimes(&t, &t, &t)
	out.SetTimeout(rootTimeout)
	return 0
}

// Lookup finds an archive by its directory name.
func (r *rootNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	list, err := r.fsys.src.Archives()
	if err != nil {
		r.fsys.log.Error("list archives", "err", err)
		return nil, syscall.EIO
	}
	for i, n := range archiveNames(list) {
		if n == name {
			return r.archiveInode(ctx, list[i], out)
		}
	}
	return nil, syscall.ENOENT
}

func (r *rootNode) archiveInode(ctx context.Context, a index.Archive, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	root, err := r.fsys.src.Node(a.ID, "/")
	if err != nil {
		r.fsys.log.Error("archive root", "archive", "#"+a.ID, "err", err)
		return nil, syscall.EIO
	}
	ino := archiveIno(a, root)
	r.fsys.fill(root, ino, &out.Attr)
	out.SetEntryTimeout(rootTimeout)
	out.SetAttrTimeout(archiveTimeout)
	child := &node{fsys: r.fsys, archive: a, n: root}
	return r.NewInode(ctx, child, fs.StableAttr{Mode: syscall.S_IFDIR, Ino: ino}), 0
}

// Readdir lists the archives.
func (r *rootNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	list, err := r.fsys.src.Archives()
	if err != nil {
		r.fsys.log.Error("list archives", "err", err)
		return nil, syscall.EIO
	}
	entries := make([]fuse.DirEntry, 0, len(list))
	for i, name := range archiveNames(list) {
		ino := uint64(0)
		if root, err := r.fsys.src.Node(list[i].ID, "/"); err == nil {
			ino = archiveIno(list[i], root)
		}
		entries = append(entries, fuse.DirEntry{Name: name, Mode: syscall.S_IFDIR, Ino: ino})
	}
	return fs.NewListDirStream(entries), 0
}

// Lookup finds a child in the index.
func (d *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if d.n.Type != index.TypeDir {
		return nil, syscall.ENOTDIR
	}
	p := joinPath(d.path(), name)
	c, err := d.fsys.src.Node(d.archive.ID, p)
	if errors.Is(err, index.ErrNotFound) {
		return nil, syscall.ENOENT
	}
	if err != nil {
		d.fsys.log.Error("lookup", "archive", "#"+d.archive.ID, "path", p, "err", err)
		return nil, syscall.EIO
	}
	return d.entry(ctx, c, out), 0
}

// OpendirHandle opens a directory for listing; see dirHandle.
func (d *node) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if d.n.Type != index.TypeDir {
		return nil, 0, syscall.ENOTDIR
	}
	return &dirHandle{d: d}, 0, 0
}

// dirHandle is an open directory. It reads the listing from the index when the first
// entry is asked for (again after a rewind), with each child's record, so that answering
// READDIRPLUS, which describes every child listed, needs no index lookup per child: `ls
// -l` of a folder of thousands of files is one index scan.
type dirHandle struct {
	d        *node
	children []index.Node
	pos      int // children[:pos] have been listed
	listed   bool
}

func (h *dirHandle) list() syscall.Errno {
	h.children, h.pos, h.listed = h.children[:0], 0, true
	p := h.d.path()
	err := h.d.fsys.src.Children(h.d.archive.ID, p, func(c index.Node) error {
		h.children = append(h.children, c)
		return nil
	})
	if err != nil {
		h.listed = false
		h.d.fsys.log.Error("readdir", "archive", "#"+h.d.archive.ID, "path", p, "err", err)
		return syscall.EIO
	}
	return 0
}

// Readdirent returns the next entry, nil at the end.
func (h *dirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	if !h.listed {
		if errno := h.list(); errno != 0 {
			return nil, errno
		}
	}
	if h.pos == len(h.children) {
		return nil, 0
	}
	c := h.children[h.pos]
	h.pos++
	return &fuse.DirEntry{Name: path.Base(c.Path), Mode: typeBits(c.Type), Ino: c.Ino, Off: uint64(h.pos)}, 0
}

// Seekdir moves to the entry after offset off; a rewind reads the listing again.
func (h *dirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	if off == 0 {
		h.listed = false
		return 0
	}
	if !h.listed {
		if errno := h.list(); errno != 0 {
			return errno
		}
	}
	if off > uint64(len(h.children)) {
		return syscall.EINVAL
	}
	h.pos = int(off)
	return 0
}

// Lookup describes the entry Readdirent returned last, for READDIRPLUS, from its record.
func (h *dirHandle) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if h.pos > 0 {
		if c := h.children[h.pos-1]; path.Base(c.Path) == name {
			return h.d.entry(ctx, c, out), 0
		}
	}
	return h.d.Lookup(ctx, name, out)
}

// Getattr describes a node from its index record.
func (d *node) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	d.fsys.attr(d.current(), d.StableAttr().Ino, &out.Attr)
	// go-fuse passes any open handle of the node, since the kernel passes none on fstat.
	// An open spool file is the truth whatever the index says, and the only one left
	// once the file is unlinked and its spool gone from the spool directory.
	if h, ok := asHandle(f); ok {
		var st os.FileInfo
		if h.sf != nil {
			st, _ = h.sf.Stat()
		} else if f, _ := h.source(d); f != nil {
			st, _ = f.Stat()
		}
		if st != nil {
			out.Size = uint64(st.Size())
			out.Blocks = (out.Size + 511) / 512
			mt := st.ModTime()
			out.SetTimes(&mt, &mt, &mt)
		}
	}
	if _, parent := d.Parent(); parent == nil {
		out.Nlink = 0 // unlinked or replaced by a rename, and still open
	}
	if d.fsys.wr != nil && d.n.Type == index.TypeFile {
		out.SetTimeout(writeAttrTimeout)
	} else {
		out.SetTimeout(archiveTimeout)
	}
	return 0
}

// Statfs reports the spool disk's free space on a writable mount, which is what a copy
// into it can use, and none on a read-only one.
func (r *rootNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	return r.fsys.statfs(out)
}

// Statfs reports the same as the root's.
func (d *node) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	return d.fsys.statfs(out)
}

func (f *filesys) statfs(out *fuse.StatfsOut) syscall.Errno {
	out.Bsize = 1 << 16
	out.Frsize = 1 << 16
	out.NameLen = 255
	if f.wr == nil {
		return 0
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(f.wr.SpoolDir(), &st); err == nil {
		out.Bsize, out.Frsize = uint32(st.Bsize), uint32(st.Frsize)
		out.Blocks, out.Bfree, out.Bavail = st.Blocks, st.Bfree, st.Bavail
		out.Files, out.Ffree = st.Files, st.Ffree
	}
	return 0
}
