package vault

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestRebuildFromStoreAlone(t *testing.T) {
	tv := newTestVault(t)
	ctx := context.Background()
	dir := t.TempDir()
	makeTree(t, filepath.Join(dir, "a"), 11)
	makeTree(t, filepath.Join(dir, "b"), 12)
	a, err := tv.Put(ctx, []string{filepath.Join(dir, "a")}, PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := tv.Put(ctx, []string{filepath.Join(dir, "b")}, PutOptions{})
	gone, _ := tv.Put(ctx, []string{filepath.Join(dir, "b", "text")}, PutOptions{})
	tv.Remove(ctx, gone.ID)
	// A card a person edited by hand into something that is not a manifest pointer.
	tv.mem.PutRecord(ctx, "cards/261126-09", []byte(`{"lot":9,"archive_id":"#261126-09","status":"success","discofs":{"v":1,"gen":1,"manifest":[{"ref":"manifest/00","size":5}]}}`))
	// And one that is not JSON at all.
	tv.mem.PutRecord(ctx, "cards/261126-10", []byte(`{"lot":10,"archive_id`))

	rep, err := tv.Rebuild(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tv.Rebuilds() != 1 {
		t.Fatalf("Rebuilds() = %d after one rebuild", tv.Rebuilds())
	}
	if rep.Archives != 2 || len(rep.Failed) != 2 || !strings.Contains(strings.Join(rep.Failed, ";"), "#261126-09") ||
		!strings.Contains(strings.Join(rep.Failed, ";"), "#261126-10") {
		t.Fatalf("rebuild report: %+v", rep)
	}
	for _, want := range []struct{ id, src string }{{a.ID, "a"}, {b.ID, "b"}} {
		dest := filepath.Join(t.TempDir(), "out")
		if _, err := tv.Get(ctx, want.id, dest, nil); err != nil {
			t.Fatal(err)
		}
		sameTree(t, filepath.Join(dir, want.src), dest)
	}
	if _, err := tv.Resolve(gone.ID); err == nil {
		t.Fatal("a deleted archive came back")
	}
	// New archives continue the lot numbers and inode numbers after the rebuilt ones.
	c, err := tv.Put(ctx, []string{filepath.Join(dir, "a", "big.bin")}, PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Lot != 10 {
		t.Fatalf("lot after rebuild = %d, want 10 (the damaged card's lot is unknown)", c.Lot)
	}
	root, _ := tv.idx.GetNode(c.ID, "/")
	old, _ := tv.idx.GetNode(b.ID, "/text/notes.txt")
	if root.Ino <= old.Ino {
		t.Fatalf("inode %d reused after rebuild (old %d)", root.Ino, old.Ino)
	}
	if rep, _ := tv.Verify(ctx, "", true, nil); len(rep.Damaged) != 0 {
		t.Fatalf("verify after rebuild: %v", rep.Damaged)
	}
	// Another vault's header is refused.
	var h Header
	raw, _ := tv.mem.GetRecord(ctx, headerRecord)
	json.Unmarshal(raw, &h)
	h.VaultID = "someone-else"
	raw, _ = json.Marshal(h)
	tv.mem.PutRecord(ctx, headerRecord, raw)
	if _, err := tv.Rebuild(ctx, nil); err == nil || !strings.Contains(err.Error(), "not this vault") {
		t.Fatalf("rebuild from another vault: %v", err)
	}
}
