// Package chunkstoretest is the conformance suite every chunkstore.Store passes: the
// contract in chunkstore/store.go, checked the same way for the dir, memory and Discord
// stores and for stores behind the retry, limit and fault wrappers.
package chunkstoretest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"sync"
	"testing"

	"github.com/discofs/discofs/chunkstore"
)

// Run runs the suite as subtests of t. newStore makes a fresh, empty store for each
// subtest; it is closed when the subtest ends. The suite puts objects up to
// Limits().MaxObjectSize, so a store under test should have a modest limit.
func Run(t *testing.T, newStore func(t *testing.T) chunkstore.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s chunkstore.Store)
	}{
		{"PutStatLoad", testPutStatLoad},
		{"LoadRanges", testLoadRanges},
		{"BadRanges", testBadRanges},
		{"PutCopiesSource", testPutCopiesSource},
		{"BadHandle", testBadHandle},
		{"MaxObjectSize", testMaxObjectSize},
		{"Missing", testMissing},
		{"Delete", testDelete},
		{"List", testList},
		{"LoadFnError", testLoadFnError},
		{"Concurrent", testConcurrent},
		{"Cancelled", testCancelled},
		{"Records", testRecords},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

// Name returns a fresh random object name: 64 lowercase hex characters.
func Name() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Data returns n pseudo-random bytes.
func Data(n int) []byte {
	b := make([]byte, n)
	var seed [32]byte
	_, _ = rand.Read(seed[:])
	_, _ = mrand.NewChaCha8(seed).Read(b)
	return b
}

// Put stores data as a new object of type typ and fails the test if that does not work.
func Put(t testing.TB, s chunkstore.Store, typ chunkstore.Type, data []byte) chunkstore.Object {
	t.Helper()
	h := chunkstore.Handle{Type: typ, Name: Name(), Group: "261126-07"}
	obj, err := s.Put(t.Context(), h, chunkstore.BytesSource(data))
	if err != nil {
		t.Fatalf("Put %d bytes: %v", len(data), err)
	}
	if obj.Ref == "" || obj.Type != typ || obj.Name != h.Name || obj.Size != int64(len(data)) {
		t.Fatalf("Put returned %+v for a %d-byte %s named %s", obj, len(data), typ, h.Name)
	}
	return obj
}

// load reads a range and fails the test unless it yields want.
func load(t *testing.T, s chunkstore.Store, ref chunkstore.Ref, length int, offset int64, want []byte) {
	t.Helper()
	got, err := chunkstore.ReadAll(t.Context(), s, ref, length, offset)
	if err != nil {
		t.Fatalf("Load %s %d+%d: %v", ref, offset, length, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Load %s %d+%d: got %d bytes, want %d, differing", ref, offset, length, len(got), len(want))
	}
}

func testPutStatLoad(t *testing.T, s chunkstore.Store) {
	for _, n := range []int{0, 1, 4096, 100_000} {
		data := Data(n)
		obj := Put(t, s, chunkstore.TypePack, data)
		st, err := s.Stat(t.Context(), obj.Ref)
		if err != nil {
			t.Fatalf("Stat: %v", err)
		}
		if st != obj {
			t.Errorf("Stat = %+v, Put returned %+v", st, obj)
		}
		load(t, s, obj.Ref, 0, 0, data)
	}
}

func testLoadRanges(t *testing.T, s chunkstore.Store) {
	const n = 70_001
	data := Data(n)
	obj := Put(t, s, chunkstore.TypePack, data)
	for _, r := range []struct {
		length int
		offset int64
	}{
		{0, 0}, {1, 0}, {100, 0}, {n, 0}, // start
		{5000, 1234}, {1, n / 2}, {0, n / 2}, // middle
		{10, n - 10}, {1, n - 1}, {0, n - 10}, {0, n - 1}, // end
		{0, n}, // nothing left
	} {
		want := data[r.offset:]
		if r.length > 0 {
			want = want[:r.length]
		}
		load(t, s, obj.Ref, r.length, r.offset, want)
	}
	empty := Put(t, s, chunkstore.TypePack, nil)
	load(t, s, empty.Ref, 0, 0, []byte{})
}

func testBadRanges(t *testing.T, s chunkstore.Store) {
	obj := Put(t, s, chunkstore.TypePack, Data(1000))
	for _, r := range []struct {
		length int
		offset int64
	}{{1, 1000}, {1001, 0}, {10, 995}, {0, 1001}, {-1, 0}, {0, -1}} {
		_, err := chunkstore.ReadAll(t.Context(), s, obj.Ref, r.length, r.offset)
		if err == nil || chunkstore.IsRetryable(err) || chunkstore.IsNotFound(err) {
			t.Errorf("Load %d+%d of a 1000-byte object: error %v, want a permanent one", r.offset, r.length, err)
		}
	}
}

func testPutCopiesSource(t *testing.T, s chunkstore.Store) {
	data := Data(5000)
	buf := bytes.Clone(data)
	obj := Put(t, s, chunkstore.TypePack, buf)
	for i := range buf {
		buf[i] ^= 0xff
	}
	load(t, s, obj.Ref, 0, 0, data)
}

func testBadHandle(t *testing.T, s chunkstore.Store) {
	for _, h := range []chunkstore.Handle{
		{Type: chunkstore.TypePack, Name: ""},
		{Type: chunkstore.TypePack, Name: "../" + Name()[:10]},
		{Type: chunkstore.TypePack, Name: "ABCDEF"},
		{Type: chunkstore.TypePack, Name: Name() + "00"},
		{Type: 0, Name: Name()},
	} {
		_, err := s.Put(t.Context(), h, chunkstore.BytesSource([]byte("x")))
		if err == nil || chunkstore.IsRetryable(err) {
			t.Errorf("Put %+v: error %v, want a permanent one", h, err)
		}
	}
}

func testMaxObjectSize(t *testing.T, s chunkstore.Store) {
	limit := s.Limits().MaxObjectSize
	if limit <= 0 {
		t.Fatalf("Limits().MaxObjectSize = %d", limit)
	}
	data := Data(int(limit) + 1)
	obj := Put(t, s, chunkstore.TypePack, data[:limit])
	load(t, s, obj.Ref, 100, limit-100, data[limit-100:limit])

	h := chunkstore.Handle{Type: chunkstore.TypePack, Name: Name()}
	_, err := s.Put(t.Context(), h, chunkstore.BytesSource(data))
	if err == nil || chunkstore.IsRetryable(err) || chunkstore.IsNotFound(err) {
		t.Fatalf("Put of %d bytes, over the %d limit: error %v, want a permanent one", limit+1, limit, err)
	}
	err = s.List(t.Context(), chunkstore.TypePack, func(o chunkstore.Object) error {
		if o.Name == h.Name {
			return fmt.Errorf("the object over the limit was stored: %+v", o)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// gone stores an object and deletes it, for a Ref that is well formed but missing.
func gone(t *testing.T, s chunkstore.Store) chunkstore.Ref {
	t.Helper()
	obj := Put(t, s, chunkstore.TypePack, Data(10))
	if err := s.Delete(t.Context(), obj.Ref); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	return obj.Ref
}

func testMissing(t *testing.T, s chunkstore.Store) {
	ref := gone(t, s)
	called := false
	err := s.Load(t.Context(), ref, 0, 0, func(io.Reader) error { called = true; return nil })
	if !chunkstore.IsNotFound(err) {
		t.Errorf("Load of a missing object: %v, want NotFound", err)
	}
	if called {
		t.Errorf("Load of a missing object called fn")
	}
	if _, err := s.Stat(t.Context(), ref); !chunkstore.IsNotFound(err) {
		t.Errorf("Stat of a missing object: %v, want NotFound", err)
	}
	if err := s.Delete(t.Context(), ref); !chunkstore.IsNotFound(err) {
		t.Errorf("Delete of a missing object: %v, want NotFound", err)
	}
}

func testDelete(t *testing.T, s chunkstore.Store) {
	keep := Put(t, s, chunkstore.TypePack, Data(100))
	drop := Put(t, s, chunkstore.TypePack, Data(100))
	if err := s.Delete(t.Context(), drop.Ref); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Stat(t.Context(), drop.Ref); !chunkstore.IsNotFound(err) {
		t.Errorf("Stat after Delete: %v, want NotFound", err)
	}
	if _, err := s.Stat(t.Context(), keep.Ref); err != nil {
		t.Errorf("Delete of one object harmed another: %v", err)
	}
	got := listed(t, s, chunkstore.TypePack)
	if len(got) != 1 || got[keep.Ref] != keep {
		t.Errorf("List after Delete = %v, want only %+v", got, keep)
	}
}

func listed(t *testing.T, s chunkstore.Store, typ chunkstore.Type) map[chunkstore.Ref]chunkstore.Object {
	t.Helper()
	got := map[chunkstore.Ref]chunkstore.Object{}
	err := s.List(t.Context(), typ, func(o chunkstore.Object) error {
		if _, dup := got[o.Ref]; dup {
			t.Errorf("List passed %s twice", o.Ref)
		}
		got[o.Ref] = o
		return nil
	})
	if err != nil {
		t.Fatalf("List %s: %v", typ, err)
	}
	return got
}

func testList(t *testing.T, s chunkstore.Store) {
	want := map[chunkstore.Type]map[chunkstore.Ref]chunkstore.Object{
		chunkstore.TypePack: {}, chunkstore.TypeManifest: {},
	}
	for i := range 5 {
		typ := chunkstore.TypePack
		if i%2 == 1 {
			typ = chunkstore.TypeManifest
		}
		obj := Put(t, s, typ, Data(100*i))
		want[typ][obj.Ref] = obj
	}
	for typ, objs := range want {
		got := listed(t, s, typ)
		if len(got) != len(objs) {
			t.Errorf("List %s: %d objects, want %d", typ, len(got), len(objs))
		}
		for ref, o := range objs {
			if got[ref] != o {
				t.Errorf("List %s: got %+v for %s, want %+v", typ, got[ref], ref, o)
			}
		}
	}
	stop := errors.New("stop here")
	calls := 0
	err := s.List(t.Context(), chunkstore.TypePack, func(chunkstore.Object) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("List whose fn fails: %v after %d calls, want fn's error after 1", err, calls)
	}
}

func testLoadFnError(t *testing.T, s chunkstore.Store) {
	obj := Put(t, s, chunkstore.TypePack, Data(1000))
	stop := errors.New("the caller's own failure")
	err := s.Load(t.Context(), obj.Ref, 0, 0, func(rd io.Reader) error {
		if _, err := io.CopyN(io.Discard, rd, 10); err != nil {
			return err
		}
		return stop
	})
	if !errors.Is(err, stop) {
		t.Errorf("Load whose fn fails: %v, want fn's error", err)
	}
}

func testConcurrent(t *testing.T, s chunkstore.Store) {
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			data := Data(1000 * (i + 1))
			h := chunkstore.Handle{Type: chunkstore.TypePack, Name: Name()}
			obj, err := s.Put(t.Context(), h, chunkstore.BytesSource(data))
			if err != nil {
				t.Errorf("Put: %v", err)
				return
			}
			for off := int64(0); off < obj.Size; off += 700 {
				got, err := chunkstore.ReadAll(t.Context(), s, obj.Ref, 0, off)
				if err != nil || !bytes.Equal(got, data[off:]) {
					t.Errorf("Load %s from %d: %v, or wrong bytes", obj.Ref, off, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := listed(t, s, chunkstore.TypePack); len(got) != 16 {
		t.Errorf("List after concurrent Puts: %d objects, want 16", len(got))
	}
}

func testCancelled(t *testing.T, s chunkstore.Store) {
	obj := Put(t, s, chunkstore.TypePack, Data(100))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want context.Canceled", op, err)
		}
	}
	h := chunkstore.Handle{Type: chunkstore.TypePack, Name: Name()}
	_, err := s.Put(ctx, h, chunkstore.BytesSource(Data(100)))
	check("Put", err)
	check("Load", s.Load(ctx, obj.Ref, 0, 0, func(rd io.Reader) error { _, err := io.ReadAll(rd); return err }))
	_, err = s.Stat(ctx, obj.Ref)
	check("Stat", err)
	check("List", s.List(ctx, chunkstore.TypePack, func(chunkstore.Object) error { return nil }))
	check("Delete", s.Delete(ctx, obj.Ref))
	if _, err := s.Stat(t.Context(), obj.Ref); err != nil {
		t.Errorf("Stat after a cancelled Delete: %v", err)
	}
	if rs, ok := chunkstore.AsRecordStore(s); ok {
		check("PutRecord", rs.PutRecord(ctx, "header", []byte("x")))
		_, err := rs.GetRecord(ctx, "header")
		check("GetRecord", err)
		check("ListRecords", rs.ListRecords(ctx, "", func(string, []byte) error { return nil }))
		check("DeleteRecord", rs.DeleteRecord(ctx, "header"))
	}
}
