package chunkstore

// A frame is one chunk sealed in segments, so that a reader can fetch and open the 64 KiB
// around a small read instead of the whole chunk. Version 1, all integers little-endian:
//
//	header  "DSCF" | version u8 = 1 | flags u8 = 0 | reserved u16 = 0 |
//	        plaintext length u32 | segment size u32 = 65536 | segment count u32 |
//	        one u32 per segment: bit 31 set = zstd-compressed, bits 0..30 = stored length
//	segment 12-byte random nonce | AES-256-GCM ciphertext and 16-byte tag
//
// Segment i holds plaintext bytes [i*65536, min((i+1)*65536, length)), compressed on its
// own when that saves at least 1/16. Its AAD is the whole header, the chunk ID and i as
// u32, which binds every segment to its place, its frame's shape and its chunk: nothing can
// be swapped, reordered, cut or moved to another chunk without failing authentication.
//
// An empty chunk has one empty segment rather than none: a frame without a segment would
// carry no tag, and would open under any ID and key, so replacing any frame with the
// 20-byte empty frame would pass off an empty chunk for real data.

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Frame format constants.
const (
	// FrameVersion is the frame format version Seal writes and the only one Open reads.
	FrameVersion = 1
	// SegmentSize is the plaintext size of every segment but a frame's last.
	SegmentSize = 64 << 10
	// SegmentOverhead is what sealing adds to a segment: nonce and tag.
	SegmentOverhead = nonceSize + tagSize
	// MaxFramePlain is the largest plaintext one frame holds. It keeps a header (which is
	// in every segment's AAD) to about 16 KiB.
	MaxFramePlain = 256 << 20
)

const (
	frameMagic    = "DSCF"
	frameFixedLen = 20
	nonceSize     = 12
	tagSize       = 16
	segCompressed = 1 << 31
)

var (
	// ErrAuth is wrapped by every error for a frame that is not what was sealed under this
	// key and chunk ID: tampered with, reordered, moved or sealed under another key.
	ErrAuth = errors.New("frame failed authentication")
	// ErrFormat is wrapped by every error for bytes that are not a well-formed frame: bad
	// magic, unknown version or flags, inconsistent lengths, truncation.
	ErrFormat = errors.New("malformed frame")
)

func formatError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
}

// segmentCount is the number of segments of a frame holding plain bytes.
func segmentCount(plain int) int { return max(1, (plain+SegmentSize-1)/SegmentSize) }

// FrameHeader is a parsed, validated frame header.
type FrameHeader struct {
	// PlainLen is the chunk's plaintext length.
	PlainLen int
	// SegSize is the plaintext length of every segment but the last.
	SegSize int
	// Segs holds the raw segment table entries: bit 31 says the segment is compressed,
	// bits 0..30 are its stored length, nonce and tag included.
	Segs []uint32
}

// ParseFrameHeader parses and validates the header at the start of b and returns it with
// its length in bytes. Bytes after the header are ignored. Any inconsistency gives an error
// wrapping ErrFormat; a header that parses can still fail authentication in Open.
func ParseFrameHeader(b []byte) (FrameHeader, int, error) {
	if len(b) < frameFixedLen {
		return FrameHeader{}, 0, formatError("header truncated at %d bytes", len(b))
	}
	if string(b[:4]) != frameMagic {
		return FrameHeader{}, 0, formatError("bad magic %q", b[:4])
	}
	if b[4] != FrameVersion {
		return FrameHeader{}, 0, formatError("unsupported version %d", b[4])
	}
	if b[5] != 0 || b[6] != 0 || b[7] != 0 {
		return FrameHeader{}, 0, formatError("unknown flags %#x or reserved bits %#x", b[5], b[6:8])
	}
	plain := binary.LittleEndian.Uint32(b[8:])
	segSize := binary.LittleEndian.Uint32(b[12:])
	count := binary.LittleEndian.Uint32(b[16:])
	if plain > MaxFramePlain {
		return FrameHeader{}, 0, formatError("plaintext length %d above %d", plain, MaxFramePlain)
	}
	if segSize != SegmentSize {
		return FrameHeader{}, 0, formatError("segment size %d, want %d", segSize, SegmentSize)
	}
	if int64(count) != int64(segmentCount(int(plain))) {
		return FrameHeader{}, 0, formatError("%d segments for %d bytes", count, plain)
	}
	hl := frameFixedLen + 4*int(count)
	if len(b) < hl {
		return FrameHeader{}, 0, formatError("segment table truncated at %d of %d bytes", len(b), hl)
	}
	h := FrameHeader{PlainLen: int(plain), SegSize: int(segSize), Segs: make([]uint32, count)}
	for i := range h.Segs {
		e := binary.LittleEndian.Uint32(b[frameFixedLen+4*i:])
		n, want := int(e&^segCompressed), h.segPlainLen(i)+SegmentOverhead
		// A segment is compressed only when that makes it smaller, so no stored segment
		// is longer than its raw form.
		if e&segCompressed == 0 && n != want || e&segCompressed != 0 && (n <= SegmentOverhead || n >= want) {
			return FrameHeader{}, 0, formatError("segment %d: bad table entry %#x", i, e)
		}
		h.Segs[i] = e
	}
	return h, hl, nil
}

