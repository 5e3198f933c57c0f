package vault

import (
	"context"
	"fmt"

	"github.com/discofs/discofs/index"
)

// verifyLegacy checks a v3.1 archive: that every chunk has its legacy record and, with
// full, that every chunk downloads, decrypts and holds the bytes the index says. Its chunks
// are not in packs, so Verify's pack checks do not apply to it.
func (v *Vault) verifyLegacy(ctx context.Context, a index.Archive, full bool, rep *VerifyReport) error {
	return v.idx.Walk(a.ID, func(n index.Node) error {
		for _, c := range n.Chunks {
			if err := ctx.Err(); err != nil {
				return err
			}
			var err error
			if full {
				_, err = v.legacyPlain(ctx, c.ID, int64(c.Len))
			} else {
				_, err = v.idx.GetLegacyChunk(c.ID)
			}
			rep.Chunks++
			if err != nil {
				rep.Damaged = append(rep.Damaged, Damaged{Archive: a.ID, Path: n.Path, Err: fmt.Errorf("chunk %s: %w", c.ID, err)})
				return nil // one damaged chunk is enough to name the file
			}
		}
		return nil
	})
}
