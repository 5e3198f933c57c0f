package vault

import (
	"context"
	"fmt"
	"sync"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
)

var frameBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, chunkstore.MaxChunkSize+chunkstore.MaxChunkSize/16)
	return &b
}}

// pendingPack is a pack's bytes with the chunks in it and where each lies (bytes only for
// the packs a sliced folder's adoption stores itself).
type pendingPack struct {
	buf  []byte
	ids  []chunkstore.ID
	locs []index.Location
}

// pack is a put run's packing stage: it hands sealed frames to a chunkstore.Packer, which
// gathers them into packs no larger than the store takes and stores them, and records
// each stored pack's chunks in the index, so a chunk becomes known to the index only once
// its pack is stored. It returns once every pack is stored and indexed.
func (w *putRun) pack(ctx context.Context, frames <-chan sealedFrame) error {
	pk := chunkstore.NewPacker(ctx, w.v.store, chunkstore.PackerConfig{
		Uploaders: w.v.opts.Uploaders,
		NewHandle: func() chunkstore.Handle {
			return chunkstore.Handle{Type: chunkstore.TypePack, Name: randomHex(16), Group: w.group}
		},
		Stored: func(_ context.Context, obj chunkstore.Object, frames []chunkstore.PackedFrame) error {
			ids := make([]chunkstore.ID, len(frames))
			locs := make([]index.Location, len(frames))
			for i, f := range frames {
				ids[i] = f.ID
				locs[i] = index.Location{Pack: obj.Ref, Offset: f.Offset, Length: f.Length, Header: f.Header}
			}
			return w.v.recordPack(obj, w.group, ids, locs, w.progress, &w.stored)
		},
	})
	for {
		select {
		case f, ok := <-frames:
			if !ok {
				return pk.Close()
			}
			err := pk.Add(f.id, *f.frame)
			frameBufs.Put(f.frame)
			if err != nil {
				pk.Close()
				return err
			}
		case <-pk.Done():
			// A pack failed to store: stop taking frames now.
			return pk.Close()
		}
	}
}

// storePack uploads one pack and records where each of its chunks is.
func (v *Vault) storePack(ctx context.Context, group string, pp *pendingPack, prog *Progress, stored interface{ Add(int64) int64 }) error {
	h := chunkstore.Handle{Type: chunkstore.TypePack, Name: randomHex(16), Group: group}
	obj, err := v.store.Put(ctx, h, chunkstore.BytesSource(pp.buf))
	if err != nil {
		return fmt.Errorf("store pack: %w", err)
	}
	for i := range pp.locs {
		pp.locs[i].Pack = obj.Ref
	}
	return v.recordPack(obj, group, pp.ids, pp.locs, prog, stored)
}

// recordPack records a stored pack in the index with where each of its chunks lies, and
// counts its bytes.
func (v *Vault) recordPack(obj chunkstore.Object, group string, ids []chunkstore.ID, locs []index.Location, prog *Progress, stored interface{ Add(int64) int64 }) error {
	pack := index.Pack{Ref: obj.Ref, Type: chunkstore.TypePack, Name: obj.Name, Group: group, Size: obj.Size}
	if err := v.idx.PutPack(pack, ids, locs); err != nil {
		return err
	}
	stored.Add(obj.Size)
	if prog != nil {
		prog.Stored.Add(obj.Size)
		prog.Packs.Add(1)
	}
	v.log.Debug("pack stored", "pack", obj.Ref, "bytes", obj.Size, "chunks", len(ids), "archive", FormatID(group))
	return nil
}
