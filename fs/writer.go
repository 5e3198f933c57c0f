package fs

import (
	"context"
	"errors"
	"io"
	iofs "io/fs"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
	"github.com/discofs/discofs/vault"
)

// Writer is the write side a writable mount needs; *vault.Writeback provides it.
type Writer interface {
	MakeArchive(ctx context.Context, name string, mode uint32) (index.Archive, error)
	Create(archive, p string, mode uint32) (index.Node, *vault.SpoolFile, error)
	OpenWrite(archive, p string, trunc bool) (index.Node, *vault.SpoolFile, error)
	OpenSpool(ino uint64) (*vault.SpoolReader, error)
	Join(ino uint64) (*vault.SpoolFile, error)
	Mkdir(archive, p string, mode uint32) (index.Node, error)
	Symlink(archive, p, target string) (index.Node, error)
	Remove(archive, p string, dir bool) error
	Rename(archive, from, to string, noReplace bool) error
	SetAttr(archive, p string, a vault.SetAttr) (index.Node, error)
	Truncate(archive, p string, size int64) (index.Node, error)
	State(ino uint64) (index.FileState, bool)
	Left() uint64
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
	case errors.Is(err, context.Canceled):
		// The request was interrupted: the caller got a signal while it waited. What it
		// waited for goes on (an fsync's upload still commits).
		return syscall.EINTR
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
	case errors.Is(err, vault.ErrReadOnly):
		return syscall.EROFS
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

// handle is an open file: a spool file open for writing, or a file open for reading,
// whose bytes are in its spool while it is queued and in the store once committed.
type handle struct {
	sf *vault.SpoolFile
	// joined: a reader passed through beside a writer (sf is open only for reading; see
	// vault's Join).
	joined bool
	// mu guards what a reading handle reads from, which follows the file: another
	// descriptor or a truncate by path can queue a committed file, and a commit can
	// move a queued one to the store.
	mu        sync.Mutex
	spool     *vault.SpoolReader
	spoolInfo os.FileInfo
	n         index.Node
	// left is the writer's Left, and rebuilds the source's Rebuilds, when n was read:
	// while both stay, a file not queued still has n's content, and a read need not ask
	// the index.
	left, rebuilds uint64
}

// source says where a reading handle's bytes are now: an open spool file, or (file nil)
// the committed node n. A node unlinked or replaced while open keeps what it had.
func (h *handle) source(d *node) (file *vault.SpoolReader, n index.Node) {
	h.mu.Lock()
	defer h.mu.Unlock()
	wr := d.fsys.wr
	if wr == nil {
		return nil, h.n
	}
	if _, parent := d.Parent(); parent == nil {
		return h.spool, h.n
	}
	ino := d.StableAttr().Ino
	if _, queued := wr.State(ino); queued {
		if h.spool != nil {
			// A spool file lasts from the first write after a commit to the next commit;
			// one opened earlier holds older bytes.
			if st, err := os.Stat(wr.SpoolDir() + "/" + uitoa(ino)); err == nil && os.SameFile(st, h.spoolInfo) {
				return h.spool, h.n
			}
		}
		if f, err := wr.OpenSpool(ino); err == nil {
			if st, err := f.Stat(); err == nil {
				if h.spool != nil {
					h.spool.Close()
				}
				h.spool, h.spoolInfo = f, st
				return f, h.n
			}
			f.Close()
		}
		// Committed since, or still being copied up: the store has the bytes.
	}
	left, rebuilds := wr.Left(), d.fsys.src.Rebuilds()
	if left == h.left && rebuilds == h.rebuilds && h.n.State == index.StateCommitted {
		return nil, h.n
	}
	if n := d.current(); n.Ino == ino && n.Type == index.TypeFile && n.State == index.StateCommitted {
		h.n, h.left, h.rebuilds = n, left, rebuilds
	}
	return nil, h.n
}

// setSpool makes a reading handle start from an open spool file.
func (h *handle) setSpool(f *vault.SpoolReader) {
	h.spool = f
	h.spoolInfo, _ = f.Stat()
}

func (h *handle) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.spool != nil {
		h.spool.Close()
		h.spool = nil
	}
}