// segPlainLen is the plaintext length of segment i.
func (h FrameHeader) segPlainLen(i int) int {
	return min(h.SegSize, h.PlainLen-i*h.SegSize)
}

// Len is the header's length in bytes.
func (h FrameHeader) Len() int { return frameFixedLen + 4*len(h.Segs) }

// FrameLen is the whole frame's length in bytes, header included.
func (h FrameHeader) FrameLen() int64 {
	off, n := h.SegmentSpan(0, len(h.Segs)-1)
	return off + n
}

// SegmentSpan returns the byte range [off, off+n) within the frame of segments first
// through last, both included and clipped to the frame's segments. An empty range gives
// n = 0 and off where the segment first would start (the frame's end past the last one).
func (h FrameHeader) SegmentSpan(first, last int) (off, n int64) {
	first, last = max(first, 0), min(last, len(h.Segs)-1)
	off = int64(h.Len())
	for i, e := range h.Segs {
		l := int64(e &^ segCompressed)
		if i < first {
			off += l
		} else if i <= last {
			n += l
		}
	}
	return off, n
}

// SegmentsFor returns the segments first through last that hold plaintext bytes
// [plainOff, plainOff+n), clipped to the chunk. Segment first starts at plaintext offset
// first*SegSize. When nothing of the range lies in the chunk it returns last = first-1,
// for which SegmentSpan is empty and OpenSegments of no bytes opens nothing.
func (h FrameHeader) SegmentsFor(plainOff int64, n int) (first, last int) {
	if h.SegSize <= 0 {
		return 0, -1
	}
	plainOff = max(plainOff, 0)
	size := int64(h.PlainLen)
	if plainOff >= size {
		return len(h.Segs), len(h.Segs) - 1
	}
	if n <= 0 {
		first = int(plainOff / int64(h.SegSize))
		return first, first - 1
	}
	end := plainOff + min(int64(n), size-plainOff)
	return int(plainOff / int64(h.SegSize)), int((end - 1) / int64(h.SegSize))
}

// Codec seals chunks into frames and opens them under one 32-byte data key. It is safe for
// concurrent use.
//
// Nonces are random, so one key should seal fewer than about 2^32 segments (256 TiB of
// plaintext) to keep the chance of a repeated nonce below 2^-32.
type Codec struct {
	aead    cipher.AEAD
	enc     *zstd.Encoder
	dec     *zstd.Decoder
	scratch sync.Pool // of *frameScratch
}

type frameScratch struct {
	aad []byte // header | chunk ID | segment index
	seg []byte // an opened compressed segment
}

