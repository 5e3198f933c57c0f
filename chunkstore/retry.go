package chunkstore

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"time"
)

// RetryOptions tune NewRetry; zero fields take the defaults.
type RetryOptions struct {
	// MaxAttempts is how many times a call is tried in all, the first try included
	// (default 6).
	MaxAttempts int
	// BaseDelay is the backoff before the first retry; each further retry doubles it
	// (default 250ms).
	BaseDelay time.Duration
	// MaxDelay caps the backoff (default 30s). A wait the store asks for with RetryAfter is
	// honoured even when it is longer: the store knows its rate limits.
	MaxDelay time.Duration
	// Sleep waits d, or until ctx is done and then returns ctx's error. The default uses a
	// timer; tests inject one that does not sleep.
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter spreads a backoff d so that callers failing together do not retry together.
	// The default picks uniformly from [d/2, d]. It is not applied to RetryAfter waits.
	Jitter func(d time.Duration) time.Duration
	// OnRetry, when set, hears of every failed attempt that is about to be retried and how
	// long the wait before the retry is.
	OnRetry func(op Op, attempt int, err error, wait time.Duration)
}

// NewRetry wraps s so that a call failing with an IsRetryable error is tried again, after
// the error's RetryAfter when it has one and after a capped, jittered exponential backoff
// otherwise, up to MaxAttempts tries. NotFound, Permanent and Fatal errors and a done
// context end the call at once. When retries run out, the last error is returned wrapped,
// still Retryable, so a caller's queue may try again later.
//
// Put rewinds its source before every retry. Load calls fn again when the store or fn
// fails with a retryable error, as the Store contract allows. List never passes an object
// to fn twice, though a retried listing sees some again, and returns fn's errors without
// retrying. Delete returns NotFound even when an earlier attempt that seemed to fail did
// delete the object; callers that only want the object gone treat NotFound as done.
//
// The result has RecordStore's methods, retried the same way, when s keeps records.
func NewRetry(s Store, opts RetryOptions) Store {
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 6
	}
	if opts.BaseDelay <= 0 {
		opts.BaseDelay = 250 * time.Millisecond
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = 30 * time.Second
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	if opts.Jitter == nil {
		opts.Jitter = func(d time.Duration) time.Duration { return d/2 + rand.N(d/2+1) }
	}
	r := &retryStore{next: s, opts: opts}
	if rs, ok := AsRecordStore(s); ok {
		return &retryRecordStore{retryStore: r, rs: rs}
	}
	return r
}

// AsRecordStore returns s's records when it keeps them. A wrapper, a Store with an
// Unwrap() Store method, keeps records when the store it wraps does; a wrapper without
// RecordStore's methods of its own yields the wrapped store's, bypassing the wrapper.
func AsRecordStore(s Store) (RecordStore, bool) {
	u, wraps := s.(interface{ Unwrap() Store })
	if !wraps {
		rs, ok := s.(RecordStore)
		return rs, ok
	}
	inner, ok := AsRecordStore(u.Unwrap())
	if !ok {
		return nil, false
	}
	if rs, ok := s.(RecordStore); ok {
		return rs, true
	}
	return inner, true
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

type retryStore struct {
	next Store
	opts RetryOptions
}

// noRetry carries an error that ends the call whatever its class: a caller's callback
// failed, or the source could not be rewound.
type noRetry struct{ err error }

func (n noRetry) Error() string { return n.err.Error() }

// do tries call until it succeeds, fails for good, or has been tried MaxAttempts times.
// attempt counts from 1.
func (r *retryStore) do(ctx context.Context, op Op, call func(attempt int) error) error {
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := call(attempt)
		if nr, ok := err.(noRetry); ok {
			return nr.err
		}
		if err == nil || !IsRetryable(err) {
			return err
		}
		if ctx.Err() != nil {
			return Classify(Permanent, fmt.Errorf("%w: %w", ctx.Err(), err))
		}
		if attempt >= r.opts.MaxAttempts {
			return fmt.Errorf("chunkstore: %s: giving up after %d attempts: %w", op, attempt, err)
		}
		wait := r.backoff(attempt, err)
		if r.opts.OnRetry != nil {
			r.opts.OnRetry(op, attempt, err, wait)
		}
		if serr := r.opts.Sleep(ctx, wait); serr != nil {
			return Classify(Permanent, fmt.Errorf("%w: %w", serr, err))
		}
	}
}

