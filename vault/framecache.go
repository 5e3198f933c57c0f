package vault

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/discofs/discofs/chunkstore"
)

// frameCache keeps fetched frame segments on local disk, bounded, across restarts. It
// keeps them as the store has them, still sealed under the data key, so nothing readable
// reaches the disk; a segment that was changed on disk fails authentication like one
// changed in the store, and is fetched again.
//
// Segments are appended to log files (NNNNNNNN.log) of about a sixteenth of the bound
// each, one record per segment: a header (chunk ID, segment number, length, checksum) and
// the sealed bytes. Once the logs together are over the bound, the oldest is deleted
// whole, so the cache costs a few files and no file system work per segment. What is
// where lives in memory, rebuilt at open from the records' headers; appends go to a new
// log after every open, so a record torn by a crash is only ever at the end of an old log,
// where the scan stops. A segment found in the oldest quarter of the logs is appended
// again, so what is read often stays. Nothing is fsynced: every segment is authenticated
// when it is opened, and a lost one is only a miss.
//
// Lock order: frameCache.mu is a leaf; no file I/O happens under it but the creation of
// a log, once per logSize bytes, which keeps log numbers in order.
type frameCache struct {
	dir     string
	limit   int64
	logSize int64 // a log takes no more appends past this size

	mu    sync.Mutex
	segs  map[segKey]cacheRec
	logs  []*cacheLog // oldest first
	cur   *cacheLog   // the log taking appends: the newest, made since open; or nil
	next  uint64      // number of the next log
	bytes int64       // in every log, records reserved but not yet written included
}

type cacheLog struct {
	num  uint64
	f    *os.File
	size int64    // bytes appended or reserved
	keys []segKey // what it holds, to forget when it is deleted
}

// cacheRec is where a segment's sealed bytes are.
type cacheRec struct {
	log *cacheLog
	off int64
	n   int64
}

const (
	cacheMagic = "dfc1"
	// cacheHdrLen is a record header's length: magic, chunk ID, segment number, length
	// and checksum.
	cacheHdrLen = 4 + 32 + 4 + 4 + 4
)

