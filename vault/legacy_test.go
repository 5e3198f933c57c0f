package vault

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
)

const legacyPass = "legacy passphrase 27"

// legacyFixtures is the shared folder of real v3.1 output beside the repository.
func legacyFixtures(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "shared", "legacy-v3.1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		t.Fatalf("v3.1 fixtures: %v", err)
	}
	return dir
}

// importDir imports every manifest of a folder and returns the archives in manifest order.
func importDir(t *testing.T, tv *testVault, dir, pass string) ([]index.Archive, []error) {
	t.Helper()
	imps, err := ScanLegacyDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []index.Archive
	var errs []error
	for _, imp := range imps {
		a, err := tv.ImportLegacy(context.Background(), imp, pass)
		out = append(out, a)
		errs = append(errs, err)
	}
	return out, errs
}

// checkAgainst restores archive id and reads every file through ReadAt, both compared with
// the files in want.
func checkAgainst(t *testing.T, tv *testVault, id, want string) {
	t.Helper()
	ctx := context.Background()
	dest := filepath.Join(t.TempDir(), "out")
	damaged, err := tv.Get(ctx, id, dest, nil)
	if err != nil || len(damaged) > 0 {
		t.Fatalf("get %s: %v %v", id, err, damaged)
	}
	entries, err := os.ReadDir(want)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadDir(dest)
	if len(got) != len(entries) {
		t.Fatalf("%s: restored %d files, want %d", id, len(got), len(entries))
	}
	rng := rand.New(rand.NewSource(7))
	for _, e := range entries {
		orig, err := os.ReadFile(filepath.Join(want, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		back, err := os.ReadFile(filepath.Join(dest, e.Name()))
		if err != nil || !bytes.Equal(back, orig) {
			t.Fatalf("%s/%s: restored file differs (%v)", id, e.Name(), err)
		}
		n, err := tv.Index().GetNode(id, "/"+e.Name())
		if err != nil {
			t.Fatal(err)
		}
		whole := make([]byte, len(orig)+10)
		k, err := tv.ReadAt(ctx, n, whole, 0)
		if k != len(orig) || (err != io.EOF && len(orig) > 0) || !bytes.Equal(whole[:k], orig) {
			t.Fatalf("%s: ReadAt whole: %d bytes, %v", e.Name(), k, err)
		}
		for range 20 {
			if len(orig) == 0 {
				break
			}
			off := rng.Int63n(int64(len(orig)))
			p := make([]byte, rng.Intn(200000)+1)
			k, err := tv.ReadAt(ctx, n, p, off)
			end := min(off+int64(len(p)), int64(len(orig)))
			if int64(k) != end-off || !bytes.Equal(p[:k], orig[off:end]) || (err != nil && err != io.EOF) {
				t.Fatalf("%s: ReadAt(%d, %d): %d bytes, %v", e.Name(), off, len(p), k, err)
			}
		}
	}
}

func TestLegacyFixturesFromDir(t *testing.T) {
	fx := legacyFixtures(t)
	tv := newTestVault(t)
	for _, set := range []string{"small", "large"} {
		as, errs := importDir(t, tv, filepath.Join(fx, set, "chunks"), legacyPass)
		if len(as) != 1 || errs[0] != nil {
			t.Fatalf("%s: %v", set, errs)
		}
		a := as[0]
		if !a.Legacy || a.Status != index.StatusSuccess || !strings.HasPrefix(a.ID, "261126-") {
			t.Fatalf("%s: archive %+v", set, a)
		}
		checkAgainst(t, tv, a.ID, filepath.Join(fx, set, "original"))
		if rep, err := tv.Verify(context.Background(), a.ID, true, nil); err != nil || len(rep.Damaged) > 0 || rep.Chunks == 0 {
			t.Fatalf("%s: verify: %v %+v", set, err, rep)
		}
		// The same folder again is recognised, not imported twice.
		_, errs = importDir(t, tv, filepath.Join(fx, set, "chunks"), legacyPass)
		if !errors.Is(errs[0], ErrLegacyImported) {
			t.Fatalf("second import: %v", errs[0])
		}
	}
	list, _ := tv.Archives()
	if len(list) != 2 || list[0].Name != "holiday-photos" || list[1].Name != "camera-roll" {
		t.Fatalf("archives %+v", list)
	}
	la, err := tv.Index().GetLegacy(list[0].ID)
	if err != nil || la.ChunkSize != 64<<10 {
		t.Fatalf("legacy record %+v %v", la, err)
	}
	// New archives continue the lot numbers, and writing into a legacy archive is refused.
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "x"), []byte("x"), 0o644)
	a, err := tv.Put(context.Background(), []string{src}, PutOptions{})
	if err != nil || a.Lot != 3 {
		t.Fatalf("put after import: lot %d, %v", a.Lot, err)
	}
	if _, err := tv.Put(context.Background(), []string{src}, PutOptions{Archive: list[0].ID}); err == nil {
		t.Fatal("put into a v3.1 archive succeeded")
	}
}

