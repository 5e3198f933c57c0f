package vault

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
)

// RebuildReport is what Rebuild found.
type RebuildReport struct {
	Archives int      // archives indexed
	Files    int64    // files in them
	Skipped  []string // cards not indexed, each with the reason
	Failed   []string // archives whose manifest could not be read, each with the error
}

// ErrNoCatalog is returned when the store keeps no catalogue to rebuild from.
var ErrNoCatalog = errors.New("this store keeps no catalogue to rebuild the index from")

// Rebuild wipes the local index and builds it again from the store alone: the vault
// header, every card and every manifest. An archive whose manifest is missing or does not
// authenticate is reported and left out; the others are indexed all the same.
func (v *Vault) Rebuild(ctx context.Context, prog *Progress) (*RebuildReport, error) {
	if v.catalog == nil {
		return nil, ErrNoCatalog
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	h, err := v.catalog.LoadHeader(ctx)
	if err != nil {
		return nil, err
	}
	if h.VaultID != v.cfg.VaultID {
		return nil, fmt.Errorf("the store holds vault %s, not this vault (%s)", h.VaultID, v.cfg.VaultID)
	}
	var cards []*Card
	damaged, err := splitDamaged(v.catalog.Cards(ctx, func(c *Card) error {
		cards = append(cards, c)
		return nil
	}))
	if err != nil {
		return nil, err
	}
	if err := v.idx.DropAll(); err != nil {
		return nil, err
	}
	v.rebuilds.Add(1)
	v.reads.forgetLocations()
	rep := &RebuildReport{}
	for _, d := range damaged {
		rep.Failed = append(rep.Failed, d.Error())
	}
	var maxIno uint64
	maxLot := 0
	for _, c := range cards {
		maxLot = max(maxLot, c.Lot)
		id := strings.TrimPrefix(c.ArchiveID, "#")
		switch {
		case c.Status == index.StatusDeleted || c.Status == index.StatusFailed:
			continue
		case c.Discofs == nil:
			rep.Skipped = append(rep.Skipped, c.ArchiveID+": a v3.1 card (use import-legacy)")
			continue
		case len(c.Discofs.Manifest) == 0:
			rep.Skipped = append(rep.Skipped, c.ArchiveID+": never committed (an interrupted upload)")
			continue
		}
		n, top, err := v.indexManifest(ctx, id, c)
		if err != nil {
			rep.Failed = append(rep.Failed, fmt.Sprintf("%s: %v", c.ArchiveID, err))
			continue
		}
		rep.Archives++
		rep.Files += n
		maxIno = max(maxIno, top)
		if prog != nil {
			prog.Files.Add(n)
		}
	}
	if err := v.idx.EnsureLotsAbove(maxLot); err != nil {
		return nil, err
	}
	return rep, v.idx.EnsureInodesAbove(maxIno)
}

// indexManifest reads one archive's manifest into the index and returns its file count
// and highest inode number.
func (v *Vault) indexManifest(ctx context.Context, id string, c *Card) (int64, uint64, error) {
	parts := make([]index.ManifestPart, len(c.Discofs.Manifest))
	for i, p := range c.Discofs.Manifest {
		parts[i] = index.ManifestPart{Ref: p.Ref, Size: p.Size}
	}
	m, err := v.loadManifest(ctx, id, c.Discofs.Generation, parts)
	if err != nil {
		return 0, 0, err
	}
	byPack := map[chunkstore.Ref]*pendingPack{}
	for _, e := range m.Chunks {
		pp := byPack[e.Location.Pack]
		if pp == nil {
			pp = &pendingPack{}
			byPack[e.Location.Pack] = pp
		}
		pp.ids = append(pp.ids, e.ID)
		pp.locs = append(pp.locs, e.Location)
	}
	for _, p := range m.Packs {
		pp := byPack[p.Ref]
		if pp == nil {
			pp = &pendingPack{}
		}
		if err := v.idx.PutPack(p, pp.ids, pp.locs); err != nil {
			return 0, 0, err
		}
	}
	b := v.idx.NewBatch(id)
	defer b.Cancel()
	var top uint64
	for i := range m.Nodes {
		n := &m.Nodes[i]
		if cleanPath(n.Path) != n.Path {
			return 0, 0, fmt.Errorf("manifest holds a bad path %q", n.Path)
		}
		top = max(top, n.Ino)
		if err := b.SetNode(n); err != nil {
			return 0, 0, err
		}
	}
	if err := b.Flush(); err != nil {
		return 0, 0, err
	}
	a := m.Archive
	a.Manifest = parts
	return a.Files, top, v.idx.PutArchive(a)
}
