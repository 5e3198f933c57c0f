package vault

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A sequential reader gets the next bytes fetched ahead of it; a random reader does not.
func TestReadAheadFetchesWhatComesNext(t *testing.T) {
	tv, src, a := putTree(t)
	ctx := context.Background()
	n, err := tv.Index().GetNode(a.ID, "/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join(src, "big.bin"))
	cached := func(off int64) bool {
		offs := tv.reads.offsets(n)
		i := 0
		for offs[i+1] <= off {
			i++
		}
		return tv.reads.get(segKey{n.Chunks[i].ID, int((off - offs[i]) / (64 << 10))}) != nil
	}
	far := int64(3 << 20)
	// Two random reads start nothing.
	p := make([]byte, 128<<10)
	tv.ReadAt(ctx, n, p, 5<<20)
	tv.ReadAt(ctx, n, p, 1<<20)
	time.Sleep(100 * time.Millisecond)
	if cached(far) {
		t.Fatal("random reads fetched ahead")
	}
	// Two sequential ones do.
	for off := int64(0); off < 256<<10; off += int64(len(p)) {
		k, err := tv.ReadAt(ctx, n, p, off)
		if err != nil || !bytes.Equal(p[:k], want[off:off+int64(k)]) {
			t.Fatalf("read at %d: %v", off, err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for !cached(far) {
		if time.Now().After(deadline) {
			t.Fatalf("the segment at %d was not fetched ahead", far)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// What was fetched ahead reads back right.
	k, err := tv.ReadAt(ctx, n, p, far)
	if err != nil || !bytes.Equal(p[:k], want[far:far+int64(k)]) {
		t.Fatalf("read of fetched-ahead bytes: %v", err)
	}
}
