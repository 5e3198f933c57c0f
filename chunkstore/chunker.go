package chunkstore

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
)

// Chunk sizes of the content-defined chunker. Every chunk but the last of a stream is at
// least MinChunkSize and at most MaxChunkSize bytes; the last is at most MaxChunkSize.
const (
	MinChunkSize = 256 << 10
	AvgChunkSize = 1 << 20
	MaxChunkSize = 4 << 20
)

// Normalized chunking (FastCDC): a boundary is twice as hard to hit as 1/AvgChunkSize until
// a chunk reaches AvgChunkSize and four times easier after, which bunches sizes around the
// average. With the 256 KiB minimum the
// expected size on random data is about 1.05 MiB, and a forced cut at MaxChunkSize happens
// about once in 250,000 chunks.
//
// Gear hash bit k depends on the last k+1 bytes only, so the masks test the top bits: a
// boundary then depends on the last 43 to 64 bytes.
const (
	maskHard = uint64(1<<21-1) << (64 - 21)
	maskEasy = uint64(1<<18-1) << (64 - 18)
)

// chunkerReadSize is the read buffer; together with the caller's chunk buffer it bounds the
// chunker's memory.
const chunkerReadSize = 512 << 10

// Chunk is one piece of a stream cut by a Chunker.
type Chunk struct {
	// Data is the chunk's bytes. It aliases the buffer passed to Next when that buffer was
	// large enough, and is only valid until that buffer is reused.
	Data []byte
	// Offset is the position of Data's first byte in the stream.
	Offset int64
}

// Chunker cuts a stream into content-defined chunks (FastCDC with normalized chunking over
// a gear hash). The gear table is derived from a secret key, so boundaries are the same for
// the same key and content, and tell nothing about the content to whoever lacks the key.
//
// A Chunker holds one read buffer of 512 KiB besides the caller's chunk buffer. It is not
// safe for concurrent use.
type Chunker struct {
	gear       [256]uint64
	r          io.Reader
	buf        []byte
	bpos, bmax int
	off        int64 // stream offset of the next chunk
	err        error // first error from r, io.EOF included; reported once buf is drained
}

// NewChunker returns a Chunker that cuts r with a gear table derived from key. key is the
// vault's 32-byte chunker key; any length is accepted, the table is a hash of it.
func NewChunker(key []byte, r io.Reader) *Chunker {
	c := &Chunker{buf: make([]byte, chunkerReadSize)}
	gearTable(key, &c.gear)
	c.Reset(r)
	return c
}

// gearTable fills t with SHA-256(label | key | counter) blocks. The label keeps the table
// apart from any other use of the same key (chunk IDs are an HMAC under another key).
func gearTable(key []byte, t *[256]uint64) {
	const label = "discofs chunker gear v1\x00"
	h := sha256.New()
	var ctr [4]byte
	var sum [sha256.Size]byte
	for i := 0; i < len(t); i += 4 {
		h.Reset()
		h.Write([]byte(label))
		h.Write(key)
		binary.LittleEndian.PutUint32(ctr[:], uint32(i/4))
		h.Write(ctr[:])
		h.Sum(sum[:0])
		for j := range 4 {
			t[i+j] = binary.LittleEndian.Uint64(sum[8*j:])
		}
	}
}

// Reset makes c cut a new stream r from offset 0, keeping its key and buffers.
func (c *Chunker) Reset(r io.Reader) {
	c.r = r
	c.bpos, c.bmax = 0, 0
	c.off = 0
	c.err = nil
}

// Next returns the next chunk. Its Data is appended to buf[:0], so a buf with capacity
// MaxChunkSize is never reallocated. At the end of the stream Next returns io.EOF (at once
// for an empty stream); a read error is returned as it is, and every later call returns
// the same error.
func (c *Chunker) Next(buf []byte) (Chunk, error) {
	data := buf[:0]
	var h uint64
	for {
		if c.bpos == c.bmax {
			if err := c.fill(); err != nil {
				if err == io.EOF && len(data) > 0 {
					return c.emit(data), nil
				}
				return Chunk{}, err
			}
		}
		avail := c.buf[c.bpos:c.bmax]
		if n := len(data); n < MinChunkSize {
			// No boundary can fall here, so skip the hash too.
			k := min(MinChunkSize-n, len(avail))
			data = append(data, avail[:k]...)
			c.bpos += k
			continue
		}
		cut, found := c.scan(avail, len(data), &h)
		data = append(data, avail[:cut]...)
		c.bpos += cut
		if found {
			return c.emit(data), nil
		}
	}
}

