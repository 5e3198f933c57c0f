package chunkstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// packerFrames seals frames of many sizes: the empty chunk, one byte, text that
// compresses, random data of several sizes, and two of the largest frames a chunk can make
// (MaxChunkSize random bytes, every segment raw). It returns the largest frame's length.
func packerFrames(t *testing.T) ([]ID, [][]byte, int64) {
	t.Helper()
	testFrames.once.Do(func() { testFrames.ids, testFrames.frames, testFrames.largest = sealPackerFrames(t) })
	return testFrames.ids, testFrames.frames, testFrames.largest
}

var testFrames struct {
	once    sync.Once
	ids     []ID
	frames  [][]byte
	largest int64
}

func sealPackerFrames(t *testing.T) (ids []ID, frames [][]byte, largest int64) {
	c := newFrameTestCodec(t, 3)
	// Random, text and mixed data by turns, but for the two largest frames, which come
	// first so that they can fill one pack.
	sizes := []int{MaxChunkSize, MaxChunkSize, 0, 1, 300_000, SegmentSize + 1, 1 << 20, 70_000, MinChunkSize, 2 << 20}
	for i, n := range sizes {
		var plain []byte
		switch {
		case i%3 == 0 || n == MaxChunkSize:
			plain = chunkTestData(uint64(i+100), n)
		case i%3 == 1:
			plain = frameTextData(n)
		default:
			plain = frameMixedData(n)
		}
		id := frameTestID(byte(i + 1))
		frame := c.Seal(nil, id, plain)
		ids, frames = append(ids, id), append(frames, frame)
		largest = max(largest, int64(len(frame)))
	}
	return ids, frames, largest
}

// packLog is what a packer reported through Stored, in the order it did.
type packLog struct {
	mu     sync.Mutex
	objs   []Object
	frames [][]PackedFrame
}

func (l *packLog) stored(_ context.Context, obj Object, frames []PackedFrame) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.objs = append(l.objs, obj)
	l.frames = append(l.frames, append([]PackedFrame(nil), frames...))
	return nil
}

func newTestPacker(ctx context.Context, s Store, uploaders int, stored func(context.Context, Object, []PackedFrame) error) *Packer {
	return NewPacker(ctx, s, PackerConfig{
		Uploaders: uploaders,
		NewHandle: func() Handle {
			b := make([]byte, 16)
			rand.Read(b)
			return Handle{Type: TypePack, Name: hex.EncodeToString(b)}
		},
		Stored: stored,
	})
}

