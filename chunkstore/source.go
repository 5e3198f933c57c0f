package chunkstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
)

// Every store and wrapper in this package keeps the whole contract.
var (
	_ Store       = (*DirStore)(nil)
	_ RecordStore = (*DirStore)(nil)
	_ Store       = (*MemStore)(nil)
	_ RecordStore = (*MemStore)(nil)
	_ Store       = (*FaultStore)(nil)
	_ RecordStore = (*FaultStore)(nil)
	_ Store       = (*retryStore)(nil)
	_ RecordStore = (*retryRecordStore)(nil)
	_ Store       = (*limitStore)(nil)
	_ RecordStore = (*limitRecordStore)(nil)
)

// BytesSource is a Source over b. It does not copy b: the caller must leave b unchanged
// until Put returns.
func BytesSource(b []byte) Source {
	return &readSeekSource{rs: bytes.NewReader(b), n: int64(len(b))}
}

type readSeekSource struct {
	rs io.ReadSeeker
	n  int64
}

func (s *readSeekSource) Read(p []byte) (int, error) { return s.rs.Read(p) }
func (s *readSeekSource) Length() int64              { return s.n }

func (s *readSeekSource) Rewind() error {
	_, err := s.rs.Seek(0, io.SeekStart)
	return err
}

// ReadAll loads length bytes of the object at ref starting at offset (length 0: to the end)
// and returns them in a new slice. A reader that ends early gives io.ErrUnexpectedEOF when
// length is set.
func ReadAll(ctx context.Context, s Store, ref Ref, length int, offset int64) ([]byte, error) {
	var out []byte
	err := s.Load(ctx, ref, length, offset, func(rd io.Reader) error {
		// Load may call fn again after a retryable failure, so each call starts afresh.
		if length > 0 {
			buf := make([]byte, length)
			if _, err := io.ReadFull(rd, buf); err != nil {
				return err
			}
			out = buf
			return nil
		}
		b, err := io.ReadAll(rd)
		out = b
		return err
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []byte{}
	}
	return out, nil
}

// CheckHandle reports, as a Permanent error, a handle that breaks the Handle contract: an
// unknown type, or a name that is not 1 to 64 lowercase hex characters.
func CheckHandle(h Handle) error {
	if h.Type != TypePack && h.Type != TypeManifest {
		return Classify(Permanent, fmt.Errorf("chunkstore: handle %q: unknown type %d", h.Name, h.Type))
	}
	if !validName(h.Name) {
		return Classify(Permanent, fmt.Errorf("chunkstore: handle name %q is not 1-64 lowercase hex characters", h.Name))
	}
	return nil
}

func validName(name string) bool {
	if len(name) == 0 || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// CheckRange resolves a Load range against an object of size bytes and returns how many
// bytes it covers. length 0 means to the end, so offset == size with length 0 is an empty
// range. A negative value or a range past the end is a Permanent error.
func CheckRange(size int64, length int, offset int64) (int64, error) {
	if offset < 0 || length < 0 {
		return 0, Classify(Permanent, fmt.Errorf("chunkstore: bad range: offset %d, length %d", offset, length))
	}
	if offset > size || int64(length) > size-offset {
		return 0, Classify(Permanent, fmt.Errorf("chunkstore: range %d+%d is past the end of a %d-byte object", offset, length, size))
	}
	if length == 0 {
		return size - offset, nil
	}
	return int64(length), nil
}

// exactReader turns an early EOF into io.ErrUnexpectedEOF, so a reader handed to a Load
// callback yields the bytes asked for or an error, even when the object shrinks under it.
type exactReader struct {
	r    io.Reader
	left int64
}

func exactly(r io.Reader, n int64) io.Reader { return &exactReader{r: io.LimitReader(r, n), left: n} }

func (e *exactReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if errors.Is(err, io.EOF) && e.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// ctxReader stops a long local copy once its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
