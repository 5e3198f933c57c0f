package vault

import (
	"context"
	"sync"

	"github.com/discofs/discofs/index"
)

// Read-ahead: a reader that asks for the bytes right after its last read is reading
// sequentially, and waiting for one ranged request per read would make it as slow as the
// store's latency allows. So once a file is read sequentially, the chunks within a window
// after the read are fetched in the background into the segment cache, each on a
// goroutine of its own, and every later read tops the window up. A remote store gets a
// wider window and more fetches at once: its latency, not its bandwidth or the CPU, is
// what a reader would wait for. A window is at most a quarter of the memory cache, so that
// what one reader fetched ahead is still there when it gets to it while others read too.
//
// Lock order: readAhead.mu is a leaf.

const (
	// readAheadFiles bounds the files whose reading position is remembered.
	readAheadFiles = 1024
)

type readAhead struct {
	window int64 // how far ahead of a sequential reader chunks are fetched

	mu    sync.Mutex
	next  map[uint64]int64 // inode → where its last read ended
	ahead map[uint64]int64 // inode → where its read-ahead has been started up to
	slots chan struct{}    // one per background fetch, bounding them
}

func newReadAhead(remote bool, memoryCache int64) *readAhead {
	window, fetches := int64(4<<20), 4
	if remote {
		window, fetches = 32<<20, 16
	}
	window = min(window, max(memoryCache/4, 1<<20))
	return &readAhead{window: window, next: map[uint64]int64{}, ahead: map[uint64]int64{},
		slots: make(chan struct{}, fetches)}
}

// readAheadAfter notes a read of n that covered [off, end) and, when it continues the
// previous one, starts fetching the chunks after it that are not being fetched yet.
func (v *Vault) readAheadAfter(n index.Node, off, end int64) {
	ra := v.ahead
	offs := v.reads.offsets(n)
	type part struct{ from, to int64 }
	var parts []part
	ra.mu.Lock()
	if len(ra.next) >= readAheadFiles {
		clear(ra.next)
		clear(ra.ahead)
	}
	// A read continues the last one when it starts near where that one ended, before or
	// after: the kernel sends a sequential reader's read-ahead as several requests at
	// once, and they finish in any order. A read elsewhere forgets what was fetched ahead.
	last, seen := ra.next[n.Ino]
	if sequential := seen && off > 0 && off >= last-4*(end-off) && off <= last+4*(end-off); sequential {
		ra.next[n.Ino] = max(last, end)
		// Whole chunks, each claimed here so that no two reads start the same one.
	claim:
		for pos := max(ra.ahead[n.Ino], end); pos < min(end+ra.window, n.Size); {
			select {
			case ra.slots <- struct{}{}:
			default:
				break claim // enough is in flight; a later read tops up
			}
			stop := offs[chunkHolding(offs, pos)+1]
			parts = append(parts, part{pos, stop})
			ra.ahead[n.Ino] = stop
			pos = stop
		}
	} else {
		ra.next[n.Ino] = end
		ra.ahead[n.Ino] = end
	}
	ra.mu.Unlock()
	for _, p := range parts {
		go v.fetchAhead(n, p.from, p.to)
	}
}

// fetchAhead reads [from, to) of n into the segment cache, then gives its slot back.
func (v *Vault) fetchAhead(n index.Node, from, to int64) {
	defer func() { <-v.ahead.slots }()
	ctx, cancel := context.WithTimeout(v.life, fetchTimeout)
	defer cancel()
	r := v.readSlices(ctx, n, from, int(to-from), false, false)
	v.reads.unpinAll(r.pins)
	if r.err != nil {
		v.log.Debug("read-ahead failed", "path", n.Path, "offset", from, "err", r.err)
	}
}
