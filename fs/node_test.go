package fs

import (
	"context"
	"fmt"
	"syscall"
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
)

// failingSource serves one file whose reads fail.
type failingSource struct{ err error }

func (failingSource) Archives() ([]index.Archive, error) { return nil, nil }
func (failingSource) Node(string, string) (index.Node, error) {
	return index.Node{}, index.ErrNotFound
}
func (failingSource) Children(string, string, func(index.Node) error) error { return nil }
func (failingSource) Rebuilds() uint64                                      { return 0 }
func (s failingSource) ReadAround(context.Context, index.Node, int64, int) (int64, [][]byte, func(), error) {
	return 0, nil, func() {}, s.err
}

func (s failingSource) ReadSlices(context.Context, index.Node, int64, int) ([][]byte, func(), error) {
	return nil, func() {}, s.err
}

func (failingSource) ChunkOf(index.Node, int64) (int, int64, int64) { return 0, 0, 0 }

func (s failingSource) ReadAside(context.Context, index.Node, int64, int) ([][]byte, func(), error) {
	return nil, func() {}, s.err
}

func TestArchiveNames(t *testing.T) {
	list := []index.Archive{
		{ID: "010126-01", Name: "a"}, {ID: "010126-02", Name: "b"}, {ID: "010126-03", Name: "a"},
		{ID: "010126-04", Name: "x/y"}, {ID: "010126-05", Name: ".."}, {ID: "010126-06", Name: ""},
	}
	got := archiveNames(list)
	want := []string{"a [010126-01]", "b", "a [010126-03]", "010126-04", "010126-05", "010126-06"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("name %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestNodeMethods(t *testing.T) {
	ctx := context.Background()
	fsys := newFilesys(failingSource{fmt.Errorf("chunk x: %w", chunkstore.ErrAuth)}, nil)
	file := &node{fsys: fsys, archive: index.Archive{ID: "261126-01"},
		n: index.Node{Path: "/f", Type: index.TypeFile, Size: 10, Ino: 5, Chunks: []index.ChunkRef{{Len: 10}}}}
	if _, _, errno := file.Open(ctx, syscall.O_WRONLY); errno != syscall.EROFS {
		t.Errorf("open for writing = %v", errno)
	}
	if _, flags, errno := file.Open(ctx, syscall.O_RDONLY); errno != 0 || flags == 0 {
		t.Errorf("open for reading = %#x, %v", flags, errno)
	}
	if _, errno := file.Read(ctx, nil, make([]byte, 4), 0); errno != syscall.EIO {
		t.Errorf("failed read = %v, want EIO", errno)
	}
	if _, errno := file.Readlink(ctx); errno != syscall.EINVAL {
		t.Errorf("readlink of a file = %v", errno)
	}
	if n, errno := file.Getxattr(ctx, XattrArchive, nil); errno != 0 || n != uint32(len("#261126-01")) {
		t.Errorf("xattr size = %d, %v", n, errno)
	}
	if _, errno := file.Getxattr(ctx, XattrArchive, make([]byte, 3)); errno != syscall.ERANGE {
		t.Errorf("xattr into a short buffer = %v", errno)
	}
	if errno := file.Unlink(ctx, "x"); errno != syscall.EROFS {
		t.Errorf("unlink = %v", errno)
	}
	cancelled := &node{fsys: newFilesys(failingSource{context.Canceled}, nil), n: file.n}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, errno := cancelled.Read(cctx, nil, make([]byte, 4), 0); errno != syscall.EINTR {
		t.Errorf("interrupted read = %v, want EINTR", errno)
	}
}

// rebuildingSource is failingSource whose index can be rebuilt.
type rebuildingSource struct {
	failingSource
	rebuilds uint64
}

func (s *rebuildingSource) Rebuilds() uint64 { return s.rebuilds }

// A rebuilt index may give an inode new content (a commit made on another machine), so the
// first open after a rebuild lets the kernel drop what it cached; other opens keep it.
func TestOpenAfterRebuildDropsCachedPages(t *testing.T) {
	src := &rebuildingSource{}
	file := &node{fsys: newFilesys(src, nil), archive: index.Archive{ID: "261126-01"},
		n: index.Node{Path: "/f", Type: index.TypeFile, Size: 10, Ino: 5, Chunks: []index.ChunkRef{{Len: 10}}}}
	keeps := func() bool {
		_, flags, errno := file.Open(context.Background(), syscall.O_RDONLY)
		if errno != 0 {
			t.Fatal(errno)
		}
		return flags&fuse.FOPEN_KEEP_CACHE != 0
	}
	for range 2 {
		if !keeps() {
			t.Fatal("an open before any rebuild drops the cached pages")
		}
	}
	src.rebuilds++
	if keeps() {
		t.Fatal("the first open after a rebuild keeps the cached pages")
	}
	if !keeps() {
		t.Fatal("a second open after a rebuild drops the cached pages again")
	}
}
