package index

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// errCorrupt is returned for a record that does not decode.
var errCorrupt = errors.New("index: corrupt record")

// writer appends varint-framed fields to a byte slice.
type writer struct{ b []byte }

func (w *writer) uvarint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *writer) varint(v int64)   { w.b = binary.AppendVarint(w.b, v) }
func (w *writer) byte(v byte)      { w.b = append(w.b, v) }
func (w *writer) bytes(v []byte)   { w.uvarint(uint64(len(v))); w.b = append(w.b, v...) }
func (w *writer) string(v string)  { w.uvarint(uint64(len(v))); w.b = append(w.b, v...) }
func (w *writer) fixed(v []byte)   { w.b = append(w.b, v...) }

// reader decodes what writer wrote; the first failure sticks and zero values follow.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: bad %s", errCorrupt, what)
	}
	r.b = nil
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("uvarint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.fail("byte")
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) take(n uint64, what string) []byte {
	if n > uint64(len(r.b)) {
		r.fail(what)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// bytes returns a copy, so the result outlives the buffer it came from.
func (r *reader) bytes() []byte {
	v := r.take(r.uvarint(), "bytes")
	if v == nil {
		return nil
	}
	return append([]byte(nil), v...)
}

func (r *reader) string() string { return string(r.take(r.uvarint(), "string")) }

// count reads a length that must be plausible for elements of at least min bytes each, so a
// corrupt length cannot make a decoder allocate without bound.
func (r *reader) count(min int) int {
	n := r.uvarint()
	if n > uint64(len(r.b)/max(min, 1)) {
		r.fail("count")
		return 0
	}
	return int(n)
}

func (r *reader) fixed(dst []byte) {
	copy(dst, r.take(uint64(len(dst)), "fixed field"))
}

// done reports the first error, or trailing bytes.
func (r *reader) done() error {
	if r.err == nil && len(r.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(r.b))
	}
	return r.err
}
