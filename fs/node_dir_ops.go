package fs

import (
	"context"
	"errors"
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
	c, err := d.fsys.src.Node(d.archive.ID, path.Join(d.n.Path, name))
	if errors.Is(err, index.ErrNotFound) {
		return nil, syscall.ENOENT
	}
	if err != nil {
		d.fsys.log.Error("lookup", "archive", "#"+d.archive.ID, "path", path.Join(d.n.Path, name), "err", err)
		return nil, syscall.EIO
	}
	d.fsys.fill(c, c.Ino, &out.Attr)
	out.SetEntryTimeout(archiveTimeout)
	out.SetAttrTimeout(archiveTimeout)
	child := &node{fsys: d.fsys, archive: d.archive, n: c}
	return d.NewInode(ctx, child, fs.StableAttr{Mode: typeBits(c.Type), Ino: c.Ino}), 0
}

// Readdir lists a directory from the index.
func (d *node) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	if d.n.Type != index.TypeDir {
		return nil, syscall.ENOTDIR
	}
	var entries []fuse.DirEntry
	err := d.fsys.src.Children(d.archive.ID, d.n.Path, func(c index.Node) error {
		entries = append(entries, fuse.DirEntry{Name: path.Base(c.Path), Mode: typeBits(c.Type), Ino: c.Ino})
		return nil
	})
	if err != nil {
		d.fsys.log.Error("readdir", "archive", "#"+d.archive.ID, "path", d.n.Path, "err", err)
		return nil, syscall.EIO
	}
	return fs.NewListDirStream(entries), 0
}

// Getattr describes a node from its index record.
func (d *node) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	d.fsys.fill(d.n, d.StableAttr().Ino, &out.Attr)
	out.SetTimeout(archiveTimeout)
	return 0
}

// Statfs reports a filesystem without free space, since it cannot take writes yet.
func (r *rootNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	out.Bsize = 1 << 16
	out.Frsize = 1 << 16
	out.NameLen = 255
	return 0
}

// Statfs reports the same as the root's.
func (d *node) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	out.Bsize = 1 << 16
	out.Frsize = 1 << 16
	out.NameLen = 255
	return 0
}
