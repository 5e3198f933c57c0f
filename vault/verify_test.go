package vault

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
)

// TestWrongSizePackIsReported: a pack cut short, or with bytes after its last frame, is
// reported by verify with every file of every archive that has a chunk in it, whether the
// store's packs are asked for one by one or listed, and with --full. Reading a file of a
// cut pack gives an error, never wrong bytes.
func TestWrongSizePackIsReported(t *testing.T) {
	for _, cut := range []bool{true, false} {
		name := map[bool]string{true: "truncated", false: "extra bytes"}[cut]
		t.Run(name, func(t *testing.T) {
			tv := newTestVault(t)
			ctx := context.Background()
			src := filepath.Join(t.TempDir(), "tree")
			makeTree(t, src, 9)
			a, err := tv.Put(ctx, []string{src}, PutOptions{})
			if err != nil {
				t.Fatal(err)
			}
			// A second archive of the same tree shares every chunk of the first.
			b, err := tv.Put(ctx, []string{src}, PutOptions{Name: "again"})
			if err != nil {
				t.Fatal(err)
			}

			// The pack that the most files use is the one to damage.
			files := map[chunkstore.Ref]map[string]index.Node{} // pack → "archive path" → node
			for _, id := range []string{a.ID, b.ID} {
				err := tv.idx.Walk(id, func(n index.Node) error {
					for _, c := range n.Chunks {
						loc, err := tv.idx.GetChunk(c.ID)
						if err != nil {
							return err
						}
						if files[loc.Pack] == nil {
							files[loc.Pack] = map[string]index.Node{}
						}
						files[loc.Pack][id+" "+n.Path] = n
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			if len(files) < 2 {
				t.Fatalf("the tree went into %d packs; the test needs several", len(files))
			}
			var ref chunkstore.Ref
			for r, fs := range files {
				if len(fs) > len(files[ref]) {
					ref = r
				}
			}
			pack, err := tv.idx.GetPack(ref)
			if err != nil {
				t.Fatal(err)
			}
			stored, err := chunkstore.ReadAll(ctx, tv.mem, ref, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			damaged := stored[:len(stored)/2]
			if !cut {
				damaged = append(stored, "bytes after the last frame"...)
			}
			if err := tv.mem.Delete(ctx, ref); err != nil {
				t.Fatal(err)
			}
			obj, err := tv.mem.Put(ctx, chunkstore.Handle{Type: chunkstore.TypePack, Name: pack.Name}, chunkstore.BytesSource(damaged))
			if err != nil || obj.Ref != ref {
				t.Fatalf("put the damaged pack back: %v %v", obj, err)
			}
			tv.reopen(t) // nothing read before comes from memory

			var want []string
			for f := range files[ref] {
				want = append(want, f)
			}
			sort.Strings(want)
			wantErr := fmt.Sprintf("pack %s: has %d bytes, should have %d", ref, len(damaged), pack.Size)
			check := func(what string, rep *VerifyReport, err error) {
				t.Helper()
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				var got []string
				for _, d := range rep.Damaged {
					got = append(got, d.Archive+" "+d.Path)
					if !strings.Contains(d.Err.Error(), wantErr) {
						t.Errorf("%s: %s: %v; want %q", what, d.Path, d.Err, wantErr)
					}
				}
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("%s reported\n%s\nwant\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
			for _, above := range []int{listAbove, 0} {
				func() {
					defer func(old int) { listAbove = old }(listAbove)
					listAbove = above
					// Faults that change nothing, to see which of the two ways was taken.
					fault := chunkstore.NewFault(tv.mem)
					fault.Add(chunkstore.Fault{Op: chunkstore.OpStat, Ref: ref, Action: chunkstore.FaultDelay},
						chunkstore.Fault{Op: chunkstore.OpList, Type: chunkstore.TypePack, Action: chunkstore.FaultDelay})
					tv.reopenWith(t, Options{Store: fault, Catalog: RecordCatalog(tv.mem)})
					rep, err := tv.Verify(ctx, "", false, nil)
					unused := fault.Unexercised()
					if len(unused) != 1 || (unused[0].Op == chunkstore.OpList) != (above > 0) {
						t.Errorf("with listing above %d objects, the calls not made were %v", above, unused)
					}
					check(fmt.Sprintf("verify, listing above %d objects", above), rep, err)
				}()
			}
			rep, err := tv.Verify(ctx, "", true, nil)
			check("verify --full", rep, err)

			// Every file of the pack reads as it was, or gives an error; a file with a
			// frame past the cut gives an error.
			for f, n := range files[ref] {
				rel := strings.SplitN(f, " ", 2)[1]
				orig, err := os.ReadFile(filepath.Join(src, rel))
				if err != nil {
					t.Fatal(err)
				}
				p := make([]byte, n.Size)
				got, err := tv.ReadAt(ctx, n, p, 0)
				if !bytes.Equal(p[:got], orig[:got]) {
					t.Fatalf("%s: ReadAt gave wrong bytes", f)
				}
				pastCut := false
				for _, c := range n.Chunks {
					loc, _ := tv.idx.GetChunk(c.ID)
					pastCut = pastCut || loc.Pack == ref && loc.Offset+loc.Length > int64(len(damaged))
				}
				switch {
				case pastCut && err == nil:
					t.Errorf("%s: ReadAt of a file cut short gave no error", f)
				case !pastCut && (err != nil && err != io.EOF || got != len(orig)):
					t.Errorf("%s: ReadAt of an intact file: %d of %d bytes, %v", f, got, len(orig), err)
				}
			}
			if cut {
				dest := filepath.Join(t.TempDir(), "out")
				d, err := tv.Get(ctx, a.ID, dest, nil)
				if err != nil || len(d) == 0 {
					t.Fatalf("get of an archive with a cut pack: %v, damaged %v", err, d)
				}
				for _, x := range d {
					if _, err := os.Stat(filepath.Join(dest, x.Path)); !os.IsNotExist(err) {
						t.Errorf("%s: a damaged file was left behind (%v)", x.Path, err)
					}
				}
			}
		})
	}
}
