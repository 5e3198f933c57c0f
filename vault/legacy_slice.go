package vault

// v3.1's offline slicer, carried on in the discofs format. A sliced folder is a vault of
// its own on a dir store: packs, sealed manifests, the archive's card and the vault header
// with the wrapped key, so the passphrase alone opens it. It is written by the ordinary put
// pipeline; nothing here seals data a second way.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
)

// SliceOptions shape one Slice.
type SliceOptions struct {
	Name string // the archive's name; default the folder's
	// Key, when set, is the wrapped key (and VaultID its vault) to slice under, so the
	// vault it belongs to takes the folder in without re-sealing; else a new key is made.
	Key     *WrappedKey
	VaultID string
	KDF     KDFParams
}

// slicePackLimit keeps sliced packs within Discord's attachment limit, so a sliced folder
// can go to any store as it is.
const slicePackLimit = 10 << 20

// Slice archives the paths into outDir, which must be missing or empty, as a
// self-contained sliced folder. Local state lives in a temporary directory only while it
// runs.
func Slice(ctx context.Context, paths []string, outDir, passphrase string, o SliceOptions) (index.Archive, error) {
	if err := emptyDir(outDir); err != nil {
		return index.Archive{}, err
	}
	if err := os.MkdirAll(outDir, 0o700); err != nil {
		return index.Archive{}, err
	}
	ds, err := chunkstore.OpenDir(outDir, chunkstore.Limits{MaxObjectSize: slicePackLimit})
	if err != nil {
		return index.Archive{}, err
	}
	defer ds.Close()
	cat := RecordCatalog(ds)
	if o.Key != nil {
		// Init joins a vault whose header it finds: writing this one first slices under it.
		h := &Header{Format: "discofs-vault", Version: HeaderVersion, VaultID: o.VaultID, Key: *o.Key}
		if err := cat.SaveHeader(ctx, h); err != nil {
			return index.Archive{}, err
		}
	}
	v, done, err := openScratch(ctx, ds, cat, passphrase, o.KDF)
	if err != nil {
		return index.Archive{}, err
	}
	defer done()
	return v.Put(ctx, paths, PutOptions{Name: o.Name})
}

// openScratch opens the vault in a dir store with its index in a temporary directory.
func openScratch(ctx context.Context, ds *chunkstore.DirStore, cat Catalog, passphrase string, kdf KDFParams) (*Vault, func(), error) {
	tmp, err := os.MkdirTemp("", "discofs-slice-")
	if err != nil {
		return nil, nil, err
	}
	paths := HomePaths(tmp)
	if kdf.Time == 0 {
		kdf = DefaultKDF
	}
	cfg, _, err := Init(ctx, paths, "dir:"+ds.Root(), nil, Options{Catalog: cat}, passphrase, kdf)
	if err == nil {
		var master []byte
		if master, err = Unlock(cfg, passphrase); err == nil {
			var v *Vault
			if v, err = Open(ctx, paths, cfg, master, Options{Store: ds, Catalog: cat}); err == nil {
				return v, func() { v.Close(); os.RemoveAll(tmp) }, nil
			}
		}
	}
	os.RemoveAll(tmp)
	return nil, nil, err
}

// OpenSliced opens a sliced folder with its passphrase and indexes what it holds. close
// removes the temporary index.
func OpenSliced(ctx context.Context, dir, passphrase string) (v *Vault, close func(), err error) {
	ds, err := chunkstore.OpenDir(dir, chunkstore.Limits{})
	if err != nil {
		return nil, nil, err
	}
	cat := RecordCatalog(ds)
	if _, err := cat.LoadHeader(ctx); err != nil {
		ds.Close()
		if errors.Is(err, ErrNoHeader) {
			return nil, nil, fmt.Errorf("%s is not a sliced folder: %w", dir, err)
		}
		return nil, nil, err
	}
	v, done, err := openScratch(ctx, ds, cat, passphrase, KDFParams{})
	if err != nil {
		ds.Close()
		return nil, nil, err
	}
	rep, err := v.Rebuild(ctx, nil)
	if err == nil && len(rep.Failed) > 0 {
		err = fmt.Errorf("%s: %s", dir, strings.Join(rep.Failed, "; "))
	}
	if err != nil {
		done()
		ds.Close()
		return nil, nil, err
	}
	return v, func() { done(); ds.Close() }, nil
}

// Assemble restores every archive of a sliced folder into dest: one archive's contents
// straight into dest, several into a folder each named after the archive.
func Assemble(ctx context.Context, dir, dest, passphrase string) ([]Damaged, error) {
	sv, done, err := OpenSliced(ctx, dir, passphrase)
	if err != nil {
		return nil, err
	}
	defer done()
	list, err := sv.Archives()
	if err != nil {
		return nil, err
	}
	var damaged []Damaged
	for _, a := range list {
		to := dest
		if len(list) > 1 {
			to = filepath.Join(dest, a.Name+" ["+a.ID+"]")
		}
		d, err := sv.Get(ctx, a.ID, to, nil)
		damaged = append(damaged, d...)
		if err != nil {
			return damaged, err
		}
	}
	return damaged, nil
}

