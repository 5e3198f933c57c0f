package vault

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"path"
	"sort"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
)

// commitStaged makes a put visible: the merged tree's manifest is stored, then the index
// record, then the card points at it. stageID is the archive itself for a new archive, or
// the overlay holding what a put adds to an existing one.
func (v *Vault) commitStaged(ctx context.Context, a *index.Archive, stageID string) error {
	nodes, err := v.treeNodes(a.ID)
	if err != nil {
		return err
	}
	if stageID != a.ID {
		byPath := make(map[string]int, len(nodes))
		for i, n := range nodes {
			byPath[n.Path] = i
		}
		err := v.idx.Walk(stageID, func(n index.Node) error {
			if i, ok := byPath[n.Path]; ok {
				if nodes[i].Type == index.TypeDir && n.Type == index.TypeDir {
					return nil
				}
				nodes[i] = n
				return nil
			}
			nodes = append(nodes, n)
			return nil
		})
		if err != nil {
			return err
		}
		sortNodes(nodes)
	}
	if err := v.storeManifest(ctx, a, nodes); err != nil {
		return err
	}
	if stageID != a.ID {
		b := v.idx.NewBatch(a.ID)
		defer b.Cancel()
		err := v.idx.Walk(stageID, func(n index.Node) error {
			if n.Type == index.TypeDir {
				if _, err := v.idx.GetNode(a.ID, n.Path); err == nil {
					return nil
				}
			}
			return b.SetNode(&n)
		})
		if err != nil {
			return err
		}
		if err := b.Flush(); err != nil {
			return err
		}
		if err := v.idx.DeleteArchive(stageID); err != nil {
			return err
		}
	}
	return v.saveArchive(ctx, a, nodes)
}

// saveArchive writes the record to the index and then the card to the store. CardStale
// covers a crash between the two.
func (v *Vault) saveArchive(ctx context.Context, a *index.Archive, nodes []index.Node) error {
	a.CardStale = v.catalog != nil
	if err := v.idx.PutArchive(*a); err != nil {
		return err
	}
	return v.saveCard(ctx, a, nodes)
}

func (v *Vault) saveCard(ctx context.Context, a *index.Archive, nodes []index.Node) error {
	if v.catalog == nil {
		return nil
	}
	if err := v.catalog.SaveCard(ctx, cardOf(a, v.cardNames(nodes))); err != nil {
		return fmt.Errorf("archive %s: write card: %w", FormatID(a.ID), err)
	}
	a.CardStale = false
	return v.idx.PutArchive(*a)
}

// cardNames are the file names a card lists: none unless the vault shows names on cards.
func (v *Vault) cardNames(nodes []index.Node) []string {
	var names []string
	if v.opts.CardNames {
		for _, n := range nodes {
			if n.Type == index.TypeFile {
				names = append(names, n.Path[1:])
			}
		}
	}
	return names
}

// Card renders archive a's card as the store shows it.
func (v *Vault) Card(a *index.Archive) (*Card, error) {
	var nodes []index.Node
	if v.opts.CardNames {
		var err error
		if nodes, err = v.treeNodes(a.ID); err != nil {
			return nil, err
		}
	}
	return cardOf(a, v.cardNames(nodes)), nil
}

// putNewTree gives nodes fresh inode numbers and writes them into archive in one batch.
func (v *Vault) putNewTree(archive string, nodes []index.Node) error {
	first, err := v.idx.NextInodes(uint64(len(nodes)))
	if err != nil {
		return err
	}
	b := v.idx.NewBatch(archive)
	defer b.Cancel()
	for i := range nodes {
		nodes[i].Ino = first + uint64(i)
		if err := b.SetNode(&nodes[i]); err != nil {
			return err
		}
	}
	return b.Flush()
}

func (v *Vault) treeNodes(archive string) ([]index.Node, error) {
	var nodes []index.Node
	err := v.idx.Walk(archive, func(n index.Node) error {
		nodes = append(nodes, n)
		return nil
	})
	return nodes, err
}

// sortNodes puts nodes in index order: by parent directory, then name.
func sortNodes(nodes []index.Node) {
	key := func(p string) (string, string) {
		if p == "/" {
			return "", ""
		}
		return path.Dir(p), path.Base(p)
	}
	sort.Slice(nodes, func(i, j int) bool {
		di, bi := key(nodes[i].Path)
		dj, bj := key(nodes[j].Path)
		if di != dj {
			return di < dj
		}
		return bi < bj
	})
}

