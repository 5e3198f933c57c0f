package vault

// Random-access reads of committed files. A read maps its byte range to chunks through the
// file's chunk lengths, and each chunk part to the frame segments that hold it; only those
// segments are fetched (one ranged Load per chunk part) and opened. Opened segments stay in
// a bounded in-memory LRU, and readers that miss on one chunk at the same time share one
// fetch.
//
// Lock order: readCache.mu is a leaf; it is never held across a fetch or another lock.

import (
	"container/list"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
)

const (
	// readCacheBytes bounds the plaintext that opened segments hold in memory per vault.
	readCacheBytes = 64 << 20
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
	parts, err := v.readSlices(ctx, n, off, len(p), true)
	done := 0
	for _, s := range parts {
		done += copy(p[done:], s)
	}
	return done, err
}

// ReadSlices is ReadAt without the copy: it returns the bytes [off, off+size) of the
// committed file n as slices of the read cache's plaintext, which the caller must not
// modify and may keep. Fewer bytes come back with an error saying why, io.EOF at the
// end of the file.
func (v *Vault) ReadSlices(ctx context.Context, n index.Node, off int64, size int) ([][]byte, error) {
	return v.readSlices(ctx, n, off, size, true)
}

// readSlices is ReadSlices; ahead says whether a sequential read starts a read-ahead.
func (v *Vault) readSlices(ctx context.Context, n index.Node, off int64, size int, ahead bool) ([][]byte, error) {
	if n.Type != index.TypeFile {
		return nil, fmt.Errorf("%s: %w", n.Path, ErrNotAFile)
	}
	if off < 0 {
		return nil, fmt.Errorf("%s: negative offset %d", n.Path, off)
	}
	if err := ctx.Err(); err != nil {
		return nil, err // a caller that has given up gets no bytes, even cached ones
	}
	if off >= n.Size {
		return nil, io.EOF
	}
	rc := v.readCache()
	offs := rc.offsets(n)
	if offs[len(offs)-1] != n.Size {
		return nil, fmt.Errorf("%s: its chunks hold %d bytes, its size is %d", n.Path, offs[len(offs)-1], n.Size)
	}
	end := min(off+int64(size), n.Size)
	// The chunk holding off is the first whose end lies beyond it.
	i := sort.Search(len(n.Chunks), func(i int) bool { return offs[i+1] > off })
	var parts [][]byte
	for pos := off; pos < end; i++ {
		want := int(min(end, offs[i+1]) - pos)
		var err error
		if parts, err = v.readChunk(ctx, rc, n.Chunks[i], pos-offs[i], want, parts); err != nil {
			return parts, fmt.Errorf("%s: %w", n.Path, err)
		}
		pos += int64(want)
	}
	if ahead {
		v.readAheadAfter(n, off, end)
	}
	if end-off < int64(size) {
		return parts, io.EOF
	}
	return parts, nil
}

