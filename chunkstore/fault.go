package chunkstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Op names a Store or RecordStore method, in fault scripts and retry notices.
type Op uint8

// The operations a fault can match.
const (
	OpPut Op = iota + 1
	OpLoad
	OpStat
	OpList
	OpDelete
	OpPutRecord
	OpGetRecord
	OpListRecords
	OpDeleteRecord
)

var opNames = [...]string{"", "put", "load", "stat", "list", "delete", "put record", "get record", "list records", "delete record"}

// String names the operation as a log line would: "put", "load", "get record".
func (o Op) String() string {
	if int(o) < len(opNames) && o != 0 {
		return opNames[o]
	}
	return "unknown op"
}

// ErrInjected is wrapped by the error a fault returns when it names none.
var ErrInjected = errors.New("chunkstore: injected fault")

// FaultAction is what a scripted fault does to the call it matches.
type FaultAction uint8

const (
	// FaultFail returns Err without calling the wrapped store. Any op.
	FaultFail FaultAction = iota
	// FaultFailLate calls the wrapped store, then returns Err as if its answer were lost.
	// Any op.
	FaultFailLate
	// FaultDelay waits Delay (less if the context ends), then calls the wrapped store.
	// Any op.
	FaultDelay
	// FaultFailMidStream breaks a transfer after Offset units: Put reads Offset bytes of its
	// source and returns Err without storing anything; Load's reader yields Offset bytes and
	// then Err; List passes Offset objects to fn and then returns Err.
	FaultFailMidStream
	// FaultFlipBit flips bit Bit of the byte at Offset, silently: in what Put stores, or in
	// what Load's reader yields (Offset counts from the start of the range loaded).
	FaultFlipBit
	// FaultTruncate makes Load's reader end after Offset bytes, silently.
	FaultTruncate
)

// Fault is one scripted fault. A call matches it when the op is the same and every filter
// that is set agrees; a filter an op does not carry never matches it.
type Fault struct {
	Op Op
	// Ref, when set, matches Load, Stat and Delete calls on that Ref.
	Ref Ref
	// Name, when set, matches Put calls with that handle name and record calls with that
	// record name.
	Name string
	// Type, when set, matches Put and List calls for that type.
	Type Type

	Action FaultAction
	// Err is what a failing action returns; nil means a Retryable error wrapping ErrInjected.
	Err error
	// Delay is how long FaultDelay waits.
	Delay time.Duration
	// Offset is where a stream action acts; Bit (0-7) is the bit FaultFlipBit flips.
	Offset int64
	Bit    uint8
	// Times is how many matching calls the fault acts on: 0 means once, negative means
	// every call.
	Times int
}

var actionNames = [...]string{"fail", "fail late", "delay", "fail mid-stream", "flip bit", "truncate"}

// String names the action.
func (a FaultAction) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "unknown action"
}

// String describes the fault for a test failure message.
func (f Fault) String() string {
	return fmt.Sprintf("%s fault (%s at %d, ref %q, name %q, type %s, times %d)",
		f.Op, f.Action, f.Offset, f.Ref, f.Name, f.Type, f.Times)
}

func (f Fault) err() error {
	if f.Err != nil {
		return f.Err
	}
	return Classify(Retryable, fmt.Errorf("%w: %s", ErrInjected, f.Op))
}

// FaultStore wraps a Store and applies scripted faults to the calls that match them, the
// first matching fault that has not used up its Times acting on each call. It is safe for
// concurrent use, scripting included. It has RecordStore's methods; when the wrapped store
// keeps no records they fail with a Permanent error, and AsRecordStore reports false.
type FaultStore struct {
	next Store

	mu     sync.Mutex
	faults []*scriptedFault
}

type scriptedFault struct {
	Fault
	fired int
}

// NewFault wraps s with an empty script.
func NewFault(s Store) *FaultStore { return &FaultStore{next: s} }

