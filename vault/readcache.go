package vault

// The read cache keeps opened segments in memory, bounded, most recently used first.
// Segments live in reusable slots of SegmentSize bytes: a miss then decrypts into memory
// that was touched before, where a fresh buffer per miss would cost page faults and
// zeroing on every one. A reader pins the entries whose bytes it uses, until it has
// copied them or the kernel has taken them; an evicted entry's slot is reused only once
// no reader holds it.
//
// Lock order: readCache.mu is a leaf; it is never held across a fetch or another lock.

import (
	"container/list"
	"context"
	"errors"
	"sync"

	"github.com/discofs/discofs/chunkstore"
)

// segKey names one segment of one chunk.
type segKey struct {
	id  chunkstore.ID
	seg int
}

type segEntry struct {
	key  segKey
	data []byte
	slot []byte // the reusable memory data lives in; nil when data has its own
	pins int    // readers using data now
	dead bool   // evicted; its slot is free once the last pin goes
}

// readCache is one vault's read state. It holds no pointer to the vault, so a vault that
// is no longer used can be collected, which drops its cache.
type readCache struct {
	flight flight

	mu    sync.Mutex
	lru   list.List // of *segEntry, most recently used first
	segs  map[segKey]*list.Element
	bytes int64
	limit int64
	free  [][]byte // slots no entry uses
	offs  map[offKey][]int64
	locs  map[chunkstore.ID]chunkLoc
	// hits and misses count segment lookups, for metrics.
	hits, misses int64
}

func newReadCache(limit int64) *readCache {
	return &readCache{segs: map[segKey]*list.Element{}, limit: limit, offs: map[offKey][]int64{}, locs: map[chunkstore.ID]chunkLoc{}}
}

// get returns the entry for k pinned, or nil. The caller unpins it when done with its data.
func (rc *readCache) get(k segKey) *segEntry {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	el, ok := rc.segs[k]
	if !ok {
		rc.misses++
		return nil
	}
	rc.hits++
	rc.lru.MoveToFront(el)
	e := el.Value.(*segEntry)
	e.pins++
	return e
}

// unpin ends a reader's use of e's data.
func (rc *readCache) unpin(e *segEntry) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	e.pins--
	if e.dead && e.pins == 0 && e.slot != nil {
		rc.free = append(rc.free, e.slot)
		e.slot, e.data = nil, nil
	}
}

// slot returns memory for one segment of n bytes: a free slot when n fits one.
func (rc *readCache) slot(n int) []byte {
	if n > chunkstore.SegmentSize {
		return nil
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if k := len(rc.free); k > 0 {
		s := rc.free[k-1]
		rc.free = rc.free[:k-1]
		return s
	}
	return make([]byte, chunkstore.SegmentSize)
}

// release gives back a slot that was never put.
func (rc *readCache) release(slot []byte) {
	if slot != nil {
		rc.mu.Lock()
		rc.free = append(rc.free, slot)
		rc.mu.Unlock()
	}
}

// put adds data under k, living in slot (nil: data has its own memory), and evicts the
// least recently used unpinned entries beyond the bound. When k is there already, the
// new copy is dropped.
func (rc *readCache) put(k segKey, data, slot []byte) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if el, ok := rc.segs[k]; ok {
		rc.lru.MoveToFront(el)
		if slot != nil {
			rc.free = append(rc.free, slot)
		}
		return
	}
	rc.segs[k] = rc.lru.PushFront(&segEntry{key: k, data: data, slot: slot})
	rc.bytes += int64(len(data))
	for rc.bytes > rc.limit && rc.lru.Len() > 1 {
		old := rc.lru.Remove(rc.lru.Back()).(*segEntry)
		delete(rc.segs, old.key)
		rc.bytes -= int64(len(old.data))
		old.dead = true
		if old.pins == 0 && old.slot != nil {
			rc.free = append(rc.free, old.slot)
			old.slot, old.data = nil, nil
		}
	}
}

// unpinAll unpins every entry of pins.
func (rc *readCache) unpinAll(pins []*segEntry) {
	for _, e := range pins {
		rc.unpin(e)
	}
}

// flight runs one fetch per key at a time. Callers that come while it runs wait for it,
// or give up when their context ends without stopping it. The first caller runs a fetch
// from a local store itself, on its own goroutine, which spares handing the work to
// another thread and back on every miss; a fetch from a remote store, which can take
// long, runs on a goroutine of its own, so that the first caller too can give up at once.
type flight struct {
	mu    sync.Mutex
	calls map[string]*flightCall
}

type flightCall struct {
	done chan struct{}
	err  error
}

// do runs fn for key unless a run is under way, and returns the run's error; detached
// runs it on a new goroutine. led says whether this call started the run.
func (g *flight) do(ctx context.Context, key string, detached bool, fn func() error) (led bool, err error) {
	g.mu.Lock()
	if c, ok := g.calls[key]; ok {
		g.mu.Unlock()
		select {
		case <-c.done:
			return false, c.err
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	if g.calls == nil {
		g.calls = map[string]*flightCall{}
	}
	c := &flightCall{done: make(chan struct{})}
	g.calls[key] = c
	g.mu.Unlock()
	run := func() {
		defer func() {
			g.mu.Lock()
			delete(g.calls, key)
			g.mu.Unlock()
			close(c.done)
		}()
		c.err = errors.New("fetch panicked") // what waiters see if fn does not return
		c.err = fn()
	}
	if !detached {
		run()
		return true, c.err
	}
	go run()
	select {
	case <-c.done:
		return true, c.err
	case <-ctx.Done():
		return true, ctx.Err()
	}
}
