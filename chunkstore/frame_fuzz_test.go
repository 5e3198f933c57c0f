package chunkstore

// Hostile input: tampered, cut and malformed frames, and the fuzz targets.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"
)

// sealForged returns an authentic one-segment frame of plainLen bytes whose segment is
// marked compressed and holds payload: what a buggy or hostile key holder could write.
// Open must reject it with ErrFormat unless payload decodes to exactly plainLen bytes.
func sealForged(c *Codec, id ID, plainLen int, payload []byte) []byte {
	hdr := make([]byte, frameFixedLen+4)
	copy(hdr, frameMagic)
	hdr[4] = FrameVersion
	binary.LittleEndian.PutUint32(hdr[8:], uint32(plainLen))
	binary.LittleEndian.PutUint32(hdr[12:], SegmentSize)
	binary.LittleEndian.PutUint32(hdr[16:], 1)
	binary.LittleEndian.PutUint32(hdr[20:], segCompressed|uint32(len(payload)+SegmentOverhead))
	aad := append(append(slices.Clone(hdr), id[:]...), 0, 0, 0, 0)
	nonce := make([]byte, nonceSize)
	return c.aead.Seal(append(hdr, nonce...), nonce, payload, aad)
}

// checkForged opens a forged frame around payload, if the format allows one.
func checkForged(t *testing.T, c *Codec, id ID, payload []byte) (ok bool) {
	if len(payload) == 0 || len(payload) >= SegmentSize {
		return false
	}
	got, err := c.Open(nil, id, sealForged(c, id, SegmentSize, payload))
	if err != nil && !errors.Is(err, ErrFormat) {
		t.Fatalf("authentic frame with a bad zstd stream: %v, want ErrFormat", err)
	}
	if err == nil && len(got) != SegmentSize {
		t.Fatalf("opened %d bytes, header says %d", len(got), SegmentSize)
	}
	return err == nil
}

func TestFrameForgedZstd(t *testing.T) {
	c := newFrameTestCodec(t, 1)
	id := frameTestID(7)
	cases := []struct {
		name    string
		payload []byte
		ok      bool
	}{
		{"right size", c.enc.EncodeAll(make([]byte, SegmentSize), nil), true},
		{"too short", c.enc.EncodeAll(make([]byte, SegmentSize-1), nil), false},
		{"too long", c.enc.EncodeAll(make([]byte, 4*SegmentSize), nil), false},
		{"two frames", c.enc.EncodeAll(make([]byte, SegmentSize/2), c.enc.EncodeAll(make([]byte, SegmentSize/2), nil)), true},
		{"not zstd", []byte("not a zstd stream"), false},
	}
	for _, tc := range cases {
		if ok := checkForged(t, c, id, tc.payload); ok != tc.ok {
			t.Errorf("%s: opened %v, want %v", tc.name, ok, tc.ok)
		}
	}
}

// FuzzOpenFrame feeds arbitrary bytes to Open. It must never panic, fail only with ErrAuth
// or ErrFormat, agree with OpenSegments, and whatever opens must seal and open again to
// the same plaintext. The same bytes are also tried as the zstd stream of an authentic
// segment.
func FuzzOpenFrame(f *testing.F) {
	c := newFrameTestCodec(f, 1)
	id := frameTestID(7)
	for _, plain := range [][]byte{nil, {1}, frameTextData(300), chunkTestData(1, 100), make([]byte, SegmentSize+100)} {
		f.Add(c.Seal(nil, id, plain))
	}
	// zstd streams, for the authentic frames built around the input below.
	f.Add(c.enc.EncodeAll(frameTextData(SegmentSize), nil))
	f.Add(c.enc.EncodeAll(make([]byte, 2*SegmentSize), nil))
	f.Fuzz(func(t *testing.T, frame []byte) {
		// The input can also be a segment's zstd stream: no one without the key can make
		// such a frame, but a bad one must still fail cleanly.
		checkForged(t, c, id, frame)

		plain, err := c.Open(nil, id, frame)
		if err != nil {
			if !errors.Is(err, ErrAuth) && !errors.Is(err, ErrFormat) {
				t.Fatalf("Open error %v wraps neither ErrAuth nor ErrFormat", err)
			}
			if plain != nil {
				t.Fatal("Open returned bytes with an error")
			}
		}
		h, hl, herr := ParseFrameHeader(frame)
		if herr == nil && int64(len(frame)) == h.FrameLen() {
			segs, serr := c.OpenSegments(nil, id, frame[:hl], 0, frame[hl:])
			if (serr == nil) != (err == nil) || !bytes.Equal(segs, plain) {
				t.Fatalf("OpenSegments of the whole frame: %v; Open: %v", serr, err)
			}
		}
		if err != nil {
			return
		}
		again, err := c.Open(nil, id, c.Seal(nil, id, plain))
		if err != nil || !bytes.Equal(again, plain) {
			t.Fatalf("re-sealed plaintext does not open: %v", err)
		}
	})
}

