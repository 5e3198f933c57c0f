package fs

import (
	"context"
	"sync/atomic"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/discofs/discofs/index"
	"github.com/discofs/discofs/vault"
)

// Changes go to the writeback queue; a mount without one refuses them with EROFS, and so
// does the queue for an archive that cannot change (a v3.1 archive), before anything
// changes. A silent success would lose data, so what discofs cannot keep (hard links,
// devices, other extended attributes) gets its own errno, after EROFS as the kernel
// checks a read-only mount first.

// writable is 0 when the node's archive may change, else EROFS: the mount is read-only,
// or the archive is a v3.1 one (which never changes into another kind). Changes the queue
// itself takes need not ask: it refuses them with an error errno turns into EROFS.
func (d *node) writable() syscall.Errno {
	if d.fsys.wr == nil || d.archive.Legacy {
		return syscall.EROFS
	}
	return 0
}

// Setattr changes mode, times or size; owners cannot change.
func (d *node) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if errno := d.writable(); errno != 0 {
		return errno // even for what setattr does not keep (owners, atime)
	}
	wr := d.fsys.wr
	p := d.path()
	if uid, ok := in.GetUID(); ok && uid != d.fsys.uid {
		return syscall.EPERM
	}
	if gid, ok := in.GetGID(); ok && gid != d.fsys.gid {
		return syscall.EPERM
	}
	if size, ok := in.GetSize(); ok {
		d.fence.change(false)
		var err error
		if h, isW := asHandle(f); isW && h.sf != nil {
			err = h.sf.Truncate(int64(size))
		} else {
			_, err = wr.Truncate(d.archive.ID, p, int64(size))
		}
		if errno := d.fsys.errno(err, "truncate", d.archive.ID, p); errno != 0 {
			return errno
		}
	}
	var a vault.SetAttr
	if mode, ok := in.GetMode(); ok {
		a.Mode = &mode
	}
	if mt, ok := in.GetMTime(); ok {
		a.Mtime = &mt
	}
	if a.Mode != nil || a.Mtime != nil {
		if _, err := wr.SetAttr(d.archive.ID, p, a); err != nil {
			return d.fsys.errno(err, "setattr", d.archive.ID, p)
		}
	}
	d.fsys.attr(d.current(), d.StableAttr().Ino, &out.Attr)
	out.SetTimeout(writeAttrTimeout)
	return 0
}

// writeRequests counts the WRITE requests of every mount in the process; passed-through
// writes never come (tests see that).
var writeRequests atomic.Int64

// Write writes into the spool.
func (d *node) Write(ctx context.Context, f fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	writeRequests.Add(1)
	h, ok := asHandle(f)
	if !ok || h.sf == nil {
		return 0, syscall.EBADF
	}
	n, err := h.sf.WriteAt(data, off)
	if err != nil {
		return uint32(n), d.fsys.errno(err, "write", d.archive.ID, d.path())
	}
	return uint32(n), 0
}

// Allocate reserves or punches space in a file open for writing, as fallocate(2) does on
// its spool file.
func (d *node) Allocate(ctx context.Context, f fs.FileHandle, off, size uint64, mode uint32) syscall.Errno {
	h, ok := asHandle(f)
	if !ok || h.sf == nil {
		if errno := d.writable(); errno != 0 {
			return errno
		}
		return syscall.EBADF
	}
	return d.fsys.errno(h.sf.Allocate(int64(off), int64(size), mode), "fallocate", d.archive.ID, d.path())
}

// Create makes a new file in the spool.
func (d *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	child, sf, n, errno := d.create(ctx, name, mode, out)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	cn := child.Operations().(*node)
	cn.fence.change(true) // until Release
	cn.io.mu.Lock()
	defer cn.io.mu.Unlock()
	h, fl := cn.writeHandle(sf, n, flags)
	return child, h, fl, 0
}

// create makes a new file in the spool and returns its spool file, open for writing.
func (d *node) create(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, *vault.SpoolFile, index.Node, syscall.Errno) {
	if d.fsys.wr == nil {
		return nil, nil, index.Node{}, syscall.EROFS
	}
	p := joinPath(d.path(), name)
	n, sf, err := d.fsys.wr.Create(d.archive.ID, p, mode)
	if err != nil {
		return nil, nil, n, d.fsys.errno(err, "create", d.archive.ID, p)
	}
	return d.entry(ctx, n, out), sf, n, 0
}

