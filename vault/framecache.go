package vault

import (
	"encoding/binary"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/discofs/discofs/chunkstore"
)

// frameCache keeps fetched frame segments on local disk, bounded, across restarts. It
// keeps them as the store has them, still sealed under the data key, so nothing readable
// reaches the disk; a segment that was changed on disk fails authentication like one
// changed in the store, and is fetched again. File names are chunk IDs (keyed MACs, which
// reveal nothing) and segment numbers.
//
// Lock order: frameCache.mu is a leaf; no file I/O happens under it.
type frameCache struct {
	dir   string
	limit int64

	mu    sync.Mutex
	bytes int64
	files map[string]int64 // name → size, of what is on disk
	order []string         // names, oldest first (eviction order)
}

// openFrameCache opens (and creates) a cache of at most limit bytes in dir.
func openFrameCache(dir string, limit int64) (*frameCache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	fc := &frameCache{dir: dir, limit: limit, files: map[string]int64{}}
	type entry struct {
		name string
		size int64
		mod  int64
	}
	var all []entry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		all = append(all, entry{rel, info.Size(), info.ModTime().UnixNano()})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(all, func(i, j int) bool { return all[i].mod < all[j].mod })
	for _, e := range all {
		fc.files[e.name] = e.size
		fc.order = append(fc.order, e.name)
		fc.bytes += e.size
	}
	fc.evict()
	return fc, nil
}

func segName(id chunkstore.ID, seg int) string {
	h := hex.EncodeToString(id[:])
	return filepath.Join(h[:2], h+"-"+hex.EncodeToString(binary.BigEndian.AppendUint32(nil, uint32(seg))))
}

// get returns the sealed segments lo..hi of a chunk when all of them are on disk.
func (fc *frameCache) get(id chunkstore.ID, lo, hi int) ([]byte, bool) {
	var out []byte
	for k := lo; k <= hi; k++ {
		b, err := os.ReadFile(filepath.Join(fc.dir, segName(id, k)))
		if err != nil {
			return nil, false
		}
		out = append(out, b...)
	}
	return out, true
}

// put stores the sealed segments lo..hi of a chunk, span being their bytes in the frame.
func (fc *frameCache) put(id chunkstore.ID, hdr chunkstore.FrameHeader, lo, hi int, span []byte) {
	base, _ := hdr.SegmentSpan(lo, lo)
	for k := lo; k <= hi; k++ {
		off, n := hdr.SegmentSpan(k, k)
		name := segName(id, k)
		p := filepath.Join(fc.dir, name)
		if os.MkdirAll(filepath.Dir(p), 0o700) != nil || writeCacheFile(p, span[off-base:off-base+n]) != nil {
			return // a cache that cannot write is only slower
		}
		fc.mu.Lock()
		if old, ok := fc.files[name]; ok {
			fc.bytes -= old
		} else {
			fc.order = append(fc.order, name)
		}
		fc.files[name] = n
		fc.bytes += n
		fc.mu.Unlock()
	}
	fc.evict()
}

// evict removes the oldest segments until the cache fits its limit.
func (fc *frameCache) evict() {
	for {
		fc.mu.Lock()
		if fc.bytes <= fc.limit || len(fc.order) == 0 {
			fc.mu.Unlock()
			return
		}
		name := fc.order[0]
		fc.order = fc.order[1:]
		size, ok := fc.files[name]
		delete(fc.files, name)
		if ok {
			fc.bytes -= size
		}
		fc.mu.Unlock()
		os.Remove(filepath.Join(fc.dir, name))
	}
}

// cachedSpan returns segments lo..hi of a chunk from the disk cache, or nil.
func (v *Vault) cachedSpan(id chunkstore.ID, lo, hi int) []byte {
	if v.frames == nil {
		return nil
	}
	b, ok := v.frames.get(id, lo, hi)
	if !ok {
		return nil
	}
	return b
}

// cacheSpan keeps fetched segments for later.
func (v *Vault) cacheSpan(id chunkstore.ID, hdr chunkstore.FrameHeader, lo, hi int, span []byte) {
	if v.frames != nil {
		v.frames.put(id, hdr, lo, hi, span)
	}
}

// writeCacheFile writes a cache file whole or not at all (temporary file, then rename). It
// does not fsync: after a crash a lost or torn segment is only a miss, since every segment
// is authenticated when it is opened, and an fsync per 64 KiB would cost more than the
// fetch it saves.
func writeCacheFile(name string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), ".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