// checkPacks fails unless the store holds exactly the packs the log reports, each within
// limit and filled end to end by its frames, and every frame lies in one of them, once,
// at its reported place.
func checkPacks(t *testing.T, s Store, log *packLog, limit int64, ids []ID, frames [][]byte) {
	t.Helper()
	ctx := context.Background()
	var listed int
	err := s.List(ctx, TypePack, func(o Object) error {
		listed++
		if o.Size > limit {
			t.Errorf("pack %s holds %d bytes; the limit is %d", o.Ref, o.Size, limit)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if listed != len(log.objs) {
		t.Errorf("the store holds %d packs, %d were reported", listed, len(log.objs))
	}
	want := map[ID][]byte{}
	for i, id := range ids {
		want[id] = frames[i]
	}
	seen := map[ID]bool{}
	for i, obj := range log.objs {
		var end int64
		for _, f := range log.frames[i] {
			if seen[f.ID] {
				t.Errorf("frame %s was packed twice", f.ID)
			}
			seen[f.ID] = true
			if f.Offset != end {
				t.Errorf("pack %s: a frame at %d, the one before ends at %d", obj.Ref, f.Offset, end)
			}
			end = f.Offset + f.Length
			got, err := ReadAll(ctx, s, obj.Ref, int(f.Length), f.Offset)
			if err != nil || !bytes.Equal(got, want[f.ID]) {
				t.Errorf("pack %s at %d+%d does not hold frame %s (%v)", obj.Ref, f.Offset, f.Length, f.ID, err)
			}
			if !bytes.HasPrefix(want[f.ID], f.Header) || len(f.Header) < frameFixedLen {
				t.Errorf("frame %s: the header reported is not the frame's", f.ID)
			}
		}
		if end != obj.Size {
			t.Errorf("pack %s: %d bytes, its frames end at %d", obj.Ref, obj.Size, end)
		}
	}
	if len(seen) != len(ids) {
		t.Errorf("%d of %d frames were packed", len(seen), len(ids))
	}
}

func TestPackerPacksWithinTheLimit(t *testing.T) {
	ids, frames, largest := packerFrames(t)
	// At largest the biggest frames fill a pack alone; at 2*largest two of them fill one
	// exactly.
	for _, limit := range []int64{largest, largest + 1, 2*largest - 1, 2 * largest, DefaultMaxObjectSize} {
		for _, uploaders := range []int{1, 4} {
			t.Run(fmt.Sprintf("limit %d, %d uploaders", limit, uploaders), func(t *testing.T) {
				s := NewMem(Limits{MaxObjectSize: limit})
				var log packLog
				p := newTestPacker(context.Background(), s, uploaders, log.stored)
				if err := packAll(p, ids, frames); err != nil {
					t.Fatal(err)
				}
				checkPacks(t, s, &log, limit, ids, frames)
				if uploaders > 1 {
					return
				}
				// With one uploader packs are stored in order: each was closed only when
				// the next frame did not fit.
				for i := 1; i < len(log.objs); i++ {
					if next := log.frames[i][0].Length; log.objs[i-1].Size+next <= limit {
						t.Errorf("pack %d (%d bytes) was closed before a %d-byte frame that fits", i-1, log.objs[i-1].Size, next)
					}
				}
				if limit == 2*largest && log.objs[0].Size != limit {
					t.Errorf("the first pack holds %d bytes, want the two largest frames, %d", log.objs[0].Size, limit)
				}
			})
		}
	}
}

func TestPackerStoresTheLastPackAtClose(t *testing.T) {
	ids, frames, _ := packerFrames(t)
	s := NewMem(Limits{})
	var log packLog
	p := newTestPacker(context.Background(), s, 2, log.stored)
	for i := 1; i < 4; i++ {
		if err := p.Add(ids[i], frames[i]); err != nil {
			t.Fatal(err)
		}
	}
	if n := storedObjects(t, s); n != 0 || len(log.objs) != 0 {
		t.Fatalf("%d packs stored before Close, none full", n)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if len(log.objs) != 1 || len(log.frames[0]) != 3 {
		t.Fatalf("Close stored %d packs: %+v", len(log.objs), log.objs)
	}
	checkPacks(t, s, &log, s.Limits().MaxObjectSize, ids[1:4], frames[1:4])

	// A packer given nothing stores nothing.
	p = newTestPacker(context.Background(), s, 2, log.stored)
	if err := p.Close(); err != nil || storedObjects(t, s) != 1 || len(log.objs) != 1 {
		t.Fatalf("an empty packer's Close: %v, %d packs", err, storedObjects(t, s))
	}
}

func storedObjects(t *testing.T, s Store) (n int) {
	t.Helper()
	if err := s.List(context.Background(), TypePack, func(Object) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPackerPutErrorStopsIt(t *testing.T) {
	ids, frames, largest := packerFrames(t)
	fire := errors.New("disk on fire")
	mem := NewMem(Limits{MaxObjectSize: largest})
	s := NewFault(mem)
	// The first pack is stored, the second fails for good.
	s.Add(Fault{Op: OpPut, Type: TypePack, Action: FaultDelay}, Fault{Op: OpPut, Type: TypePack, Err: fire})
	var log packLog
	p := newTestPacker(context.Background(), s, 1, log.stored)
	err := packAll(p, ids, frames)
	if !errors.Is(err, fire) {
		t.Fatalf("the packer's error is %v, want the failed put's", err)
	}
	if err := p.Add(ids[0], frames[0]); !errors.Is(err, fire) {
		t.Errorf("a frame added after the failure: %v, want the failed put's error", err)
	}
	s.VerifyAllFaultsExercised(t)
	// Only the first pack is reported, and it is the only one stored: nothing was put
	// after the failure.
	if len(log.objs) != 1 || storedObjects(t, mem) != 1 {
		t.Fatalf("after a failed put %d packs were reported and %d stored, want 1 and 1", len(log.objs), storedObjects(t, mem))
	}
	if _, err := mem.Stat(context.Background(), log.objs[0].Ref); err != nil {
		t.Fatalf("the pack reported is not stored: %v", err)
	}
}

func TestPackerStoredErrorStopsIt(t *testing.T) {
	ids, frames, largest := packerFrames(t)
	s := NewMem(Limits{MaxObjectSize: largest})
	refused := errors.New("index refused")
	calls := 0
	p := newTestPacker(context.Background(), s, 1, func(context.Context, Object, []PackedFrame) error {
		calls++
		return refused
	})
	err := packAll(p, ids, frames)
	if !errors.Is(err, refused) || calls != 1 {
		t.Fatalf("the packer's error is %v after %d calls of Stored, want Stored's after 1", err, calls)
	}
}

func TestPackerRefusesAFrameAboveTheLimit(t *testing.T) {
	ids, frames, largest := packerFrames(t)
	for _, tc := range []struct {
		what  string
		frame []byte
		bad   func(error) bool
	}{
		{"a frame above the limit", frames[0], func(err error) bool { return ClassOf(err) == Permanent }},
		{"a frame cut short", frames[4][:len(frames[4])-1], func(err error) bool { return errors.Is(err, ErrFormat) }},
	} {
		s := NewMem(Limits{MaxObjectSize: largest - 1})
		var log packLog
		p := newTestPacker(context.Background(), s, 1, log.stored)
		// A frame that fits comes first: it is not stored once the packer has failed.
		if err := p.Add(ids[2], frames[2]); err != nil {
			t.Fatal(err)
		}
		if err := p.Add(ids[0], tc.frame); !tc.bad(err) {
			t.Fatalf("%s: %v", tc.what, err)
		}
		if err := p.Close(); !tc.bad(err) || len(log.objs) != 0 || storedObjects(t, s) != 0 {
			t.Fatalf("%s: Close gave %v, and %d packs were stored", tc.what, err, storedObjects(t, s))
		}
	}
}

// packAll adds every frame until one is refused, closes p and returns the first error.
func packAll(p *Packer, ids []ID, frames [][]byte) error {
	var err error
	for i := range frames {
		if err = p.Add(ids[i], frames[i]); err != nil {
			break
		}
	}
	if cerr := p.Close(); err == nil {
		err = cerr
	}
	return err
}