// writeHandle is the handle of a file opened for writing, and its open flags: passed
// through unless a handle that uses the page cache is open. d.io.mu is held.
func (d *node) writeHandle(sf *vault.SpoolFile, n index.Node, flags uint32) (fs.FileHandle, uint32) {
	if d.fsys.passthrough && d.io.cached == 0 {
		d.io.passed++
		sf.Bypass()
		return &passHandle{&handle{sf: sf, n: n}}, 0
	}
	d.io.cached++
	return &handle{sf: sf, n: n}, writeOnly(flags)
}

// writeOnly asks the kernel to pass the writes of a handle opened only for writing
// straight to the mount, without copying them into its page cache first (`cp` into the
// mount then copies each byte once less). The kernel drops cached pages of a range
// before such a write goes through, so readers on other handles see it. A handle that
// can read, or map the file, keeps the page cache.
func writeOnly(flags uint32) uint32 {
	if flags&syscall.O_ACCMODE == syscall.O_WRONLY {
		return fuse.FOPEN_DIRECT_IO
	}
	return 0
}

// Mkdir makes a directory.
func (d *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if d.fsys.wr == nil {
		return nil, syscall.EROFS
	}
	p := joinPath(d.path(), name)
	n, err := d.fsys.wr.Mkdir(d.archive.ID, p, mode)
	if err != nil {
		return nil, d.fsys.errno(err, "mkdir", d.archive.ID, p)
	}
	return d.entry(ctx, n, out), 0
}

// Mknod makes regular files only: devices, fifos and sockets cannot be archived.
func (d *node) Mknod(ctx context.Context, name string, mode, dev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if errno := d.writable(); errno != 0 {
		return nil, errno
	}
	if mode&syscall.S_IFMT != syscall.S_IFREG && mode&syscall.S_IFMT != 0 {
		return nil, syscall.EPERM
	}
	in, sf, _, errno := d.create(ctx, name, mode, out)
	if errno == 0 {
		sf.Release(joinPath(d.path(), name))
	}
	return in, errno
}

// Symlink makes a symbolic link.
func (d *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if d.fsys.wr == nil {
		return nil, syscall.EROFS
	}
	p := joinPath(d.path(), name)
	n, err := d.fsys.wr.Symlink(d.archive.ID, p, target)
	if err != nil {
		return nil, d.fsys.errno(err, "symlink", d.archive.ID, p)
	}
	return d.entry(ctx, n, out), 0
}

// Link refuses hard links: an archive's tree has one path per file.
func (d *node) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if errno := d.writable(); errno != 0 {
		return nil, errno
	}
	return nil, syscall.EPERM
}

// Unlink removes a file or symlink.
func (d *node) Unlink(ctx context.Context, name string) syscall.Errno { return d.remove(name, false) }

// Rmdir removes an empty directory.
func (d *node) Rmdir(ctx context.Context, name string) syscall.Errno { return d.remove(name, true) }

func (d *node) remove(name string, dir bool) syscall.Errno {
	if d.fsys.wr == nil {
		return syscall.EROFS
	}
	p := joinPath(d.path(), name)
	return d.fsys.errno(d.fsys.wr.Remove(d.archive.ID, p, dir), "remove", d.archive.ID, p)
}

// renameNoReplace is RENAME_NOREPLACE of renameat2(2).
const renameNoReplace = 1

// Rename moves within one archive; across archives it is EXDEV, so mv copies, unless
// either archive cannot change: then it is EROFS, and mv copies nothing.
func (d *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if errno := d.writable(); errno != 0 {
		return errno
	}
	to, ok := newParent.(*node)
	if ok && to.archive.ID != d.archive.ID {
		if errno := to.writable(); errno != 0 {
			return errno
		}
	}
	if !ok || to.archive.ID != d.archive.ID {
		return syscall.EXDEV
	}
	if flags&^uint32(renameNoReplace) != 0 {
		return syscall.EINVAL // RENAME_EXCHANGE and whiteouts are not supported
	}
	from, dst := joinPath(d.path(), name), joinPath(to.path(), newName)
	err := d.fsys.wr.Rename(d.archive.ID, from, dst, flags&renameNoReplace != 0)
	return d.fsys.errno(err, "rename", d.archive.ID, from)
}

