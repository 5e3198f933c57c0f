package vault

// Random-access reads of committed files. A read maps its byte range to chunks through the
// file's chunk lengths, and each chunk part to the frame segments that hold it; only those
// segments are fetched (one ranged Load per chunk part) and opened. Opened segments stay in
// a bounded in-memory LRU, and readers that miss on one chunk at the same time share one
// fetch.
//
// Lock order: readCache.mu is a leaf; it is never held across a fetch or another lock.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
)

const (
	// defaultMemoryCache bounds the plaintext that opened segments hold in memory per
	// vault, unless Options.MemoryCacheBytes says otherwise.
	defaultMemoryCache = 64 << 20
	// fetchTimeout bounds one shared fetch. It runs on its own context, not a reader's, so
	// that a reader who stops waiting (an interrupted FUSE request) does not fail the
	// others; the timeout keeps a stuck store from holding the fetch forever.
	fetchTimeout = 10 * time.Minute
	// offsetCacheEntries bounds the remembered chunk offset tables.
	offsetCacheEntries = 4096
	// locationCacheEntries bounds the remembered chunk locations (about 200 bytes each).
	locationCacheEntries = 64 << 10
)

// ErrNotAFile is returned by ReadAt for a node that is not a regular file.
var ErrNotAFile = errors.New("not a regular file")

// ReadAt reads len(p) bytes of the committed file n starting at byte off, like
// io.ReaderAt: when fewer bytes are read the error says why, io.EOF at the end of the file.
// It fetches only the frame segments that hold the range. A segment that fails
// authentication gives an error wrapping chunkstore.ErrAuth and no byte of it reaches p.
//
// ctx bounds how long the caller waits, not the fetch itself, which other readers may
// share and which goes on when the caller gives up. ReadAt is safe for concurrent use.
func (v *Vault) ReadAt(ctx context.Context, n index.Node, p []byte, off int64) (int, error) {
	r := v.readSlices(ctx, n, off, len(p), true, false)
	done := 0
	for _, s := range r.parts {
		done += copy(p[done:], s)
	}
	v.reads.unpinAll(r.pins)
	return done, r.err
}

// ReadSlices is ReadAt without the copy: it returns the bytes [off, off+size) of the
// committed file n as slices of the read cache, fewer with an error saying why (io.EOF at
// the end of the file). The slices stay valid, and must not be modified, until release is
// called, which the caller must do once.
func (v *Vault) ReadSlices(ctx context.Context, n index.Node, off int64, size int) (parts [][]byte, release func(), err error) {
	r := v.readSlices(ctx, n, off, size, true, false)
	return r.parts, func() { v.reads.unpinAll(r.pins) }, r.err
}

// ChunkOf says which chunk of file n holds byte off, and where it begins and ends; i is
// len(n.Chunks) past the end.
func (v *Vault) ChunkOf(n index.Node, off int64) (i int, start, end int64) {
	offs := v.readCache().offsets(n)
	if last := offs[len(offs)-1]; off < 0 || off >= last {
		return len(n.Chunks), last, last
	}
	i = chunkHolding(offs, off)
	return i, offs[i], offs[i+1]
}

// ReadAside is ReadSlices of bytes no reader asked for yet, which a caller hands on: it
// does not count as a read, so a read-ahead neither starts from it nor loses track.
func (v *Vault) ReadAside(ctx context.Context, n index.Node, off int64, size int) (parts [][]byte, release func(), err error) {
	r := v.readSlices(ctx, n, off, size, false, false)
	return r.parts, func() { v.reads.unpinAll(r.pins) }, r.err
}

// ReadAround is ReadSlices widened to the whole segments that hold [off, off+size): start
// is where the bytes begin in the file. A small read opens those segments anyway; the
// caller can offer the rest to whoever caches pages (the kernel, for a mount). Reads of
// v3.1 chunks are not widened.
func (v *Vault) ReadAround(ctx context.Context, n index.Node, off int64, size int) (start int64, parts [][]byte, release func(), err error) {
	r := v.readSlices(ctx, n, off, size, true, true)
	return r.start, r.parts, func() { v.reads.unpinAll(r.pins) }, r.err
}

// sliceRead is what readSlices brought: the bytes, the cache entries they pin, and why
// they stop short, if they do.
type sliceRead struct {
	parts [][]byte
	start int64 // where parts begin in the file
	pins  []*segEntry
	err   error
}

