package chunkstore

import (
	"context"
	"fmt"
	"sync"
)

// PackedFrame says where a stored pack holds one frame.
type PackedFrame struct {
	ID     ID
	Offset int64  // of the frame within the pack
	Length int64  // of the whole frame
	Header []byte // the frame's header, a copy the callee may keep
}

// PackerConfig is what a Packer needs besides its store.
type PackerConfig struct {
	// Uploaders is how many packs are stored at once; less than 1 means 1.
	Uploaders int
	// NewHandle names each pack.
	NewHandle func() Handle
	// Stored is called once a pack is durable in the store, with the frames it holds in
	// pack order. It may run on several goroutines at once. An error from it stops the
	// packer as a failed Put does.
	Stored func(ctx context.Context, obj Object, frames []PackedFrame) error
}

// Packer gathers sealed frames into packs no larger than the store's MaxObjectSize and
// stores each pack once the next frame would not fit, or at Close. A frame is reported
// through Stored only once the pack holding it is durable, so a caller that records
// frames there never records one that is not stored. Add and Close are called from one
// goroutine; the puts run on the packer's own.
type Packer struct {
	store   Store
	cfg     PackerConfig
	max     int64
	ctx     context.Context
	fail    context.CancelCauseFunc
	cur     *pack
	uploads chan *pack
	wg      sync.WaitGroup
}

type pack struct {
	buf    []byte
	frames []PackedFrame
}

// packBufs keeps pack buffers for reuse: a put of many gigabytes would otherwise leave a
// 10 MiB buffer of garbage per pack for the collector, and peak memory would follow.
var packBufs sync.Pool

func packBuf(size int64) []byte {
	if b, ok := packBufs.Get().(*[]byte); ok && int64(cap(*b)) >= size {
		return (*b)[:0]
	}
	return make([]byte, 0, size)
}

// NewPacker starts a packer that stores packs in s until ctx ends or Close is called.
func NewPacker(ctx context.Context, s Store, cfg PackerConfig) *Packer {
	ctx, fail := context.WithCancelCause(ctx)
	p := &Packer{store: s, cfg: cfg, max: s.Limits().MaxObjectSize, ctx: ctx, fail: fail, uploads: make(chan *pack)}
	for range max(cfg.Uploaders, 1) {
		p.wg.Add(1)
		go p.upload()
	}
	return p
}

// Done is closed once the packer has failed (or its context has ended); Add and Close
// then return why.
func (p *Packer) Done() <-chan struct{} { return p.ctx.Done() }

// Add appends a sealed frame to the pack being filled, storing that pack first when the
// frame would not fit in it. The frame's bytes are copied; the caller may reuse them. A
// frame that is malformed or above the store's limit stops the packer: the pack being
// filled is not stored.
func (p *Packer) Add(id ID, frame []byte) error {
	if p.ctx.Err() != nil {
		return context.Cause(p.ctx)
	}
	if err := p.add(id, frame); err != nil {
		p.fail(err)
		return err
	}
	return nil
}

func (p *Packer) add(id ID, frame []byte) error {
	if int64(len(frame)) > p.max {
		return Classify(Permanent, fmt.Errorf("chunkstore: a %d-byte frame does not fit the store's %d-byte object limit", len(frame), p.max))
	}
	hdr, hlen, err := ParseFrameHeader(frame)
	if err != nil {
		return err
	}
	if hdr.FrameLen() != int64(len(frame)) {
		return fmt.Errorf("chunkstore: pack a frame: %w", formatError("%d bytes, its header says %d", len(frame), hdr.FrameLen()))
	}
	if p.cur != nil && int64(len(p.cur.buf)+len(frame)) > p.max {
		if err := p.flush(); err != nil {
			return err
		}
	}
	if p.cur == nil {
		p.cur = &pack{buf: packBuf(p.max)}
	}
	p.cur.frames = append(p.cur.frames, PackedFrame{
		ID:     id,
		Offset: int64(len(p.cur.buf)),
		Length: int64(len(frame)),
		Header: append([]byte(nil), frame[:hlen]...),
	})
	p.cur.buf = append(p.cur.buf, frame...)
	return nil
}

// Close stores the last pack and returns once every pack is stored and reported, or with
// the first error from a Put, from Stored or from the context. It must be called once,
// also after an error, to end the packer's goroutines.
func (p *Packer) Close() error {
	err := p.flush()
	close(p.uploads)
	p.wg.Wait()
	if p.ctx.Err() != nil {
		err = context.Cause(p.ctx)
	}
	p.fail(nil)
	return err
}

func (p *Packer) flush() error {
	if p.cur == nil {
		return nil
	}
	pk := p.cur
	p.cur = nil
	select {
	case p.uploads <- pk:
		return nil
	case <-p.ctx.Done():
		return context.Cause(p.ctx)
	}
}

// upload stores packs until there are no more; after a failure it only drains them.
func (p *Packer) upload() {
	defer p.wg.Done()
	for pk := range p.uploads {
		if p.ctx.Err() != nil {
			continue
		}
		if err := p.put(pk); err != nil {
			p.fail(err)
			continue
		}
		packBufs.Put(&pk.buf)
	}
}

func (p *Packer) put(pk *pack) error {
	obj, err := p.store.Put(p.ctx, p.cfg.NewHandle(), BytesSource(pk.buf))
	if err != nil {
		return fmt.Errorf("store pack: %w", err)
	}
	return p.cfg.Stored(p.ctx, obj, pk.frames)
}
