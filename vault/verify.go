package vault

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
)

// VerifyReport is what Verify found.
type VerifyReport struct {
	Archives int
	Packs    int   // packs checked
	Chunks   int   // chunks checked (authenticated with full)
	Bytes    int64 // bytes of the packs checked
	Damaged  []Damaged
}

// Verify checks that every pack the archives use exists with the right size, and with full
// that every chunk downloads and authenticates. ref names one archive, or "" for all.
func (v *Vault) Verify(ctx context.Context, ref string, full bool, prog *Progress) (*VerifyReport, error) {
	start := v.opts.Now()
	var archives []index.Archive
	if ref != "" {
		a, err := v.Resolve(ref)
		if err != nil {
			return nil, err
		}
		archives = []index.Archive{a}
	} else {
		var err error
		if archives, err = v.Archives(); err != nil {
			return nil, err
		}
	}
	rep := &VerifyReport{Archives: len(archives)}
	users := map[chunkstore.ID][]Damaged{} // chunk → the files that use it
	type manifestPart struct {
		archive string
		index.ManifestPart
	}
	var manifests []manifestPart
	for _, a := range archives {
		if a.Status == index.StatusDeleted {
			continue
		}
		if a.Legacy { // v3.1 chunks are not in packs; see legacy_verify.go
			if err := v.verifyLegacy(ctx, a, full, rep); err != nil {
				return nil, err
			}
			continue
		}
		for _, p := range a.Manifest {
			manifests = append(manifests, manifestPart{a.ID, p})
		}
		err := v.idx.Walk(a.ID, func(n index.Node) error {
			for _, c := range n.Chunks {
				users[c.ID] = append(users[c.ID], Damaged{Archive: a.ID, Path: n.Path})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	listed, err := v.listSizes(ctx, chunkstore.TypeManifest, len(manifests))
	if err != nil {
		return nil, err
	}
	for _, m := range manifests {
		if size, err := v.storedSize(ctx, listed, m.Ref); err != nil || size != m.Size {
			rep.Damaged = append(rep.Damaged, Damaged{Archive: m.archive, Path: "/", Err: fmt.Errorf("manifest %s: %w", m.Ref, sizeErr(err, size, m.Size))})
		}
	}
	bad := map[chunkstore.ID]error{}
	byPack := map[chunkstore.Ref][]chunkstore.ID{}
	frameLen := map[chunkstore.ID]int64{}
	for id := range users {
		loc, err := v.idx.GetChunk(id)
		if err != nil {
			bad[id] = fmt.Errorf("chunk %s is not in the index: %w", id, err)
			continue
		}
		byPack[loc.Pack] = append(byPack[loc.Pack], id)
		frameLen[id] = loc.Length
	}
	listed, err = v.listSizes(ctx, chunkstore.TypePack, len(byPack))
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var ids []chunkstore.ID
	for ref, chunks := range byPack {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rep.Packs++
		want, err := v.idx.GetPack(ref)
		if err == nil {
			var size int64
			size, err = v.storedSize(ctx, listed, ref)
			if err == nil && size != want.Size {
				err = sizeErr(nil, size, want.Size)
			}
			rep.Bytes += want.Size
		}
		if err != nil {
			if chunkstore.IsFatal(err) {
				return nil, err
			}
			if chunkstore.IsNotFound(err) {
				err = chunkstore.Classify(chunkstore.NotFound, fmt.Errorf("pack %s is missing from the store", ref))
			} else {
				err = fmt.Errorf("pack %s: %w", ref, err)
			}
			for _, id := range chunks {
				bad[id] = err
			}
			continue
		}
		ids = append(ids, chunks...)
	}
	if full {
		if prog != nil {
			for _, id := range ids {
				prog.Total.Add(frameLen[id])
			}
		}
		// ids are grouped by pack, so a store reads one pack's frames close together.
		work := make(chan chunkstore.ID)
		var wg sync.WaitGroup
		for range max(v.opts.Workers, 4) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 0, chunkstore.MaxChunkSize)
				for id := range work {
					_, err := v.loadChunk(ctx, id, buf[:0])
					mu.Lock()
					rep.Chunks++
					if err != nil {
						bad[id] = err
					}
					mu.Unlock()
					if prog != nil {
						prog.Files.Add(1)
						prog.Bytes.Add(frameLen[id])
					}
				}
			}()
		}
		for _, id := range ids {
			select {
			case work <- id:
			case <-ctx.Done():
			}
		}
		close(work)
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	type file struct{ archive, path string }
	seen := map[file]bool{}
	for id, err := range bad {
		for _, d := range users[id] {
			if f := (file{d.Archive, d.Path}); !seen[f] {
				seen[f] = true
				d.Err = err
				rep.Damaged = append(rep.Damaged, d)
			}
		}
	}
	sort.Slice(rep.Damaged, func(i, j int) bool {
		a, b := rep.Damaged[i], rep.Damaged[j]
		return a.Archive < b.Archive || a.Archive == b.Archive && a.Path < b.Path
	})
	v.log.Info("verified", "archives", rep.Archives, "manifests", len(manifests), "packs", rep.Packs, "bytes", rep.Bytes,
		"full", full, "chunks", rep.Chunks, "damaged", len(rep.Damaged), "took", v.opts.Now().Sub(start).Round(time.Millisecond))
	return rep, nil
}

// listAbove is how many objects of a kind (packs, manifests) a verify checks one by one;
// above it, when they are at least half of what the store holds of that kind, it lists the
// store's objects of that kind instead. A Discord store answers a stat with a request per
// object, and a list with at least one per thread and one per 100 messages: listing a
// large vault to check one archive would cost more. A variable, for tests.
var listAbove = 100

// storedCount is how many objects of type t (packs or manifests) the index knows the
// store to hold.
func (v *Vault) storedCount(t chunkstore.Type) (int, error) {
	if t == chunkstore.TypePack {
		s, err := v.Status()
		if err != nil {
			return 0, err
		}
		return s.Packs, nil
	}
	archives, err := v.Archives()
	n := 0
	for _, a := range archives {
		if a.Status != index.StatusDeleted {
			n += len(a.Manifest)
		}
	}
	return n, err
}

// listSizes lists the sizes of the store's objects of type t, by reference, when there
// are more than listAbove to check and they are at least half of the store's; nil when
// each is to be asked for on its own.
func (v *Vault) listSizes(ctx context.Context, t chunkstore.Type, n int) (map[chunkstore.Ref]int64, error) {
	if n <= listAbove {
		v.log.Info("checking one by one", "kind", t.String(), "objects", n)
		return nil, nil
	}
	stored, err := v.storedCount(t)
	if err != nil {
		return nil, err
	}
	if 2*n < stored {
		v.log.Info("checking one by one", "kind", t.String(), "objects", n, "stored", stored)
		return nil, nil
	}
	v.log.Info("listing the store", "kind", t.String(), "objects", n, "stored", stored)
	sizes := map[chunkstore.Ref]int64{}
	err = v.store.List(ctx, t, func(o chunkstore.Object) error {
		sizes[o.Ref] = o.Size
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %ss: %w", t, err)
	}
	return sizes, nil
}

// storedSize is the stored size of object ref, as listed, or asked for when nothing was.
func (v *Vault) storedSize(ctx context.Context, listed map[chunkstore.Ref]int64, ref chunkstore.Ref) (int64, error) {
	if listed == nil {
		obj, err := v.store.Stat(ctx, ref)
		return obj.Size, err
	}
	size, ok := listed[ref]
	if !ok {
		return 0, chunkstore.Classify(chunkstore.NotFound, errors.New("not in the store"))
	}
	return size, nil
}

func sizeErr(err error, got, want int64) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("has %d bytes, should have %d", got, want)
}