func TestLegacyWrongPassphrase(t *testing.T) {
	fx := legacyFixtures(t)
	tv := newTestVault(t)
	_, errs := importDir(t, tv, filepath.Join(fx, "small", "chunks"), "not it")
	if !errors.Is(errs[0], ErrLegacyPassphrase) || !strings.Contains(errs[0].Error(), "12-manifest_181827_261126.json") {
		t.Fatalf("wrong passphrase: %v", errs[0])
	}
	if list, _ := tv.Archives(); len(list) != 0 {
		t.Fatalf("archives after a failed import: %+v", list)
	}
}

// copyDir copies a flat folder, leaving out the names in skip.
func copyDir(t *testing.T, from, to string, skip ...string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(strings.Join(skip, "\x00"), e.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLegacyMissingAndWrongChunks(t *testing.T) {
	fx := legacyFixtures(t)
	tv := newTestVault(t)
	dir := t.TempDir()
	// Both archives in one folder; one chunk of the small one is gone.
	copyDir(t, filepath.Join(fx, "small", "chunks"), dir, "0004-aa3ada108b05-664103f55fd96b26-0002.bin")
	copyDir(t, filepath.Join(fx, "large", "chunks"), dir)
	as, errs := importDir(t, tv, dir, legacyPass)
	var bad error
	for i, err := range errs {
		if err != nil {
			bad = err
		} else if as[i].Name != "camera-roll" {
			t.Fatalf("imported %s despite a missing chunk", as[i].Name)
		}
	}
	if list, _ := tv.Archives(); len(list) != 1 {
		t.Fatalf("the other archive was not imported: %+v", list)
	}
	if !errors.Is(bad, ErrLegacyFormat) || !strings.Contains(bad.Error(), "0004-aa3ada108b05-664103f55fd96b26-0002.bin") ||
		!strings.Contains(bad.Error(), "12-manifest") {
		t.Fatalf("missing chunk: %v", bad)
	}

	// A chunk whose bytes are not what its name hashes is caught at read time.
	dir2 := t.TempDir()
	copyDir(t, filepath.Join(fx, "small", "chunks"), dir2)
	_, errs = importDir(t, tv, dir2, legacyPass)
	if errs[0] != nil {
		t.Fatal(errs[0])
	}
	swap := filepath.Join(dir2, "0011-e39538e7f27a-a4cacf6ba3508940-0002.bin")
	b, _ := os.ReadFile(swap)
	b[100] ^= 1
	os.WriteFile(swap, b, 0o644)
	list, _ := tv.Archives()
	id := list[len(list)-1].ID
	damaged, err := tv.Get(context.Background(), id, filepath.Join(t.TempDir(), "o"), nil)
	if err != nil || len(damaged) != 1 || damaged[0].Path != "/notes.txt" || !errors.Is(damaged[0].Err, ErrLegacyFormat) {
		t.Fatalf("damaged chunk: %v %v", err, damaged)
	}
}

func TestLegacyMigrateFromDir(t *testing.T) {
	fx := legacyFixtures(t)
	tv := newTestVault(t)
	as, errs := importDir(t, tv, filepath.Join(fx, "small", "chunks"), legacyPass)
	if errs[0] != nil {
		t.Fatal(errs[0])
	}
	ctx := context.Background()
	if _, err := tv.MigrateLegacy(ctx, as[0].ID, MigrateOptions{DeleteOld: true}); err == nil || !strings.Contains(err.Error(), "delete that folder yourself") {
		t.Fatalf("delete-old of a folder: %v", err)
	}
	list, _ := tv.Archives()
	if len(list) != 1 || list[0].Legacy || list[0].Name != "holiday-photos" {
		t.Fatalf("after migrate: %+v", list)
	}
	checkAgainst(t, tv, list[0].ID, filepath.Join(fx, "small", "original"))
	// Migrate, then verify: the new archive, and the whole vault, quick and full.
	for _, ref := range []string{list[0].ID, ""} {
		for _, full := range []bool{false, true} {
			rep, err := tv.Verify(ctx, ref, full, nil)
			if err != nil || len(rep.Damaged) > 0 || rep.Archives != 1 || rep.Packs == 0 || full && rep.Chunks == 0 {
				t.Fatalf("verify %q (full %v) after migrate: %v %+v", ref, full, err, rep)
			}
		}
	}
	if _, err := tv.Index().GetLegacy(as[0].ID); !errors.Is(err, index.ErrNotFound) {
		t.Fatalf("legacy record after migrate: %v", err)
	}
	if _, err := tv.MigrateLegacy(ctx, list[0].ID, MigrateOptions{}); err == nil {
		t.Fatal("migrated a discofs archive")
	}
}

// recordingMarker is a LegacyMarker that only records what it is asked to do.
type recordingMarker struct{ calls []string }

func (m *recordingMarker) MarkMigrated(_ context.Context, la index.LegacyArchive, newID string) error {
	m.calls = append(m.calls, "mark "+la.ID+" as "+newID)
	return nil
}

func (m *recordingMarker) DeleteOld(_ context.Context, la index.LegacyArchive) error {
	m.calls = append(m.calls, "delete "+la.ID)
	return nil
}

// TestLegacyMigrateKeepsTheOldWhenVerifyFails: when the verify migrate runs on the new
// archive fails (here its pack is gone from the store as far as verify can see), the old
// archive is neither marked nor deleted, even with DeleteOld, and it still reads.
func TestLegacyMigrateKeepsTheOldWhenVerifyFails(t *testing.T) {
	fx := legacyFixtures(t)
	tv := newTestVault(t)
	dir := t.TempDir()
	copyDir(t, filepath.Join(fx, "small", "chunks"), dir)
	as, errs := importDir(t, tv, dir, legacyPass)
	if errs[0] != nil {
		t.Fatal(errs[0])
	}
	old := as[0]
	ctx := context.Background()
	// Only verify asks the store whether objects are there: reading the new archive back
	// (which migrate does before it verifies) never does.
	tv.fault.Add(chunkstore.Fault{Op: chunkstore.OpStat, Times: -1,
		Err: chunkstore.Classify(chunkstore.NotFound, errors.New("gone"))})
	marker := &recordingMarker{}
	failed, err := tv.MigrateLegacy(ctx, old.ID, MigrateOptions{Marker: marker, DeleteOld: true})
	if err == nil || !strings.Contains(err.Error(), "verify of the new archive") || !strings.Contains(err.Error(), "deleted again") {
		t.Fatalf("migrate with a failing verify: %v", err)
	}
	tv.fault.VerifyAllFaultsExercised(t)
	if a, err := tv.Resolve(failed.ID); err == nil {
		t.Fatalf("the new archive that failed its verify is still there: %+v", a)
	}
	if len(marker.calls) > 0 {
		t.Fatalf("the old archive was changed after a failed verify: %v", marker.calls)
	}
	if a, err := tv.Resolve(old.ID); err != nil || !a.Legacy {
		t.Fatalf("the old archive after a failed migrate: %+v %v", a, err)
	}
	if _, err := tv.Index().GetLegacy(old.ID); err != nil {
		t.Fatalf("its v3.1 record after a failed migrate: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 13 {
		t.Fatalf("the v3.1 folder holds %d files after a failed migrate", len(entries))
	}
	checkAgainst(t, tv, old.ID, filepath.Join(fx, "small", "original"))

	// Once the store is well, migrate again: one new archive, not two.
	tv.fault.Clear()
	a, err := tv.MigrateLegacy(ctx, old.ID, MigrateOptions{Marker: marker})
	if err != nil {
		t.Fatal(err)
	}
	list, err := tv.Archives()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != a.ID {
		t.Fatalf("archives after a failed migrate and a good one: %+v", list)
	}
	checkAgainst(t, tv, a.ID, filepath.Join(fx, "small", "original"))
}
