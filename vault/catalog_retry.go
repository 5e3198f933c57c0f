package vault

import (
	"context"
	"time"

	"github.com/discofs/discofs/chunkstore"
)

// retryCatalog tries catalogue calls again when they fail with a retryable error: a card
// edit meets the same 5xx answers, 429s and dropped connections as an upload, which the
// store's own retry wrapper absorbs.
type retryCatalog struct{ c Catalog }

const catalogAttempts = 6

func withCatalogRetry(c Catalog) Catalog {
	if c == nil {
		return nil
	}
	if _, ok := c.(retryCatalog); ok {
		return c
	}
	return retryCatalog{c}
}

func (r retryCatalog) do(ctx context.Context, call func() error) error {
	delay := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := call()
		if nr, ok := err.(noRetry); ok {
			return nr.err
		}
		if err == nil || !chunkstore.IsRetryable(err) || attempt == catalogAttempts {
			return err
		}
		wait := chunkstore.RetryAfter(err)
		if wait == 0 {
			wait, delay = delay, min(2*delay, 10*time.Second)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
	}
}

func (r retryCatalog) LoadHeader(ctx context.Context) (h *Header, err error) {
	err = r.do(ctx, func() error { h, err = r.c.LoadHeader(ctx); return err })
	return h, err
}

func (r retryCatalog) SaveHeader(ctx context.Context, h *Header) error {
	return r.do(ctx, func() error { return r.c.SaveHeader(ctx, h) })
}

func (r retryCatalog) SaveCard(ctx context.Context, c *Card) error {
	return r.do(ctx, func() error { return r.c.SaveCard(ctx, c) })
}

// Cards is tried again only while it has handed no card to fn, so fn never sees a card twice.
func (r retryCatalog) Cards(ctx context.Context, fn func(*Card) error) error {
	called := false
	return r.do(ctx, func() error {
		err := r.c.Cards(ctx, func(c *Card) error { called = true; return fn(c) })
		if err != nil && called {
			return noRetry{err}
		}
		return err
	})
}

// noRetry carries an error that do returns as it is, without another try.
type noRetry struct{ err error }

func (n noRetry) Error() string { return n.err.Error() }
