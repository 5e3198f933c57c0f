package chunkstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/chunkstore/chunkstoretest"
)

// noRecords hides a store's records.
type noRecords struct{ chunkstore.Store }

var errBoom = chunkstore.Classify(chunkstore.Permanent, errors.New("boom"))

func TestFaultFailures(t *testing.T) {
	mem := chunkstore.NewMem(small)
	f := chunkstore.NewFault(mem)
	ctx := t.Context()
	obj := chunkstoretest.Put(t, mem, chunkstore.TypePack, []byte("hello"))
	other := chunkstoretest.Put(t, mem, chunkstore.TypePack, []byte("other"))

	f.Add(chunkstore.Fault{Op: chunkstore.OpStat, Ref: obj.Ref, Err: errBoom, Times: 2})
	for i := range 3 {
		_, err := f.Stat(ctx, other.Ref)
		if err != nil {
			t.Fatalf("a fault for another ref fired: %v", err)
		}
		_, err = f.Stat(ctx, obj.Ref)
		if wantErr := i < 2; (err != nil) != wantErr || err != nil && !errors.Is(err, errBoom) {
			t.Errorf("Stat %d: %v, want error %v", i, err, wantErr)
		}
	}

	// Without an Err, a fault fails with a retryable injected error.
	f.Add(chunkstore.Fault{Op: chunkstore.OpDelete})
	if err := f.Delete(ctx, other.Ref); !chunkstore.IsRetryable(err) || !errors.Is(err, chunkstore.ErrInjected) {
		t.Errorf("Delete: %v, want a retryable injected error", err)
	}

	// A late failure happens after the store did the work.
	name := chunkstoretest.Name()
	f.Add(chunkstore.Fault{Op: chunkstore.OpPut, Name: name, Action: chunkstore.FaultFailLate})
	_, err := f.Put(ctx, chunkstore.Handle{Type: chunkstore.TypePack, Name: name}, chunkstore.BytesSource([]byte("late")))
	if !errors.Is(err, chunkstore.ErrInjected) {
		t.Errorf("Put with a late failure: %v", err)
	}
	if _, err := mem.Stat(ctx, chunkstore.Ref("pack/"+name)); err != nil {
		t.Errorf("a late failure stopped the Put: %v", err)
	}

	// A delay waits, but not past the context.
	f.Add(chunkstore.Fault{Op: chunkstore.OpLoad, Action: chunkstore.FaultDelay, Delay: time.Hour},
		chunkstore.Fault{Op: chunkstore.OpLoad, Action: chunkstore.FaultDelay, Delay: time.Millisecond})
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(10*time.Millisecond, cancel)
	if _, err := chunkstore.ReadAll(cctx, f, obj.Ref, 0, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Load delayed past its context: %v", err)
	}
	if got, err := chunkstore.ReadAll(ctx, f, obj.Ref, 0, 0); err != nil || string(got) != "hello" {
		t.Errorf("Load after a short delay = %q, %v", got, err)
	}

	// Records fail like objects, matched by name.
	if err := mem.PutRecord(ctx, "header", []byte("h")); err != nil {
		t.Fatal(err)
	}
	f.Add(chunkstore.Fault{Op: chunkstore.OpGetRecord, Name: "header", Err: errBoom})
	if _, err := f.GetRecord(ctx, "header"); !errors.Is(err, errBoom) {
		t.Errorf("GetRecord: %v", err)
	}
	f.VerifyAllFaultsExercised(t)
}

