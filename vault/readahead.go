package vault

import (
	"context"
	"sync"

	"github.com/discofs/discofs/index"
)

// Read-ahead: a reader that asks for the bytes right after its last read is reading
// sequentially, and waiting for one ranged request per read would make it as slow as the
// store's latency allows. So once a file is read sequentially, the next readAheadWindow
// bytes are fetched in the background into the segment cache, a half window at a time.
//
// Lock order: readAhead.mu is a leaf.

const (
	readAheadWindow = 4 << 20
	// readAheadFiles bounds the files whose reading position is remembered.
	readAheadFiles = 1024
	// readAheadFetches bounds the background fetches at once.
	readAheadFetches = 4
)

type readAhead struct {
	mu    sync.Mutex
	next  map[uint64]int64 // inode → where its last read ended
	ahead map[uint64]int64 // inode → how far its read-ahead has been started
	slots chan struct{}
}

func newReadAhead() *readAhead {
	return &readAhead{next: map[uint64]int64{}, ahead: map[uint64]int64{}, slots: make(chan struct{}, readAheadFetches)}
}

// after notes a read of n that covered [off, end) and, when it continues the previous one,
// starts fetching what comes next.
func (v *Vault) readAheadAfter(n index.Node, off, end int64) {
	ra := v.ahead
	ra.mu.Lock()
	if len(ra.next) >= readAheadFiles {
		clear(ra.next)
		clear(ra.ahead)
	}
	sequential := ra.next[n.Ino] == off && off > 0
	ra.next[n.Ino] = end
	from := max(ra.ahead[n.Ino], end)
	to := min(end+readAheadWindow, n.Size)
	start := sequential && from < to && from-end < readAheadWindow/2
	if start {
		ra.ahead[n.Ino] = to
	}
	ra.mu.Unlock()
	if !start {
		return
	}
	select {
	case ra.slots <- struct{}{}:
	default:
		return // enough is in flight; the reader will fetch for itself
	}
	go func() {
		defer func() { <-ra.slots }()
		ctx, cancel := context.WithTimeout(v.life, fetchTimeout)
		defer cancel()
		// The bytes land in the segment cache.
		r := v.readSlices(ctx, n, from, int(to-from), false)
		v.reads.unpinAll(r.pins)
		if r.err != nil {
			v.log.Debug("read-ahead failed", "path", n.Path, "offset", from, "err", r.err)
		}
	}()
}
