package discord

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/discofs/discofs/chunkstore"
)

// requestLimiter spaces every REST request of one store evenly so that together they stay
// under Discord's global limit of 50 per second, and stops all work once too many requests
// were refused (401, 403, 429): Discord bans an IP for a while after 10,000 of those in ten
// minutes, and a bug that loops on a refused request must never get there.
type requestLimiter struct {
	interval   time.Duration
	maxInvalid int
	window     time.Duration

	mu      sync.Mutex
	next    time.Time   // earliest start of the next request
	invalid []time.Time // refused answers within window, oldest first
}

func newRequestLimiter(perSecond float64, maxInvalid int, window time.Duration) *requestLimiter {
	return &requestLimiter{interval: time.Duration(float64(time.Second) / perSecond), maxInvalid: maxInvalid, window: window}
}

// errTooManyInvalid stops a store that has been refused too often.
var errTooManyInvalid = chunkstore.Classify(chunkstore.Fatal, errors.New(
	"discord: stopping: Discord refused too many requests (401/403/429) in the last minutes; "+
		"continuing would risk a temporary ban of this IP"))

// wait blocks until the request may start, or ctx ends.
func (l *requestLimiter) wait(ctx context.Context) error {
	l.mu.Lock()
	now := time.Now()
	l._trim(now)
	if l.maxInvalid > 0 && len(l.invalid) >= l.maxInvalid {
		l.mu.Unlock()
		return errTooManyInvalid
	}
	start := l.next
	if start.Before(now) {
		start = now
	}
	l.next = start.Add(l.interval)
	l.mu.Unlock()
	if d := time.Until(start); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// noteInvalid counts one refused answer.
func (l *requestLimiter) noteInvalid() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l._trim(now)
	l.invalid = append(l.invalid, now)
}

// _trim forgets refusals older than the window; l.mu is held.
func (l *requestLimiter) _trim(now time.Time) {
	i := 0
	for i < len(l.invalid) && now.Sub(l.invalid[i]) > l.window {
		i++
	}
	l.invalid = l.invalid[i:]
}