// NewCodec returns a Codec for key, which must be 32 bytes (AES-256).
func NewCodec(key []byte) (*Codec, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("frame key: want 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	// EncodeAll and DecodeAll never start goroutines; concurrency only sizes the set of
	// encoder and decoder states, so parallel Seals and Opens do not queue for one.
	n := runtime.GOMAXPROCS(0)
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(n),
		zstd.WithEncoderCRC(false), // GCM authenticates every byte already
		zstd.WithWindowSize(SegmentSize))
	if err != nil {
		return nil, err
	}
	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(n),
		zstd.WithDecoderMaxMemory(SegmentSize),
		zstd.WithDecoderMaxWindow(SegmentSize))
	if err != nil {
		return nil, err
	}
	return &Codec{aead: aead, enc: enc, dec: dec}, nil
}

func (c *Codec) getScratch() *frameScratch {
	if s, ok := c.scratch.Get().(*frameScratch); ok {
		return s
	}
	return new(frameScratch)
}

// segmentAAD builds the AAD prefix for a frame in s.aad and returns the AAD and the slot
// where each segment writes its index.
func (s *frameScratch) segmentAAD(hdr []byte, id ID) (aad, idx []byte) {
	s.aad = append(append(append(s.aad[:0], hdr...), id[:]...), 0, 0, 0, 0)
	return s.aad, s.aad[len(s.aad)-4:]
}

// Seal appends to dst the frame of the chunk plain with ID id, and returns the extended
// slice. Every call draws fresh nonces, so sealing the same chunk twice gives different
// frames that both open. dst and plain must not overlap. Seal panics if plain is longer
// than MaxFramePlain.
func (c *Codec) Seal(dst []byte, id ID, plain []byte) []byte {
	if len(plain) > MaxFramePlain {
		panic(fmt.Sprintf("chunkstore: Seal of %d bytes, above MaxFramePlain", len(plain)))
	}
	count := segmentCount(len(plain))
	start, hl := len(dst), frameFixedLen+4*count
	// The slack is for a zstd attempt that comes out longer than the raw segment.
	dst = slices.Grow(dst, hl+len(plain)+count*SegmentOverhead+64)
	dst = dst[:start+hl]

	// Lay out every segment as nonce | plaintext to seal | room for the tag, so the table
	// is complete (it is in every AAD) before the first encryption, which then runs in place.
	var room [tagSize]byte
	for i := range count {
		p := plain[i*SegmentSize : min((i+1)*SegmentSize, len(plain))]
		segStart := len(dst)
		dst = slices.Grow(dst, nonceSize+len(p)+tagSize)[:segStart+nonceSize]
		_, _ = rand.Read(dst[segStart:]) // never fails; it crashes the program instead
		ptStart := len(dst)
		entry := uint32(0)
		if len(p) >= 64 {
			dst = c.enc.EncodeAll(p, dst)
			if len(dst)-ptStart <= len(p)-len(p)/16 {
				entry = segCompressed
			} else {
				dst = dst[:ptStart]
			}
		}
		if entry == 0 {
			dst = append(dst, p...)
		}
		dst = append(dst, room[:]...)
		entry |= uint32(len(dst) - segStart)
		binary.LittleEndian.PutUint32(dst[start+frameFixedLen+4*i:], entry)
	}
	hdr := dst[start : start+hl]
	copy(hdr, frameMagic)
	hdr[4], hdr[5], hdr[6], hdr[7] = FrameVersion, 0, 0, 0
	binary.LittleEndian.PutUint32(hdr[8:], uint32(len(plain)))
	binary.LittleEndian.PutUint32(hdr[12:], SegmentSize)
	binary.LittleEndian.PutUint32(hdr[16:], uint32(count))

	s := c.getScratch()
	aad, idx := s.segmentAAD(hdr, id)
	off := start + hl
	for i := range count {
		n := int(binary.LittleEndian.Uint32(hdr[frameFixedLen+4*i:]) &^ segCompressed)
		seg := dst[off : off+n]
		pt := seg[nonceSize : n-tagSize]
		binary.LittleEndian.PutUint32(idx, uint32(i))
		c.aead.Seal(pt[:0], seg[:nonceSize], pt, aad)
		off += n
	}
	c.scratch.Put(s)
	return dst
}

