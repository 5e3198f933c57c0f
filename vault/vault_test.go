package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
)

func TestPutGetRoundTrip(t *testing.T) {
	tv := newTestVault(t)
	src := filepath.Join(t.TempDir(), "photos")
	makeTree(t, src, 1)
	ctx := context.Background()
	a, err := tv.Put(ctx, []string{src}, PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != "261126-01" || a.Name != "photos" || a.Status != index.StatusSuccess || a.Files != 5 {
		t.Fatalf("archive = %+v", a)
	}
	dest := filepath.Join(t.TempDir(), "out")
	damaged, err := tv.Get(ctx, "#261126-01", dest, nil)
	if err != nil || len(damaged) != 0 {
		t.Fatalf("get: %v %v", err, damaged)
	}
	sameTree(t, src, dest)

	// A restore survives a restart: everything comes from the index and the store.
	tv.reopen(t)
	dest2 := filepath.Join(t.TempDir(), "out")
	if _, err := tv.Get(ctx, "photos", dest2, nil); err != nil {
		t.Fatal(err)
	}
	sameTree(t, src, dest2)

	// One file, into an existing directory.
	dir := t.TempDir()
	if _, err := tv.Get(ctx, "261126-01/deep/a/b/c/file", dir, nil); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join(src, "deep/a/b/c/file"))
	got, _ := os.ReadFile(filepath.Join(dir, "file"))
	if !bytes.Equal(want, got) {
		t.Fatal("single file differs")
	}
	// Into a non-empty directory: refused, nothing touched.
	if _, err := tv.Get(ctx, "photos", dir, nil); !errors.Is(err, ErrDestNotEmpty) {
		t.Fatalf("non-empty dest: %v", err)
	}
	if _, err := tv.Get(ctx, "nope", t.TempDir(), nil); !errors.Is(err, ErrArchiveNotFound) {
		t.Fatalf("missing archive: %v", err)
	}
}

