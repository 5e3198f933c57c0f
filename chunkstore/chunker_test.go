package chunkstore

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
)

// chunkTestData returns n pseudo-random bytes, the same for the same seed on every
// platform and Go release (ChaCha8 output is specified).
func chunkTestData(seed uint64, n int) []byte {
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(s).Read(b)
	return b
}

func chunkTestKey(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// chunkLens cuts data with key, checks that the chunks are contiguous and spell data,
// and returns their lengths.
func chunkLens(t testing.TB, key []byte, r io.Reader, data []byte) []int {
	t.Helper()
	c := NewChunker(key, r)
	buf := make([]byte, MaxChunkSize)
	var lens []int
	var off int64
	for {
		ch, err := c.Next(buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ch.Offset != off {
			t.Fatalf("chunk %d at offset %d, want %d", len(lens), ch.Offset, off)
		}
		if !bytes.Equal(ch.Data, data[off:off+int64(len(ch.Data))]) {
			t.Fatalf("chunk %d at %d does not match the input", len(lens), off)
		}
		off += int64(len(ch.Data))
		lens = append(lens, len(ch.Data))
	}
	if off != int64(len(data)) {
		t.Fatalf("chunks cover %d bytes, input has %d", off, len(data))
	}
	return lens
}

func checkChunkBounds(t *testing.T, lens []int) {
	t.Helper()
	for i, n := range lens {
		if n > MaxChunkSize || n == 0 || n < MinChunkSize && i < len(lens)-1 {
			t.Errorf("chunk %d of %d is %d bytes", i, len(lens), n)
		}
	}
}

func TestChunkerEmpty(t *testing.T) {
	c := NewChunker(chunkTestKey(1), bytes.NewReader(nil))
	for range 2 {
		if ch, err := c.Next(nil); err != io.EOF || ch.Data != nil {
			t.Fatalf("Next on empty input = %d bytes, %v; want io.EOF", len(ch.Data), err)
		}
	}
}

func TestChunkerSmallInput(t *testing.T) {
	data := chunkTestData(1, 1000)
	if lens := chunkLens(t, chunkTestKey(1), bytes.NewReader(data), data); len(lens) != 1 {
		t.Fatalf("got %d chunks, want 1", len(lens))
	}
}

func TestChunkerBoundsAndAverage(t *testing.T) {
	size := 64 << 20
	if testing.Short() || raceEnabled() {
		size = 32 << 20
	}
	data := chunkTestData(2, size)
	lens := chunkLens(t, chunkTestKey(1), bytes.NewReader(data), data)
	checkChunkBounds(t, lens)
	avg := float64(size) / float64(len(lens))
	t.Logf("%d chunks, average %.0f KiB", len(lens), avg/1024)
	if avg < 0.7*AvgChunkSize || avg > 1.3*AvgChunkSize {
		t.Errorf("average chunk %.0f bytes, want within 30%% of %d", avg, AvgChunkSize)
	}
}

func TestChunkerKeyed(t *testing.T) {
	data := chunkTestData(3, 8<<20)
	a := chunkLens(t, chunkTestKey(1), bytes.NewReader(data), data)
	b := chunkLens(t, chunkTestKey(1), bytes.NewReader(data), data)
	other := chunkLens(t, chunkTestKey(2), bytes.NewReader(data), data)
	if !slices.Equal(a, b) {
		t.Errorf("same key, different boundaries:\n%v\n%v", a, b)
	}
	if slices.Equal(a, other) {
		t.Errorf("another key gave the same boundaries %v", a)
	}
}

// TestChunkerReadSizes checks that boundaries depend on the content alone, not on how the
// reader splits it.
func TestChunkerReadSizes(t *testing.T) {
	data := chunkTestData(4, 4<<20)
	want := chunkLens(t, chunkTestKey(1), bytes.NewReader(data), data)
	if got := chunkLens(t, chunkTestKey(1), iotest.HalfReader(bytes.NewReader(data)), data); !slices.Equal(got, want) {
		t.Errorf("half reads: %v, want %v", got, want)
	}
	small := data[:MinChunkSize+200<<10]
	want = chunkLens(t, chunkTestKey(1), bytes.NewReader(small), small)
	if got := chunkLens(t, chunkTestKey(1), iotest.OneByteReader(bytes.NewReader(small)), small); !slices.Equal(got, want) {
		t.Errorf("one-byte reads: %v, want %v", got, want)
	}
	if got := chunkLens(t, chunkTestKey(1), iotest.DataErrReader(bytes.NewReader(data)), data); len(got) == 0 {
		t.Error("no chunks when EOF comes with the last data")
	}
}

// TestChunkerDedup checks that bytes inserted near the start change only the chunks
// around them: the rest of the stream cuts the same.
func TestChunkerDedup(t *testing.T) {
	data := chunkTestData(5, 12<<20)
	sums := func(d []byte) map[[32]byte]bool {
		m := map[[32]byte]bool{}
		c := NewChunker(chunkTestKey(1), bytes.NewReader(d))
		buf := make([]byte, MaxChunkSize)
		for {
			ch, err := c.Next(buf)
			if err == io.EOF {
				return m
			}
			if err != nil {
				t.Fatal(err)
			}
			m[sha256.Sum256(ch.Data)] = true
		}
	}
	old := sums(data)
	for _, at := range []int{0, 1000, MinChunkSize + 5} {
		edited := slices.Concat(data[:at], []byte("hello"), data[at:])
		fresh := 0
		for s := range sums(edited) {
			if !old[s] {
				fresh++
			}
		}
		if fresh > 2 {
			t.Errorf("5 bytes inserted at %d: %d new chunks of %d, want at most 2", at, fresh, len(old))
		}
	}
}

func TestChunkerUniformInput(t *testing.T) {
	data := make([]byte, 3*MaxChunkSize+12345)
	lens := chunkLens(t, chunkTestKey(1), bytes.NewReader(data), data)
	checkChunkBounds(t, lens)
}

func TestChunkerReadError(t *testing.T) {
	boom := errors.New("boom")
	data := chunkTestData(6, MinChunkSize+1000)
	c := NewChunker(chunkTestKey(1), io.MultiReader(bytes.NewReader(data), iotest.ErrReader(boom)))
	for range 2 {
		if _, err := c.Next(nil); err != boom {
			t.Fatalf("Next = %v, want %v", err, boom)
		}
	}
}

func TestChunkerResetAndAlias(t *testing.T) {
	data := chunkTestData(7, 3<<20)
	c := NewChunker(chunkTestKey(1), bytes.NewReader(data))
	buf := make([]byte, MaxChunkSize)
	first, err := c.Next(buf)
	if err != nil {
		t.Fatal(err)
	}
	if &first.Data[0] != &buf[0] {
		t.Error("Data does not alias a buffer of MaxChunkSize")
	}
	n := len(first.Data)
	c.Reset(bytes.NewReader(data))
	again, err := c.Next(nil)
	if err != nil || len(again.Data) != n || again.Offset != 0 {
		t.Errorf("after Reset: %d bytes at %d, %v; want %d at 0", len(again.Data), again.Offset, err, n)
	}
}

// TestChunkerFrozenBoundaries pins the chunking of version 1: if the gear table, masks or
// sizes change, chunks of existing vaults stop deduplicating against new ones.
func TestChunkerFrozenBoundaries(t *testing.T) {
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i)
	}
	data := chunkTestData(42, 12<<20)
	want := []int{
		1241832, 1189630, 992204, 1139091, 403141, 368319, 1561736,
		1142060, 1183827, 1113968, 346148, 1426668, 474288,
	}
	if got := chunkLens(t, key, bytes.NewReader(data), data); !slices.Equal(got, want) {
		t.Errorf("chunk lengths %v, want %v", got, want)
	}
}

