package vault

import (
	"bytes"
	"context"
	"crypto/sha256"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
	"github.com/discofs/discofs/vault/vaulttest"
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
	got, err := tv.PutSliced(ctx, same, "pass")
	if err != nil || len(got) != 1 {
		t.Fatalf("put --sliced: %v", err)
	}
	// The test store takes 5 MiB objects, the slicer writes up to 10: the frames of a pack
	// too big for it are re-packed, each still as it was sealed.
	sameFrames(t, tv, got[0].ID, same)
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

// frames maps each chunk that archive id uses to its stored frame, as read from store.
func frames(t *testing.T, v *Vault, store chunkstore.Store, id string) map[chunkstore.ID][]byte {
	t.Helper()
	out := map[chunkstore.ID][]byte{}
	err := v.Index().Walk(id, func(n index.Node) error {
		for _, c := range n.Chunks {
			loc, err := v.Index().GetChunk(c.ID)
			if err != nil {
				return err
			}
			if out[c.ID], err = chunkstore.ReadAll(context.Background(), store, loc.Pack, int(loc.Length), loc.Offset); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || len(out) == 0 {
		t.Fatalf("frames of %s: %d, %v", id, len(out), err)
	}
	return out
}

// sameFrames fails unless archive id of tv has, for every chunk, the frame the sliced
// folder dir holds for it, byte for byte: nothing was opened and sealed again.
func sameFrames(t *testing.T, tv *testVault, id, dir string) {
	t.Helper()
	ctx := context.Background()
	sv, done, err := OpenSliced(ctx, dir, "pass")
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	list, _ := sv.Archives()
	want := frames(t, sv, sv.store, list[0].ID)
	got := frames(t, tv.Vault, tv.mem, id)
	if len(got) != len(want) {
		t.Fatalf("%d frames adopted, the sliced folder has %d", len(got), len(want))
	}
	for cid, f := range want {
		if !bytes.Equal(got[cid], f) {
			t.Fatalf("chunk %s: the stored frame is not the sliced one", cid)
		}
	}
}

// objects maps the digest of every object of type ty in s to how many have it.
func objects(t *testing.T, s chunkstore.Store, ty chunkstore.Type) map[[32]byte]int {
	t.Helper()
	out := map[[32]byte]int{}
	err := s.List(context.Background(), ty, func(o chunkstore.Object) error {
		b, err := chunkstore.ReadAll(context.Background(), s, o.Ref, 0, 0)
		out[sha256.Sum256(b)]++
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPutSlicedStoresPacksAsTheyAre: a folder sliced under the vault's key goes into a
// store that takes its packs as they are: the store gets exactly the sliced packs, byte
// for byte, and one manifest (sealed for the new archive ID); no chunk is sealed again.
// Whatever the vault already holds is left out, and the rest re-packed as it was sealed.
func TestPutSlicedStoresPacksAsTheyAre(t *testing.T) {
	ctx := context.Background()
	tv := newTestVault(t)
	big := chunkstore.NewMem(chunkstore.Limits{MaxObjectSize: 16 << 20})
	tv.mem, tv.fault = big, chunkstore.NewFault(big)
	tv.reopenWith(t, Options{Store: tv.fault, Catalog: RecordCatalog(big)})
	if err := RecordCatalog(big).SaveHeader(ctx, &Header{Format: "discofs-vault", Version: HeaderVersion, VaultID: tv.cfg.VaultID, Key: tv.cfg.Key}); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "photos")
	vaulttest.MakeTree(t, src, 12, 14<<20) // more than one 10 MiB sliced pack
	dir := filepath.Join(t.TempDir(), "sliced")
	key := tv.cfg.Key
	if _, err := Slice(ctx, []string{src}, dir, "pass", SliceOptions{Key: &key, VaultID: tv.cfg.VaultID, KDF: fastKDF}); err != nil {
		t.Fatal(err)
	}
	sliced, err := chunkstore.OpenDir(dir, chunkstore.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer sliced.Close()
	want := objects(t, sliced, chunkstore.TypePack)
	if len(want) < 2 {
		t.Fatalf("the sliced folder has %d packs; the test wants several", len(want))
	}
	got, err := tv.PutSliced(ctx, dir, "pass")
	if err != nil || len(got) != 1 {
		t.Fatalf("put --sliced: %v", err)
	}
	if packs := objects(t, big, chunkstore.TypePack); !reflect.DeepEqual(packs, want) {
		t.Fatalf("the store holds %d packs, not the %d sliced ones as they are", len(packs), len(want))
	}
	if m := objects(t, big, chunkstore.TypeManifest); len(m) != 1 {
		t.Fatalf("%d manifests stored, want the new archive's one", len(m))
	}
	if got[0].Stored != storedBytes(t, sliced)-manifestBytes(t, sliced) {
		t.Fatalf("the archive counts %d bytes stored", got[0].Stored)
	}
	sameFrames(t, tv, got[0].ID, dir)
	out := filepath.Join(t.TempDir(), "out")
	if damaged, err := tv.Get(ctx, got[0].ID, out, nil); err != nil || len(damaged) > 0 {
		t.Fatalf("get: %v %v", err, damaged)
	}
	sameTree(t, src, out)

	// The same folder again: every frame is the vault's already, nothing new is stored.
	before := storedBytes(t, big) - manifestBytes(t, big)
	again, err := tv.PutSliced(ctx, dir, "pass")
	if err != nil || len(again) != 1 {
		t.Fatalf("put --sliced again: %v", err)
	}
	if after := storedBytes(t, big) - manifestBytes(t, big); after != before || again[0].Stored != 0 {
		t.Fatalf("the second put stored %d pack bytes, counts %d", after-before, again[0].Stored)
	}
	if rep, err := tv.Verify(ctx, again[0].ID, true, nil); err != nil || len(rep.Damaged) > 0 {
		t.Fatalf("verify: %v %+v", err, rep)
	}
}

// manifestBytes is what s holds in manifests.
func manifestBytes(t *testing.T, s chunkstore.Store) (n int64) {
	t.Helper()
	err := s.List(context.Background(), chunkstore.TypeManifest, func(o chunkstore.Object) error { n += o.Size; return nil })
	if err != nil {
		t.Fatal(err)
	}
	return n
}