func TestFaultStreams(t *testing.T) {
	mem := chunkstore.NewMem(small)
	f := chunkstore.NewFault(mem)
	ctx := t.Context()
	data := chunkstoretest.Data(1000)
	obj := chunkstoretest.Put(t, mem, chunkstore.TypePack, data)

	f.Add(chunkstore.Fault{Op: chunkstore.OpLoad, Action: chunkstore.FaultFlipBit, Offset: 5, Bit: 3})
	got, err := chunkstore.ReadAll(ctx, f, obj.Ref, 0, 0)
	want := bytes.Clone(data)
	want[5] ^= 1 << 3
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("Load with a flipped bit: %v, or not exactly that bit flipped", err)
	}

	f.Add(chunkstore.Fault{Op: chunkstore.OpLoad, Action: chunkstore.FaultTruncate, Offset: 10, Times: 2})
	if got, err := chunkstore.ReadAll(ctx, f, obj.Ref, 0, 0); err != nil || !bytes.Equal(got, data[:10]) {
		t.Errorf("truncated Load to the end = %d bytes, %v; want the first 10", len(got), err)
	}
	if _, err := chunkstore.ReadAll(ctx, f, obj.Ref, 20, 0); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated Load of 20 bytes: %v, want io.ErrUnexpectedEOF", err)
	}

	f.Add(chunkstore.Fault{Op: chunkstore.OpLoad, Action: chunkstore.FaultFailMidStream, Offset: 10})
	var seen int64
	err = f.Load(ctx, obj.Ref, 0, 0, func(rd io.Reader) (err error) {
		seen, err = io.Copy(io.Discard, rd)
		return err
	})
	if seen != 10 || !chunkstore.IsRetryable(err) {
		t.Errorf("Load broken mid-stream: %d bytes, then %v; want 10 bytes, then a retryable error", seen, err)
	}

	// A Put corrupted in transit stores the corruption.
	f.Add(chunkstore.Fault{Op: chunkstore.OpPut, Action: chunkstore.FaultFlipBit, Offset: 999, Bit: 7})
	flipped := chunkstoretest.Put(t, f, chunkstore.TypePack, data)
	want = bytes.Clone(data)
	want[999] ^= 0x80
	if got, err := chunkstore.ReadAll(ctx, mem, flipped.Ref, 0, 0); err != nil || !bytes.Equal(got, want) {
		t.Errorf("Put with a flipped bit stored something else: %v", err)
	}

	// A Put broken mid-stream has read part of its source and stored nothing.
	f.Add(chunkstore.Fault{Op: chunkstore.OpPut, Type: chunkstore.TypeManifest, Action: chunkstore.FaultFailMidStream, Offset: 300})
	src := chunkstore.BytesSource(data)
	h := chunkstore.Handle{Type: chunkstore.TypeManifest, Name: chunkstoretest.Name()}
	if _, err := f.Put(ctx, h, src); !chunkstore.IsRetryable(err) {
		t.Errorf("Put broken mid-stream: %v", err)
	}
	if rest, _ := io.ReadAll(src); len(rest) != 700 {
		t.Errorf("Put broken mid-stream read %d bytes, want 300", 1000-len(rest))
	}

	// A List broken mid-stream passes Offset objects on.
	f.Add(chunkstore.Fault{Op: chunkstore.OpList, Type: chunkstore.TypePack, Action: chunkstore.FaultFailMidStream, Offset: 1})
	calls := 0
	err = f.List(ctx, chunkstore.TypePack, func(chunkstore.Object) error { calls++; return nil })
	if calls != 1 || !chunkstore.IsRetryable(err) {
		t.Errorf("List broken mid-stream: %d objects, then %v", calls, err)
	}
	f.VerifyAllFaultsExercised(t)
}

