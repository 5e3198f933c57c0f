package vault

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/discofs/discofs/chunkstore"
)

func TestSliceAssembleAndPutSliced(t *testing.T) {
	ctx := context.Background()
	tv := newTestVault(t)
	src := filepath.Join(t.TempDir(), "photos")
	makeTree(t, src, 11)

	// Sliced under the vault's own key: taken in without re-sealing.
	same := filepath.Join(t.TempDir(), "same")
	key := tv.cfg.Key
	sa, err := Slice(ctx, []string{src}, same, "pass", SliceOptions{Key: &key, VaultID: tv.cfg.VaultID, KDF: fastKDF})
	if err != nil || sa.Name != "photos" {
		t.Fatalf("slice: %+v %v", sa, err)
	}
	dest := filepath.Join(t.TempDir(), "assembled")
	if damaged, err := Assemble(ctx, same, dest, "pass"); err != nil || len(damaged) > 0 {
		t.Fatalf("assemble: %v %v", err, damaged)
	}
	sameTree(t, src, dest)
	if _, err := Assemble(ctx, same, t.TempDir(), "wrong"); err == nil {
		t.Fatal("assemble with a wrong passphrase succeeded")
	}
	before := storedBytes(t, tv.mem)
	got, err := tv.PutSliced(ctx, same, "pass")
	if err != nil || len(got) != 1 {
		t.Fatalf("put --sliced: %v", err)
	}
	sliced, _ := chunkstore.OpenDir(same, chunkstore.Limits{})
	packs := storedBytes(t, sliced)
	sliced.Close()
	if added := storedBytes(t, tv.mem) - before; added < packs/2 {
		t.Fatalf("adopting added %d bytes for %d sliced", added, packs)
	}
	out := filepath.Join(t.TempDir(), "out")
	if damaged, err := tv.Get(ctx, got[0].ID, out, nil); err != nil || len(damaged) > 0 {
		t.Fatalf("get: %v %v", err, damaged)
	}
	sameTree(t, src, out)
	if rep, err := tv.Verify(ctx, got[0].ID, true, nil); err != nil || len(rep.Damaged) > 0 {
		t.Fatalf("verify: %v %+v", err, rep)
	}

	// Sliced under its own key and passphrase: re-sealed on the way in.
	other := filepath.Join(t.TempDir(), "other")
	if _, err := Slice(ctx, []string{src}, other, "another", SliceOptions{KDF: fastKDF}); err != nil {
		t.Fatal(err)
	}
	got, err = tv.PutSliced(ctx, other, "another")
	if err != nil || len(got) != 1 {
		t.Fatalf("put --sliced (other key): %v", err)
	}
	out = filepath.Join(t.TempDir(), "out2")
	if damaged, err := tv.Get(ctx, got[0].ID, out, nil); err != nil || len(damaged) > 0 {
		t.Fatalf("get: %v %v", err, damaged)
	}
	sameTree(t, src, out)
}
