package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestVerifyWrongSizePack: a pack cut short or grown makes verify, with and without --full,
// exit 1 and list every file with data in it; get leaves those files out.
func TestVerifyWrongSizePack(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "tree")
	writeTree(t, src)
	id := c.put(src)
	packs := packFiles(t, storeDir(c))
	if len(packs) != 1 {
		t.Fatalf("the tree went into %d packs, want 1", len(packs))
	}
	orig, err := os.ReadFile(packs[0])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{id + "/a.bin", id + "/docs/readme.md", id + "/x/y/z.dat"}
	for _, b := range [][]byte{orig[:len(orig)/2], append(orig[:len(orig):len(orig)], 0, 1, 2)} {
		if err := os.WriteFile(packs[0], b, 0o600); err != nil {
			t.Fatal(err)
		}
		size := fmt.Sprintf("has %d bytes, should have %d", len(b), len(orig))
		for _, args := range [][]string{{"verify"}, {"verify", "--full"}} {
			r := c.run(args...)
			if r.code != exitFailure {
				t.Fatalf("%s with a %d-byte pack: exit %d, want %d\n%s%s", strings.Join(args, " "), len(b), r.code, exitFailure, r.stdout, r.stderr)
			}
			var got []string
			for _, l := range strings.Split(r.stdout, "\n") {
				if !strings.HasPrefix(l, "damaged: ") {
					continue
				}
				if !strings.Contains(l, size) {
					t.Errorf("%s: %q does not say %q", strings.Join(args, " "), l, size)
				}
				got = append(got, strings.SplitN(strings.TrimPrefix(l, "damaged: "), ":", 2)[0])
			}
			sort.Strings(got)
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("%s with a %d-byte pack listed %v, want %v\n%s", strings.Join(args, " "), len(b), got, want, r.stdout)
			}
		}
	}
	// Cut short, the pack's files are left out of a restore.
	os.WriteFile(packs[0], orig[:len(orig)/2], 0o600)
	dest := filepath.Join(t.TempDir(), "out")
	c.reports([]string{"damaged: "}, "get", id, dest)
	for _, w := range want {
		if _, err := os.Lstat(filepath.Join(dest, strings.TrimPrefix(w, id))); !os.IsNotExist(err) {
			t.Errorf("%s was restored from a cut pack (%v)", w, err)
		}
	}
	os.WriteFile(packs[0], orig, 0o600)
	c.ok("verify", "--full")
}