func (r *retryStore) backoff(attempt int, err error) time.Duration {
	if d := RetryAfter(err); d > 0 {
		return d
	}
	d := r.opts.BaseDelay
	for i := 1; i < attempt && d < r.opts.MaxDelay; i++ {
		d *= 2
	}
	return r.opts.Jitter(min(d, r.opts.MaxDelay))
}

// Unwrap returns the wrapped store.
func (r *retryStore) Unwrap() Store { return r.next }

func (r *retryStore) Limits() Limits { return r.next.Limits() }
func (r *retryStore) Close() error   { return r.next.Close() }

func (r *retryStore) Put(ctx context.Context, h Handle, src Source) (Object, error) {
	var obj Object
	err := r.do(ctx, OpPut, func(attempt int) error {
		if attempt > 1 {
			if err := src.Rewind(); err != nil {
				return noRetry{Classify(Permanent, fmt.Errorf("chunkstore: put %s %s: rewind source: %w", h.Type, h.Name, err))}
			}
		}
		var err error
		obj, err = r.next.Put(ctx, h, src)
		return err
	})
	if err != nil {
		return Object{}, err
	}
	return obj, nil
}

func (r *retryStore) Load(ctx context.Context, ref Ref, length int, offset int64, fn func(rd io.Reader) error) error {
	return r.do(ctx, OpLoad, func(int) error { return r.next.Load(ctx, ref, length, offset, fn) })
}

func (r *retryStore) Stat(ctx context.Context, ref Ref) (Object, error) {
	var obj Object
	err := r.do(ctx, OpStat, func(int) (err error) {
		obj, err = r.next.Stat(ctx, ref)
		return err
	})
	if err != nil {
		return Object{}, err
	}
	return obj, nil
}

func (r *retryStore) List(ctx context.Context, t Type, fn func(Object) error) error {
	seen := map[Ref]bool{}
	return r.do(ctx, OpList, func(int) error {
		var fnErr error
		err := r.next.List(ctx, t, func(o Object) error {
			if seen[o.Ref] {
				return nil
			}
			seen[o.Ref] = true
			fnErr = fn(o)
			return fnErr
		})
		if fnErr != nil {
			return noRetry{fnErr}
		}
		return err
	})
}

func (r *retryStore) Delete(ctx context.Context, ref Ref) error {
	return r.do(ctx, OpDelete, func(int) error { return r.next.Delete(ctx, ref) })
}

type retryRecordStore struct {
	*retryStore
	rs RecordStore
}

func (r *retryRecordStore) PutRecord(ctx context.Context, name string, data []byte) error {
	return r.do(ctx, OpPutRecord, func(int) error { return r.rs.PutRecord(ctx, name, data) })
}

func (r *retryRecordStore) GetRecord(ctx context.Context, name string) ([]byte, error) {
	var b []byte
	err := r.do(ctx, OpGetRecord, func(int) (err error) {
		b, err = r.rs.GetRecord(ctx, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

func (r *retryRecordStore) ListRecords(ctx context.Context, prefix string, fn func(name string, data []byte) error) error {
	seen := map[string]bool{}
	return r.do(ctx, OpListRecords, func(int) error {
		var fnErr error
		err := r.rs.ListRecords(ctx, prefix, func(name string, data []byte) error {
			if seen[name] {
				return nil
			}
			seen[name] = true
			fnErr = fn(name, data)
			return fnErr
		})
		if fnErr != nil {
			return noRetry{fnErr}
		}
		return err
	})
}

func (r *retryRecordStore) DeleteRecord(ctx context.Context, name string) error {
	return r.do(ctx, OpDeleteRecord, func(int) error { return r.rs.DeleteRecord(ctx, name) })
}
