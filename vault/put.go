package vault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
)

// PutOptions shape one Put.
type PutOptions struct {
	// Name is the new archive's name; default: the base name of the one source, or the ID.
	Name string
	// Archive adds to this existing archive (ID or name) instead of making a new one.
	Archive string
	// Progress, when set, is updated as the put goes.
	Progress *Progress
	// scratch: the sources are a temporary tree of the vault's own (a migrate, a re-seal),
	// gone once Put returns, so no record of them is kept for Resume.
	scratch bool
}

// Progress counts a long operation's work; readers may poll it at any time.
type Progress struct {
	Files  atomic.Int64 // files done
	Bytes  atomic.Int64 // plaintext bytes read
	Total  atomic.Int64 // plaintext bytes expected (0: unknown)
	Stored atomic.Int64 // bytes written to the store
	Packs  atomic.Int64 // packs written to the store
}

// source is one path given to Put and where it lands in the archive.
type source struct {
	fsPath, archPath string
	info             fs.FileInfo
}

// Put archives the given files and trees. One directory is archived with its contents at
// the archive's root; several paths sit side by side under their base names. The archive
// becomes visible only once its manifest is stored; an interrupted Put leaves nothing
// visible but a record of its sources, so Resume can run it again into the same archive,
// storing no chunk twice (GC abandons it instead).
func (v *Vault) Put(ctx context.Context, paths []string, opts PutOptions) (index.Archive, error) {
	srcs, err := layout(paths)
	if err != nil {
		return index.Archive{}, err
	}
	if opts.Progress != nil {
		opts.Progress.Total.Store(totalSize(srcs))
	}
	abs := make([]string, len(srcs))
	for i, s := range srcs {
		if abs[i], err = filepath.Abs(s.fsPath); err != nil {
			return index.Archive{}, err
		}
	}
	v.mu.RLock()
	defer v.mu.RUnlock()

	var target, stage index.Archive
	if opts.Archive != "" {
		if target, err = v.Resolve(opts.Archive); err != nil {
			return target, err
		}
		if target.Legacy {
			return target, fmt.Errorf("archive %s is a %w", FormatID(target.ID), ErrReadOnly)
		}
		stage = index.Archive{ID: target.ID + "~" + randomHex(4), Status: index.StatusPending, Created: v.opts.Now()}
	} else {
		if target, err = v.newArchive(ctx, archiveName(opts.Name, srcs)); err != nil {
			return target, err
		}
		v.log.Info("archive created", "archive", FormatID(target.ID), "name", target.Name)
		stage = target
	}
	v.staging.Store(stage.ID, true)
	defer v.staging.Delete(stage.ID)
	// The sources first: a crash between the two leaves a source record without its
	// archive, which GC drops.
	if !opts.scratch {
		if err := v.idx.SetPutSource(index.PutSource{Stage: stage.ID, Target: target.ID, Paths: abs}); err != nil {
			return target, err
		}
	}
	if err := v.idx.PutArchive(stage); err != nil {
		return target, err
	}
	return v.putStaged(ctx, srcs, target, stage.ID, opts.Progress)
}

// putStaged archives srcs into the pending archive or overlay stage and commits it into
// target; v.mu is held for reading. progress, when set, has its total already.
func (v *Vault) putStaged(ctx context.Context, srcs []source, target index.Archive, stage string, progress *Progress) (index.Archive, error) {
	start := v.opts.Now()
	if progress == nil {
		progress = new(Progress) // its counts go into the log
	}
	w := &putRun{v: v, archive: stage, group: target.ID, progress: progress}
	if err := w.run(ctx, srcs, stage == target.ID); err != nil {
		return target, err
	}
	target.Stored += w.stored.Load()
	if err := v.commitStaged(ctx, &target, stage); err != nil {
		return target, err
	}
	v.log.Info("archive committed", "archive", FormatID(target.ID), "name", target.Name, "generation", target.Generation,
		"files", progress.Files.Load(), "read", progress.Bytes.Load(), "stored", progress.Stored.Load(), "packs", progress.Packs.Load(),
		"took", v.opts.Now().Sub(start).Round(time.Millisecond))
	return target, v.idx.DeletePutSource(stage)
}

// newArchive takes a lot number and announces the archive with a card.
func (v *Vault) newArchive(ctx context.Context, name string) (index.Archive, error) {
	floor := 0
	list, err := v.Archives()
	if err != nil {
		return index.Archive{}, err
	}
	for _, a := range list {
		floor = max(floor, a.Lot)
	}
	lot, err := v.idx.NextLot(floor)
	if err != nil {
		return index.Archive{}, err
	}
	now := v.opts.Now()
	a := index.Archive{ID: NewArchiveID(now, lot), Lot: lot, Name: name, Created: now, Status: index.StatusPending}
	if name == "" {
		a.Name = a.ID
	}
	if v.catalog != nil {
		if err := v.catalog.SaveCard(ctx, cardOf(&a, nil)); err != nil {
			return a, fmt.Errorf("archive %s: write card: %w", FormatID(a.ID), err)
		}
	}
	return a, nil
}

