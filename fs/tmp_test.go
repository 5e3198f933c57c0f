package fs

import (
	"context"
	"math/rand"
	"testing"
	"time"
)

func BenchmarkTmpVaultRandom(b *testing.B) {
	_, v := benchMount(b, 256<<20)
	as, _ := v.Archives()
	n, err := v.Index().GetNode(as[0].ID, "/file")
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewSource(2))
	buf := make([]byte, 4096)
	b.ResetTimer()
	t0 := time.Now()
	for range b.N {
		off := rng.Int63n((256<<20)/4096) * 4096
		if _, err := v.ReadAt(context.Background(), n, buf, off); err != nil {
			b.Fatal(err)
		}
	}
	b.Log(time.Since(t0) / time.Duration(b.N))
}
