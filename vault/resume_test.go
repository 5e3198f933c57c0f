package vault

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
)

// cutStore cancels a put after its first pack is stored, as a killed process would stop
// it, and counts the packs stored.
type cutStore struct {
	chunkstore.Store
	mu     sync.Mutex
	packs  int
	cancel context.CancelFunc // called after the first pack; nil: never
}

func (s *cutStore) Put(ctx context.Context, h chunkstore.Handle, src chunkstore.Source) (chunkstore.Object, error) {
	if err := ctx.Err(); err != nil {
		return chunkstore.Object{}, err
	}
	o, err := s.Store.Put(ctx, h, src)
	if err != nil || h.Type != chunkstore.TypePack {
		return o, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.packs++
	if s.cancel != nil {
		s.cancel()
		s.cancel = nil
	}
	return o, nil
}

func TestResumeInterruptedPut(t *testing.T) {
	tv := newTestVault(t)
	cut := &cutStore{Store: tv.fault}
	tv.reopenWith(t, Options{Store: cut, Catalog: RecordCatalog(tv.mem), Uploaders: 1})
	src := filepath.Join(t.TempDir(), "tree")
	makeTree(t, src, 7)

	ctx, cancel := context.WithCancel(context.Background())
	cut.cancel = cancel
	if _, err := tv.Put(ctx, []string{src}, PutOptions{Name: "photos"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("the cut-off put: %v", err)
	}
	first := cut.packs
	tv.reopenWith(t, Options{Store: cut, Catalog: RecordCatalog(tv.mem), Uploaders: 1})
	list, err := tv.Interrupted()
	if err != nil || len(list) != 1 || list[0].Adding || len(list[0].Paths) != 1 || list[0].Paths[0] != src || list[0].Archive.Name != "photos" {
		t.Fatalf("interrupted: %+v %v", list, err)
	}
	if _, err := tv.FindInterrupted("#" + list[0].Archive.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := tv.FindInterrupted("#010101-99"); err == nil {
		t.Error("an unknown ID found an interrupted upload")
	}
	it, err := tv.FindInterrupted("photos")
	if err != nil {
		t.Fatal(err)
	}
	a, err := tv.Resume(context.Background(), it, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != it.Archive.ID || a.Status != index.StatusSuccess || a.Name != "photos" {
		t.Fatalf("resumed into %+v, want the interrupted %s", a, it.Archive.ID)
	}
	dest := filepath.Join(t.TempDir(), "out")
	if _, err := tv.Get(context.Background(), "photos", dest, nil); err != nil {
		t.Fatal(err)
	}
	sameTree(t, src, dest)

	// Every pack stored, in both runs, is one the index uses: none was stored twice.
	var inIndex, inStore int
	if err := tv.Index().Packs(func(index.Pack) error { inIndex++; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := tv.mem.List(context.Background(), chunkstore.TypePack, func(chunkstore.Object) error { inStore++; return nil }); err != nil {
		t.Fatal(err)
	}
	if first != 1 || cut.packs <= first || cut.packs != inIndex || inStore != inIndex {
		t.Errorf("packs stored: %d before the cut, %d in all; %d in the index, %d in the store", first, cut.packs, inIndex, inStore)
	}
	if list, err := tv.Interrupted(); err != nil || len(list) != 0 {
		t.Errorf("still interrupted after the resume: %+v %v", list, err)
	}
	if _, err := tv.Resume(context.Background(), it, nil); err == nil {
		t.Error("a committed upload was resumed again")
	}
	if rep, err := tv.GC(context.Background()); err != nil || rep.Abandoned != 0 || rep.Packs != 0 {
		t.Errorf("gc after the resume: %+v %v", rep, err)
	}
}

// TestResumeAddingPut resumes a put that adds to an existing archive: the archive keeps
// its files and gets the new ones, and a put whose source is gone says so.
func TestResumeAddingPut(t *testing.T) {
	tv := newTestVault(t)
	ctx := context.Background()
	base := filepath.Join(t.TempDir(), "base")
	makeTree(t, base, 8)
	a, err := tv.Put(ctx, []string{base}, PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cut := &cutStore{Store: tv.fault}
	tv.reopenWith(t, Options{Store: cut, Catalog: RecordCatalog(tv.mem), Uploaders: 1})
	more := filepath.Join(t.TempDir(), "more")
	makeTree(t, more, 9)
	note := filepath.Join(t.TempDir(), "note.txt")
	if err := os.WriteFile(note, []byte("added"), 0o644); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cut.cancel = cancel
	if _, err := tv.Put(cctx, []string{more, note}, PutOptions{Archive: a.ID}); !errors.Is(err, context.Canceled) {
		t.Fatalf("the cut-off put: %v", err)
	}
	it, err := tv.FindInterrupted(a.ID)
	if err != nil || !it.Adding {
		t.Fatalf("interrupted: %+v %v", it, err)
	}
	got, err := tv.Resume(ctx, it, nil)
	if err != nil || got.ID != a.ID || got.Generation != a.Generation+1 {
		t.Fatalf("resume: %+v %v", got, err)
	}
	dest := filepath.Join(t.TempDir(), "out")
	if _, err := tv.Get(ctx, a.ID+"/more", dest, nil); err != nil {
		t.Fatal(err)
	}
	sameTree(t, more, dest)
	for _, p := range []string{"/big.bin", "/note.txt"} {
		if _, err := tv.Index().GetNode(a.ID, p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}

	// A source that is gone is a clear error, and the upload stays for gc.
	if err := os.RemoveAll(more); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(note, []byte("not stored yet"), 0o644); err != nil {
		t.Fatal(err)
	}
	cctx, cancel = context.WithCancel(ctx)
	cut.cancel = cancel
	if _, err := tv.Put(cctx, []string{note}, PutOptions{Name: "lonely"}); err == nil {
		t.Fatal("a cancelled put succeeded")
	}
	if err := os.Remove(note); err != nil {
		t.Fatal(err)
	}
	it, err = tv.FindInterrupted("lonely")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tv.Resume(ctx, it, nil); err == nil || !strings.Contains(err.Error(), "run gc") {
		t.Errorf("resume without its source: %v", err)
	}
	if rep, err := tv.GC(ctx); err != nil || rep.Abandoned != 1 {
		t.Errorf("gc: %+v %v", rep, err)
	}
}

// TestGCDropsSourcesOfFinishedPuts: sources left beside no pending archive (a crash between
// a commit and their removal) are dropped by GC, and never listed as interrupted.
func TestGCDropsSourcesOfFinishedPuts(t *testing.T) {
	tv := newTestVault(t)
	if err := tv.Index().SetPutSource(index.PutSource{Stage: "010101-01", Target: "010101-01", Paths: []string{"/gone"}}); err != nil {
		t.Fatal(err)
	}
	if list, err := tv.Interrupted(); err != nil || len(list) != 0 {
		t.Fatalf("interrupted: %v %v", list, err)
	}
	if _, err := tv.GC(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := tv.Index().GetPutSource("010101-01"); !errors.Is(err, index.ErrNotFound) {
		t.Fatalf("the stale sources after gc: %v", err)
	}
}