// Add appends faults to the script. It panics on an action the op cannot carry, since that
// fault could never act and the test would silently test nothing.
func (f *FaultStore) Add(faults ...Fault) {
	for _, flt := range faults {
		ok := flt.Action <= FaultDelay ||
			flt.Action == FaultFailMidStream && (flt.Op == OpPut || flt.Op == OpLoad || flt.Op == OpList) ||
			flt.Action == FaultFlipBit && (flt.Op == OpPut || flt.Op == OpLoad) ||
			flt.Action == FaultTruncate && flt.Op == OpLoad
		if !ok || flt.Bit > 7 {
			panic(fmt.Sprintf("chunkstore: %v cannot act", flt))
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, flt := range faults {
		f.faults = append(f.faults, &scriptedFault{Fault: flt})
	}
}

// Clear empties the script: from now on the store acts as the one it wraps.
func (f *FaultStore) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = nil
}

// Unexercised returns the faults that have acted fewer times than scripted; a fault that
// acts on every call counts as exercised once it has acted.
func (f *FaultStore) Unexercised() []Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Fault
	for _, s := range f.faults {
		if s.fired < max(s.Times, 1) {
			out = append(out, s.Fault)
		}
	}
	return out
}

// VerifyAllFaultsExercised reports through t every fault that has not acted as often as
// scripted, so a test cannot pass without reaching the failure it set up.
func (f *FaultStore) VerifyAllFaultsExercised(t interface {
	Helper()
	Errorf(format string, args ...any)
}) {
	t.Helper()
	for _, flt := range f.Unexercised() {
		t.Errorf("%v was not exercised", flt)
	}
}

// Unwrap returns the wrapped store.
func (f *FaultStore) Unwrap() Store { return f.next }

func (f *FaultStore) take(op Op, ref Ref, name string, t Type) (Fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.faults {
		if s.Op != op || s.Ref != "" && s.Ref != ref || s.Name != "" && s.Name != name || s.Type != 0 && s.Type != t {
			continue
		}
		if s.Times >= 0 && s.fired >= max(s.Times, 1) {
			continue
		}
		s.fired++
		return s.Fault, true
	}
	return Fault{}, false
}