// PutSliced adds the archives of a sliced folder to the vault. A folder sliced under this
// vault's key is taken in as it is: its packs are copied to the store and its manifest
// re-sealed for the new archive ID. Any other folder is opened with passphrase, restored to
// a temporary folder beside the spool and archived again, which re-seals every chunk.
func (v *Vault) PutSliced(ctx context.Context, dir, passphrase string) ([]index.Archive, error) {
	sv, done, err := OpenSliced(ctx, dir, passphrase)
	if err != nil {
		return nil, err
	}
	defer done()
	list, err := sv.Archives()
	if err != nil {
		return nil, err
	}
	var out []index.Archive
	for _, sa := range list {
		var a index.Archive
		if sv.cfg.VaultID == v.cfg.VaultID {
			a, err = v.adoptSliced(ctx, sv, sa)
		} else {
			a, err = v.resealSliced(ctx, sv, sa)
		}
		if err != nil {
			return out, fmt.Errorf("sliced archive %s: %w", sa.Name, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// adoptSliced copies the packs of one sliced archive, sealed under this vault's key, and
// commits its tree as a new archive.
func (v *Vault) adoptSliced(ctx context.Context, sv *Vault, sa index.Archive) (index.Archive, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	a, err := v.newArchive(ctx, sa.Name)
	if err != nil {
		return a, err
	}
	if err := v.idx.PutArchive(a); err != nil {
		return a, err
	}
	byPack := map[chunkstore.Ref]*pendingPack{}
	err = sv.idx.Chunks(func(id chunkstore.ID, loc index.Location) error {
		if has, err := v.idx.HasChunk(id); err != nil || has {
			return err
		}
		pp := byPack[loc.Pack]
		if pp == nil {
			pp = &pendingPack{}
			byPack[loc.Pack] = pp
		}
		pp.ids, pp.locs = append(pp.ids, id), append(pp.locs, loc)
		return nil
	})
	if err != nil {
		return a, err
	}
	// The frames new to the vault are packed again in the order they lie in, never opened
	// or sealed again: a pack whose frames are all new and that fits the store's limit is
	// stored byte for byte as it was sliced, and a larger one is cut where the limit says.
	limit := v.store.Limits().MaxObjectSize
	for ref, src := range byPack {
		buf, err := chunkstore.ReadAll(ctx, sv.store, ref, 0, 0)
		if err != nil {
			return a, fmt.Errorf("pack %s: %w", ref, err)
		}
		sort.Sort(byOffset(*src))
		pp := &pendingPack{}
		flush := func() error {
			if len(pp.ids) == 0 {
				return nil
			}
			var stored byteCounter
			if err := v.storePack(ctx, a.ID, pp, nil, &stored); err != nil {
				return err
			}
			a.Stored += stored.n
			pp = &pendingPack{}
			return nil
		}
		for i, id := range src.ids {
			loc := src.locs[i]
			if loc.Offset < 0 || loc.Length <= 0 || loc.Offset+loc.Length > int64(len(buf)) {
				return a, fmt.Errorf("pack %s: chunk %s lies outside it", ref, id)
			}
			if len(pp.buf) > 0 && int64(len(pp.buf))+loc.Length > limit {
				if err := flush(); err != nil {
					return a, err
				}
			}
			loc.Offset = int64(len(pp.buf))
			pp.buf = append(pp.buf, buf[src.locs[i].Offset:src.locs[i].Offset+loc.Length]...)
			pp.ids, pp.locs = append(pp.ids, id), append(pp.locs, loc)
		}
		if err := flush(); err != nil {
			return a, err
		}
	}
	var nodes []index.Node
	if err := sv.idx.Walk(sa.ID, func(n index.Node) error { nodes = append(nodes, n); return nil }); err != nil {
		return a, err
	}
	if err := v.putNewTree(a.ID, nodes); err != nil {
		return a, err
	}
	return a, v.commitStaged(ctx, &a, a.ID)
}

// byOffset orders a pack's frames by where they lie in it.
type byOffset pendingPack

func (p byOffset) Len() int           { return len(p.ids) }
func (p byOffset) Less(i, j int) bool { return p.locs[i].Offset < p.locs[j].Offset }
func (p byOffset) Swap(i, j int) {
	p.ids[i], p.ids[j] = p.ids[j], p.ids[i]
	p.locs[i], p.locs[j] = p.locs[j], p.locs[i]
}

// byteCounter counts the bytes storePack reports, for the archive's Stored total.
type byteCounter struct{ n int64 }

func (c *byteCounter) Add(d int64) int64 { c.n += d; return c.n }

// resealSliced restores one sliced archive next to the spool and archives it again.
func (v *Vault) resealSliced(ctx context.Context, sv *Vault, sa index.Archive) (index.Archive, error) {
	if err := os.MkdirAll(v.paths.Data, 0o700); err != nil {
		return index.Archive{}, err
	}
	tmp, err := os.MkdirTemp(v.paths.Data, ".sliced-")
	if err != nil {
		return index.Archive{}, err
	}
	defer os.RemoveAll(tmp)
	to := filepath.Join(tmp, "tree")
	damaged, err := sv.Get(ctx, sa.ID, to, nil)
	if err != nil {
		return index.Archive{}, err
	}
	if len(damaged) > 0 {
		return index.Archive{}, fmt.Errorf("%d files are damaged: %s", len(damaged), damaged[0])
	}
	return v.Put(ctx, []string{to}, PutOptions{Name: sa.Name, scratch: true})
}
