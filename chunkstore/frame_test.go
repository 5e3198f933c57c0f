package chunkstore

import (
	"bytes"
	"errors"
	"fmt"
	"go/build"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

func newFrameTestCodec(t testing.TB, keyByte byte) *Codec {
	t.Helper()
	c, err := NewCodec(bytes.Repeat([]byte{keyByte}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func frameTestID(b byte) ID { return ID(bytes.Repeat([]byte{b}, 32)) }

var frameText struct {
	once sync.Once
	src  []byte
}

// frameTextData returns n bytes of Go source: net/http's from GOROOT, or this package's
// when GOROOT has no sources.
func frameTextData(n int) []byte {
	frameText.once.Do(func() {
		var files []string
		for _, pat := range []string{filepath.Join(build.Default.GOROOT, "src", "net", "http", "*.go"), "*.go"} {
			if files, _ = filepath.Glob(pat); len(files) > 0 {
				break
			}
		}
		for _, f := range files {
			b, _ := os.ReadFile(f)
			frameText.src = append(frameText.src, b...)
		}
		if len(frameText.src) == 0 {
			panic("no Go source found for text-like test data")
		}
	})
	b := make([]byte, 0, n)
	for len(b) < n {
		b = append(b, frameText.src[:min(len(frameText.src), n-len(b))]...)
	}
	return b
}

// frameMixedData alternates random and text-like segments, so a frame has both raw and
// compressed ones.
func frameMixedData(n int) []byte {
	b := make([]byte, 0, n)
	for i := 0; len(b) < n; i++ {
		k := min(SegmentSize, n-len(b))
		if i%2 == 0 {
			b = append(b, chunkTestData(uint64(i), k)...)
		} else {
			b = append(b, frameTextData(k)...)
		}
	}
	return b
}

// wantFrameError fails unless err is an ErrAuth or ErrFormat error.
func wantFrameError(t *testing.T, err error, what string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: opened", what)
	}
	if !errors.Is(err, ErrAuth) && !errors.Is(err, ErrFormat) {
		t.Fatalf("%s: error %v wraps neither ErrAuth nor ErrFormat", what, err)
	}
}

func TestFrameRoundTrip(t *testing.T) {
	c := newFrameTestCodec(t, 1)
	id := frameTestID(7)
	kinds := map[string]func(int) []byte{
		"random": func(n int) []byte { return chunkTestData(uint64(n), n) },
		"text":   frameTextData,
		"zeros":  func(n int) []byte { return make([]byte, n) },
	}
	for name, gen := range kinds {
		for _, n := range []int{0, 1, 63, 64, 65535, 65536, 65537, 1 << 20, 4 << 20} {
			t.Run(fmt.Sprintf("%s/%d", name, n), func(t *testing.T) {
				plain := gen(n)
				frame := c.Seal([]byte("prefix"), id, plain)
				if string(frame[:6]) != "prefix" {
					t.Fatal("Seal did not append to dst")
				}
				frame = frame[6:]
				h, hl, err := ParseFrameHeader(frame)
				if err != nil {
					t.Fatal(err)
				}
				if h.PlainLen != n || hl != h.Len() || len(h.Segs) != max(1, (n+SegmentSize-1)/SegmentSize) || h.FrameLen() != int64(len(frame)) {
					t.Fatalf("header %+v, len %d, frame %d bytes", h, hl, len(frame))
				}
				if name == "random" && len(frame) != hl+n+len(h.Segs)*SegmentOverhead {
					t.Errorf("random data: frame of %d bytes, want all segments raw", len(frame))
				}
				if name != "random" && n >= 1<<20 && len(frame) > n/2 {
					t.Errorf("%s data: frame of %d bytes for %d, want compression", name, len(frame), n)
				}
				got, err := c.Open([]byte("x"), id, frame)
				if err != nil {
					t.Fatal(err)
				}
				if got[0] != 'x' || !bytes.Equal(got[1:], plain) {
					t.Fatal("Open did not give back the plaintext appended to dst")
				}
				if again := c.Seal(nil, id, plain); bytes.Equal(again, frame) {
					t.Error("two Seals of one chunk gave the same frame")
				}
			})
		}
	}
}

func smallFrames(t *testing.T, c *Codec, id ID) map[string][]byte {
	return map[string][]byte{
		"empty":  c.Seal(nil, id, nil),
		"random": c.Seal(nil, id, chunkTestData(1, 150)),
		"text":   c.Seal(nil, id, frameTextData(400)),
		// Two compressed segments in ~150 bytes.
		"zeros": c.Seal(nil, id, make([]byte, SegmentSize+100)),
	}
}

func TestFrameSwappedSegments(t *testing.T) {
	c := newFrameTestCodec(t, 1)
	id, other := frameTestID(7), frameTestID(8)
	plain := chunkTestData(2, 3*SegmentSize)
	frame := c.Seal(nil, id, plain)
	h, _, err := ParseFrameHeader(frame)
	if err != nil {
		t.Fatal(err)
	}
	// Random segments are all raw and the same size, so a swap keeps every length right.
	o0, n := h.SegmentSpan(0, 0)
	o1, _ := h.SegmentSpan(1, 1)
	swapped := slices.Clone(frame)
	copy(swapped[o0:o0+n], frame[o1:o1+n])
	copy(swapped[o1:o1+n], frame[o0:o0+n])
	if _, err := c.Open(nil, id, swapped); !errors.Is(err, ErrAuth) {
		t.Errorf("segments 0 and 1 swapped: %v, want ErrAuth", err)
	}
	// A segment of another chunk's frame of the same shape, at the same index.
	foreign := c.Seal(nil, other, chunkTestData(3, 3*SegmentSize))
	moved := slices.Clone(frame)
	copy(moved[o1:o1+n], foreign[o1:o1+n])
	if _, err := c.Open(nil, id, moved); !errors.Is(err, ErrAuth) {
		t.Errorf("segment from another chunk: %v, want ErrAuth", err)
	}
	// The same segment under a header from a frame of another length.
	shorter := c.Seal(nil, id, plain[:2*SegmentSize+1])
	hs, _, _ := ParseFrameHeader(shorter)
	_, sn := hs.SegmentSpan(0, 1)
	if _, err := c.OpenSegments(nil, id, shorter, 0, frame[o0:o0+sn]); !errors.Is(err, ErrAuth) {
		t.Errorf("segments under another frame's header: %v, want ErrAuth", err)
	}
}

func TestFrameWrongIDOrKey(t *testing.T) {
	c, otherKey := newFrameTestCodec(t, 1), newFrameTestCodec(t, 2)
	id := frameTestID(7)
	for name, frame := range smallFrames(t, c, id) {
		if _, err := c.Open(nil, frameTestID(8), frame); !errors.Is(err, ErrAuth) {
			t.Errorf("%s under another ID: %v, want ErrAuth", name, err)
		}
		if _, err := otherKey.Open(nil, id, frame); !errors.Is(err, ErrAuth) {
			t.Errorf("%s under another key: %v, want ErrAuth", name, err)
		}
	}
	if _, err := NewCodec(make([]byte, 16)); err == nil {
		t.Error("NewCodec accepted a 16-byte key")
	}
}

func TestFrameOpenSegments(t *testing.T) {
	c := newFrameTestCodec(t, 1)
	id := frameTestID(7)
	plain := frameMixedData(5*SegmentSize + 1000)
	frame := c.Seal(nil, id, plain)
	h, hl, err := ParseFrameHeader(frame)
	if err != nil {
		t.Fatal(err)
	}
	hdr := frame[:hl]
	for first := range h.Segs {
		for last := first; last < len(h.Segs); last++ {
			off, n := h.SegmentSpan(first, last)
			got, err := c.OpenSegments([]byte("x"), id, hdr, first, frame[off:off+n])
			if err != nil {
				t.Fatalf("segments %d..%d: %v", first, last, err)
			}
			want := plain[first*SegmentSize : min((last+1)*SegmentSize, len(plain))]
			if got[0] != 'x' || !bytes.Equal(got[1:], want) {
				t.Fatalf("segments %d..%d: wrong plaintext", first, last)
			}
		}
	}
	// A 4 KiB read straddling segments 1 and 2 fetches just those two.
	first, last := h.SegmentsFor(2*SegmentSize-100, 4096)
	if first != 1 || last != 2 {
		t.Fatalf("SegmentsFor = %d, %d; want 1, 2", first, last)
	}
	off, n := h.SegmentSpan(first, last)
	if got, err := c.OpenSegments(nil, id, frame, first, frame[off:off+n]); err != nil || !bytes.Equal(got[SegmentSize-100:][:4096], plain[2*SegmentSize-100:][:4096]) {
		t.Fatalf("4 KiB read through OpenSegments: %v", err)
	}
	// Segment 2's bytes offered as segment 1, cut short, or run past the end.
	o2, n2 := h.SegmentSpan(2, 2)
	if _, err := c.OpenSegments(nil, id, hdr, 1, frame[o2:o2+n2]); err == nil {
		t.Error("segment 2 opened as segment 1")
	}
	_, err = c.OpenSegments(nil, id, hdr, 2, frame[o2:o2+n2-1])
	wantFrameError(t, err, "segment cut short")
	_, err = c.OpenSegments(nil, id, hdr, 5, frame[o2:])
	wantFrameError(t, err, "bytes past the last segment")
	_, err = c.OpenSegments(nil, id, hdr, 7, nil)
	wantFrameError(t, err, "first past the end")
	if got, err := c.OpenSegments([]byte("x"), id, hdr, 3, nil); err != nil || string(got) != "x" {
		t.Errorf("no segments: %q, %v", got, err)
	}
}

func TestFrameHeaderRanges(t *testing.T) {
	h := FrameHeader{PlainLen: 2*SegmentSize + 10, SegSize: SegmentSize, Segs: []uint32{100, 200, 38}}
	if h.Len() != 32 || h.FrameLen() != 32+338 {
		t.Fatalf("Len %d, FrameLen %d", h.Len(), h.FrameLen())
	}
	spans := []struct {
		first, last int
		off, n      int64
	}{{0, 0, 32, 100}, {1, 2, 132, 238}, {0, 9, 32, 338}, {-1, 0, 32, 100}, {2, 1, 332, 0}, {3, 5, 370, 0}}
	for _, s := range spans {
		if off, n := h.SegmentSpan(s.first, s.last); off != s.off || n != s.n {
			t.Errorf("SegmentSpan(%d, %d) = %d, %d; want %d, %d", s.first, s.last, off, n, s.off, s.n)
		}
	}
	fors := []struct {
		off         int64
		n           int
		first, last int
	}{
		{0, 1, 0, 0}, {0, SegmentSize, 0, 0}, {0, SegmentSize + 1, 0, 1}, {SegmentSize - 1, 2, 0, 1},
		{2 * SegmentSize, 4096, 2, 2}, {-5, 10, 0, 0}, {0, 1 << 30, 0, 2},
		{2*SegmentSize + 10, 1, 3, 2}, {1 << 40, 1, 3, 2}, {5, 0, 0, -1},
	}
	for _, f := range fors {
		if first, last := h.SegmentsFor(f.off, f.n); first != f.first || last != f.last {
			t.Errorf("SegmentsFor(%d, %d) = %d, %d; want %d, %d", f.off, f.n, first, last, f.first, f.last)
		}
	}
}

func TestFrameConcurrentUse(t *testing.T) {
	c := newFrameTestCodec(t, 1)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 8 {
				id := frameTestID(byte(g))
				plain := frameMixedData(i*40000 + g)
				got, err := c.Open(nil, id, c.Seal(nil, id, plain))
				if err != nil || !bytes.Equal(got, plain) {
					t.Errorf("goroutine %d, round %d: %v", g, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// The frozen version 1 fixtures, made once by Seal with the keys below. They must open
// forever: a change that breaks this breaks every existing vault.
var (
	frameFixtureKey   = []byte("discofs frame-v1 fixture data ky") // 32 bytes
	frameFixtureIDKey = []byte("discofs frame-v1 fixture id key!")
)

func TestFrameFixtureV1(t *testing.T) {
	c, err := NewCodec(frameFixtureKey)
	if err != nil {
		t.Fatal(err)
	}
	ids := NewIDKey(frameFixtureIDKey)
	for _, name := range []string{"empty", "mixed"} {
		read := func(ext string) []byte {
			b, err := os.ReadFile(filepath.Join("testdata", "frame-v1", name+ext))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		plain, frame := read(".plain"), read(".frame")
		id, err := ParseID(string(bytes.TrimSpace(read(".id"))))
		if err != nil {
			t.Fatal(err)
		}
		if got := ids.Sum(plain); got != id {
			t.Errorf("%s: chunk ID %v, fixture says %v", name, got, id)
		}
		got, err := c.Open(nil, id, frame)
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("%s: fixture frame does not open to its plaintext: %v", name, err)
		}
		h, hl, err := ParseFrameHeader(frame)
		if err != nil {
			t.Fatal(err)
		}
		if name == "mixed" && (len(h.Segs) != 2 || h.Segs[0]&segCompressed == 0 || h.Segs[1]&segCompressed != 0) {
			t.Errorf("mixed: segment table %#x, want compressed then raw", h.Segs)
		}
		for first := range h.Segs {
			off, n := h.SegmentSpan(first, first)
			seg, err := c.OpenSegments(nil, id, frame[:hl], first, frame[off:off+n])
			if err != nil || !bytes.Equal(seg, plain[first*SegmentSize:min(len(plain), (first+1)*SegmentSize)]) {
				t.Errorf("%s: segment %d: %v", name, first, err)
			}
		}
	}
}

func benchFrameData(kind string) []byte {
	if kind == "text" {
		return frameTextData(1 << 20)
	}
	return chunkTestData(1, 1<<20)
}

func BenchmarkFrameSeal(b *testing.B) {
	c := newFrameTestCodec(b, 1)
	for _, kind := range []string{"random", "text"} {
		b.Run(kind, func(b *testing.B) {
			plain := benchFrameData(kind)
			buf := make([]byte, 0, len(plain)+4096)
			b.SetBytes(int64(len(plain)))
			b.ReportAllocs()
			for b.Loop() {
				buf = c.Seal(buf[:0], frameTestID(7), plain)
			}
			b.ReportMetric(float64(len(buf))/float64(len(plain)), "ratio")
		})
	}
}

func BenchmarkFrameOpen(b *testing.B) {
	c := newFrameTestCodec(b, 1)
	for _, kind := range []string{"random", "text"} {
		b.Run(kind, func(b *testing.B) {
			plain := benchFrameData(kind)
			frame := c.Seal(nil, frameTestID(7), plain)
			buf := make([]byte, 0, len(plain))
			b.SetBytes(int64(len(plain)))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = c.Open(buf[:0], frameTestID(7), frame); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFrameOpenSegments is the random-read path: one 64 KiB segment of a 1 MiB chunk.
func BenchmarkFrameOpenSegments(b *testing.B) {
	c := newFrameTestCodec(b, 1)
	for _, kind := range []string{"random", "text"} {
		b.Run(kind, func(b *testing.B) {
			frame := c.Seal(nil, frameTestID(7), benchFrameData(kind))
			h, hl, err := ParseFrameHeader(frame)
			if err != nil {
				b.Fatal(err)
			}
			off, n := h.SegmentSpan(5, 5)
			buf := make([]byte, 0, SegmentSize)
			b.SetBytes(SegmentSize)
			b.ReportAllocs()
			for b.Loop() {
				if buf, err = c.OpenSegments(buf[:0], frameTestID(7), frame[:hl], 5, frame[off:off+n]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