// readSlices is ReadSlices; ahead says whether a sequential read starts a read-ahead, and
// widen whether the bytes are widened to whole segments, as ReadAround's are.
func (v *Vault) readSlices(ctx context.Context, n index.Node, off int64, size int, ahead, widen bool) (r sliceRead) {
	r.start = off
	if n.Type != index.TypeFile {
		r.err = fmt.Errorf("%s: %w", n.Path, ErrNotAFile)
		return r
	}
	if off < 0 {
		r.err = fmt.Errorf("%s: negative offset %d", n.Path, off)
		return r
	}
	if r.err = ctx.Err(); r.err != nil {
		return r // a caller that has given up gets no bytes, even cached ones
	}
	if off >= n.Size {
		r.err = io.EOF
		return r
	}
	rc := v.readCache()
	offs := rc.offsets(n)
	if offs[len(offs)-1] != n.Size {
		r.err = fmt.Errorf("%s: its chunks hold %d bytes, its size is %d", n.Path, offs[len(offs)-1], n.Size)
		return r
	}
	end := min(off+int64(size), n.Size)
	i := chunkHolding(offs, off)
	for pos := off; pos < end; i++ {
		want := int(min(end, offs[i+1]) - pos)
		lead, err := v.readChunk(ctx, rc, n.Chunks[i], pos-offs[i], want, widen, &r)
		if err != nil {
			r.err = fmt.Errorf("%s: %w", n.Path, err)
			return r
		}
		if pos == off {
			r.start = off - lead
		}
		pos += int64(want)
	}
	if ahead {
		v.readAheadAfter(n, off, end)
	}
	if end-off < int64(size) {
		r.err = io.EOF
	}
	return r
}

// maxFetchRounds bounds how often a reader fetches the same segments because others
// pushed them out of the cache before it could pin them, which takes a cache far
// smaller than the segments in flight.
const maxFetchRounds = 8

// readChunk appends to r the plaintext of chunk c from off within it, size bytes, as
// pinned slices of cached segments; widened to the segments that hold them, it says how
// many bytes before off it appended.
func (v *Vault) readChunk(ctx context.Context, rc *readCache, c index.ChunkRef, off int64, size int, widen bool, r *sliceRead) (lead int64, err error) {
	loc, hdr, err := v.chunkLocation(rc, c)
	if errors.Is(err, index.ErrNotFound) {
		// Chunks of v3.1 archives are not in the chunk table, nor widened; see legacy_read.go.
		return 0, v.readLegacyChunk(ctx, rc, c, off, size, r)
	}
	if err != nil {
		return 0, fmt.Errorf("chunk %s: %w", c.ID, err)
	}
	first, last := hdr.SegmentsFor(off, size)
	segs := make([]*segEntry, last-first+1)
	// What is pinned goes into r as it is found, so every return leaves it to be unpinned.
	for fetched := 0; ; {
		lo, hi := -1, -1
		for k := range segs {
			if segs[k] == nil {
				if segs[k] = rc.get(segKey{c.ID, first + k}); segs[k] != nil {
					r.pins = append(r.pins, segs[k])
				}
			}
			if segs[k] == nil {
				if lo < 0 {
					lo = first + k
				}
				hi = first + k
			}
		}
		if lo < 0 {
			break
		}
		if fetched == maxFetchRounds {
			return 0, fmt.Errorf("chunk %s: the read cache is too small to hold segments %d to %d", c.ID, lo, hi)
		}
		// One fetch per chunk at a time: a reader that finds one running waits for it,
		// then takes from the cache what it brought and fetches whatever it still lacks.
		// Only its own fetches count against maxFetchRounds.
		led, err := rc.flight.do(ctx, string(c.ID[:]), v.remote, func() error {
			return v.fetchSegments(rc, c.ID, loc, hdr, lo, hi)
		})
		if led {
			fetched++
		}
		if err != nil {
			if chunkstore.IsNotFound(err) {
				rc.forgetLocations() // the next read asks the index again
			}
			return 0, err
		}
	}
	for k, e := range segs {
		start := int64(first+k) * int64(hdr.SegSize) // of segment first+k within the chunk
		from, to := max(off, start), min(off+int64(size), start+int64(len(e.data)))
		if widen {
			from, to = start, start+int64(len(e.data))
		}
		if from < to {
			r.parts = append(r.parts, e.data[from-start:to-start:to-start])
		}
	}
	if widen {
		lead = off - int64(first)*int64(hdr.SegSize)
	}
	return lead, nil
}

// chunkLocation is where chunk c is stored and its frame's header, from the index the
// first time and from memory after.
func (v *Vault) chunkLocation(rc *readCache, c index.ChunkRef) (index.Location, chunkstore.FrameHeader, error) {
	rc.mu.Lock()
	cl, ok := rc.locs[c.ID]
	rc.mu.Unlock()
	if ok {
		return cl.loc, cl.hdr, nil
	}
	loc, err := v.idx.GetChunk(c.ID)
	if err != nil {
		return loc, chunkstore.FrameHeader{}, err
	}
	hdr, _, err := chunkstore.ParseFrameHeader(loc.Header)
	if err != nil {
		return loc, hdr, err
	}
	if hdr.PlainLen != int(c.Len) {
		return loc, hdr, fmt.Errorf("%w: frame holds %d bytes, the index says %d", chunkstore.ErrFormat, hdr.PlainLen, c.Len)
	}
	rc.mu.Lock()
	if len(rc.locs) >= locationCacheEntries {
		clear(rc.locs)
	}
	rc.locs[c.ID] = chunkLoc{loc, hdr}
	rc.mu.Unlock()
	return loc, hdr, nil
}

// chunkLoc is a remembered chunk location.
type chunkLoc struct {
	loc index.Location
	hdr chunkstore.FrameHeader
}

