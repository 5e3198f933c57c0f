package chunkstoretest

import (
	"testing"

	"github.com/discofs/discofs/chunkstore"
)

// Bench measures put and load throughput as sub-benchmarks of b: whole 1 MiB objects, and
// 64 KiB ranges from the middle of one (the read a frame segment costs). newStore makes a
// fresh store for each sub-benchmark; it is closed when the sub-benchmark ends.
func Bench(b *testing.B, newStore func(b *testing.B) chunkstore.Store) {
	const size = 1 << 20
	data := Data(size)
	fresh := func(b *testing.B) chunkstore.Store {
		s := newStore(b)
		b.Cleanup(func() { _ = s.Close() })
		return s
	}
	b.Run("Put1MiB", func(b *testing.B) {
		s := fresh(b)
		b.SetBytes(size)
		for b.Loop() {
			h := chunkstore.Handle{Type: chunkstore.TypePack, Name: Name()}
			if _, err := s.Put(b.Context(), h, chunkstore.BytesSource(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Load1MiB", func(b *testing.B) {
		s := fresh(b)
		obj := Put(b, s, chunkstore.TypePack, data)
		b.SetBytes(size)
		for b.Loop() {
			if _, err := chunkstore.ReadAll(b.Context(), s, obj.Ref, 0, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Load64KiBRange", func(b *testing.B) {
		s := fresh(b)
		obj := Put(b, s, chunkstore.TypePack, data)
		b.SetBytes(64 << 10)
		for b.Loop() {
			if _, err := chunkstore.ReadAll(b.Context(), s, obj.Ref, 64<<10, size/2); err != nil {
				b.Fatal(err)
			}
		}
	})
}
