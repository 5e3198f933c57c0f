package vault

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
)

// Remove deletes an archive: its record and tree leave the index and its card is marked
// deleted. The packs stay until GC finds nothing else uses them.
//
// A v3.1 archive is only forgotten: its tree and its reading data (the v3.1 passphrase
// with it) leave the index, while its card and chunks stay where the v3.1 tool put them,
// for import-legacy to find again. Deleting those is migrate's, after a verified copy.
func (v *Vault) Remove(ctx context.Context, ref string) (index.Archive, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	a, err := v.Resolve(ref)
	if err != nil {
		return a, err
	}
	if a.Legacy {
		if err := v.idx.DeleteArchive(a.ID); err != nil {
			return a, err
		}
		v.log.Info("v3.1 archive forgotten", "archive", FormatID(a.ID), "name", a.Name)
		return a, v.idx.DeleteLegacy(a.ID)
	}
	a.Status = index.StatusDeleted
	if err := v.saveCard(ctx, &a, nil); err != nil {
		return a, err
	}
	if err := v.idx.DeleteArchive(a.ID); err != nil {
		return a, err
	}
	v.log.Info("archive deleted", "archive", FormatID(a.ID), "name", a.Name, "files", a.Files, "bytes", a.Size)
	return a, nil
}

// GCReport is what GC did.
type GCReport struct {
	Abandoned      int   // interrupted puts cleaned up
	Packs          int   // packs deleted
	Bytes          int64 // bytes of packs deleted
	Manifests      int   // stale manifest objects deleted
	Orphans        int   // objects no index entry knew, deleted
	OrphansSkipped bool  // orphans kept: the store has archives this index does not know
	Threads        int   // emptied threads of deleted archives, deleted (Discord)
}

// threadPruner is a catalogue whose archives have threads (Discord): GC asks it to delete
// the threads of deleted archives once they are empty.
type threadPruner interface {
	PruneThreads(ctx context.Context) (int, error)
}