// read reads from the handle's source: the bytes of a spool file land in dest; those of a
// committed file come as slices of the vault's read cache, which go to the kernel
// without another copy.
func (h *handle) read(ctx context.Context, d *node, dest []byte, off int64) (fuse.ReadResult, int, error) {
	gen := d.fence.gen.Load() // before the bytes are found; see offerPages
	if h.sf != nil {
		k, err := h.sf.ReadAt(dest, off)
		return fuse.ReadResultData(dest[:k]), k, err
	}
	f, n := h.source(d)
	if f != nil {
		k, err := f.ReadAt(dest, off)
		return fuse.ReadResultData(dest[:k]), k, err
	}
	small := len(dest) < readAroundBelow
	var cs, ce int64 // the chunk to hand over whole, if any
	if small {
		// A small read that reaches the mount in a chunk where one did before hands over
		// all of it: the file is read at random where its hand-overs have not reached.
		i, s, e := d.fsys.src.ChunkOf(n, off)
		if d.missed.again(i, len(n.Chunks)) && e-s <= maxWide {
			cs, ce = s, e
		}
	}
	if !small || !d.fsys.takeOffer() {
		parts, release, err := d.fsys.src.ReadSlices(ctx, n, off, len(dest))
		res := &sliceResult{parts: parts, release: release, size: int(partsLen(parts))}
		return res, res.size, err
	}
	rebuilds := d.fsys.src.Rebuilds()
	start, around, release, err := d.fsys.src.ReadAround(ctx, n, off, len(dest))
	res := &sliceResult{release: release}
	// The reply is the part of around that was asked for.
	skip, want := off-start, len(dest)
	for _, p := range around {
		if skip >= int64(len(p)) {
			skip -= int64(len(p))
			continue
		}
		p = p[skip:min(int64(len(p)), skip+int64(want-res.size))]
		skip = 0
		res.parts = append(res.parts, p)
		if res.size += len(p); res.size == want {
			break
		}
	}
	if err == nil || errors.Is(err, io.EOF) {
		res.offer = func() { d.offerPages(n, start, around, cs, ce, rebuilds, gen) }
	} else {
		<-d.fsys.offers
	}
	if errors.Is(err, io.EOF) && res.size == want {
		err = nil
	}
	if err == nil && res.size < want {
		err = io.EOF
	}
	return res, res.size, err
}

// Small reads offer the rest of the segments they opened to the kernel's page cache
// (FUSE's store notification), so the neighbours of a random read are served without a
// round trip. Larger reads are the kernel's own read-ahead. Offers run on goroutines of
// their own, at most maxOffers at once, never on a FUSE request's, so no request waits
// for one; a small read that finds them all taken is not widened.
//
// An offer lands after the read that made it, so on a writable mount it could land after
// a write to the same pages and bring old bytes back. Each file's fence prevents that:
// an offer runs only if no handle that can write the file has been opened, nor its size
// set, since its bytes were read, and none is open; and an open for writing or a
// truncate waits for the file's running offers before it goes on. A running offer waits
// only for pages the kernel holds locked for a pending read, which the mount answers
// without the fence, so the wait ends. (A writer that waited for offers from its write
// requests could deadlock: the kernel holds the pages a write covers locked until it is
// answered.) The kernel forgets a file's pages with the file, and a file it looks up
// again gets a new node and node ID, so a late offer to the old one lands nowhere.
const (
	readAroundBelow = 64 << 10
	maxOffers       = 4
	// maxWide bounds a chunk handed over whole: v3.1 chunks can be larger.
	maxWide = chunkstore.MaxChunkSize
)

// chunkMisses remembers which chunks of a file small reads reached the mount in. A
// chunk's first such read hands over its segments; the second hands over the whole
// chunk (about 1 MiB) instead: a file read at random all over (a disk image, a database)
// is then soon served from the page cache, while a file read in a few places (a
// thumbnailer's) fetches no more than the segments it reads.
type chunkMisses struct {
	mu   sync.Mutex
	bits []uint64
}

// again records a small read in chunk i of a file of chunks chunks, and says whether one
// came there before.
func (m *chunkMisses) again(i, chunks int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if w := (chunks + 63) / 64; len(m.bits) != w {
		m.bits = make([]uint64, w) // first read, or the file was rewritten
	}
	if i >= chunks {
		return false
	}
	bit := uint64(1) << (i % 64)
	seen := m.bits[i/64]&bit != 0
	m.bits[i/64] |= bit
	return seen
}

// fence orders a file's offers and the changes to its bytes.
type fence struct {
	gen     atomic.Uint64 // changes with every change: an open for writing, a truncate
	mu      sync.Mutex
	writers int           // open handles that can write
	running int           // offers storing now
	idle    chan struct{} // closed when running drops to 0
}

// startOffer says whether an offer of bytes read when gen was g may run, and if so
// counts it as running until endOffer.
func (f *fence) startOffer(g uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.writers > 0 || f.gen.Load() != g {
		return false
	}
	if f.running == 0 {
		f.idle = make(chan struct{})
	}
	f.running++
	return true
}

func (f *fence) endOffer() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.running--; f.running == 0 {
		close(f.idle)
	}
}

// change marks the file's bytes as changing, counting a handle that can write when
// writer is set (writerGone uncounts it), and waits until no offer of it runs.
func (f *fence) change(writer bool) {
	f.mu.Lock()
	f.gen.Add(1)
	if writer {
		f.writers++
	}
	idle, running := f.idle, f.running
	f.mu.Unlock()
	if running > 0 {
		<-idle
	}
}