// Open authenticates the frame of the chunk with ID id and appends its plaintext to dst.
// frame must be exactly one frame. A frame that was altered in any way, cut short, or
// sealed under another ID or key gives an error wrapping ErrAuth; bytes that are not a
// well-formed frame give one wrapping ErrFormat. On error Open returns nil: no byte of an
// unauthenticated frame reaches the caller (dst's spare capacity may be overwritten).
func (c *Codec) Open(dst []byte, id ID, frame []byte) ([]byte, error) {
	h, hl, err := ParseFrameHeader(frame)
	if err != nil {
		return nil, err
	}
	if fl := h.FrameLen(); int64(len(frame)) != fl {
		return nil, formatError("frame is %d bytes, its header says %d", len(frame), fl)
	}
	return c.open(dst, id, frame[:hl], &h, 0, frame[hl:])
}

// OpenSegments opens part of a frame: hdr starts with the frame's header (bytes after it
// are ignored), and segs holds the stored bytes of segments first through last, as
// SegmentSpan gives them. It authenticates them against the header, id and their indices,
// and appends their plaintext, which starts at plaintext offset first*SegSize. Errors are
// as for Open; segs that do not end on a segment boundary give ErrFormat. An empty segs
// opens nothing and returns dst.
func (c *Codec) OpenSegments(dst []byte, id ID, hdr []byte, first int, segs []byte) ([]byte, error) {
	h, hl, err := ParseFrameHeader(hdr)
	if err != nil {
		return nil, err
	}
	if first < 0 || first > len(h.Segs) {
		return nil, formatError("segment %d of %d", first, len(h.Segs))
	}
	return c.open(dst, id, hdr[:hl], &h, first, segs)
}

func (c *Codec) open(dst []byte, id ID, hdr []byte, h *FrameHeader, first int, segs []byte) ([]byte, error) {
	last := first - 1
	for off := 0; off < len(segs); {
		last++
		if last >= len(h.Segs) {
			return nil, formatError("%d bytes past the last segment", len(segs)-off)
		}
		n := int(h.Segs[last] &^ segCompressed)
		if n > len(segs)-off {
			return nil, formatError("segment %d cut at %d of %d bytes", last, len(segs)-off, n)
		}
		off += n
	}
	if last < first {
		return dst, nil
	}

	s := c.getScratch()
	defer c.scratch.Put(s)
	aad, idx := s.segmentAAD(hdr, id)
	off := 0
	for i := first; i <= last; i++ {
		e := h.Segs[i]
		seg := segs[off : off+int(e&^segCompressed)]
		off += len(seg)
		binary.LittleEndian.PutUint32(idx, uint32(i))
		want := h.segPlainLen(i)
		// Until a segment has authenticated the header, grow dst by one segment only: an
		// unauthenticated header could claim far more plaintext than its segments hold.
		dst = slices.Grow(dst, want)
		var err error
		if e&segCompressed == 0 {
			dst, err = c.aead.Open(dst, seg[:nonceSize], seg[nonceSize:], aad)
			if err != nil {
				return nil, fmt.Errorf("frame segment %d: %w", i, ErrAuth)
			}
		} else {
			s.seg, err = c.aead.Open(s.seg[:0], seg[:nonceSize], seg[nonceSize:], aad)
			if err != nil {
				return nil, fmt.Errorf("frame segment %d: %w", i, ErrAuth)
			}
			// Decode into dst's spare capacity as an empty slice: the decoder's size
			// limit counts the whole destination, not what it adds.
			n := len(dst)
			out, err := c.dec.DecodeAll(s.seg, dst[n:n:cap(dst)])
			// Authentic but undecodable bytes were sealed wrong by a key holder: a
			// format error, not an attack.
			if err != nil {
				return nil, formatError("segment %d: %v", i, err)
			}
			if len(out) != want {
				return nil, formatError("segment %d holds %d bytes, want %d", i, len(out), want)
			}
			dst = dst[:n+want]
			if &out[0] != &dst[n] { // the decoder wanted more room than dst had
				copy(dst[n:], out)
			}
		}
		if i == first && last > first {
			rest := min(h.PlainLen, (last+1)*h.SegSize) - (first+1)*h.SegSize
			dst = slices.Grow(dst, rest)
		}
	}
	return dst, nil
}