// storeManifest seals the archive's tree and chunk locations under the manifest key,
// stores them, and points a at them with the next generation and success status.
func (v *Vault) storeManifest(ctx context.Context, a *index.Archive, nodes []index.Node) error {
	m := index.Manifest{Archive: *a, Nodes: nodes}
	m.Archive.Generation++
	m.Archive.Status = index.StatusSuccess
	m.Archive.Files, m.Archive.Size, m.Archive.Chunks = 0, 0, 0
	m.Archive.Manifest, m.Archive.CardStale = nil, false
	seen := map[chunkstore.ID]bool{}
	packs := map[chunkstore.Ref]bool{}
	for _, n := range nodes {
		if n.Type != index.TypeFile {
			continue
		}
		m.Archive.Files++
		m.Archive.Size += n.Size
		m.Archive.Chunks += int64(len(n.Chunks))
		for _, c := range n.Chunks {
			if seen[c.ID] {
				continue
			}
			seen[c.ID] = true
			loc, err := v.idx.GetChunk(c.ID)
			if err != nil {
				return fmt.Errorf("archive %s: %s: chunk %s: %w", FormatID(a.ID), n.Path, c.ID, err)
			}
			m.Chunks = append(m.Chunks, index.ChunkEntry{ID: c.ID, Location: loc})
			if !packs[loc.Pack] {
				packs[loc.Pack] = true
				p, err := v.idx.GetPack(loc.Pack)
				if err != nil {
					return fmt.Errorf("archive %s: pack %s: %w", FormatID(a.ID), loc.Pack, err)
				}
				m.Packs = append(m.Packs, p)
			}
		}
	}
	parts, err := v.sealManifest(ctx, &m)
	if err != nil {
		return fmt.Errorf("archive %s: store manifest: %w", FormatID(a.ID), err)
	}
	*a = m.Archive
	a.Manifest = parts
	return nil
}

// sealManifest encodes m, seals it in frames of at most MaxChunkSize plaintext and stores
// the frames in as few objects as the store's limit allows.
func (v *Vault) sealManifest(ctx context.Context, m *index.Manifest) ([]index.ManifestPart, error) {
	plain := index.EncodeManifest(nil, m)
	max := v.store.Limits().MaxObjectSize
	var parts []index.ManifestPart
	var obj []byte
	put := func() error {
		h := chunkstore.Handle{Type: chunkstore.TypeManifest, Name: randomHex(16), Group: m.Archive.ID}
		o, err := v.store.Put(ctx, h, chunkstore.BytesSource(obj))
		if err != nil {
			return err
		}
		parts = append(parts, index.ManifestPart{Ref: o.Ref, Size: o.Size})
		obj = obj[:0]
		return nil
	}
	for i := 0; len(plain) > 0 || i == 0; i++ {
		n := min(len(plain), chunkstore.MaxChunkSize)
		frame := v.meta.Seal(nil, v.manifestFrameID(m.Archive.ID, m.Archive.Generation, i), plain[:n])
		plain = plain[n:]
		if len(obj) > 0 && int64(len(obj)+len(frame)) > max {
			if err := put(); err != nil {
				return nil, err
			}
		}
		obj = append(obj, frame...)
	}
	return parts, put()
}

// manifestFrameID names frame i of an archive's manifest of one generation, so a frame
// cannot be moved to another archive, generation or position.
func (v *Vault) manifestFrameID(archive string, gen uint64, i int) chunkstore.ID {
	mac := hmac.New(sha256.New, v.keys.Manifest)
	mac.Write([]byte("manifest\x00" + archive + "\x00"))
	mac.Write(binary.LittleEndian.AppendUint64(nil, gen))
	mac.Write(binary.LittleEndian.AppendUint64(nil, uint64(i)))
	var id chunkstore.ID
	copy(id[:], mac.Sum(nil))
	return id
}

// loadManifest fetches and opens an archive's manifest.
func (v *Vault) loadManifest(ctx context.Context, archive string, gen uint64, parts []index.ManifestPart) (*index.Manifest, error) {
	var plain []byte
	i := 0
	for _, p := range parts {
		obj, err := chunkstore.ReadAll(ctx, v.store, p.Ref, 0, 0)
		if err != nil {
			return nil, fmt.Errorf("manifest object %s: %w", p.Ref, err)
		}
		for len(obj) > 0 {
			hdr, _, err := chunkstore.ParseFrameHeader(obj)
			if err != nil {
				return nil, fmt.Errorf("manifest object %s: %w", p.Ref, err)
			}
			n := hdr.FrameLen()
			if n > int64(len(obj)) {
				return nil, fmt.Errorf("manifest object %s is truncated", p.Ref)
			}
			if plain, err = v.meta.Open(plain, v.manifestFrameID(archive, gen, i), obj[:n]); err != nil {
				return nil, fmt.Errorf("manifest frame %d: %w", i, err)
			}
			obj = obj[n:]
			i++
		}
	}
	m, err := index.DecodeManifest(plain)
	if err != nil {
		return nil, err
	}
	if m.Archive.ID != archive || m.Archive.Generation != gen {
		return nil, fmt.Errorf("manifest is for %s generation %d, not %s generation %d",
			FormatID(m.Archive.ID), m.Archive.Generation, FormatID(archive), gen)
	}
	return m, nil
}