// FuzzParseFrameHeader checks that ParseFrameHeader never panics and that whatever it
// accepts is self-consistent, with ranges that stay inside the frame.
func FuzzParseFrameHeader(f *testing.F) {
	c := newFrameTestCodec(f, 1)
	for _, n := range []int{0, 100, SegmentSize, 3*SegmentSize + 5} {
		f.Add(c.Seal(nil, frameTestID(7), frameMixedData(n)), int64(n/2), 4096)
	}
	f.Fuzz(func(t *testing.T, b []byte, off int64, n int) {
		h, hl, err := ParseFrameHeader(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			return
		}
		if hl != h.Len() || hl > len(b) || h.SegSize != SegmentSize || h.PlainLen > MaxFramePlain {
			t.Fatalf("header %+v of length %d from %d bytes", h, hl, len(b))
		}
		if h.FrameLen() > int64(hl)+int64(h.PlainLen)+int64(len(h.Segs))*SegmentOverhead {
			t.Fatalf("frame of %d bytes for %d of plaintext", h.FrameLen(), h.PlainLen)
		}
		first, last := h.SegmentsFor(off, n)
		if first < 0 || last >= len(h.Segs) || last < first-1 {
			t.Fatalf("SegmentsFor(%d, %d) = %d, %d of %d segments", off, n, first, last, len(h.Segs))
		}
		if so, sn := h.SegmentSpan(first, last); so < int64(hl) || sn < 0 || so+sn > h.FrameLen() {
			t.Fatalf("SegmentSpan(%d, %d) = %d, %d; frame is %d bytes", first, last, so, sn, h.FrameLen())
		}
	})
}

func TestFrameBitFlips(t *testing.T) {
	c := newFrameTestCodec(t, 1)
	id := frameTestID(7)
	for name, frame := range smallFrames(t, c, id) {
		if _, err := c.Open(nil, id, frame); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		bad := slices.Clone(frame)
		for i := range len(bad) * 8 {
			bad[i/8] ^= 1 << (i % 8)
			_, err := c.Open(nil, id, bad)
			wantFrameError(t, err, fmt.Sprintf("%s with bit %d flipped", name, i))
			bad[i/8] ^= 1 << (i % 8)
		}
	}
}

func TestFrameTruncation(t *testing.T) {
	c := newFrameTestCodec(t, 1)
	id := frameTestID(7)
	frames := smallFrames(t, c, id)
	frames["mixed"] = c.Seal(nil, id, frameMixedData(3*SegmentSize+10))
	for name, frame := range frames {
		for n := range len(frame) {
			_, err := c.Open(nil, id, frame[:n])
			wantFrameError(t, err, fmt.Sprintf("%s cut to %d of %d bytes", name, n, len(frame)))
		}
		_, err := c.Open(nil, id, append(slices.Clone(frame), 0))
		wantFrameError(t, err, name+" with a byte appended")
	}
}

func TestFrameHeaderRejects(t *testing.T) {
	c := newFrameTestCodec(t, 1)
	id := frameTestID(7)
	frame := c.Seal(nil, id, frameMixedData(2*SegmentSize+100)) // raw | compressed | raw
	h, _, err := ParseFrameHeader(frame)
	if err != nil {
		t.Fatal(err)
	}
	if h.Segs[0]&segCompressed != 0 || h.Segs[1]&segCompressed == 0 || h.Segs[2]&segCompressed != 0 {
		t.Fatalf("test data sealed as %#x, want raw, compressed, raw", h.Segs)
	}
	le := func(v uint32) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }
	edits := map[string]func(b []byte){
		"magic":              func(b []byte) { b[0] = 'X' },
		"version 0":          func(b []byte) { b[4] = 0 },
		"version 2":          func(b []byte) { b[4] = 2 },
		"flags":              func(b []byte) { b[5] = 1 },
		"reserved":           func(b []byte) { b[7] = 0x80 },
		"plain above max":    func(b []byte) { copy(b[8:], le(MaxFramePlain+1)) },
		"plain one segment":  func(b []byte) { copy(b[8:], le(100)) },
		"segment size":       func(b []byte) { copy(b[12:], le(SegmentSize/2)) },
		"segment count":      func(b []byte) { copy(b[16:], le(4)) },
		"huge count":         func(b []byte) { copy(b[16:], le(1<<30)) },
		"raw entry length":   func(b []byte) { copy(b[20:], le(h.Segs[0]-1)) },
		"raw marked zstd":    func(b []byte) { copy(b[20:], le(h.Segs[0]|segCompressed)) },
		"zstd not smaller":   func(b []byte) { copy(b[24:], le(segCompressed|SegmentSize+SegmentOverhead)) },
		"zstd empty":         func(b []byte) { copy(b[24:], le(segCompressed|SegmentOverhead)) },
		"zstd marked raw":    func(b []byte) { copy(b[24:], le(h.Segs[1]&^segCompressed)) },
		"last entry too big": func(b []byte) { copy(b[28:], le(100+SegmentOverhead+1)) },
	}
	for name, edit := range edits {
		bad := slices.Clone(frame)
		edit(bad)
		if _, _, err := ParseFrameHeader(bad); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: ParseFrameHeader gave %v, want ErrFormat", name, err)
		}
		_, err := c.Open(nil, id, bad)
		wantFrameError(t, err, name)
	}
}
