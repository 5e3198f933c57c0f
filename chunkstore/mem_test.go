package chunkstore_test

import (
	"testing"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/chunkstore/chunkstoretest"
)

// small keeps the suite's largest object, and so the tests, quick.
var small = chunkstore.Limits{MaxObjectSize: 1 << 20}

func TestMemConformance(t *testing.T) {
	chunkstoretest.Run(t, func(t *testing.T) chunkstore.Store { return chunkstore.NewMem(small) })
}

func TestMemDefaultLimits(t *testing.T) {
	l := chunkstore.NewMem(chunkstore.Limits{}).Limits()
	if l.MaxObjectSize != chunkstore.DefaultMaxObjectSize || !l.Ranged {
		t.Errorf("NewMem(zero limits).Limits() = %+v", l)
	}
}

func TestMemRepeatedPut(t *testing.T) {
	s := chunkstore.NewMem(small)
	h := chunkstore.Handle{Type: chunkstore.TypePack, Name: chunkstoretest.Name()}
	data := chunkstoretest.Data(100)
	first, err := s.Put(t.Context(), h, chunkstore.BytesSource(data))
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Put(t.Context(), h, chunkstore.BytesSource(data))
	if err != nil || again != first {
		t.Errorf("repeated Put = %+v, %v; want %+v", again, err, first)
	}
	_, err = s.Put(t.Context(), h, chunkstore.BytesSource(data[:50]))
	if err == nil || chunkstore.IsRetryable(err) {
		t.Errorf("Put of the same name with another size: %v, want a permanent error", err)
	}
	// The same name as another type is another object.
	h.Type = chunkstore.TypeManifest
	m, err := s.Put(t.Context(), h, chunkstore.BytesSource(data[:50]))
	if err != nil || m.Ref == first.Ref {
		t.Errorf("Put of a manifest sharing a pack's name = %+v, %v", m, err)
	}
}

// shortSource says it has more bytes than it yields.
type shortSource struct{ chunkstore.Source }

func (shortSource) Length() int64 { return 1000 }

func TestMemShortSource(t *testing.T) {
	s := chunkstore.NewMem(small)
	h := chunkstore.Handle{Type: chunkstore.TypePack, Name: chunkstoretest.Name()}
	_, err := s.Put(t.Context(), h, shortSource{chunkstore.BytesSource(make([]byte, 999))})
	if err == nil || chunkstore.IsRetryable(err) {
		t.Fatalf("Put of a source shorter than it says: %v, want a permanent error", err)
	}
	if _, err := s.Stat(t.Context(), chunkstore.Ref("pack/"+h.Name)); !chunkstore.IsNotFound(err) {
		t.Errorf("the short object was stored: %v", err)
	}
}

func BenchmarkMem(b *testing.B) {
	chunkstoretest.Bench(b, func(*testing.B) chunkstore.Store { return chunkstore.NewMem(chunkstore.Limits{}) })
}

// longSource says it has fewer bytes than it yields.
type longSource struct{ chunkstore.Source }

func (longSource) Length() int64 { return 10 }

func TestMemLongSource(t *testing.T) {
	s := chunkstore.NewMem(small)
	h := chunkstore.Handle{Type: chunkstore.TypePack, Name: chunkstoretest.Name()}
	if _, err := s.Put(t.Context(), h, longSource{chunkstore.BytesSource(make([]byte, 11))}); err == nil || chunkstore.IsRetryable(err) {
		t.Fatalf("Put of a source longer than it says: %v, want a permanent error", err)
	}
}
