package chunkstore_test

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/chunkstore/chunkstoretest"
)

func openDir(t testing.TB, root string) *chunkstore.DirStore {
	t.Helper()
	d, err := chunkstore.OpenDir(root, small)
	if err != nil {
		t.Fatalf("OpenDir: %v", err)
	}
	return d
}

func TestDirConformance(t *testing.T) {
	chunkstoretest.Run(t, func(t *testing.T) chunkstore.Store { return openDir(t, t.TempDir()) })
}

func TestDirDefaultLimits(t *testing.T) {
	d, err := chunkstore.OpenDir(t.TempDir(), chunkstore.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if l := d.Limits(); l.MaxObjectSize != chunkstore.DefaultMaxObjectSize || !l.Ranged || !l.Local {
		t.Errorf("OpenDir(zero limits).Limits() = %+v", l)
	}
	if _, err := chunkstore.OpenDir("", chunkstore.Limits{}); err == nil {
		t.Errorf("OpenDir with no root succeeded")
	}
}

// tempFiles lists the temp files under root.
func tempFiles(t *testing.T, root string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(e.Name(), ".tmp-") {
			found = append(found, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func TestDirLayoutAndReopen(t *testing.T) {
	root := t.TempDir()
	d := openDir(t, root)
	name := "ab" + chunkstoretest.Name()[2:]
	data := chunkstoretest.Data(300)
	pack, err := d.Put(t.Context(), chunkstore.Handle{Type: chunkstore.TypePack, Name: name}, chunkstore.BytesSource(data))
	if err != nil {
		t.Fatal(err)
	}
	man, err := d.Put(t.Context(), chunkstore.Handle{Type: chunkstore.TypeManifest, Name: name}, chunkstore.BytesSource(data[:7]))
	if err != nil {
		t.Fatal(err)
	}
	if pack.Ref != chunkstore.Ref("packs/ab/"+name) || man.Ref != chunkstore.Ref("manifests/"+name) {
		t.Fatalf("Refs = %q, %q", pack.Ref, man.Ref)
	}
	if err := d.PutRecord(t.Context(), "cards/261126-07", []byte("card")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"packs/ab/" + name, "manifests/" + name, "records/cards%2F261126-07"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("expected file %s: %v", p, err)
		}
	}

	// Leftovers of a crash, and strays that do not fit the layout, are not objects.
	for _, p := range []string{"packs/ab/.tmp-1", "manifests/.tmp-2", "records/.tmp-3", "packs/ab/README", "packs/cd/" + name} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte("junk"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for typ, want := range map[chunkstore.Type]chunkstore.Object{chunkstore.TypePack: pack, chunkstore.TypeManifest: man} {
		var got []chunkstore.Object
		if err := d.List(t.Context(), typ, func(o chunkstore.Object) error { got = append(got, o); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0] != want {
			t.Errorf("List %s = %+v, want only %+v", typ, got, want)
		}
	}
	var records []string
	if err := d.ListRecords(t.Context(), "", func(n string, _ []byte) error { records = append(records, n); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(records) != 1 || records[0] != "cards/261126-07" {
		t.Errorf("ListRecords = %q", records)
	}

	d = openDir(t, root)
	if left := tempFiles(t, root); len(left) != 0 {
		t.Errorf("OpenDir left temp files: %q", left)
	}
	got, err := chunkstore.ReadAll(t.Context(), d, pack.Ref, 0, 0)
	if err != nil || string(got) != string(data) {
		t.Errorf("after reopening, Load = %d bytes, %v", len(got), err)
	}
	if b, err := d.GetRecord(t.Context(), "cards/261126-07"); err != nil || string(b) != "card" {
		t.Errorf("after reopening, GetRecord = %q, %v", b, err)
	}
}

func TestDirBadRefs(t *testing.T) {
	root := t.TempDir()
	d := openDir(t, root)
	name := chunkstoretest.Name()
	if _, err := d.Put(t.Context(), chunkstore.Handle{Type: chunkstore.TypePack, Name: name}, chunkstore.BytesSource([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	if err := d.PutRecord(t.Context(), "header", []byte("h")); err != nil {
		t.Fatal(err)
	}
	wrongShard := "00" // a shard the name does not belong in
	if name[:2] == wrongShard {
		wrongShard = "01"
	}
	for _, ref := range []chunkstore.Ref{
		"", "..", "../" + chunkstore.Ref(filepath.Base(root)), "/etc/passwd", "packs",
		chunkstore.Ref("packs/" + name[:2] + "/../../records/header"), "records/header",
		chunkstore.Ref("packs/" + wrongShard + "/" + name), chunkstore.Ref("packs/" + name), chunkstore.Ref("./packs/" + name[:2] + "/" + name),
		chunkstore.Ref("packs/" + name[:2] + "/" + name + "/"), "packs/ab/.tmp-1", "manifests/ABCD",
	} {
		_, err := d.Stat(t.Context(), ref)
		lerr := d.Load(t.Context(), ref, 0, 0, func(io.Reader) error { return nil })
		derr := d.Delete(t.Context(), ref)
		for _, err := range []error{err, lerr, derr} {
			if err == nil || chunkstore.ClassOf(err) != chunkstore.Permanent {
				t.Errorf("ref %q: %v, want a permanent error", ref, err)
			}
		}
	}
	if _, err := d.GetRecord(t.Context(), "header"); err != nil {
		t.Errorf("a bad ref reached a record: %v", err)
	}
}

func TestDirRepeatedPut(t *testing.T) {
	d := openDir(t, t.TempDir())
	h := chunkstore.Handle{Type: chunkstore.TypePack, Name: chunkstoretest.Name()}
	data := chunkstoretest.Data(100)
	first, err := d.Put(t.Context(), h, chunkstore.BytesSource(data))
	if err != nil {
		t.Fatal(err)
	}
	again, err := d.Put(t.Context(), h, chunkstore.BytesSource(data))
	if err != nil || again != first {
		t.Errorf("repeated Put = %+v, %v; want %+v", again, err, first)
	}
	if _, err := d.Put(t.Context(), h, chunkstore.BytesSource(data[:99])); err == nil || chunkstore.IsRetryable(err) {
		t.Errorf("Put of the same name with another size: %v, want a permanent error", err)
	}
	if got, err := chunkstore.ReadAll(t.Context(), d, first.Ref, 0, 0); err != nil || string(got) != string(data) {
		t.Errorf("the first object changed: %v", err)
	}
}

// failingSource yields some bytes and then fails, like a spool file on a bad disk.
type failingSource struct {
	chunkstore.Source
	after int
	read  int
}

var errSourceBroke = errors.New("source broke")

func (f *failingSource) Read(p []byte) (int, error) {
	if f.read >= f.after {
		return 0, errSourceBroke
	}
	p = p[:min(len(p), f.after-f.read)]
	n, err := f.Source.Read(p)
	f.read += n
	return n, err
}

func TestDirFailedWriteLeavesNothing(t *testing.T) {
	root := t.TempDir()
	d := openDir(t, root)
	data := chunkstoretest.Data(50_000)
	for _, src := range []chunkstore.Source{
		&failingSource{Source: chunkstore.BytesSource(data), after: 20_000},
		shortSource{chunkstore.BytesSource(data[:999])},
		shortSource{chunkstore.BytesSource(data[:1001])}, // longer than it says
	} {
		h := chunkstore.Handle{Type: chunkstore.TypePack, Name: chunkstoretest.Name()}
		_, err := d.Put(t.Context(), h, src)
		if err == nil || chunkstore.IsRetryable(err) || chunkstore.IsNotFound(err) {
			t.Errorf("Put from a bad source: %v, want a permanent error", err)
		}
		if _, err := d.Stat(t.Context(), chunkstore.Ref("packs/"+h.Name[:2]+"/"+h.Name)); !chunkstore.IsNotFound(err) {
			t.Errorf("a failed Put left an object: %v", err)
		}
	}
	if left := tempFiles(t, root); len(left) != 0 {
		t.Errorf("failed Puts left temp files: %q", left)
	}
}

func TestDirObjectShrinksWhileLoading(t *testing.T) {
	d := openDir(t, t.TempDir())
	obj := chunkstoretest.Put(t, d, chunkstore.TypePack, chunkstoretest.Data(1000))
	err := d.Load(t.Context(), obj.Ref, 0, 0, func(rd io.Reader) error {
		if err := os.Truncate(filepath.Join(d.Root(), filepath.FromSlash(string(obj.Ref))), 500); err != nil {
			t.Fatal(err)
		}
		_, err := io.ReadAll(rd)
		return err
	})
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Load of an object cut short under it: %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestDirRecordNames(t *testing.T) {
	d := openDir(t, t.TempDir())
	long := strings.Repeat("/", 100)
	if err := d.PutRecord(t.Context(), long, nil); err == nil || chunkstore.IsRetryable(err) {
		t.Errorf("PutRecord of a name too long for one file: %v, want a permanent error", err)
	}
	if err := d.PutRecord(t.Context(), strings.Repeat("a", 255), nil); err != nil {
		t.Errorf("PutRecord of a 255-byte name: %v", err)
	}
	if _, err := d.GetRecord(t.Context(), "missing"); !chunkstore.IsNotFound(err) {
		t.Errorf("GetRecord of a missing record: %v, want NotFound", err)
	}
}

func BenchmarkDir(b *testing.B) {
	chunkstoretest.Bench(b, func(b *testing.B) chunkstore.Store { return openDir(b, b.TempDir()) })
}

// Load keeps object files open between calls, but a file deleted or replaced behind the
// store's back is never read from the old copy.
func TestDirLoadSeesFilesChangedBehindIt(t *testing.T) {
	d := openDir(t, t.TempDir())
	data := chunkstoretest.Data(1000)
	obj := chunkstoretest.Put(t, d, chunkstore.TypePack, data)
	p := filepath.Join(d.Root(), filepath.FromSlash(string(obj.Ref)))
	if got, err := chunkstore.ReadAll(t.Context(), d, obj.Ref, 0, 0); err != nil || string(got) != string(data) {
		t.Fatalf("first load: %v", err)
	}
	other := chunkstoretest.Data(1000)
	other[0] ^= 0xff
	tmp := p + ".new"
	if err := os.WriteFile(tmp, other, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	if got, err := chunkstore.ReadAll(t.Context(), d, obj.Ref, 0, 0); err != nil || string(got) != string(other) {
		t.Fatalf("load after the file was replaced: %v, or the old bytes", err)
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if _, err := chunkstore.ReadAll(t.Context(), d, obj.Ref, 0, 0); !chunkstore.IsNotFound(err) {
		t.Fatalf("load after the file was deleted: %v, want not found", err)
	}
}