// forgetLocations drops the remembered chunk locations, once they may be out of date: gc
// deleted packs, the index was rebuilt, or a pack was not where the index said.
func (rc *readCache) forgetLocations() {
	rc.mu.Lock()
	clear(rc.locs)
	rc.mu.Unlock()
}

// fetchSegments loads and opens segments lo through hi of chunk id into the cache.
func (v *Vault) fetchSegments(rc *readCache, id chunkstore.ID, loc index.Location, hdr chunkstore.FrameHeader, lo, hi int) error {
	ctx, cancel := context.WithTimeout(v.life, fetchTimeout)
	defer cancel()
	spanOff, spanLen := hdr.SegmentSpan(lo, hi)
	if buf := v.cachedSpan(id, lo, hi); buf != nil {
		if v.openIntoCache(rc, id, loc, hdr, lo, hi, buf) == nil {
			return nil
		}
		// A damaged cache file is only a miss: the store has the segments.
	}
	// The stored bytes are only passed through: a pooled buffer spares the fresh memory
	// (and its page faults) a new one would cost on every miss.
	fb := frameBufs.Get().(*[]byte)
	defer frameBufs.Put(fb)
	buf := (*fb)[:0]
	if int64(cap(buf)) < spanLen {
		buf = make([]byte, 0, spanLen)
	}
	buf = buf[:spanLen]
	err := v.store.Load(ctx, loc.Pack, int(spanLen), loc.Offset+spanOff, func(rd io.Reader) error {
		_, err := io.ReadFull(rd, buf)
		return err
	})
	if err != nil {
		return fmt.Errorf("chunk %s in %s: %w", id, loc.Pack, err)
	}
	if err := v.openIntoCache(rc, id, loc, hdr, lo, hi, buf); err != nil {
		return fmt.Errorf("chunk %s in %s: %w", id, loc.Pack, err)
	}
	v.cacheSpan(id, hdr, lo, hi, buf)
	return nil
}

// openIntoCache opens the stored segments lo..hi of a chunk, span being their bytes,
// each into a cache slot. Nothing is cached unless all of them authenticate.
func (v *Vault) openIntoCache(rc *readCache, id chunkstore.ID, loc index.Location, hdr chunkstore.FrameHeader, lo, hi int, span []byte) error {
	base, _ := hdr.SegmentSpan(lo, lo)
	plain := make([][]byte, 0, hi-lo+1)
	slots := make([][]byte, 0, hi-lo+1)
	for k := lo; k <= hi; k++ {
		off, n := hdr.SegmentSpan(k, k)
		slot := rc.slot(hdr.SegSize)
		p, err := v.data.OpenSegments(slot[:0], id, loc.Header, k, span[off-base:off-base+n])
		if err != nil {
			rc.release(slot)
			for _, s := range slots {
				rc.release(s)
			}
			return err
		}
		if slot != nil && (cap(p) == 0 || &p[:1][0] != &slot[0]) {
			rc.release(slot) // the plaintext did not fit and went elsewhere
			slot = nil
		}
		plain = append(plain, p[:len(p):len(p)])
		slots = append(slots, slot)
	}
	for i := range plain {
		rc.put(segKey{id, lo + i}, plain[i], slots[i])
	}
	return nil
}

// offKey names a file's chunk list by its memory: a node's chunk list is never changed
// once made (a new version of a file gets a new one), so the same first element and
// length mean the same chunks. A reading handle passes the same node on every read, so
// its table is found without looking at each chunk; the key keeps the list alive while
// the table is remembered, so its memory cannot be reused for another list.
type offKey struct {
	first *index.ChunkRef
	n     int
}

// chunkHolding is the index of the chunk holding byte pos, given a file's chunk offsets:
// the first whose end lies beyond it.
func chunkHolding(offs []int64, pos int64) int {
	return sort.Search(len(offs)-1, func(i int) bool { return offs[i+1] > pos })
}

// offsets returns the file's chunk offsets: chunk i holds bytes [offs[i], offs[i+1]).
func (rc *readCache) offsets(n index.Node) []int64 {
	if len(n.Chunks) == 0 {
		return []int64{0}
	}
	k := offKey{&n.Chunks[0], len(n.Chunks)}
	rc.mu.Lock()
	offs, ok := rc.offs[k]
	rc.mu.Unlock()
	if ok {
		return offs
	}
	offs = make([]int64, len(n.Chunks)+1)
	for i, c := range n.Chunks {
		offs[i+1] = offs[i] + int64(c.Len)
	}
	rc.mu.Lock()
	if len(rc.offs) >= offsetCacheEntries {
		clear(rc.offs)
	}
	rc.offs[k] = offs
	rc.mu.Unlock()
	return offs
}

func (v *Vault) readCache() *readCache { return v.reads }

// ReadCacheStats reports how often a read found a segment in memory, and how often not.
func (v *Vault) ReadCacheStats() (hits, misses int64) {
	v.reads.mu.Lock()
	defer v.reads.mu.Unlock()
	return v.reads.hits, v.reads.misses
}
