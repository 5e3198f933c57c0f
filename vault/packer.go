package vault

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
)

var frameBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, chunkstore.MaxChunkSize+chunkstore.MaxChunkSize/16)
	return &b
}}

// packBufs keeps pack buffers for reuse: a put of many gigabytes would otherwise leave a
// 10 MiB buffer of garbage per pack for the collector, and peak memory would follow.
var packBufs sync.Pool

func packBuf(size int64) []byte {
	if b, ok := packBufs.Get().(*[]byte); ok && int64(cap(*b)) >= size {
		return (*b)[:0]
	}
	return make([]byte, 0, size)
}

// packer gathers sealed frames into packs no larger than the store takes and hands full
// packs to uploaders. A chunk becomes known to the index only once its pack is stored.
type packer struct {
	w       *putRun
	ctx     context.Context
	max     int64
	cur     *pendingPack
	uploads chan *pendingPack
}

type pendingPack struct {
	buf  []byte
	ids  []chunkstore.ID
	locs []index.Location
}

func newPacker(w *putRun, ctx context.Context) *packer {
	return &packer{w: w, ctx: ctx, max: w.v.store.Limits().MaxObjectSize, uploads: make(chan *pendingPack)}
}

// run packs every frame and returns once every pack is stored and indexed.
func (p *packer) run(g *errgroup.Group, frames <-chan sealedFrame) error {
	var uploaders sync.WaitGroup
	for range p.w.v.opts.Uploaders {
		uploaders.Add(1)
		g.Go(func() error {
			defer uploaders.Done()
			for pp := range p.uploads {
				if err := p.w.v.storePack(p.ctx, p.w.group, pp, p.w.progress, &p.w.stored); err != nil {
					return err
				}
				packBufs.Put(&pp.buf)
			}
			return nil
		})
	}
	err := p.pack(frames)
	close(p.uploads)
	uploaders.Wait()
	return err
}

func (p *packer) pack(frames <-chan sealedFrame) error {
	for f := range frames {
		err := p.add(f.id, *f.frame)
		frameBufs.Put(f.frame)
		if err != nil {
			return err
		}
	}
	return p.flush()
}

func (p *packer) add(id chunkstore.ID, frame []byte) error {
	if int64(len(frame)) > p.max {
		return fmt.Errorf("a %d-byte frame does not fit the store's %d-byte object limit", len(frame), p.max)
	}
	if p.cur != nil && int64(len(p.cur.buf)+len(frame)) > p.max {
		if err := p.flush(); err != nil {
			return err
		}
	}
	if p.cur == nil {
		p.cur = &pendingPack{buf: packBuf(p.max)}
	}
	hdr, hlen, err := chunkstore.ParseFrameHeader(frame)
	if err != nil {
		return err
	}
	p.cur.ids = append(p.cur.ids, id)
	p.cur.locs = append(p.cur.locs, index.Location{
		Offset: int64(len(p.cur.buf)),
		Length: hdr.FrameLen(),
		Header: append([]byte(nil), frame[:hlen]...),
	})
	p.cur.buf = append(p.cur.buf, frame...)
	return nil
}

func (p *packer) flush() error {
	if p.cur == nil {
		return nil
	}
	pp := p.cur
	p.cur = nil
	select {
	case p.uploads <- pp:
		return nil
	case <-p.ctx.Done():
		return p.ctx.Err()
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
	pack := index.Pack{Ref: obj.Ref, Type: chunkstore.TypePack, Name: h.Name, Group: group, Size: obj.Size}
	if err := v.idx.PutPack(pack, pp.ids, pp.locs); err != nil {
		return err
	}
	stored.Add(obj.Size)
	if prog != nil {
		prog.Stored.Add(obj.Size)
	}
	return nil
}