// readChunk appends to parts the plaintext of chunk c from off within it, size bytes, as
// slices of cached segments.
func (v *Vault) readChunk(ctx context.Context, rc *readCache, c index.ChunkRef, off int64, size int, parts [][]byte) ([][]byte, error) {
	loc, hdr, err := v.chunkLocation(rc, c)
	if errors.Is(err, index.ErrNotFound) {
		// Chunks of v3.1 archives are not in the chunk table; see legacy_read.go.
		return v.readLegacyChunk(ctx, rc, c, off, size, parts)
	}
	if err != nil {
		return parts, fmt.Errorf("chunk %s: %w", c.ID, err)
	}
	first, last := hdr.SegmentsFor(off, size)
	segs := make([][]byte, last-first+1)
	for {
		lo, hi := -1, -1
		for k := range segs {
			if segs[k] == nil {
				segs[k] = rc.get(segKey{c.ID, first + k})
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
		// One fetch per chunk at a time: a reader that finds one running waits for it and
		// takes what it brought, then fetches whatever it still lacks.
		ch := rc.flight.DoChan(string(c.ID[:]), func() (any, error) {
			return v.fetchSegments(rc, c.ID, loc, hdr, lo, hi)
		})
		var r singleflight.Result
		select {
		case r = <-ch:
		case <-ctx.Done():
			return parts, ctx.Err()
		}
		if r.Err != nil {
			if chunkstore.IsNotFound(r.Err) {
				rc.forgetLocations() // the next read asks the index again
			}
			return parts, r.Err
		}
		got := r.Val.(segFetch)
		for k := range segs {
			if j := first + k - got.first; segs[k] == nil && j >= 0 && j < len(got.segs) {
				segs[k] = got.segs[j]
			}
		}
	}
	for k, s := range segs {
		start := int64(first+k) * int64(hdr.SegSize) // of segment first+k within the chunk
		from := max(off, start)
		to := min(off+int64(size), start+int64(len(s)))
		if from < to {
			parts = append(parts, s[from-start:to-start])
		}
	}
	return parts, nil
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

// segFetch is what one fetch brought: the plaintext of segments first onwards.
type segFetch struct {
	first int
	segs  [][]byte
}

// fetchSegments loads and opens segments lo through hi of chunk id and caches them.
func (v *Vault) fetchSegments(rc *readCache, id chunkstore.ID, loc index.Location, hdr chunkstore.FrameHeader, lo, hi int) (segFetch, error) {
	ctx, cancel := context.WithTimeout(v.life, fetchTimeout)
	defer cancel()
	spanOff, spanLen := hdr.SegmentSpan(lo, hi)
	if buf := v.cachedSpan(id, lo, hi); buf != nil {
		plain, err := v.data.OpenSegments(make([]byte, 0, (hi-lo+1)*hdr.SegSize), id, loc.Header, lo, buf)
		if err == nil {
			return rc.keep(id, hdr, lo, hi, plain), nil
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
		return segFetch{}, fmt.Errorf("chunk %s in %s: %w", id, loc.Pack, err)
	}
	plain, err := v.data.OpenSegments(make([]byte, 0, (hi-lo+1)*hdr.SegSize), id, loc.Header, lo, buf)
	if err != nil {
		return segFetch{}, fmt.Errorf("chunk %s in %s: %w", id, loc.Pack, err)
	}
	v.cacheSpan(id, hdr, lo, hi, buf)
	return rc.keep(id, hdr, lo, hi, plain), nil
}

// keep splits the plaintext of segments lo..hi into the memory cache.
func (rc *readCache) keep(id chunkstore.ID, hdr chunkstore.FrameHeader, lo, hi int, plain []byte) segFetch {
	f := segFetch{first: lo}
	for k := lo; k <= hi; k++ {
		n := min(hdr.SegSize, len(plain))
		// Full slice expressions, so no holder of one segment can append into the next.
		s := plain[:n:n]
		plain = plain[n:]
		f.segs = append(f.segs, s)
		rc.put(segKey{id, k}, s)
	}
	return f
}

// segKey names one segment of one chunk.
type segKey struct {
	id  chunkstore.ID
	seg int
}

type segEntry struct {
	key  segKey
	data []byte
}

// offKey names a file's chunk list well enough to reuse its offset table. Files change
// under a writable mount while keeping their inode number, so the key carries a digest of
// every chunk's ID and length: two contents that differ anywhere get different keys.
type offKey struct {
	ino, size int64
	chunks    int
	digest    uint64
}

// chunkDigest mixes each chunk's ID prefix and length (FNV-1a over 64-bit words). IDs are
// keyed MACs, so eight bytes of each tell contents apart; it costs far less than a read.
func chunkDigest(cs []index.ChunkRef) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for i := range cs {
		h = (h ^ binary.LittleEndian.Uint64(cs[i].ID[:8])) * prime
		h = (h ^ uint64(cs[i].Len)) * prime
	}
	return h
}

// readCache is one vault's read state. It holds no pointer to the vault, so a vault that
// is no longer used can be collected, which drops its cache.
type readCache struct {
	flight singleflight.Group

	mu    sync.Mutex
	lru   list.List // of *segEntry, most recently used first
	segs  map[segKey]*list.Element
	bytes int64
	limit int64
	offs  map[offKey][]int64
	locs  map[chunkstore.ID]chunkLoc
	// hits and misses count segment lookups, for metrics.
	hits, misses int64
}

func newReadCache(limit int64) *readCache {
	return &readCache{segs: map[segKey]*list.Element{}, limit: limit, offs: map[offKey][]int64{}, locs: map[chunkstore.ID]chunkLoc{}}
}

func (rc *readCache) get(k segKey) []byte {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	e, ok := rc.segs[k]
	if !ok {
		rc.misses++
		return nil
	}
	rc.hits++
	rc.lru.MoveToFront(e)
	return e.Value.(*segEntry).data
}

func (rc *readCache) put(k segKey, data []byte) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if e, ok := rc.segs[k]; ok {
		rc.lru.MoveToFront(e)
		return
	}
	rc.segs[k] = rc.lru.PushFront(&segEntry{key: k, data: data})
	rc.bytes += int64(len(data))
	for rc.bytes > rc.limit && rc.lru.Len() > 1 {
		old := rc.lru.Remove(rc.lru.Back()).(*segEntry)
		delete(rc.segs, old.key)
		rc.bytes -= int64(len(old.data))
	}
}

// offsets returns the file's chunk offsets: chunk i holds bytes [offs[i], offs[i+1]).
func (rc *readCache) offsets(n index.Node) []int64 {
	k := offKey{ino: int64(n.Ino), size: n.Size, chunks: len(n.Chunks), digest: chunkDigest(n.Chunks)}
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