// Setxattr refuses: only the discofs attributes exist, and they are read-only.
func (d *node) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	if errno := d.writable(); errno != 0 {
		return errno
	}
	if attr == XattrArchive || attr == XattrState {
		return syscall.EPERM
	}
	return syscall.ENOTSUP
}

// Removexattr refuses like Setxattr.
func (d *node) Removexattr(ctx context.Context, attr string) syscall.Errno {
	if errno := d.writable(); errno != 0 {
		return errno
	}
	if attr == XattrArchive || attr == XattrState {
		return syscall.EPERM
	}
	return syscall.ENODATA
}

// Fsync has an open file uploaded and committed before it returns; a reader's has
// nothing to commit.
func (d *node) Fsync(ctx context.Context, f fs.FileHandle, flags uint32) syscall.Errno {
	h, ok := asHandle(f)
	if !ok || h.sf == nil || h.joined {
		return 0
	}
	return d.fsys.errno(h.sf.Sync(ctx), "fsync", d.archive.ID, d.path())
}

// Release closes a handle; the last close of a written file queues it.
func (d *node) Release(ctx context.Context, f fs.FileHandle) syscall.Errno {
	h, ok := asHandle(f)
	if !ok {
		return 0
	}
	_, passed := f.(*passHandle)
	p := d.path()
	if h.sf == nil {
		h.close()
	}
	// The handle is counted gone only once go-fuse is done with it (see passthrough.go).
	done := func() syscall.Errno {
		d.io.close(passed) // first: a reader is joined only while a passed-through handle is open
		if h.sf == nil {
			return 0
		}
		if !h.joined {
			defer d.fence.writerGone()
		}
		return d.fsys.errno(h.sf.Release(p), "release", d.archive.ID, p)
	}
	defer delay(&releaseDelay)
	if d.fsys.afterRelease(ctx, func() { done() }) {
		return 0
	}
	return done()
}

// releaseDelay, when set, makes Release wait before it returns, so that tests see go-
// fuse's part of it come late.
var releaseDelay atomic.Pointer[func()]

// Setattr refuses changes to the root, which is no archive's.
func (r *rootNode) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if r.fsys.wr == nil {
		return syscall.EROFS
	}
	return syscall.EPERM
}

// Mkdir makes a new archive.
func (r *rootNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if r.fsys.wr == nil {
		return nil, syscall.EROFS
	}
	cctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	a, err := r.fsys.wr.MakeArchive(cctx, name, mode)
	if err != nil {
		return nil, r.fsys.errno(err, "make archive", a.ID, "/")
	}
	return r.archiveInode(ctx, a, out)
}

// Create refuses files at the root: every file belongs to an archive.
func (r *rootNode) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, r.refuse()
}

// Mknod refuses nodes at the root.
func (r *rootNode) Mknod(ctx context.Context, name string, mode, dev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, r.refuse()
}

// Symlink refuses symlinks at the root.
func (r *rootNode) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, r.refuse()
}

// Unlink refuses removals at the root.
func (r *rootNode) Unlink(ctx context.Context, name string) syscall.Errno { return r.refuse() }

// Rmdir refuses archive removal: `discofs rm` deletes an archive, on purpose (and only
// forgets a v3.1 one, whose directory is read-only here like all of it).
func (r *rootNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	if r.readOnlyArchive(name) {
		return syscall.EROFS
	}
	return r.refuse()
}

// Rename refuses archive renames; moving a file to the root is EXDEV like any move
// between archives.
func (r *rootNode) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if to, ok := newParent.(*node); r.readOnlyArchive(name) || ok && to.writable() != 0 {
		return syscall.EROFS
	}
	return r.refuse()
}

// readOnlyArchive says whether name is the directory of an archive that cannot change, on
// a mount that takes changes.
func (r *rootNode) readOnlyArchive(name string) bool {
	if r.fsys.wr == nil {
		return false
	}
	list, err := r.fsys.src.Archives()
	if err != nil {
		return false
	}
	for i, n := range archiveNames(list) {
		if n == name {
			return list[i].Legacy
		}
	}
	return false
}

// Setxattr refuses attributes on the root.
func (r *rootNode) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return r.refuse()
}

func (r *rootNode) refuse() syscall.Errno {
	if r.fsys.wr == nil {
		return syscall.EROFS
	}
	return syscall.EPERM
}