func layout(paths []string) ([]source, error) {
	if len(paths) == 0 {
		return nil, errors.New("nothing to archive")
	}
	srcs := make([]source, 0, len(paths))
	seen := map[string]string{}
	for _, p := range paths {
		info, err := os.Lstat(p)
		if err != nil {
			return nil, err
		}
		base := filepath.Base(filepath.Clean(p))
		if other, dup := seen[base]; dup {
			return nil, fmt.Errorf("%s and %s would both be archived as %q", other, p, base)
		}
		seen[base] = p
		srcs = append(srcs, source{fsPath: p, archPath: "/" + base, info: info})
	}
	if len(srcs) == 1 && srcs[0].info.IsDir() {
		srcs[0].archPath = "/"
	}
	return srcs, nil
}

func archiveName(name string, srcs []source) string {
	if name != "" || len(srcs) != 1 {
		return name
	}
	abs, err := filepath.Abs(srcs[0].fsPath)
	if err != nil {
		return filepath.Base(srcs[0].fsPath)
	}
	return filepath.Base(abs)
}

func totalSize(srcs []source) int64 {
	var n int64
	for _, s := range srcs {
		_ = filepath.WalkDir(s.fsPath, func(_ string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if info, err := d.Info(); err == nil {
					n += info.Size()
				}
			}
			return nil
		})
	}
	return n
}

// putRun is one Put's pipeline: the walker cuts files into chunks, workers hash, dedup and
// seal them, the packer gathers frames into packs, uploaders store packs and record their
// chunks, and the finisher writes each file's node once all its chunks are hashed.
type putRun struct {
	v        *Vault
	archive  string // where nodes are written (the archive or its staging overlay)
	group    string // the archive the packs are uploaded for
	progress *Progress
	stored   atomic.Int64
	seen     sync.Map // chunk IDs handled in this run
	inodes   inodeAllocator
}

type putChunk struct {
	buf  *[]byte
	data []byte // aliases *buf until sealed
	n    int    // plaintext length
	id   chunkstore.ID
	file *putFile
}

type putFile struct {
	node   index.Node
	chunks []*putChunk
	wg     sync.WaitGroup
}

type sealedFrame struct {
	id    chunkstore.ID
	frame *[]byte
}

var chunkBufs = sync.Pool{New: func() any { b := make([]byte, chunkstore.MaxChunkSize); return &b }}

func (w *putRun) run(ctx context.Context, srcs []source, withRoot bool) error {
	batch := w.v.idx.NewBatch(w.archive)
	defer batch.Cancel()
	err := w.pipeline(ctx, func(ctx context.Context, chunks chan<- *putChunk, files chan<- *putFile) error {
		return w.walk(ctx, srcs, withRoot, chunks, files)
	}, func(f *putFile) error { return batch.SetNode(&f.node) })
	if err != nil {
		return err
	}
	return batch.Flush()
}

// produceFunc cuts files into chunks and hands each file over once all its chunks are sent.
type produceFunc func(ctx context.Context, chunks chan<- *putChunk, files chan<- *putFile) error

// pipeline runs produce through the workers, the packer and the uploaders, and calls
// finish for each file, in the order produce sent them, once its chunk list is complete
// (every chunk is then stored, in this run or before). Put and the writeback queue share it.
func (w *putRun) pipeline(ctx context.Context, produce produceFunc, finish func(*putFile) error) error {
	v := w.v
	w.inodes.db = v.idx
	g, ctx := errgroup.WithContext(ctx)
	chunks := make(chan *putChunk, v.opts.Workers)
	frames := make(chan sealedFrame, v.opts.Workers)
	files := make(chan *putFile, 64)

	g.Go(func() error {
		defer close(chunks)
		defer close(files)
		return produce(ctx, chunks, files)
	})
	var sealers sync.WaitGroup
	for range v.opts.Workers {
		sealers.Add(1)
		g.Go(func() error {
			defer sealers.Done()
			return w.seal(ctx, chunks, frames)
		})
	}
	go func() { sealers.Wait(); close(frames) }()
	g.Go(func() error { return w.pack(ctx, frames) })
	g.Go(func() error {
		var failed error
		for f := range files {
			f.wg.Wait()
			for _, c := range f.chunks {
				f.node.Chunks = append(f.node.Chunks, index.ChunkRef{ID: c.id, Len: uint32(c.n)})
			}
			if failed == nil {
				failed = finish(f)
			}
		}
		return failed
	})
	return g.Wait()
}

