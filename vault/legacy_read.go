package vault

// Reads of v3.1 archives. Their chunk IDs are not in the chunk table, so loadChunk (get,
// verify) and readChunk (the mount) fall through to here when the table misses: the legacy
// record names the stored v3.1 chunk(s), which are fetched, decrypted and gunzipped whole
// (v3.1 chunks have no segments). The mount keeps the plaintext in the read cache, so a
// read miss costs one chunk fetch and, for a chunk not seen before, one PBKDF2 derivation.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
)

// LegacyFetcher fetches the stored bytes of one v3.1 chunk from where the v3.1 tool put it.
// The discord package implements it for attachments; folders are read by the vault itself.
type LegacyFetcher interface {
	FetchLegacy(ctx context.Context, src index.LegacySource, part index.LegacyPart) ([]byte, error)
}

// DirFetcher reads v3.1 chunks from a folder (index.LegacyDir sources).
type DirFetcher struct{}

// FetchLegacy reads part from the source's folder.
func (DirFetcher) FetchLegacy(_ context.Context, src index.LegacySource, part index.LegacyPart) ([]byte, error) {
	if src.Kind != index.LegacyDir {
		return nil, fmt.Errorf("chunk %s is in %s, not in a folder", part.Name, src.Kind)
	}
	if filepath.Base(part.Name) != part.Name {
		return nil, fmt.Errorf("%w: bad chunk name %q", ErrLegacyFormat, part.Name)
	}
	return os.ReadFile(filepath.Join(src.Dir, part.Name))
}

// fetchLegacy fetches one part with the fetcher its source needs.
func (v *Vault) fetchLegacy(ctx context.Context, f LegacyFetcher, src index.LegacySource, part index.LegacyPart) ([]byte, error) {
	if f == nil {
		switch {
		case src.Kind == index.LegacyDir:
			f = DirFetcher{}
		case v.opts.Legacy != nil:
			f = v.opts.Legacy
		default:
			return nil, fmt.Errorf("chunk %s is in Discord and no Discord connection is configured (set DISCORD_BOT_TOKEN)", part.Name)
		}
	}
	b, err := f.FetchLegacy(ctx, src, part)
	if err != nil {
		return nil, fmt.Errorf("chunk %s: %w", part.Name, err)
	}
	if part.Size > 0 && int64(len(b)) != part.Size {
		return nil, fmt.Errorf("%w: chunk %s has %d bytes, the manifest says %d", ErrLegacyFormat, part.Name, len(b), part.Size)
	}
	if err := checkLegacyChunkHash(part.Name, b); err != nil {
		return nil, err
	}
	return b, nil
}

// openLegacyParts fetches parts, joins them and opens them as one sealed unit.
func (v *Vault) openLegacyParts(ctx context.Context, f LegacyFetcher, la *index.LegacyArchive, parts []index.LegacyPart, want int64) ([]byte, error) {
	var stored []byte
	for _, p := range parts {
		b, err := v.fetchLegacy(ctx, f, la.Source, p)
		if err != nil {
			return nil, err
		}
		if stored == nil {
			stored = b
		} else {
			stored = append(stored, b...)
		}
	}
	c := legacyCodec{keys: v.legacy, pass: la.Passphrase, encrypted: la.Encrypted, gzip: la.Gzip}
	plain, err := c.open(stored, want)
	if err != nil {
		return nil, fmt.Errorf("chunk %s: %w", parts[0].Name, err)
	}
	return plain, nil
}

// legacyPlain returns the plaintext of legacy chunk id, which must hold want bytes.
// ErrNotFound (index) when id is not a legacy chunk.
func (v *Vault) legacyPlain(ctx context.Context, id chunkstore.ID, want int64) ([]byte, error) {
	rec, err := v.idx.GetLegacyChunk(id)
	if err != nil {
		return nil, err
	}
	la, err := v.idx.GetLegacy(rec.Archive)
	if err != nil {
		return nil, fmt.Errorf("v3.1 archive %s: %w", FormatID(rec.Archive), err)
	}
	if len(rec.Parts) == 0 {
		return nil, fmt.Errorf("%w: chunk %s has no stored parts", ErrLegacyFormat, id)
	}
	plain, err := v.openLegacyParts(ctx, nil, &la, rec.Parts, want)
	if err != nil {
		return nil, fmt.Errorf("v3.1 archive %s: %w", FormatID(rec.Archive), err)
	}
	return plain, nil
}

// loadLegacyChunk is loadChunk for a legacy chunk: it appends the plaintext to dst.
func (v *Vault) loadLegacyChunk(ctx context.Context, id chunkstore.ID, dst []byte) ([]byte, error) {
	plain, err := v.legacyPlain(ctx, id, -1)
	if err != nil {
		return dst, err
	}
	return append(dst, plain...), nil
}

// legacySeg is the read-cache slot of a legacy chunk's whole plaintext; frame segments
// count from 0, so it never meets one.
const legacySeg = -1

// readLegacyChunk is readChunk for a legacy chunk: it appends size bytes from byte off of chunk c.
// The whole chunk is fetched once, shared by readers that miss at the same time, and kept
// in the read cache.
func (v *Vault) readLegacyChunk(ctx context.Context, rc *readCache, c index.ChunkRef, off int64, size int, r *sliceRead) error {
	key := segKey{c.ID, legacySeg}
	var plain []byte
	for fetched := 0; plain == nil; {
		if e := rc.get(key); e != nil {
			plain = e.data
			rc.unpin(e) // a legacy chunk has memory of its own, never reused
			break
		}
		if fetched == maxFetchRounds {
			return fmt.Errorf("chunk %s: the read cache is too small to hold it", c.ID)
		}
		led, err := rc.flight.do(ctx, "legacy\x00"+string(c.ID[:]), true, func() error { // slow whatever the store: key derivation, whole chunks
			fctx, cancel := context.WithTimeout(v.life, fetchTimeout)
			defer cancel()
			p, err := v.legacyPlain(fctx, c.ID, int64(c.Len))
			if err == nil {
				rc.put(key, p, nil)
			}
			return err
		})
		if led {
			fetched++
		}
		if errors.Is(err, index.ErrNotFound) {
			return fmt.Errorf("chunk %s: %w", c.ID, err)
		}
		if err != nil {
			return err
		}
	}
	if int64(len(plain)) != int64(c.Len) || off+int64(size) > int64(len(plain)) {
		return fmt.Errorf("%w: chunk %s holds %d bytes, the index says %d", ErrLegacyFormat, c.ID, len(plain), c.Len)
	}
	r.parts = append(r.parts, plain[off:off+int64(size):off+int64(size)])
	return nil
}
