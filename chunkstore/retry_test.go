package chunkstore_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/chunkstore/chunkstoretest"
)

func noSleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// sleeper records the waits a retry asks for instead of waiting.
type sleeper struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeper) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	return ctx.Err()
}

func exact(d time.Duration) time.Duration { return d }

// rewindCounter counts the times a Put rewinds its source.
type rewindCounter struct {
	chunkstore.Source
	rewinds int
}

func (r *rewindCounter) Rewind() error {
	r.rewinds++
	return r.Source.Rewind()
}

func TestRetryRewindsSource(t *testing.T) {
	mem := chunkstore.NewMem(small)
	f := chunkstore.NewFault(mem)
	f.Add(chunkstore.Fault{Op: chunkstore.OpPut, Action: chunkstore.FaultFailMidStream, Offset: 100, Times: 2})
	r := chunkstore.NewRetry(f, chunkstore.RetryOptions{Sleep: noSleep})
	data := chunkstoretest.Data(1000)
	src := &rewindCounter{Source: chunkstore.BytesSource(data)}
	obj, err := r.Put(t.Context(), chunkstore.Handle{Type: chunkstore.TypePack, Name: chunkstoretest.Name()}, src)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if src.rewinds != 2 {
		t.Errorf("two retries rewound the source %d times", src.rewinds)
	}
	if got, err := chunkstore.ReadAll(t.Context(), mem, obj.Ref, 0, 0); err != nil || string(got) != string(data) {
		t.Errorf("stored %d bytes, %v; want the source's 1000", len(got), err)
	}
	f.VerifyAllFaultsExercised(t)
}

// unrewindable cannot start over.
type unrewindable struct{ chunkstore.Source }

func (unrewindable) Rewind() error { return errors.New("pipe") }

func TestRetryRewindFails(t *testing.T) {
	f := chunkstore.NewFault(chunkstore.NewMem(small))
	f.Add(chunkstore.Fault{Op: chunkstore.OpPut, Times: -1})
	r := chunkstore.NewRetry(f, chunkstore.RetryOptions{Sleep: noSleep})
	h := chunkstore.Handle{Type: chunkstore.TypePack, Name: chunkstoretest.Name()}
	_, err := r.Put(t.Context(), h, unrewindable{chunkstore.BytesSource([]byte("x"))})
	if err == nil || chunkstore.IsRetryable(err) {
		t.Errorf("Put whose source cannot rewind: %v, want a permanent error", err)
	}
}

func TestRetryLostAnswer(t *testing.T) {
	mem := chunkstore.NewMem(small)
	f := chunkstore.NewFault(mem)
	f.Add(chunkstore.Fault{Op: chunkstore.OpPut, Action: chunkstore.FaultFailLate})
	r := chunkstore.NewRetry(f, chunkstore.RetryOptions{Sleep: noSleep})
	obj := chunkstoretest.Put(t, r, chunkstore.TypePack, []byte("once"))
	n := 0
	_ = mem.List(t.Context(), chunkstore.TypePack, func(o chunkstore.Object) error { n++; return nil })
	if n != 1 {
		t.Errorf("a Put retried after its answer was lost stored %d objects", n)
	}
	if got, err := chunkstore.ReadAll(t.Context(), r, obj.Ref, 0, 0); err != nil || string(got) != "once" {
		t.Errorf("Load = %q, %v", got, err)
	}
}

func TestRetryBackoff(t *testing.T) {
	f := chunkstore.NewFault(chunkstore.NewMem(small))
	f.Add(chunkstore.Fault{Op: chunkstore.OpStat, Times: 4},
		chunkstore.Fault{Op: chunkstore.OpStat, Err: chunkstore.RetryAfterError(7*time.Second, errors.New("429"))})
	var s sleeper
	var attempts []int
	r := chunkstore.NewRetry(f, chunkstore.RetryOptions{
		MaxAttempts: 10, BaseDelay: 10 * time.Millisecond, MaxDelay: 35 * time.Millisecond,
		Sleep: s.sleep, Jitter: exact,
		OnRetry: func(op chunkstore.Op, attempt int, err error, _ time.Duration) {
			if op != chunkstore.OpStat || !chunkstore.IsRetryable(err) {
				t.Errorf("OnRetry(%s, %d, %v)", op, attempt, err)
			}
			attempts = append(attempts, attempt)
		},
	})
	if _, err := r.Stat(t.Context(), "pack/00"); !chunkstore.IsNotFound(err) {
		t.Errorf("Stat after the faults: %v, want NotFound", err)
	}
	ms := time.Millisecond
	if want := []time.Duration{10 * ms, 20 * ms, 35 * ms, 35 * ms, 7 * time.Second}; !slices.Equal(s.waits, want) {
		t.Errorf("waits = %v, want %v", s.waits, want)
	}
	if !slices.Equal(attempts, []int{1, 2, 3, 4, 5}) {
		t.Errorf("OnRetry heard of attempts %v", attempts)
	}
}

func TestRetryJitter(t *testing.T) {
	f := chunkstore.NewFault(chunkstore.NewMem(small))
	f.Add(chunkstore.Fault{Op: chunkstore.OpStat, Times: -1})
	var s sleeper
	r := chunkstore.NewRetry(f, chunkstore.RetryOptions{MaxAttempts: 50, BaseDelay: time.Second, MaxDelay: time.Second, Sleep: s.sleep})
	_, err := r.Stat(t.Context(), "pack/00")
	if !chunkstore.IsRetryable(err) || !errors.Is(err, chunkstore.ErrInjected) {
		t.Errorf("Stat that never works: %v, want the last retryable error", err)
	}
	if len(s.waits) != 49 {
		t.Fatalf("%d waits for 50 attempts", len(s.waits))
	}
	for _, w := range s.waits {
		if w < time.Second/2 || w > time.Second {
			t.Errorf("jittered wait %v is outside [0.5s, 1s]", w)
		}
	}
	if slices.Min(s.waits) == slices.Max(s.waits) {
		t.Errorf("49 waits all %v: no jitter", s.waits[0])
	}
}

