package vault

import (
	"bytes"
	"errors"
	"testing"
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