func (w *putRun) walk(ctx context.Context, srcs []source, withRoot bool, chunks chan<- *putChunk, files chan<- *putFile) error {
	if withRoot {
		root := index.Node{Path: "/", Type: index.TypeDir, Mode: 0o755, Mtime: w.v.opts.Now().UnixNano()}
		if len(srcs) == 1 && srcs[0].archPath == "/" {
			root.Mode, root.Mtime = modeBits(srcs[0].info), srcs[0].info.ModTime().UnixNano()
		}
		if err := w.emit(ctx, &putFile{node: root}, files); err != nil {
			return err
		}
	}
	for _, s := range srcs {
		err := filepath.WalkDir(s.fsPath, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(s.fsPath, p)
			if err != nil {
				return err
			}
			ap := path.Join(s.archPath, filepath.ToSlash(rel))
			if ap == "/" {
				return nil // the root is written above
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			return w.entry(ctx, p, ap, info, chunks, files)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// entry archives one file system entry.
func (w *putRun) entry(ctx context.Context, p, ap string, info fs.FileInfo, chunks chan<- *putChunk, files chan<- *putFile) error {
	f := &putFile{node: index.Node{Path: ap, Mode: modeBits(info), Mtime: info.ModTime().UnixNano()}}
	switch {
	case info.IsDir():
		f.node.Type = index.TypeDir
	case info.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		f.node.Type, f.node.Target, f.node.Size = index.TypeSymlink, target, int64(len(target))
	case info.Mode().IsRegular():
		f.node.Type = index.TypeFile
		if err := w.chunkFile(ctx, p, f, chunks); err != nil {
			return err
		}
	default:
		w.v.log.Warn("skipping special file", "path", p, "mode", info.Mode().String())
		return nil
	}
	return w.emit(ctx, f, files)
}

func (w *putRun) emit(ctx context.Context, f *putFile, files chan<- *putFile) error {
	ino, err := w.inodes.alloc()
	if err != nil {
		return err
	}
	f.node.Ino = ino
	select {
	case files <- f:
		if f.node.Type == index.TypeFile && w.progress != nil {
			w.progress.Files.Add(1)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *putRun) chunkFile(ctx context.Context, p string, f *putFile, chunks chan<- *putChunk) error {
	fh, err := os.Open(p)
	if err != nil {
		return err
	}
	defer fh.Close()
	ch := w.v.chunkers.Get().(*chunkstore.Chunker)
	ch.Reset(fh)
	defer func() {
		ch.Reset(nil)
		w.v.chunkers.Put(ch)
	}()
	for {
		buf := chunkBufs.Get().(*[]byte)
		c, err := ch.Next((*buf)[:0])
		if err == io.EOF {
			chunkBufs.Put(buf)
			return nil
		}
		if err != nil {
			chunkBufs.Put(buf)
			return fmt.Errorf("read %s: %w", p, err)
		}
		pc := &putChunk{buf: buf, data: c.Data, file: f}
		f.node.Size += int64(len(c.Data))
		f.chunks = append(f.chunks, pc)
		f.wg.Add(1)
		if w.progress != nil {
			w.progress.Bytes.Add(int64(len(c.Data)))
		}
		select {
		case chunks <- pc:
		case <-ctx.Done():
			f.wg.Done()
			return ctx.Err()
		}
	}
}

// seal hashes chunks and seals the ones the vault does not have yet. After a failure it
// keeps draining chunks, so the finisher waiting on their files never waits forever.
func (w *putRun) seal(ctx context.Context, chunks <-chan *putChunk, frames chan<- sealedFrame) error {
	var failed error
	for c := range chunks {
		if failed == nil {
			failed = w.sealOne(ctx, c, frames)
		}
		// Only the length is needed from here on; the buffer goes back for reuse.
		c.n = len(c.data)
		chunkBufs.Put(c.buf)
		c.buf, c.data = nil, nil
		c.file.wg.Done()
	}
	return failed
}

func (w *putRun) sealOne(ctx context.Context, c *putChunk, frames chan<- sealedFrame) error {
	c.id = w.v.ids.Sum(c.data)
	fresh, err := w.claim(c.id)
	if err != nil || !fresh {
		return err
	}
	fb := frameBufs.Get().(*[]byte)
	*fb = w.v.data.Seal((*fb)[:0], c.id, c.data)
	select {
	case frames <- sealedFrame{id: c.id, frame: fb}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// claim reports whether this run must store the chunk: neither the index nor this run has it.
func (w *putRun) claim(id chunkstore.ID) (bool, error) {
	if _, dup := w.seen.LoadOrStore(id, struct{}{}); dup {
		return false, nil
	}
	has, err := w.v.idx.HasChunk(id)
	return !has, err
}

// inodeAllocator hands out inode numbers, reserving them from the index in blocks.
type inodeAllocator struct {
	db         *index.DB
	next, last uint64 // the block in hand; next > last means none
}

const inodeBlock = 1024

func (a *inodeAllocator) alloc() (uint64, error) {
	if a.next == 0 || a.next > a.last {
		first, err := a.db.NextInodes(inodeBlock)
		if err != nil {
			return 0, err
		}
		a.next, a.last = first, first+inodeBlock-1
	}
	n := a.next
	a.next++
	return n, nil
}

func modeBits(info fs.FileInfo) uint32 {
	m := uint32(info.Mode().Perm())
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		m = st.Mode & 0o7777
	}
	return m
}