func TestRetryStops(t *testing.T) {
	for _, class := range []chunkstore.Class{chunkstore.NotFound, chunkstore.Permanent, chunkstore.Fatal} {
		f := chunkstore.NewFault(chunkstore.NewMem(small))
		f.Add(chunkstore.Fault{Op: chunkstore.OpLoad, Err: chunkstore.Classify(class, errors.New(class.String())), Times: 2})
		var s sleeper
		r := chunkstore.NewRetry(f, chunkstore.RetryOptions{Sleep: s.sleep})
		_, err := chunkstore.ReadAll(t.Context(), r, "pack/00", 0, 0)
		if chunkstore.ClassOf(err) != class || len(s.waits) != 0 || len(f.Unexercised()) != 1 {
			t.Errorf("%s error: got %v after %d retries, want no retry", class, err, len(s.waits))
		}
	}

	// A context that ends while waiting ends the call.
	f := chunkstore.NewFault(chunkstore.NewMem(small))
	f.Add(chunkstore.Fault{Op: chunkstore.OpLoad, Times: 3})
	ctx, cancel := context.WithCancel(t.Context())
	r := chunkstore.NewRetry(f, chunkstore.RetryOptions{Sleep: func(ctx context.Context, _ time.Duration) error {
		cancel()
		return ctx.Err()
	}})
	_, err := chunkstore.ReadAll(ctx, r, "pack/00", 0, 0)
	if !errors.Is(err, context.Canceled) || chunkstore.IsRetryable(err) || len(f.Unexercised()) != 1 {
		t.Errorf("Load cancelled while waiting: %v, %d faults left; want context.Canceled after one attempt", err, len(f.Unexercised()))
	}
}

func TestRetryLoadMidStream(t *testing.T) {
	mem := chunkstore.NewMem(small)
	data := chunkstoretest.Data(1000)
	obj := chunkstoretest.Put(t, mem, chunkstore.TypePack, data)
	f := chunkstore.NewFault(mem)
	f.Add(chunkstore.Fault{Op: chunkstore.OpLoad, Action: chunkstore.FaultFailMidStream, Offset: 10, Times: 2})
	r := chunkstore.NewRetry(f, chunkstore.RetryOptions{Sleep: noSleep})
	calls := 0
	var got []byte
	err := r.Load(t.Context(), obj.Ref, 0, 0, func(rd io.Reader) (err error) {
		calls++
		got, err = io.ReadAll(rd)
		return err
	})
	if err != nil || string(got) != string(data) || calls != 3 {
		t.Errorf("Load broken twice mid-stream: %v after %d calls of fn, bytes equal: %v", err, calls, string(got) == string(data))
	}
}

func TestRetryList(t *testing.T) {
	mem := chunkstore.NewMem(small)
	for range 5 {
		chunkstoretest.Put(t, mem, chunkstore.TypePack, []byte("x"))
	}
	f := chunkstore.NewFault(mem)
	f.Add(chunkstore.Fault{Op: chunkstore.OpList, Action: chunkstore.FaultFailMidStream, Offset: 2})
	r := chunkstore.NewRetry(f, chunkstore.RetryOptions{Sleep: noSleep})
	seen := map[chunkstore.Ref]int{}
	if err := r.List(t.Context(), chunkstore.TypePack, func(o chunkstore.Object) error { seen[o.Ref]++; return nil }); err != nil {
		t.Fatal(err)
	}
	for ref, n := range seen {
		if n != 1 {
			t.Errorf("a retried List passed %s %d times", ref, n)
		}
	}
	if len(seen) != 5 {
		t.Errorf("a retried List passed %d objects, want 5", len(seen))
	}

	// fn's own errors are the caller's: never retried, even when retryable.
	calls := 0
	mine := chunkstore.Classify(chunkstore.Retryable, errors.New("mine"))
	err := r.List(t.Context(), chunkstore.TypePack, func(chunkstore.Object) error { calls++; return mine })
	if err != mine || calls != 1 {
		t.Errorf("List whose fn fails: %v after %d calls", err, calls)
	}
}

func TestRetryRecords(t *testing.T) {
	mem := chunkstore.NewMem(small)
	if _, ok := chunkstore.NewRetry(noRecords{mem}, chunkstore.RetryOptions{}).(chunkstore.RecordStore); ok {
		t.Errorf("a retry over a store without records claims records")
	}
	f := chunkstore.NewFault(mem)
	f.Add(chunkstore.Fault{Op: chunkstore.OpPutRecord, Times: 2}, chunkstore.Fault{Op: chunkstore.OpGetRecord})
	rs, ok := chunkstore.NewRetry(f, chunkstore.RetryOptions{Sleep: noSleep}).(chunkstore.RecordStore)
	if !ok {
		t.Fatal("a retry over a record store keeps no records")
	}
	if err := rs.PutRecord(t.Context(), "header", []byte("h")); err != nil {
		t.Fatal(err)
	}
	if b, err := rs.GetRecord(t.Context(), "header"); err != nil || string(b) != "h" {
		t.Errorf("GetRecord = %q, %v", b, err)
	}
	f.VerifyAllFaultsExercised(t)
}