func TestPutSeveralPathsAndAddToArchive(t *testing.T) {
	tv := newTestVault(t)
	ctx := context.Background()
	dir := t.TempDir()
	makeTree(t, filepath.Join(dir, "one"), 2)
	if err := os.WriteFile(filepath.Join(dir, "two.txt"), []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := tv.Put(ctx, []string{filepath.Join(dir, "one"), filepath.Join(dir, "two.txt")}, PutOptions{Name: "both"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/one/big.bin", "/two.txt", "/one/link"} {
		if _, err := tv.idx.GetNode(a.ID, p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	extra := filepath.Join(t.TempDir(), "three.txt")
	os.WriteFile(extra, []byte("three"), 0o644)
	b, err := tv.Put(ctx, []string{extra}, PutOptions{Archive: "both"})
	if err != nil {
		t.Fatal(err)
	}
	if b.ID != a.ID || b.Generation != 2 || b.Files != a.Files+1 {
		t.Fatalf("after add: %+v (before %+v)", b, a)
	}
	list, _ := tv.Archives()
	if len(list) != 1 {
		t.Fatalf("%d archives, want 1", len(list))
	}
	// The stored manifest is the whole merged tree.
	m, err := tv.loadManifest(ctx, b.ID, b.Generation, b.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]bool{}
	for _, n := range m.Nodes {
		paths[n.Path] = true
	}
	if !paths["/three.txt"] || !paths["/two.txt"] || !paths["/one/deep/a/b/c/file"] || !paths["/"] {
		t.Fatalf("manifest tree: %v", paths)
	}
}

func TestRePutStoresAlmostNothing(t *testing.T) {
	tv := newTestVault(t)
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "tree")
	makeTree(t, src, 3)
	if _, err := tv.Put(ctx, []string{src}, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	before := storedBytes(t, tv.mem)
	var prog Progress
	if _, err := tv.Put(ctx, []string{src}, PutOptions{Progress: &prog}); err != nil {
		t.Fatal(err)
	}
	added := storedBytes(t, tv.mem) - before
	if prog.Stored.Load() != 0 || added*100 > before {
		t.Fatalf("re-put stored %d new pack bytes, %d bytes in all (first put: %d)", prog.Stored.Load(), added, before)
	}
}

func TestCorruptFrameIsReportedNeverServed(t *testing.T) {
	tv := newTestVault(t)
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "tree")
	makeTree(t, src, 4)
	a, err := tv.Put(ctx, []string{src}, PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n, _ := tv.idx.GetNode(a.ID, "/text/notes.txt")
	loc, _ := tv.idx.GetChunk(n.Chunks[0].ID)
	tv.fault.Add(chunkstore.Fault{Op: chunkstore.OpLoad, Ref: loc.Pack, Action: chunkstore.FaultFlipBit,
		Offset: int64(len(loc.Header)) + 20, Times: -1})

	dest := filepath.Join(t.TempDir(), "out")
	damaged, err := tv.Get(ctx, a.ID, dest, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains([]byte(damagedPaths(damaged)), []byte("/text/notes.txt")) {
		t.Fatalf("damaged = %v", damaged)
	}
	for _, d := range damaged {
		if !errors.Is(d.Err, chunkstore.ErrAuth) && !errors.Is(d.Err, chunkstore.ErrFormat) {
			t.Errorf("%s: %v is neither an authentication nor a format error", d.Path, d.Err)
		}
		if _, err := os.Stat(filepath.Join(dest, d.Path)); !os.IsNotExist(err) {
			t.Errorf("%s: a damaged file was left behind (%v)", d.Path, err)
		}
	}
	rep, err := tv.Verify(ctx, "", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := damagedPaths(rep.Damaged); got != damagedPaths(damaged) {
		t.Fatalf("verify --full found %q, get found %q", got, damagedPaths(damaged))
	}
	// Without --full only sizes are checked, and they are right.
	if rep, _ := tv.Verify(ctx, "", false, nil); len(rep.Damaged) != 0 {
		t.Fatalf("quick verify: %v", rep.Damaged)
	}
}

// TestMissingPackIsReported, and a missing manifest, with the objects asked for one by one
// and with the store's objects listed (as a verify of more than listAbove of them does).
func TestMissingPackIsReported(t *testing.T) {
	for _, above := range []int{listAbove, 0} {
		t.Run(fmt.Sprintf("listing above %d", above), func(t *testing.T) {
			defer func(old int) { listAbove = old }(listAbove)
			listAbove = above
			tv := newTestVault(t)
			ctx := context.Background()
			src := filepath.Join(t.TempDir(), "tree")
			makeTree(t, src, 5)
			a, _ := tv.Put(ctx, []string{src}, PutOptions{})
			n, _ := tv.idx.GetNode(a.ID, "/big.bin")
			loc, _ := tv.idx.GetChunk(n.Chunks[0].ID)
			manifest := a.Manifest[0].Ref
			for _, ref := range []chunkstore.Ref{loc.Pack, manifest} {
				if err := tv.mem.Delete(ctx, ref); err != nil {
					t.Fatal(err)
				}
			}
			// Faults that change nothing, to see which of the two ways was taken.
			tv.fault.Add(chunkstore.Fault{Op: chunkstore.OpStat, Ref: loc.Pack, Action: chunkstore.FaultDelay},
				chunkstore.Fault{Op: chunkstore.OpStat, Ref: manifest, Action: chunkstore.FaultDelay},
				chunkstore.Fault{Op: chunkstore.OpList, Type: chunkstore.TypePack, Action: chunkstore.FaultDelay},
				chunkstore.Fault{Op: chunkstore.OpList, Type: chunkstore.TypeManifest, Action: chunkstore.FaultDelay})
			rep, err := tv.Verify(ctx, a.ID, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			unused := tv.fault.Unexercised()
			for _, f := range unused {
				if (f.Op == chunkstore.OpList) != (above > 0) {
					t.Errorf("with listing above %d objects, a %s was not made", above, f)
				}
			}
			if len(unused) != 2 {
				t.Errorf("with listing above %d objects, the calls not made were %v", above, unused)
			}
			found := map[string]bool{}
			for _, d := range rep.Damaged {
				found[d.Path] = true
				if !chunkstore.IsNotFound(d.Err) {
					t.Errorf("%s: %v is not a not-found error", d.Path, d.Err)
				}
			}
			if !found["/big.bin"] || !found["/"] {
				t.Fatalf("verify missed the missing pack or manifest: %v", rep.Damaged)
			}
		})
	}
}

// TestVerifyOfASmallArchiveAsksForItsPacks: listing every pack of the store to check
// one archive's few would cost more than asking for those.
func TestVerifyOfASmallArchiveAsksForItsPacks(t *testing.T) {
	defer func(old int) { listAbove = old }(listAbove)
	listAbove = 0
	tv := newTestVault(t)
	ctx := context.Background()
	big := filepath.Join(t.TempDir(), "big")
	makeTree(t, big, 5)
	if _, err := tv.Put(ctx, []string{big}, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	small := filepath.Join(t.TempDir(), "small")
	os.Mkdir(small, 0o755)
	os.WriteFile(filepath.Join(small, "f"), []byte("a few bytes"), 0o644)
	a, err := tv.Put(ctx, []string{small}, PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tv.fault.Add(chunkstore.Fault{Op: chunkstore.OpList, Type: chunkstore.TypePack, Action: chunkstore.FaultDelay})
	rep, err := tv.Verify(ctx, a.ID, false, nil)
	if err != nil || len(rep.Damaged) != 0 || rep.Packs != 1 {
		t.Fatalf("verify of the small archive: %+v, %v", rep, err)
	}
	if unused := tv.fault.Unexercised(); len(unused) != 1 {
		t.Errorf("the store's packs were listed to check the small archive's one")
	}
}

func TestInterruptedPutLeavesNothingVisibleAndResumes(t *testing.T) {
	tv := newTestVault(t)
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "tree")
	makeTree(t, src, 6)
	tv.opts.Uploaders = 1
	// The second pack upload fails for good.
	tv.fault.Add(chunkstore.Fault{Op: chunkstore.OpPut, Type: chunkstore.TypePack, Action: chunkstore.FaultDelay},
		chunkstore.Fault{Op: chunkstore.OpPut, Type: chunkstore.TypePack, Err: errors.New("disk on fire")})
	if _, err := tv.Put(ctx, []string{src}, PutOptions{}); err == nil {
		t.Fatal("put succeeded despite a failed upload")
	}
	if list, _ := tv.Archives(); len(list) != 0 {
		t.Fatalf("an interrupted put is visible: %+v", list)
	}
	firstTry := storedBytes(t, tv.mem)
	tv.reopen(t)
	var prog Progress
	a, err := tv.Put(ctx, []string{src}, PutOptions{Progress: &prog})
	if err != nil {
		t.Fatal(err)
	}
	// Chunks stored by the first try are not stored again: both tries together store about
	// what one clean put stores.
	clean := newTestVault(t)
	if _, err := clean.Put(ctx, []string{src}, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if total, want := storedBytes(t, tv.mem), storedBytes(t, clean.mem); firstTry == 0 || total > want+want/50 {
		t.Fatalf("stored %d bytes over two tries (first %d), a clean put stores %d", total, firstTry, want)
	}
	dest := filepath.Join(t.TempDir(), "out")
	if _, err := tv.Get(ctx, a.ID, dest, nil); err != nil {
		t.Fatal(err)
	}
	sameTree(t, src, dest)
	rep, err := tv.GC(ctx)
	if err != nil || rep.Abandoned != 1 {
		t.Fatalf("gc: %+v %v", rep, err)
	}
	tv.fault.VerifyAllFaultsExercised(t)
}

func TestRemoveAndGC(t *testing.T) {
	tv := newTestVault(t)
	ctx := context.Background()
	dir := t.TempDir()
	makeTree(t, filepath.Join(dir, "a"), 7)
	makeTree(t, filepath.Join(dir, "b"), 8)
	a, _ := tv.Put(ctx, []string{filepath.Join(dir, "a")}, PutOptions{})
	b, _ := tv.Put(ctx, []string{filepath.Join(dir, "b")}, PutOptions{})
	withBoth := storedBytes(t, tv.mem)
	if _, err := tv.Remove(ctx, "#"+a.ID); err != nil {
		t.Fatal(err)
	}
	rep, err := tv.GC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Packs == 0 || rep.Manifests != 1 || rep.OrphansSkipped {
		t.Fatalf("gc report %+v", rep)
	}
	// a's 9 MiB file is its own; its packs go, but for one that may also hold chunks b
	// shares (the small files are the same in both trees).
	if after := storedBytes(t, tv.mem); after > withBoth-(9<<20)+tv.mem.Limits().MaxObjectSize {
		t.Fatalf("gc freed too little: %d → %d bytes", withBoth, after)
	}
	// What is left still restores whole.
	dest := filepath.Join(t.TempDir(), "out")
	if _, err := tv.Get(ctx, b.ID, dest, nil); err != nil {
		t.Fatal(err)
	}
	sameTree(t, filepath.Join(dir, "b"), dest)
	if rep, _ := tv.Verify(ctx, "", true, nil); len(rep.Damaged) != 0 {
		t.Fatalf("after gc: %v", rep.Damaged)
	}
	var card Card
	err = tv.catalog.Cards(ctx, func(c *Card) error {
		if c.ArchiveID == "#"+a.ID {
			card = *c
		}
		return nil
	})
	if err != nil || card.Status != index.StatusDeleted {
		t.Fatalf("card of the removed archive: %+v %v", card, err)
	}
}

func TestChangePassphrase(t *testing.T) {
	tv := newTestVault(t)
	ctx := context.Background()
	if err := ChangePassphrase(ctx, tv.paths, tv.cfg, tv.catalog, "wrong", "new", fastKDF); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("with a wrong passphrase: %v", err)
	}
	if err := ChangePassphrase(ctx, tv.paths, tv.cfg, tv.catalog, "pass", "new", fastKDF); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(tv.paths)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Unlock(cfg, "pass"); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("old passphrase still works: %v", err)
	}
	m1, err := Unlock(cfg, "new")
	if err != nil {
		t.Fatal(err)
	}
	h, err := tv.catalog.LoadHeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := h.Key.Unwrap("new", h.VaultID)
	if err != nil || !bytes.Equal(m1, m2) {
		t.Fatalf("store header does not open with the new passphrase: %v", err)
	}
	// Joining from the store header alone needs the new passphrase too.
	other := HomePaths(t.TempDir())
	if _, _, err := Init(ctx, other, "mem:", nil, Options{Catalog: tv.catalog}, "pass", fastKDF); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("join with the old passphrase: %v", err)
	}
	if _, joined, err := Init(ctx, other, "mem:", nil, Options{Catalog: tv.catalog}, "new", fastKDF); err != nil || !joined {
		t.Fatalf("join: %v %v", joined, err)
	}
}