func (c *Chunker) emit(data []byte) Chunk {
	ch := Chunk{Data: data, Offset: c.off}
	c.off += int64(len(data))
	return ch
}

// scan looks for a boundary in p, whose first byte is byte n of the current chunk. It
// returns how many bytes of p belong to the chunk and whether the chunk ends there.
func (c *Chunker) scan(p []byte, n int, hp *uint64) (int, bool) {
	i := 0
	if n < AvgChunkSize {
		k, found := gearScan(&c.gear, p[:min(len(p), AvgChunkSize-n)], hp, maskHard)
		if found {
			return k, true
		}
		i = k
	}
	lim := min(len(p), MaxChunkSize-n)
	k, found := gearScan(&c.gear, p[i:lim], hp, maskEasy)
	return i + k, found || n+lim == MaxChunkSize
}

// gearScan rolls the gear hash *hp over p until it has no bit of mask set. It returns the
// number of bytes consumed and whether it stopped at such a boundary.
func gearScan(g *[256]uint64, p []byte, hp *uint64, mask uint64) (int, bool) {
	h := *hp
	for i, b := range p {
		h = h<<1 + g[b]
		if h&mask == 0 {
			*hp = h
			return i + 1, true
		}
	}
	*hp = h
	return len(p), false
}

// fill reads into the empty buffer. It returns nil once some bytes are buffered, else the
// reader's error (io.EOF at the end).
func (c *Chunker) fill() error {
	if c.err != nil {
		return c.err
	}
	c.bpos, c.bmax = 0, 0
	for range 100 {
		n, err := c.r.Read(c.buf)
		if n < 0 || n > len(c.buf) {
			c.err = errors.New("chunker: reader returned an invalid count")
			return c.err
		}
		c.bmax = n
		if err != nil {
			c.err = err
		}
		if n > 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
	c.err = io.ErrNoProgress
	return c.err
}

// ID names a chunk: HMAC-SHA256 of its plaintext under the vault's chunk-ID key, so equal
// plaintext has equal IDs across the vault and an ID reveals nothing without the key.
type ID [32]byte

// String returns the ID as 64 lowercase hex digits, the form ParseID reads.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// ParseID reads an ID written by String (upper-case hex digits are accepted too).
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*len(id) {
		return ID{}, fmt.Errorf("chunk id %q: want %d hex digits", s, 2*len(id))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return ID{}, fmt.Errorf("chunk id %q: %w", s, err)
	}
	return id, nil
}

// IDHasher computes chunk IDs under one key. It is safe for concurrent use, and Sum does
// not allocate once its per-goroutine state is warm.
type IDHasher struct {
	pool sync.Pool // of *idState
}

type idState struct {
	mac hash.Hash
	sum [sha256.Size]byte
}

// NewIDKey returns an IDHasher for the vault's chunk-ID key (32 bytes; the key is copied).
func NewIDKey(key []byte) *IDHasher {
	k := append([]byte(nil), key...)
	h := &IDHasher{}
	h.pool.New = func() any {
		s := &idState{mac: hmac.New(sha256.New, k)}
		// The first Reset saves the keyed inner and outer states, which later Resets
		// restore instead of hashing the padded key again.
		s.mac.Reset()
		return s
	}
	return h
}

// Sum returns the ID of a chunk whose plaintext is data: HMAC-SHA256(key, data).
func (h *IDHasher) Sum(data []byte) ID {
	s := h.pool.Get().(*idState)
	s.mac.Reset()
	s.mac.Write(data)
	var id ID
	copy(id[:], s.mac.Sum(s.sum[:0]))
	h.pool.Put(s)
	return id
}