// GC deletes what no archive uses any more: interrupted puts, packs none of whose chunks
// is referenced, manifests of older generations and objects left by crashes. Packs that are
// partly used are kept whole.
func (v *Vault) GC(ctx context.Context) (rep *GCReport, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	start := v.opts.Now()
	defer func() {
		if err == nil {
			v.log.Info("gc done", "packs", rep.Packs, "freed", rep.Bytes, "manifests", rep.Manifests, "orphans", rep.Orphans,
				"abandoned", rep.Abandoned, "threads", rep.Threads, "orphans_kept", rep.OrphansSkipped,
				"took", v.opts.Now().Sub(start).Round(time.Millisecond))
		}
	}()
	rep = &GCReport{}
	var all []index.Archive
	if err := v.idx.Archives(func(a index.Archive) error { all = append(all, a); return nil }); err != nil {
		return nil, err
	}
	// A put's sources outlive its archive only after a crash between its commit and their
	// removal (an abandoned put's go with its archive).
	var stale []string
	err = v.idx.PutSources(func(p index.PutSource) error {
		a, err := v.idx.GetArchive(p.Stage)
		if errors.Is(err, index.ErrNotFound) || err == nil && a.Status != index.StatusPending {
			stale = append(stale, p.Stage)
			return nil
		}
		return err
	})
	for _, stage := range stale {
		if err == nil {
			err = v.idx.DeletePutSource(stage)
		}
	}
	if err != nil {
		return nil, err
	}
	live := map[chunkstore.ID]bool{}
	manifests := map[chunkstore.Ref]bool{}
	for i := range all {
		a := &all[i]
		if a.Status == index.StatusPending {
			if err := v.abandon(ctx, a); err != nil {
				return nil, err
			}
			v.log.Info("interrupted put cleaned up", "archive", FormatID(a.ID))
			rep.Abandoned++
			continue
		}
		if a.CardStale {
			nodes, err := v.treeNodes(a.ID)
			if err != nil {
				return nil, err
			}
			if err := v.saveCard(ctx, a, nodes); err != nil {
				return nil, err
			}
		}
		for _, p := range a.Manifest {
			manifests[p.Ref] = true
		}
		err := v.idx.Walk(a.ID, func(n index.Node) error {
			for _, c := range n.Chunks {
				live[c.ID] = true
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}

	packChunks := map[chunkstore.Ref][]chunkstore.ID{}
	packLive := map[chunkstore.Ref]bool{}
	err = v.idx.Chunks(func(id chunkstore.ID, loc index.Location) error {
		packChunks[loc.Pack] = append(packChunks[loc.Pack], id)
		packLive[loc.Pack] = packLive[loc.Pack] || live[id]
		return nil
	})
	if err != nil {
		return nil, err
	}
	known := map[chunkstore.Ref]bool{}
	var dead []index.Pack
	err = v.idx.Packs(func(p index.Pack) error {
		known[p.Ref] = true
		if !packLive[p.Ref] {
			dead = append(dead, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, p := range dead {
		// The index forgets the chunks first: a crash in between leaves an orphan for the
		// next GC, never a chunk the index thinks is stored when it is not.
		if err := v.idx.DeletePack(p.Ref, packChunks[p.Ref]); err != nil {
			return nil, err
		}
		if err := v.store.Delete(ctx, p.Ref); err != nil && !chunkstore.IsNotFound(err) {
			return nil, fmt.Errorf("delete pack %s: %w", p.Ref, err)
		}
		v.log.Debug("pack deleted", "pack", p.Ref, "bytes", p.Size)
		rep.Packs++
		rep.Bytes += p.Size
	}
	if len(dead) > 0 {
		v.reads.forgetLocations()
	}

	if ok, err := v.catalogIsLocal(ctx, all); err != nil || !ok {
		rep.OrphansSkipped = true
		if err == nil {
			err = v.pruneThreads(ctx, rep)
		}
		return rep, err
	}
	for _, t := range []chunkstore.Type{chunkstore.TypePack, chunkstore.TypeManifest} {
		var orphans []chunkstore.Object
		err := v.store.List(ctx, t, func(o chunkstore.Object) error {
			if !known[o.Ref] && !manifests[o.Ref] {
				orphans = append(orphans, o)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for _, o := range orphans {
			if err := v.store.Delete(ctx, o.Ref); err != nil && !chunkstore.IsNotFound(err) {
				return nil, fmt.Errorf("delete %s: %w", o.Ref, err)
			}
			v.log.Debug("leftover deleted", "object", o.Ref, "bytes", o.Size)
			if t == chunkstore.TypeManifest {
				rep.Manifests++
			} else {
				rep.Orphans++
			}
		}
	}
	return rep, v.pruneThreads(ctx, rep)
}

// pruneThreads deletes the emptied threads of deleted archives, when the catalogue has any.
func (v *Vault) pruneThreads(ctx context.Context, rep *GCReport) error {
	c := v.catalog
	if rc, ok := c.(retryCatalog); ok {
		c = rc.c // PruneThreads retries on its own
	}
	p, ok := c.(threadPruner)
	if !ok {
		return nil
	}
	n, err := p.PruneThreads(ctx)
	rep.Threads += n
	if err != nil {
		return fmt.Errorf("delete the threads of deleted archives: %w", err)
	}
	return nil
}

// abandon removes what an interrupted put left and marks its card failed.
func (v *Vault) abandon(ctx context.Context, a *index.Archive) error {
	if err := v.idx.DeleteArchive(a.ID); err != nil {
		return err
	}
	if strings.Contains(a.ID, "~") || v.catalog == nil {
		return nil // a staging overlay has no card of its own
	}
	a.Status = index.StatusFailed
	return v.catalog.SaveCard(ctx, cardOf(a, nil))
}

// catalogIsLocal reports whether every card in the store is an archive this index knows at
// its current generation, so an object the index does not know cannot be another
// machine's.
func (v *Vault) catalogIsLocal(ctx context.Context, all []index.Archive) (bool, error) {
	if v.catalog == nil {
		return true, nil
	}
	gens := map[string]uint64{}
	for _, a := range all {
		if a.Status != index.StatusPending {
			gens["#"+a.ID] = a.Generation
		}
	}
	local := true
	damaged, err := splitDamaged(v.catalog.Cards(ctx, func(c *Card) error {
		if c.Status == index.StatusDeleted || c.Status == index.StatusFailed {
			return nil
		}
		g, ok := gens[c.ArchiveID]
		if !ok || c.Discofs == nil || c.Discofs.Generation != g {
			local = false
		}
		return nil
	}))
	// A card nobody can read may be anyone's archive: keep what the index does not know.
	return local && len(damaged) == 0, err
}
