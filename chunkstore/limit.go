package chunkstore

import (
	"context"
	"io"
)

// NewLimit wraps s so that at most maxPut Puts and maxLoad Loads run at once; a value of 0
// or less leaves that operation unlimited. A call waiting for a slot gives up with the
// context's error when its context ends.
//
// Only the bulk transfers are limited. Stat, List, Delete and records pass straight
// through: they are small, and List's callback often calls the store, which would deadlock
// if List held a slot. A Load holds its slot while fn runs, so fn must not Load from the
// same limited store.
//
// The result has RecordStore's methods when s keeps records.
func NewLimit(s Store, maxPut, maxLoad int) Store {
	l := &limitStore{next: s, put: semaphore(maxPut), load: semaphore(maxLoad)}
	if rs, ok := AsRecordStore(s); ok {
		return &limitRecordStore{limitStore: l, RecordStore: rs}
	}
	return l
}

func semaphore(n int) chan struct{} {
	if n <= 0 {
		return nil
	}
	return make(chan struct{}, n)
}

// acquire takes a slot of sem (nil: unlimited) and returns the function that gives it back.
func acquire(ctx context.Context, sem chan struct{}) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if sem == nil {
		return func() {}, nil
	}
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type limitStore struct {
	next      Store
	put, load chan struct{}
}

// limitRecordStore passes records straight to the wrapped store.
type limitRecordStore struct {
	*limitStore
	RecordStore
}

// Unwrap returns the wrapped store.
func (l *limitStore) Unwrap() Store { return l.next }

func (l *limitStore) Limits() Limits { return l.next.Limits() }
func (l *limitStore) Close() error   { return l.next.Close() }

func (l *limitStore) Put(ctx context.Context, h Handle, src Source) (Object, error) {
	release, err := acquire(ctx, l.put)
	if err != nil {
		return Object{}, err
	}
	defer release()
	return l.next.Put(ctx, h, src)
}

func (l *limitStore) Load(ctx context.Context, ref Ref, length int, offset int64, fn func(rd io.Reader) error) error {
	release, err := acquire(ctx, l.load)
	if err != nil {
		return err
	}
	defer release()
	return l.next.Load(ctx, ref, length, offset, fn)
}

func (l *limitStore) Stat(ctx context.Context, ref Ref) (Object, error) {
	return l.next.Stat(ctx, ref)
}

func (l *limitStore) List(ctx context.Context, t Type, fn func(Object) error) error {
	return l.next.List(ctx, t, fn)
}

func (l *limitStore) Delete(ctx context.Context, ref Ref) error {
	return l.next.Delete(ctx, ref)
}