var _ [32]byte = chunkstore.ID{} // the header holds an ID in 32 bytes

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// openFrameCache opens (and creates) a cache of at most limit bytes in dir. Files there
// that are not logs (an older layout's) are removed.
func openFrameCache(dir string, limit int64) (*frameCache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	fc := &frameCache{dir: dir, limit: limit, logSize: min(max(limit/16, 64<<10), 64<<20), segs: map[segKey]cacheRec{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var nums []uint64
	for _, e := range entries {
		num, err := strconv.ParseUint(strings.TrimSuffix(e.Name(), ".log"), 10, 64)
		if err != nil || !strings.HasSuffix(e.Name(), ".log") || !e.Type().IsRegular() {
			os.RemoveAll(filepath.Join(dir, e.Name()))
			continue
		}
		nums = append(nums, num)
	}
	slices.Sort(nums)
	for _, num := range nums {
		if l := fc.scan(num); l != nil {
			fc.logs = append(fc.logs, l)
			fc.bytes += l.size
		}
		fc.next = num + 1
	}
	fc.evict()
	return fc, nil
}

func (fc *frameCache) logName(num uint64) string {
	return filepath.Join(fc.dir, fmt.Sprintf("%08d.log", num))
}

// scan opens log num and indexes its records, up to the first that is torn or damaged.
func (fc *frameCache) scan(num uint64) *cacheLog {
	f, err := os.Open(fc.logName(num))
	if err != nil {
		return nil
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil
	}
	l := &cacheLog{num: num, f: f, size: info.Size()}
	var hdr [cacheHdrLen]byte
	for off := int64(0); off+cacheHdrLen <= l.size; {
		if _, err := f.ReadAt(hdr[:], off); err != nil {
			break
		}
		k, n, ok := parseCacheHeader(hdr[:])
		if !ok || off+cacheHdrLen+n > l.size {
			break
		}
		fc.segs[k] = cacheRec{l, off + cacheHdrLen, n}
		l.keys = append(l.keys, k)
		off += cacheHdrLen + n
	}
	return l
}

func cacheHeader(k segKey, n int) []byte {
	b := make([]byte, 0, cacheHdrLen+n)
	b = append(b, cacheMagic...)
	b = append(b, k.id[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(k.seg))
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func parseCacheHeader(b []byte) (k segKey, n int64, ok bool) {
	body := b[:cacheHdrLen-4]
	if string(b[:4]) != cacheMagic || binary.LittleEndian.Uint32(b[cacheHdrLen-4:]) != crc32.Checksum(body, castagnoli) {
		return k, 0, false
	}
	copy(k.id[:], b[4:])
	k.seg = int(binary.LittleEndian.Uint32(b[4+len(k.id):]))
	return k, int64(binary.LittleEndian.Uint32(b[8+len(k.id):])), true
}

// get returns the sealed segments lo..hi of a chunk when all of them are on disk.
func (fc *frameCache) get(id chunkstore.ID, lo, hi int) ([]byte, bool) {
	recs := make([]cacheRec, 0, hi-lo+1)
	var size int64
	fc.mu.Lock()
	old := false
	for k := lo; k <= hi; k++ {
		r, ok := fc.segs[segKey{id, k}]
		if !ok {
			fc.mu.Unlock()
			return nil, false
		}
		recs = append(recs, r)
		size += r.n
		old = old || slices.Index(fc.logs, r.log) < len(fc.logs)/4
	}
	fc.mu.Unlock()
	out := make([]byte, size)
	pos := int64(0)
	for _, r := range recs {
		// A log deleted since is closed, and the read fails: a miss.
		if _, err := r.log.f.ReadAt(out[pos:pos+r.n], r.off); err != nil {
			return nil, false
		}
		pos += r.n
	}
	if old {
		fc.append(id, lo, recs, out)
	}
	return out, true
}

// put stores the sealed segments lo..hi of a chunk, span being their bytes in the frame.
func (fc *frameCache) put(id chunkstore.ID, hdr chunkstore.FrameHeader, lo, hi int, span []byte) {
	recs := make([]cacheRec, 0, hi-lo+1)
	for k := lo; k <= hi; k++ {
		_, n := hdr.SegmentSpan(k, k)
		recs = append(recs, cacheRec{n: n})
	}
	fc.append(id, lo, recs, span)
}

// append writes the segments from lo on, recs giving their lengths and data their bytes
// one after the other, to the newest log, and indexes them.
func (fc *frameCache) append(id chunkstore.ID, lo int, recs []cacheRec, data []byte) {
	var buf []byte
	pos := int64(0)
	for i, r := range recs {
		buf = append(buf, cacheHeader(segKey{id, lo + i}, int(r.n))...)
		buf = append(buf, data[pos:pos+r.n]...)
		pos += r.n
	}
	l, off, err := fc.reserve(int64(len(buf)))
	if err != nil {
		return // a cache that cannot write is only slower
	}
	if _, err := l.f.WriteAt(buf, off); err != nil {
		return
	}
	fc.mu.Lock()
	if slices.Contains(fc.logs, l) { // not deleted meanwhile
		at := off
		for i, r := range recs {
			k := segKey{id, lo + i}
			fc.segs[k] = cacheRec{l, at + cacheHdrLen, r.n}
			l.keys = append(l.keys, k)
			at += cacheHdrLen + r.n
		}
	}
	fc.mu.Unlock()
	fc.evict()
}

// reserve finds room for n bytes at the end of the log taking appends, starting one when
// there is none or it is full.
func (fc *frameCache) reserve(n int64) (*cacheLog, int64, error) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if l := fc.cur; l == nil || l.size > 0 && l.size+n > fc.logSize {
		f, err := os.OpenFile(fc.logName(fc.next), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, 0, err
		}
		fc.cur = &cacheLog{num: fc.next, f: f}
		fc.logs = append(fc.logs, fc.cur)
		fc.next++
	}
	l := fc.cur
	off := l.size
	l.size += n
	fc.bytes += n
	return l, off, nil
}

// evict deletes the oldest logs until the cache fits its bound.
func (fc *frameCache) evict() {
	for {
		fc.mu.Lock()
		if fc.bytes <= fc.limit || len(fc.logs) == 0 {
			fc.mu.Unlock()
			return
		}
		l := fc.logs[0]
		fc.logs = fc.logs[1:]
		if l == fc.cur {
			fc.cur = nil
		}
		for _, k := range l.keys {
			if fc.segs[k].log == l {
				delete(fc.segs, k)
			}
		}
		fc.bytes -= l.size
		fc.mu.Unlock()
		// Reads under way finish first: os.File closes once they are done.
		l.f.Close()
		os.Remove(fc.logName(l.num))
	}
}

// close closes the logs.
func (fc *frameCache) close() {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	for _, l := range fc.logs {
		l.f.Close()
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