// recorder collects what VerifyAllFaultsExercised reports.
type recorder struct {
	mu     sync.Mutex
	errors []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestFaultExercised(t *testing.T) {
	f := chunkstore.NewFault(chunkstore.NewMem(small))
	f.Add(chunkstore.Fault{Op: chunkstore.OpStat, Times: 2},
		chunkstore.Fault{Op: chunkstore.OpList, Type: chunkstore.TypeManifest},
		chunkstore.Fault{Op: chunkstore.OpDelete, Ref: "pack/00", Times: -1})
	_, _ = f.Stat(t.Context(), "pack/00")
	_ = f.List(t.Context(), chunkstore.TypePack, func(chunkstore.Object) error { return nil })
	for range 3 {
		if err := f.Delete(t.Context(), "pack/00"); !errors.Is(err, chunkstore.ErrInjected) {
			t.Errorf("a fault for every call missed one: %v", err)
		}
	}
	var r recorder
	f.VerifyAllFaultsExercised(&r)
	if len(f.Unexercised()) != 2 || len(r.errors) != 2 {
		t.Errorf("unexercised: %v; reported: %q; want the Stat fault that fired once and the manifest List fault",
			f.Unexercised(), r.errors)
	}

	defer func() {
		if recover() == nil {
			t.Errorf("Add took a bit flip on Stat")
		}
	}()
	f.Add(chunkstore.Fault{Op: chunkstore.OpStat, Action: chunkstore.FaultFlipBit})
}

func TestFaultRecords(t *testing.T) {
	mem := chunkstore.NewMem(small)
	if _, ok := chunkstore.AsRecordStore(chunkstore.NewFault(mem)); !ok {
		t.Errorf("a fault store over a record store keeps no records")
	}
	f := chunkstore.NewFault(noRecords{mem})
	if _, ok := chunkstore.AsRecordStore(f); ok {
		t.Errorf("a fault store over a store without records claims records")
	}
	if err := f.PutRecord(t.Context(), "header", nil); err == nil || chunkstore.IsRetryable(err) {
		t.Errorf("PutRecord without records: %v, want a permanent error", err)
	}
}

// TestWrappedConformance runs the suite on the stack cmd/discofs builds, with faults below
// the retry that it must absorb, in the order a flaky network produces them.
func TestWrappedConformance(t *testing.T) {
	var mu sync.Mutex
	var faults []*chunkstore.FaultStore
	chunkstoretest.Run(t, func(t *testing.T) chunkstore.Store {
		f := chunkstore.NewFault(chunkstore.NewMem(small))
		f.Add(
			chunkstore.Fault{Op: chunkstore.OpPut, Times: 2},
			chunkstore.Fault{Op: chunkstore.OpPut, Action: chunkstore.FaultFailLate},
			chunkstore.Fault{Op: chunkstore.OpPut, Action: chunkstore.FaultFailMidStream, Offset: 3},
			chunkstore.Fault{Op: chunkstore.OpLoad, Action: chunkstore.FaultFailMidStream, Offset: 1},
			chunkstore.Fault{Op: chunkstore.OpLoad, Err: chunkstore.RetryAfterError(time.Second, errors.New("429"))},
			chunkstore.Fault{Op: chunkstore.OpLoad, Action: chunkstore.FaultDelay, Delay: time.Millisecond},
			chunkstore.Fault{Op: chunkstore.OpStat},
			chunkstore.Fault{Op: chunkstore.OpList, Action: chunkstore.FaultFailMidStream, Offset: 1},
			chunkstore.Fault{Op: chunkstore.OpDelete},
			chunkstore.Fault{Op: chunkstore.OpPutRecord},
			chunkstore.Fault{Op: chunkstore.OpGetRecord},
			chunkstore.Fault{Op: chunkstore.OpListRecords},
			chunkstore.Fault{Op: chunkstore.OpDeleteRecord},
		)
		mu.Lock()
		faults = append(faults, f)
		mu.Unlock()
		return chunkstore.NewRetry(chunkstore.NewLimit(f, 3, 3), chunkstore.RetryOptions{MaxAttempts: 5, Sleep: noSleep})
	})
	// Not every subtest reaches every op, so each fault must have acted in some subtest.
	missed := map[string]int{}
	for _, f := range faults {
		for _, flt := range f.Unexercised() {
			missed[flt.String()]++
		}
	}
	for flt, n := range missed {
		if n == len(faults) {
			t.Errorf("%s never acted in the suite", flt)
		}
	}
}

func TestFaultFlipSurvivesRewind(t *testing.T) {
	// A store that retries inside itself rewinds the source it was given; a bit flipped in
	// transit must be flipped again on the second pass.
	mem := chunkstore.NewMem(small)
	inner := chunkstore.NewFault(mem)
	inner.Add(chunkstore.Fault{Op: chunkstore.OpPut, Action: chunkstore.FaultFailMidStream, Offset: 50})
	outer := chunkstore.NewFault(chunkstore.NewRetry(inner, chunkstore.RetryOptions{Sleep: noSleep}))
	outer.Add(chunkstore.Fault{Op: chunkstore.OpPut, Action: chunkstore.FaultFlipBit, Offset: 10, Bit: 0})
	data := chunkstoretest.Data(100)
	obj := chunkstoretest.Put(t, outer, chunkstore.TypePack, data)
	want := bytes.Clone(data)
	want[10] ^= 1
	if got, err := chunkstore.ReadAll(t.Context(), mem, obj.Ref, 0, 0); err != nil || !bytes.Equal(got, want) {
		t.Errorf("stored bytes differ from the source with bit 0 of byte 10 flipped: %v", err)
	}
	inner.VerifyAllFaultsExercised(t)
	outer.VerifyAllFaultsExercised(t)
}