// around runs call under the actions that do not look inside a transfer.
func around(ctx context.Context, flt Fault, ok bool, call func() error) error {
	if !ok {
		return call()
	}
	switch flt.Action {
	case FaultFail:
		return flt.err()
	case FaultFailLate:
		_ = call()
		return flt.err()
	case FaultDelay:
		t := time.NewTimer(flt.Delay)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return call()
}

// Put stores the source through the wrapped store, under the matching fault.
func (f *FaultStore) Put(ctx context.Context, h Handle, src Source) (Object, error) {
	flt, ok := f.take(OpPut, "", h.Name, h.Type)
	if ok && flt.Action == FaultFailMidStream {
		if _, err := io.CopyN(io.Discard, src, flt.Offset); err != nil && !errors.Is(err, io.EOF) {
			return Object{}, err
		}
		return Object{}, flt.err()
	}
	if ok && flt.Action == FaultFlipBit {
		src = &flipSource{Source: src, flip: flipReader{r: src, off: flt.Offset, bit: flt.Bit}}
	}
	var obj Object
	err := around(ctx, flt, ok, func() (err error) {
		obj, err = f.next.Put(ctx, h, src)
		return err
	})
	if err != nil {
		return Object{}, err
	}
	return obj, nil
}

// Load reads through the wrapped store, under the matching fault.
func (f *FaultStore) Load(ctx context.Context, ref Ref, length int, offset int64, fn func(rd io.Reader) error) error {
	flt, ok := f.take(OpLoad, ref, "", 0)
	if ok {
		inner := fn
		switch flt.Action {
		case FaultFailMidStream:
			fn = func(rd io.Reader) error {
				return inner(io.MultiReader(io.LimitReader(rd, flt.Offset), errReader{flt.err()}))
			}
		case FaultFlipBit:
			fn = func(rd io.Reader) error { return inner(&flipReader{r: rd, off: flt.Offset, bit: flt.Bit}) }
		case FaultTruncate:
			fn = func(rd io.Reader) error { return inner(io.LimitReader(rd, flt.Offset)) }
		}
	}
	return around(ctx, flt, ok, func() error { return f.next.Load(ctx, ref, length, offset, fn) })
}

// Stat asks the wrapped store, under the matching fault.
func (f *FaultStore) Stat(ctx context.Context, ref Ref) (Object, error) {
	flt, ok := f.take(OpStat, ref, "", 0)
	var obj Object
	err := around(ctx, flt, ok, func() (err error) {
		obj, err = f.next.Stat(ctx, ref)
		return err
	})
	if err != nil {
		return Object{}, err
	}
	return obj, nil
}

// List lists through the wrapped store, under the matching fault.
func (f *FaultStore) List(ctx context.Context, t Type, fn func(Object) error) error {
	flt, ok := f.take(OpList, "", "", t)
	if ok && flt.Action == FaultFailMidStream {
		passed, stop := int64(0), flt.err()
		err := f.next.List(ctx, t, func(o Object) error {
			if passed >= flt.Offset {
				return stop
			}
			passed++
			return fn(o)
		})
		if err == nil {
			err = stop
		}
		return err
	}
	return around(ctx, flt, ok, func() error { return f.next.List(ctx, t, fn) })
}

// Delete deletes through the wrapped store, under the matching fault.
func (f *FaultStore) Delete(ctx context.Context, ref Ref) error {
	flt, ok := f.take(OpDelete, ref, "", 0)
	return around(ctx, flt, ok, func() error { return f.next.Delete(ctx, ref) })
}

// Limits reports the wrapped store's limits.
func (f *FaultStore) Limits() Limits { return f.next.Limits() }

// Close closes the wrapped store.
func (f *FaultStore) Close() error { return f.next.Close() }

func (f *FaultStore) records() (RecordStore, error) {
	if rs, ok := AsRecordStore(f.next); ok {
		return rs, nil
	}
	return nil, Classify(Permanent, errors.New("chunkstore: fault store: the wrapped store keeps no records"))
}

// PutRecord stores a record through the wrapped store, under the matching fault.
func (f *FaultStore) PutRecord(ctx context.Context, name string, data []byte) error {
	rs, err := f.records()
	if err != nil {
		return err
	}
	flt, ok := f.take(OpPutRecord, "", name, 0)
	return around(ctx, flt, ok, func() error { return rs.PutRecord(ctx, name, data) })
}

// GetRecord reads a record through the wrapped store, under the matching fault.
func (f *FaultStore) GetRecord(ctx context.Context, name string) ([]byte, error) {
	rs, err := f.records()
	if err != nil {
		return nil, err
	}
	flt, ok := f.take(OpGetRecord, "", name, 0)
	var b []byte
	err = around(ctx, flt, ok, func() (err error) {
		b, err = rs.GetRecord(ctx, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// ListRecords lists records through the wrapped store, under the matching fault.
func (f *FaultStore) ListRecords(ctx context.Context, prefix string, fn func(name string, data []byte) error) error {
	rs, err := f.records()
	if err != nil {
		return err
	}
	flt, ok := f.take(OpListRecords, "", "", 0)
	return around(ctx, flt, ok, func() error { return rs.ListRecords(ctx, prefix, fn) })
}

// DeleteRecord deletes a record through the wrapped store, under the matching fault.
func (f *FaultStore) DeleteRecord(ctx context.Context, name string) error {
	rs, err := f.records()
	if err != nil {
		return err
	}
	flt, ok := f.take(OpDeleteRecord, "", name, 0)
	return around(ctx, flt, ok, func() error { return rs.DeleteRecord(ctx, name) })
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// flipReader flips one bit as the byte at off passes through.
type flipReader struct {
	r        io.Reader
	pos, off int64
	bit      uint8
}

func (f *flipReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if f.off >= f.pos && f.off < f.pos+int64(n) {
		p[f.off-f.pos] ^= 1 << f.bit
	}
	f.pos += int64(n)
	return n, err
}

// flipSource flips a bit in what a Put reads, again after every rewind.
type flipSource struct {
	Source
	flip flipReader
}

func (s *flipSource) Read(p []byte) (int, error) { return s.flip.Read(p) }

func (s *flipSource) Rewind() error {
	s.flip.pos = 0
	return s.Source.Rewind()
}
