package chunkstore_test

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/chunkstore/chunkstoretest"
)

func TestLimitConformance(t *testing.T) {
	chunkstoretest.Run(t, func(t *testing.T) chunkstore.Store {
		return chunkstore.NewLimit(chunkstore.NewMem(small), 2, 1)
	})
}

// gauge tracks how many calls are inside at once.
type gauge struct {
	in, peak atomic.Int32
	entered  chan struct{}
	release  chan struct{}
}

func newGauge() *gauge {
	return &gauge{entered: make(chan struct{}, 100), release: make(chan struct{})}
}

func (g *gauge) hold() {
	n := g.in.Add(1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			break
		}
	}
	g.entered <- struct{}{}
	<-g.release
	g.in.Add(-1)
}

// blockingSource holds a Put inside the store until released.
type blockingSource struct {
	chunkstore.Source
	g    *gauge
	once sync.Once
}

func (b *blockingSource) Read(p []byte) (int, error) {
	b.once.Do(b.g.hold)
	return b.Source.Read(p)
}

func TestLimitConcurrency(t *testing.T) {
	mem := chunkstore.NewMem(small)
	obj := chunkstoretest.Put(t, mem, chunkstore.TypePack, []byte("data"))
	l := chunkstore.NewLimit(mem, 2, 3)
	loads, puts := newGauge(), newGauge()
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			err := l.Load(t.Context(), obj.Ref, 0, 0, func(io.Reader) error { loads.hold(); return nil })
			if err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			src := &blockingSource{Source: chunkstore.BytesSource([]byte("p")), g: puts}
			if _, err := l.Put(t.Context(), chunkstore.Handle{Type: chunkstore.TypePack, Name: chunkstoretest.Name()}, src); err != nil {
				t.Error(err)
			}
		})
	}
	// Fill every slot, then let everything through.
	for range 3 {
		<-loads.entered
	}
	for range 2 {
		<-puts.entered
	}
	close(loads.release)
	close(puts.release)
	wg.Wait()
	if loads.peak.Load() != 3 || puts.peak.Load() != 2 {
		t.Errorf("peak concurrency: %d loads, %d puts; want 3 and 2", loads.peak.Load(), puts.peak.Load())
	}
}

func TestLimitWaitCancelled(t *testing.T) {
	mem := chunkstore.NewMem(small)
	l := chunkstore.NewLimit(mem, 1, 0)
	g := newGauge()
	done := make(chan struct{})
	go func() {
		defer close(done)
		src := &blockingSource{Source: chunkstore.BytesSource([]byte("p")), g: g}
		_, _ = l.Put(t.Context(), chunkstore.Handle{Type: chunkstore.TypePack, Name: chunkstoretest.Name()}, src)
	}()
	<-g.entered
	ctx, cancel := context.WithCancel(t.Context())
	go cancel()
	_, err := l.Put(ctx, chunkstore.Handle{Type: chunkstore.TypePack, Name: chunkstoretest.Name()}, chunkstore.BytesSource(nil))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Put waiting for a slot, cancelled: %v", err)
	}
	close(g.release)
	<-done
}

func TestLimitListCallsStore(t *testing.T) {
	mem := chunkstore.NewMem(small)
	chunkstoretest.Put(t, mem, chunkstore.TypePack, []byte("a"))
	chunkstoretest.Put(t, mem, chunkstore.TypePack, []byte("b"))
	l := chunkstore.NewLimit(mem, 1, 1)
	// List holds no slot, so its callback may load and stat.
	err := l.List(t.Context(), chunkstore.TypePack, func(o chunkstore.Object) error {
		if _, err := l.Stat(t.Context(), o.Ref); err != nil {
			return err
		}
		_, err := chunkstore.ReadAll(t.Context(), l, o.Ref, 0, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLimitRecords(t *testing.T) {
	mem := chunkstore.NewMem(small)
	if _, ok := chunkstore.NewLimit(noRecords{mem}, 1, 1).(chunkstore.RecordStore); ok {
		t.Errorf("a limit over a store without records claims records")
	}
	l := chunkstore.NewLimit(mem, 1, 1)
	rs, ok := chunkstore.AsRecordStore(l)
	if !ok || rs != l.(chunkstore.RecordStore) {
		t.Fatalf("AsRecordStore(limit over mem) = %v, %v; want the limit store itself", rs, ok)
	}
	if err := rs.PutRecord(t.Context(), "header", []byte("h")); err != nil {
		t.Fatal(err)
	}
	if b, err := mem.GetRecord(t.Context(), "header"); err != nil || string(b) != "h" {
		t.Errorf("record did not reach the wrapped store: %q, %v", b, err)
	}
	if l.(interface{ Unwrap() chunkstore.Store }).Unwrap() != chunkstore.Store(mem) {
		t.Errorf("Unwrap does not return the wrapped store")
	}
}
