// Package fs shows a vault as a filesystem through go-fuse: the root holds one directory per
// archive, and inside each the archive's tree as the index records it. Lookups, attributes
// and listings come from the index alone; reads go through the vault's random-access reader.
// Vault errors become syscall.Errno only here, each failed read with a log line naming the
// archive, path and chunk.
//
// A mount with a Writer takes writes: new and changed files go to the spool and the
// writeback queue, tree changes to the index, all committed with the archive's next
// manifest. Without one, every change is EROFS, and so is every change inside a v3.1
// archive, which the Writer refuses (see vault.ErrReadOnly). A directory's times change
// only when set (utimens), not when entries are added or removed inside it.
package fs

import (
	"context"
	"hash/fnv"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/discofs/discofs/index"
)

// Source is what the filesystem reads: the archive list, the index's trees and file bytes.
// *vault.Vault provides it through VaultSource.
type Source interface {
	// Archives returns the visible archives, oldest lot first.
	Archives() ([]index.Archive, error)
	// Node returns the node at path p of an archive; an error wrapping index.ErrNotFound
	// when there is none.
	Node(archive, p string) (index.Node, error)
	// Children calls fn for the nodes directly inside dir, in name order.
	Children(archive, dir string, fn func(index.Node) error) error
	// Rebuilds changes when the index was rebuilt, which may have given a file new content
	// under the same inode number.
	Rebuilds() uint64
	// ReadSlices reads size bytes of a committed file from off, as slices the caller must
	// not modify, valid until it calls release; fewer with an error saying why (io.EOF at
	// the end).
	ReadSlices(ctx context.Context, n index.Node, off int64, size int) (parts [][]byte, release func(), err error)
	// ChunkOf says which chunk of file n holds byte off, and where it begins and ends; i
	// is len(n.Chunks) past the end.
	ChunkOf(n index.Node, off int64) (i int, start, end int64)
	// ReadAside is ReadSlices of bytes no reader asked for yet: no read-ahead starts
	// from it.
	ReadAside(ctx context.Context, n index.Node, off int64, size int) (parts [][]byte, release func(), err error)
	// ReadAround is ReadSlices widened to what the source reads anyway to serve the range;
	// the bytes start at start.
	ReadAround(ctx context.Context, n index.Node, off int64, size int) (start int64, parts [][]byte, release func(), err error)
}

// Timeouts for the kernel's caches. The archive list changes when archives are made or
// removed, so the root's entries are cached briefly; committed trees do not change under a
// read-only mount. A name found missing is cached as missing as briefly as the root's
// (`cp` looks a name up three times before it creates the file): inside an archive names
// appear only through the kernel, which replaces what it cached, but the bot makes
// archives and a rebuilt index can bring back names.
const (
	rootTimeout    = time.Second
	archiveTimeout = time.Minute
)

// filesys is what every node of one mount shares.
type filesys struct {
	src      Source
	wr       Writer // nil: read-only
	log      *slog.Logger
	uid, gid uint32
	// started is the root's time: the root is made at mount, not kept in any archive.
	started time.Time
	// offers holds a token per store into the kernel's page cache running now (see
	// takeOffer).
	offers chan struct{}
	// passthrough: writers may be passed through to their spool files.
	passthrough bool
	releases    afterReleases
}

func newFilesys(src Source, log *slog.Logger) *filesys {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &filesys{src: src, log: log, uid: uint32(os.Getuid()), gid: uint32(os.Getgid()), started: time.Now(),
		offers: make(chan struct{}, maxOffers)}
}

// rootNode is the mount's root: one directory per archive.
type rootNode struct {
	fs.Inode
	fsys *filesys
}

// node is a directory, file or symlink inside an archive, the archive's root included.
type node struct {
	fs.Inode
	fsys    *filesys
	archive index.Archive
	n       index.Node
	// rebuilds is the source's Rebuilds at this file's last open (see Open).
	rebuilds atomic.Uint64
	// fence keeps offers to the kernel's page cache from landing after a change to the
	// file (see writer.go).
	fence fence
	// io keeps the file's open handles to kinds of I/O the kernel can mix.
	io ioModes
	// missed is where small reads of the file reached the mount.
	missed chunkMisses
}

// NewRoot returns the root node of a filesystem over src, for fs.Mount or for tests that
// call node methods directly.
func NewRoot(src Source, log *slog.Logger) fs.InodeEmbedder {
	return &rootNode{fsys: newFilesys(src, log)}
}

// archiveIno is the inode number of an archive's root directory: its root node's, which
// the vault allocates like every other, or one derived from the ID when it has none.
func archiveIno(a index.Archive, root index.Node) uint64 {
	if root.Ino != 0 {
		return root.Ino
	}
	h := fnv.New64a()
	h.Write([]byte(a.ID))
	return h.Sum64() | 1<<63
}

// archiveNames names each archive's directory: its name, or "name [DDMMYY-NN]" when
// several archives share it or it cannot be a file name.
func archiveNames(list []index.Archive) []string {
	count := map[string]int{}
	for _, a := range list {
		count[a.Name]++
	}
	names := make([]string, len(list))
	for i, a := range list {
		switch {
		case a.Name == "" || a.Name == "." || a.Name == ".." || strings.Contains(a.Name, "/"):
			names[i] = a.ID
		case count[a.Name] > 1:
			names[i] = a.Name + " [" + a.ID + "]"
		default:
			names[i] = a.Name
		}
	}
	return names
}

// typeBits is the file type part of a node's mode.
func typeBits(t index.NodeType) uint32 {
	switch t {
	case index.TypeDir:
		return syscall.S_IFDIR
	case index.TypeSymlink:
		return syscall.S_IFLNK
	}
	return syscall.S_IFREG
}

// fill sets attributes from an index node.
func (f *filesys) fill(n index.Node, ino uint64, out *fuse.Attr) {
	out.Ino = ino
	out.Mode = typeBits(n.Type) | n.Mode&07777
	out.Size = uint64(n.Size)
	if n.Type == index.TypeSymlink {
		out.Size = uint64(len(n.Target))
	}
	out.Blocks = (out.Size + 511) / 512
	// The preferred I/O size: cp and others then move 1 MiB per call, one FUSE request
	// each (MaxWrite), where 128 KiB calls would cost eight round trips.
	out.Blksize = 1 << 20
	out.Nlink = 1
	if n.Type == index.TypeDir {
		out.Nlink = 2
	}
	sec, nsec := uint64(n.Mtime/1e9), uint32(n.Mtime%1e9)
	if n.Mtime < 0 {
		sec, nsec = 0, 0
	}
	out.Mtime, out.Mtimensec = sec, nsec
	out.Ctime, out.Ctimensec = sec, nsec
	out.Atime, out.Atimensec = sec, nsec
	out.Owner = fuse.Owner{Uid: f.uid, Gid: f.gid}
}
