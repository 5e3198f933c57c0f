package vault

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/discofs/discofs/index"
)

// legacyState is what a change to a v3.1 archive could touch: its nodes, the queue and
// the spool.
type legacyState struct {
	nodes []index.Node
	queue []index.QueueItem
	dirty []string
	spool []string
}

func stateOf(t *testing.T, tv *testVault, id string) legacyState {
	t.Helper()
	var s legacyState
	if err := tv.Index().Walk(id, func(n index.Node) error { s.nodes = append(s.nodes, n); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := tv.Index().QueueItems(func(q index.QueueItem) error { s.queue = append(s.queue, q); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := tv.Index().DirtyArchives(func(a string) error { s.dirty = append(s.dirty, a); return nil }); err != nil {
		t.Fatal(err)
	}
	s.spool, _ = SpoolFiles(tv.paths.SpoolDir())
	return s
}

// importSmall imports the small v3.1 fixture from its folder.
func importSmall(t *testing.T, tv *testVault) index.Archive {
	t.Helper()
	as, errs := importDir(t, tv, filepath.Join(legacyFixtures(t), "small", "chunks"), legacyPass)
	if len(as) != 1 || errs[0] != nil {
		t.Fatalf("import: %v", errs)
	}
	return as[0]
}

// TestLegacyArchiveRefusesWrites: every change the write side takes is refused for a v3.1
// archive with ErrReadOnly, before anything changes: not the tree, the queue or the spool.
func TestLegacyArchiveRefusesWrites(t *testing.T) {
	tv := newTestVault(t)
	a := importSmall(t, tv)
	fx := legacyFixtures(t)
	wb, err := tv.StartWriteback(WritebackOptions{Idle: 10 * time.Millisecond, Delay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer wb.Close()
	before := stateOf(t, tv, a.ID)
	mode, mtime := uint32(0o600), time.Unix(1, 0)
	changes := map[string]func() error{
		"create":         func() error { _, _, err := wb.Create(a.ID, "/new.txt", 0o644); return err },
		"open to write":  func() error { _, _, err := wb.OpenWrite(a.ID, "/notes.txt", false); return err },
		"open to empty":  func() error { _, _, err := wb.OpenWrite(a.ID, "/notes.txt", true); return err },
		"truncate":       func() error { _, err := wb.Truncate(a.ID, "/notes.txt", 3); return err },
		"truncate to 0":  func() error { _, err := wb.Truncate(a.ID, "/notes.txt", 0); return err },
		"mkdir":          func() error { _, err := wb.Mkdir(a.ID, "/made", 0o755); return err },
		"symlink":        func() error { _, err := wb.Symlink(a.ID, "/link", "notes.txt"); return err },
		"unlink":         func() error { return wb.Remove(a.ID, "/notes.txt", false) },
		"rmdir":          func() error { return wb.Remove(a.ID, "/", true) },
		"rename":         func() error { return wb.Rename(a.ID, "/notes.txt", "/moved.txt", false) },
		"rename over":    func() error { return wb.Rename(a.ID, "/notes.txt", "/empty.dat", false) },
		"chmod":          func() error { _, err := wb.SetAttr(a.ID, "/notes.txt", SetAttr{Mode: &mode}); return err },
		"utimens":        func() error { _, err := wb.SetAttr(a.ID, "/notes.txt", SetAttr{Mtime: &mtime}); return err },
		"chmod the root": func() error { _, err := wb.SetAttr(a.ID, "/", SetAttr{Mode: &mode}); return err },
		"writable":       func() error { return wb.Writable(a.ID) },
	}
	for what, change := range changes {
		err := change()
		if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), FormatID(a.ID)) {
			t.Errorf("%s: %v, want ErrReadOnly naming %s", what, err, FormatID(a.ID))
		}
	}
	if after := stateOf(t, tv, a.ID); !reflect.DeepEqual(after, before) {
		t.Fatalf("refused changes changed the state:\n%+v\n%+v", before, after)
	}
	if s := wb.Status(); s.Files != 0 || len(s.Dirty) != 0 {
		t.Fatalf("queue after refused changes: %+v", s)
	}
	sync := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := wb.Sync(ctx); err != nil {
			t.Fatalf("sync: %v", err)
		}
	}
	sync()
	checkAgainst(t, tv, a.ID, filepath.Join(fx, "small", "original"))

	// The refusal is the archive's, not the queue's: a discofs archive still changes.
	ctx := context.Background()
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "x"), []byte("x"), 0o644)
	b, err := tv.Put(ctx, []string{src}, PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := wb.Writable(b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := wb.Mkdir(b.ID, "/made", 0o755); err != nil {
		t.Fatal(err)
	}
	sync()
	if _, err := tv.Put(ctx, []string{src}, PutOptions{Archive: a.ID}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("put into a v3.1 archive: %v", err)
	}
}

// setLegacy turns an archive's Legacy mark on or off, to let changes through as a
// discofs that did not refuse them would have.
func setLegacy(t *testing.T, tv *testVault, id string, on bool) {
	t.Helper()
	a, err := tv.Index().GetArchive(id)
	if err != nil {
		t.Fatal(err)
	}
	a.Legacy = on
	if err := tv.Index().PutArchive(a); err != nil {
		t.Fatal(err)
	}
}

// writeIntoLegacy makes, through the queue of a v3.1 archive whose mark is off, the
// changes the reported bug let through: a new file, an append to a file, a new folder and
// a removal. Nothing is uploaded or committed before the queue closes.
func writeIntoLegacy(t *testing.T, tv *testVault, id string, opts WritebackOptions) *Writeback {
	t.Helper()
	setLegacy(t, tv, id, false)
	defer setLegacy(t, tv, id, true)
	wb, err := tv.StartWriteback(opts)
	if err != nil {
		t.Fatal(err)
	}
	_, f, err := wb.Create(id, "/new.txt", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("hi\n"), 0)
	if err := f.Release("/new.txt"); err != nil {
		t.Fatal(err)
	}
	n, f, err := wb.OpenWrite(id, "/notes.txt", false)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("appended\n"), n.Size)
	if err := f.Release("/notes.txt"); err != nil {
		t.Fatal(err)
	}
	if _, err := wb.Mkdir(id, "/made", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := wb.Remove(id, "/empty.dat", false); err != nil {
		t.Fatal(err)
	}
	return wb
}

// TestLegacyQueueFromOlderVersionIsDropped: a queue that holds changes to a v3.1 archive
// (what a discofs without the refusal let in) is not retried forever. Resuming it drops
// them with a line that says what happened and what to do; the files are back at their
// v3.1 content, and rm and a second import give the whole v3.1 tree back.
func TestLegacyQueueFromOlderVersionIsDropped(t *testing.T) {
	tv := newTestVault(t)
	a := importSmall(t, tv)
	orig := filepath.Join(legacyFixtures(t), "small", "original")
	stuck := WritebackOptions{Idle: time.Hour, Delay: time.Hour}
	writeIntoLegacy(t, tv, a.ID, stuck).Close()
	if s := stateOf(t, tv, a.ID); len(s.queue) != 2 || len(s.dirty) != 1 || len(s.spool) != 2 {
		t.Fatalf("the changes are not queued: %+v", s)
	}

	wb, err := tv.StartWriteback(WritebackOptions{Idle: 10 * time.Millisecond, Delay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	notes := wb.Recovered()
	if len(notes) != 1 || !strings.Contains(notes[0], FormatID(a.ID)) || !strings.Contains(notes[0], "2 queued files") ||
		!strings.Contains(notes[0], "import-legacy") {
		t.Fatalf("recovered: %q", notes)
	}
	if s := wb.Status(); s.Files != 0 || len(s.Dirty) != 0 || len(s.Errors) != 1 {
		t.Fatalf("queue after resuming: %+v", s)
	}
	if s := stateOf(t, tv, a.ID); len(s.queue) != 0 || len(s.dirty) != 0 || len(s.spool) != 0 {
		t.Fatalf("left after resuming: %+v", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := wb.Sync(ctx); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if _, err := tv.Index().GetNode(a.ID, "/new.txt"); !errors.Is(err, index.ErrNotFound) {
		t.Fatalf("the new file is still there: %v", err)
	}
	n, err := tv.Index().GetNode(a.ID, "/notes.txt")
	if err != nil || n.State != index.StateCommitted || n.Size != 218890 {
		t.Fatalf("notes.txt after resuming: %+v %v", n, err)
	}
	wb.Close()
	wb, err = tv.StartWriteback(WritebackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if notes := wb.Recovered(); len(notes) != 0 {
		t.Fatalf("dropped twice: %q", notes)
	}
	wb.Close()

	// What the line advises: rm forgets the import (no card is written for it) and a
	// second import gives the v3.1 tree back, removed file and all.
	if _, err := tv.Remove(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := tv.Index().GetLegacy(a.ID); !errors.Is(err, index.ErrNotFound) {
		t.Fatalf("the v3.1 record outlived rm: %v", err)
	}
	err = RecordCatalog(tv.mem).Cards(ctx, func(c *Card) error {
		if strings.TrimPrefix(c.ArchiveID, "#") == a.ID {
			t.Errorf("rm of a v3.1 archive wrote a card: %+v", c)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b := importSmall(t, tv)
	checkAgainst(t, tv, b.ID, orig)
	if _, err := tv.Index().GetNode(b.ID, "/made"); !errors.Is(err, index.ErrNotFound) {
		t.Fatalf("the second import has the folder made in the first: %v", err)
	}
}

// TestLegacyCommitOfQueuedChangesDrops: should changes to a v3.1 archive reach a running
// queue's commit, the commit drops them rather than fail and retry.
func TestLegacyCommitOfQueuedChangesDrops(t *testing.T) {
	tv := newTestVault(t)
	a := importSmall(t, tv)
	wb := writeIntoLegacy(t, tv, a.ID, WritebackOptions{Idle: 10 * time.Millisecond, Delay: time.Hour, MinBackoff: time.Hour})
	defer wb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := wb.Sync(ctx); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if s := wb.Status(); s.Files != 0 || len(s.Dirty) != 0 || len(wb.Recovered()) != 1 {
		t.Fatalf("queue after the commit: %+v %q", s, wb.Recovered())
	}
	if s := stateOf(t, tv, a.ID); len(s.queue) != 0 || len(s.dirty) != 0 {
		t.Fatalf("left after the commit: %+v", s)
	}
	n, err := tv.Index().GetNode(a.ID, "/notes.txt")
	if err != nil || n.State != index.StateCommitted || n.Size != 218890 {
		t.Fatalf("notes.txt after the commit: %+v %v", n, err)
	}
}