func TestIDStringParse(t *testing.T) {
	id := NewIDKey(chunkTestKey(9)).Sum([]byte("chunk"))
	s := id.String()
	if len(s) != 64 || strings.ToLower(s) != s {
		t.Fatalf("String() = %q", s)
	}
	for _, in := range []string{s, strings.ToUpper(s)} {
		if got, err := ParseID(in); err != nil || got != id {
			t.Errorf("ParseID(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", s[:62], s + "00", "zz" + s[2:]} {
		if _, err := ParseID(bad); err == nil {
			t.Errorf("ParseID(%q) succeeded", bad)
		}
	}
}

func TestIDHasherIsHMAC(t *testing.T) {
	key := chunkTestKey(9)
	h := NewIDKey(key)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				data := chunkTestData(uint64(g*100+i), i*97)
				m := hmac.New(sha256.New, key)
				m.Write(data)
				if got := h.Sum(data); !bytes.Equal(got[:], m.Sum(nil)) {
					t.Errorf("Sum of %d bytes is not HMAC-SHA256", len(data))
					return
				}
			}
		})
	}
	wg.Wait()
	if NewIDKey(chunkTestKey(8)).Sum(nil) == h.Sum(nil) {
		t.Error("two keys give the same ID")
	}
}

func TestIDHasherAllocs(t *testing.T) {
	if raceEnabled() {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	h := NewIDKey(chunkTestKey(9))
	data := chunkTestData(1, 4096)
	if n := testing.AllocsPerRun(100, func() { h.Sum(data) }); n != 0 {
		t.Errorf("Sum allocates %v times per call", n)
	}
}

func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

func BenchmarkChunker(b *testing.B) {
	data := chunkTestData(1, 64<<20)
	c := NewChunker(chunkTestKey(1), nil)
	buf := make([]byte, MaxChunkSize)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		c.Reset(bytes.NewReader(data))
		for {
			if _, err := c.Next(buf); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
		}
	}
}

func BenchmarkIDSum(b *testing.B) {
	h := NewIDKey(chunkTestKey(9))
	for _, n := range []int{4 << 10, 1 << 20} {
		data := chunkTestData(1, n)
		b.Run(itoaKiB(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				h.Sum(data)
			}
		})
	}
}

func itoaKiB(n int) string { return strconv.Itoa(n>>10) + "KiB" }
