package chunkstoretest

import (
	"bytes"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/discofs/discofs/chunkstore"
)

// recordNames are names a record store must keep apart and give back unchanged, including
// ones that would be dangerous or ambiguous as file names.
var recordNames = []string{
	"header",
	"cards/261126-07",
	"cards/261126-08",
	"cards/x/../y",
	"cards/..",
	".hidden",
	"Header",
	"a b%2Fc",
	"ünïcode",
}

func testRecords(t *testing.T, s chunkstore.Store) {
	rs, ok := chunkstore.AsRecordStore(s)
	if !ok {
		t.Skip("the store keeps no records")
	}
	ctx := t.Context()
	want := map[string][]byte{}
	for i, name := range recordNames {
		data := Data(10 * i)
		if err := rs.PutRecord(ctx, name, data); err != nil {
			t.Fatalf("PutRecord %q: %v", name, err)
		}
		want[name] = bytes.Clone(data)
		for j := range data {
			data[j] ^= 0xff // the caller reuses its buffer
		}
	}
	for name, data := range want {
		got, err := rs.GetRecord(ctx, name)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("GetRecord %q = %q, %v; want %q", name, got, err, data)
		}
		if len(got) > 0 {
			got[0] ^= 0xff // must not reach the store
		}
	}
	if got, _ := rs.GetRecord(ctx, "header"); !bytes.Equal(got, want["header"]) {
		t.Errorf("changing a slice GetRecord returned changed the record")
	}

	// Replacing a record replaces it whole.
	if err := rs.PutRecord(ctx, "header", []byte("v2")); err != nil {
		t.Fatalf("PutRecord again: %v", err)
	}
	want["header"] = []byte("v2")
	if got, err := rs.GetRecord(ctx, "header"); err != nil || string(got) != "v2" {
		t.Errorf("GetRecord after replace = %q, %v; want v2", got, err)
	}

	for _, prefix := range []string{"", "cards/", "cards/2611", "header", "nothing"} {
		got := map[string][]byte{}
		err := rs.ListRecords(ctx, prefix, func(name string, data []byte) error {
			got[name] = bytes.Clone(data)
			return nil
		})
		if err != nil {
			t.Fatalf("ListRecords %q: %v", prefix, err)
		}
		var wantNames []string
		for name := range want {
			if strings.HasPrefix(name, prefix) {
				wantNames = append(wantNames, name)
			}
		}
		slices.Sort(wantNames)
		if gotNames := slices.Sorted(maps.Keys(got)); !slices.Equal(gotNames, wantNames) {
			t.Errorf("ListRecords %q = %q, want %q", prefix, gotNames, wantNames)
		}
		for name, data := range got {
			if !bytes.Equal(data, want[name]) {
				t.Errorf("ListRecords %q: %q = %q, want %q", prefix, name, data, want[name])
			}
		}
	}
	stop := errors.New("stop here")
	calls := 0
	err := rs.ListRecords(ctx, "", func(string, []byte) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("ListRecords whose fn fails: %v after %d calls, want fn's error after 1", err, calls)
	}

	if err := rs.DeleteRecord(ctx, "cards/261126-07"); err != nil {
		t.Fatalf("DeleteRecord: %v", err)
	}
	if _, err := rs.GetRecord(ctx, "cards/261126-07"); !chunkstore.IsNotFound(err) {
		t.Errorf("GetRecord after DeleteRecord: %v, want NotFound", err)
	}
	if err := rs.DeleteRecord(ctx, "cards/261126-07"); !chunkstore.IsNotFound(err) {
		t.Errorf("DeleteRecord of a missing record: %v, want NotFound", err)
	}
	if got, err := rs.GetRecord(ctx, "cards/261126-08"); err != nil || !bytes.Equal(got, want["cards/261126-08"]) {
		t.Errorf("DeleteRecord harmed another record: %q, %v", got, err)
	}
	if err := rs.PutRecord(ctx, "", []byte("x")); err == nil || chunkstore.IsRetryable(err) {
		t.Errorf("PutRecord with an empty name: %v, want a permanent error", err)
	}

	// Records are not objects.
	for _, typ := range []chunkstore.Type{chunkstore.TypePack, chunkstore.TypeManifest} {
		if got := listed(t, s, typ); len(got) != 0 {
			t.Errorf("List %s shows records: %v", typ, got)
		}
	}
}