func (f *fence) writerGone() {
	f.mu.Lock()
	f.writers--
	f.mu.Unlock()
}

// offerDelay, when set, makes offers wait, so that tests see them land late.
var offerDelay atomic.Pointer[func()]

// delay runs the test hook in p, if one is set.
func delay(p *atomic.Pointer[func()]) {
	if f := p.Load(); f != nil {
		(*f)()
	}
}

// takeOffer reserves one of the offers that may run at once; false when all are taken,
// and the read is not widened.
func (f *filesys) takeOffer() bool {
	select {
	case f.offers <- struct{}{}:
		return true
	default:
		return false
	}
}

// offerPages stores bytes read around a small read in the kernel's page cache, once the
// reply has gone (the pages it asked for are unlocked by then), unless the file may have
// changed since they were read: its fence moved on from gen, or the index was rebuilt (a
// file may have new bytes under the same inode). The bytes of [cs, ce) around them (if
// not empty) go too, read first, outside the fence. It gives back the offer its read took.
func (d *node) offerPages(n index.Node, start int64, parts [][]byte, cs, ce int64, rebuilds, gen uint64) {
	defer func() { <-d.fsys.offers }()
	if cs < ce {
		end := start + partsLen(parts)
		if cs < start {
			ps, release, _ := d.fsys.src.ReadAside(context.Background(), n, cs, int(start-cs))
			defer release()
			if partsLen(ps) == start-cs {
				start, parts = cs, append(ps, parts...)
			}
		}
		if end < ce {
			ps, release, _ := d.fsys.src.ReadAside(context.Background(), n, end, int(ce-end))
			defer release()
			parts = append(parts, ps...) // as much as came
		}
	}
	delay(&offerDelay)
	if d.fsys.src.Rebuilds() != rebuilds || !d.fence.startOffer(gen) {
		return
	}
	defer d.fence.endOffer()
	delay(&offerDelay)
	d.storePages(start, parts, n.Size)
}

func partsLen(parts [][]byte) (n int64) {
	for _, p := range parts {
		n += int64(len(p))
	}
	return n
}

// storePages stores the bytes parts hold from off on in the kernel's page cache, in
// whole pages: the kernel keeps a stored page only when the store fills it from its start
// (to its end, or to the end of the file, size). Parts (a chunk's segments) start and end
// anywhere in a page; a page across two of them is put together in a buffer of its own,
// the rest go as they are, and the bytes of a page whose start is not there are left out.
func (d *node) storePages(off int64, parts [][]byte, size int64) {
	page := int64(os.Getpagesize())
	var pend []byte // a page begun at pendOff, to be filled from the next parts
	var pendOff int64
	for _, p := range parts {
		for len(p) > 0 {
			var k int64
			switch {
			case pend != nil:
				k = min(page-int64(len(pend)), int64(len(p)))
				pend = append(pend, p[:k]...)
				if int64(len(pend)) == page {
					if d.WriteCache(pendOff, pend) != 0 {
						return
					}
					pend = nil
				}
			case off%page != 0: // the rest of a page whose start is not here
				k = min(page-off%page, int64(len(p)))
			case int64(len(p)) >= page:
				k = int64(len(p)) / page * page
				if d.WriteCache(off, p[:k]) != 0 {
					return
				}
			default:
				k = int64(len(p))
				pend, pendOff = append(make([]byte, 0, page), p...), off
			}
			p, off = p[k:], off+k
		}
	}
	if pend != nil && pendOff+int64(len(pend)) == size {
		d.WriteCache(pendOff, pend)
	}
}

// sliceResult answers a read with slices of the vault's read cache, which go-fuse hands
// to the kernel in one writev (it looks for the Slices method) and then lets go with Done.
type sliceResult struct {
	parts   [][]byte
	size    int
	release func()
	offer   func() // offers the bytes read around the reply to the kernel
}

func (r *sliceResult) Size() int { return r.size }

// Bytes copies the slices into buf, for a caller that needs them in one piece.
func (r *sliceResult) Bytes(buf []byte) ([]byte, fuse.Status) {
	buf = buf[:0]
	for _, p := range r.parts {
		buf = append(buf, p...)
	}
	return buf, fuse.OK
}

// Slices are the bytes as they are.
func (r *sliceResult) Slices() ([][]byte, fuse.Status) { return r.parts, fuse.OK }

// Done releases the slices once the kernel has them, after offering the bytes read around
// them, if any, on a goroutine of its own.
func (r *sliceResult) Done() {
	release, offer := r.release, r.offer
	r.release, r.offer = nil, nil
	switch {
	case offer != nil:
		go func() {
			offer()
			release()
		}()
	case release != nil:
		release()
	}
}
