// Package vaulttest has test helpers shared by the packages above the vault: a tree with
// every kind of entry, and a deep comparison of two trees.
package vaulttest

import (
	"bytes"
	"fmt"
	iofs "io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// MakeTree writes a tree with every kind of entry: a file of bigSize bytes (several chunks), small and
// empty files, an empty directory, a symlink and odd modes and times.
func MakeTree(t testing.TB, dir string, seed int64, bigSize int) {
	t.Helper()
	rng := rand.New(rand.NewSource(seed))
	write := func(name string, data []byte, mode os.FileMode) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	random := func(n int) []byte { b := make([]byte, n); rng.Read(b); return b }
	write("big.bin", random(bigSize), 0o644)
	write("text/notes.txt", bytes.Repeat([]byte("hello discofs\n"), 5000), 0o600)
	write("text/empty", nil, 0o640)
	write("deep/a/b/c/file", random(70000), 0o755)
	write("résumé final (v2).pdf", random(1000), 0o444)
	if err := os.MkdirAll(filepath.Join(dir, "empty-dir"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("text/notes.txt", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2020, 2, 29, 12, 0, 0, 123456789, time.UTC)
	if err := os.Chtimes(filepath.Join(dir, "text"), old, old); err != nil {
		t.Fatal(err)
	}
}

// SameTree fails unless got holds the same entries, bytes, modes, sizes, mtimes and links
// as want.
func SameTree(t testing.TB, want, got string) {
	t.Helper()
	seen := 0
	err := filepath.WalkDir(want, func(p string, d iofs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(want, p)
		q := filepath.Join(got, rel)
		wi, _ := os.Lstat(p)
		gi, err := os.Lstat(q)
		if err != nil {
			t.Errorf("%s: missing: %v", rel, err)
			return nil
		}
		seen++
		if wi.Mode() != gi.Mode() {
			t.Errorf("%s: mode %v, want %v", rel, gi.Mode(), wi.Mode())
		}
		if !wi.ModTime().Equal(gi.ModTime()) {
			t.Errorf("%s: mtime %v, want %v", rel, gi.ModTime(), wi.ModTime())
		}
		if !wi.IsDir() && wi.Size() != gi.Size() {
			t.Errorf("%s: size %d, want %d", rel, gi.Size(), wi.Size())
		}
		switch {
		case wi.Mode()&iofs.ModeSymlink != 0:
			a, _ := os.Readlink(p)
			b, err := os.Readlink(q)
			if a != b || err != nil {
				t.Errorf("%s: link %q (%v), want %q", rel, b, err, a)
			}
		case wi.Mode().IsRegular():
			a, _ := os.ReadFile(p)
			b, err := os.ReadFile(q)
			if !bytes.Equal(a, b) || err != nil {
				t.Errorf("%s: content differs (%d vs %d bytes, %v)", rel, len(b), len(a), err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	filepath.WalkDir(got, func(string, iofs.DirEntry, error) error { n++; return nil })
	if n != seen {
		t.Errorf("%s has %d entries, want %d", got, n, seen)
	}
}

// ManyFiles writes dirs folders of perDir empty files each under dir, for listing
// benchmarks.
func ManyFiles(t testing.TB, dir string, dirs, perDir int) {
	t.Helper()
	for d := range dirs {
		sub := filepath.Join(dir, fmt.Sprintf("d%03d", d))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		for f := range perDir {
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%04d", f)), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
