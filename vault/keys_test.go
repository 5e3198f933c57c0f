package vault

import (
	"bytes"
	"context"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/discofs/discofs/chunkstore"
)

var fastKDF = KDFParams{Time: 1, Memory: 64, Threads: 1}

func TestWrapUnwrap(t *testing.T) {
	master, err := NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	w, err := Wrap(master, "correct horse", "v1", fastKDF)
	if err != nil {
		t.Fatal(err)
	}
	got, err := w.Unwrap("correct horse", "v1")
	if err != nil || !bytes.Equal(got, master) {
		t.Fatalf("unwrap: %v", err)
	}
	if _, err := w.Unwrap("wrong horse", "v1"); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: got %v", err)
	}
	if _, err := w.Unwrap("correct horse", "other vault"); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("other vault: got %v", err)
	}
	w.Params.Time = 0
	if _, err := w.Unwrap("correct horse", "v1"); err == nil || errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("bad params: got %v", err)
	}
}

func TestDeriveKeysDistinct(t *testing.T) {
	k := DeriveKeys(bytes.Repeat([]byte{7}, 32))
	all := [][]byte{k.Data, k.ID, k.Manifest, k.Chunker, k.Index, k.Cache}
	for i := range all {
		for j := i + 1; j < len(all); j++ {
			if bytes.Equal(all[i], all[j]) {
				t.Fatalf("subkeys %d and %d are equal", i, j)
			}
		}
	}
	if !bytes.Equal(DeriveKeys(bytes.Repeat([]byte{7}, 32)).Data, k.Data) {
		t.Fatal("derivation is not deterministic")
	}
}

// storeSnapshot is every object and record of a memory store, by type and name.
func storeSnapshot(t *testing.T, s *chunkstore.MemStore) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	all := map[string][]byte{}
	for _, ty := range []chunkstore.Type{chunkstore.TypePack, chunkstore.TypeManifest} {
		err := s.List(ctx, ty, func(o chunkstore.Object) error {
			b, err := chunkstore.ReadAll(ctx, s, o.Ref, 0, 0)
			all[ty.String()+" "+string(o.Ref)] = b
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	err := s.ListRecords(ctx, "", func(name string, data []byte) error {
		all["record "+name] = data
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// TestChangePassphraseTouchesNoData: a new passphrase re-wraps the master key in the vault
// header and the config; every pack, manifest and card stays as it was, byte for byte, and
// the local index and the archives open under the same master key.
func TestChangePassphraseTouchesNoData(t *testing.T) {
	tv := newTestVault(t)
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "tree")
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	rng := rand.New(rand.NewSource(3))
	big := make([]byte, 700_000)
	rng.Read(big)
	os.WriteFile(filepath.Join(src, "big.bin"), big, 0o644)
	os.WriteFile(filepath.Join(src, "sub", "note.txt"), bytes.Repeat([]byte("a note\n"), 500), 0o600)
	a, err := tv.Put(ctx, []string{src}, PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	oldMaster, err := Unlock(tv.cfg, "pass")
	if err != nil {
		t.Fatal(err)
	}
	before := storeSnapshot(t, tv.mem)
	var packs int
	for k := range before {
		if strings.HasPrefix(k, "pack ") {
			packs++
		}
	}
	if packs == 0 || before["record "+headerRecord] == nil || before["record "+cardPrefix+a.ID] == nil {
		t.Fatalf("the store holds %d packs, and these objects: %v", packs, keysOf(before))
	}
	tv.Vault.Close()

	if err := ChangePassphrase(ctx, tv.paths, tv.cfg, RecordCatalog(tv.mem), "pass", "new", fastKDF); err != nil {
		t.Fatal(err)
	}
	after := storeSnapshot(t, tv.mem)
	for k, b := range before {
		switch {
		case k == "record "+headerRecord:
			if bytes.Equal(after[k], b) {
				t.Error("the vault header is unchanged: the key was not re-wrapped")
			}
		case !bytes.Equal(after[k], b):
			t.Errorf("%s changed (%d bytes before, %d after)", k, len(b), len(after[k]))
		}
	}
	if len(after) != len(before) {
		t.Errorf("the store held %v, now %v", keysOf(before), keysOf(after))
	}

	cfg, err := LoadConfig(tv.paths)
	if err != nil {
		t.Fatal(err)
	}
	master, err := Unlock(cfg, "new")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(master, oldMaster) {
		t.Fatal("the master key changed")
	}
	// The index made under the old passphrase opens, and the archive reads back.
	v, err := Open(ctx, tv.paths, cfg, master, Options{Store: tv.fault, Catalog: RecordCatalog(tv.mem)})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if list, err := v.Archives(); err != nil || len(list) != 1 || list[0].ID != a.ID {
		t.Fatalf("archives after passwd: %+v %v", list, err)
	}
	dest := filepath.Join(t.TempDir(), "out")
	if d, err := v.Get(ctx, a.ID, dest, nil); err != nil || len(d) != 0 {
		t.Fatalf("get after passwd: %v %v", err, d)
	}
	sameTree(t, src, dest)
}

func keysOf(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
