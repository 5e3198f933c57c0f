package vault

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
)

// loadChunk fetches one chunk's frame and appends its plaintext to dst. A frame that fails
// authentication is an error wrapping chunkstore.ErrAuth; it never yields wrong bytes.
func (v *Vault) loadChunk(ctx context.Context, id chunkstore.ID, dst []byte) ([]byte, error) {
	loc, err := v.idx.GetChunk(id)
	if errors.Is(err, index.ErrNotFound) {
		// Chunks of v3.1 archives are not in the chunk table; see legacy_read.go.
		if out, lerr := v.loadLegacyChunk(ctx, id, dst); !errors.Is(lerr, index.ErrNotFound) {
			return out, lerr
		}
	}
	if err != nil {
		return dst, fmt.Errorf("chunk %s: %w", id, err)
	}
	fb := frameBufs.Get().(*[]byte)
	defer frameBufs.Put(fb)
	frame := (*fb)[:0]
	if int64(cap(frame)) < loc.Length {
		frame = make([]byte, 0, loc.Length)
	}
	err = v.store.Load(ctx, loc.Pack, int(loc.Length), loc.Offset, func(rd io.Reader) error {
		frame = frame[:loc.Length]
		_, err := io.ReadFull(rd, frame)
		return err
	})
	if err != nil {
		return dst, fmt.Errorf("chunk %s in %s: %w", id, loc.Pack, err)
	}
	out, err := v.data.Open(dst, id, frame)
	if err != nil {
		return dst, fmt.Errorf("chunk %s in %s: %w", id, loc.Pack, err)
	}
	return out, nil
}
