package emulator

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// blobStore keeps attachment bytes by attachment ID.
type blobStore interface {
	put(id string, data []byte) error
	open(id string) (io.ReadSeekCloser, error)
	// flip inverts one byte, so a reader can see a corrupted attachment.
	flip(id string, off int64) error
	remove(id string)
	close() error
}

var errNoBlob = errors.New("no such attachment")

type memBlobs struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newMemBlobs() *memBlobs { return &memBlobs{m: map[string][]byte{}} }

func (b *memBlobs) put(id string, data []byte) error {
	b.mu.Lock()
	b.m[id] = data
	b.mu.Unlock()
	return nil
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

func (b *memBlobs) open(id string) (io.ReadSeekCloser, error) {
	b.mu.Lock()
	data, ok := b.m[id]
	b.mu.Unlock()
	if !ok {
		return nil, errNoBlob
	}
	return nopCloser{bytes.NewReader(data)}, nil
}

// flip copies before changing, so readers of the old slice are not raced.
func (b *memBlobs) flip(id string, off int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	data, ok := b.m[id]
	if !ok {
		return errNoBlob
	}
	if off < 0 || off >= int64(len(data)) {
		return fmt.Errorf("offset %d outside attachment of %d bytes", off, len(data))
	}
	c := bytes.Clone(data)
	c[off] ^= 0xff
	b.m[id] = c
	return nil
}

func (b *memBlobs) remove(id string) {
	b.mu.Lock()
	delete(b.m, id)
	b.mu.Unlock()
}

func (b *memBlobs) close() error { return nil }

// dirBlobs keeps one file per attachment under dir.
type dirBlobs struct {
	dir string
}

func newDirBlobs(dir string) (*dirBlobs, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &dirBlobs{dir: dir}, nil
}

func (b *dirBlobs) path(id string) string { return filepath.Join(b.dir, filepath.Base(id)) }

// put writes through a temporary file so a crash never leaves half an
// attachment under its ID.
func (b *dirBlobs) put(id string, data []byte) error {
	tmp, err := os.CreateTemp(b.dir, ".tmp-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), b.path(id))
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
	}
	return err
}

func (b *dirBlobs) open(id string) (io.ReadSeekCloser, error) {
	f, err := os.Open(b.path(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, errNoBlob
	}
	return f, err
}

func (b *dirBlobs) flip(id string, off int64) error {
	f, err := os.OpenFile(b.path(id), os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return errNoBlob
	}
	if err != nil {
		return err
	}
	defer f.Close()
	one := make([]byte, 1)
	if _, err := f.ReadAt(one, off); err != nil {
		return fmt.Errorf("offset %d outside attachment: %w", off, err)
	}
	one[0] ^= 0xff
	_, err = f.WriteAt(one, off)
	return err
}

func (b *dirBlobs) remove(id string) { _ = os.Remove(b.path(id)) }

func (b *dirBlobs) close() error { return nil }
