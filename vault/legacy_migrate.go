package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/discofs/discofs/index"
)

// LegacyMarker changes a v3.1 archive where v3.1 kept it, after a migration. The discord
// package implements it for cards and threads.
type LegacyMarker interface {
	// MarkMigrated records on the v3.1 card that the archive now lives as newID, so a
	// later import skips it and people reading the channel see where it went.
	MarkMigrated(ctx context.Context, la index.LegacyArchive, newID string) error
	// DeleteOld deletes the v3.1 archive's chunks (its thread).
	DeleteOld(ctx context.Context, la index.LegacyArchive) error
}

// MigrateOptions shape one MigrateLegacy.
type MigrateOptions struct {
	// Marker marks (and deletes) the v3.1 original; nil for archives imported from a
	// folder, which have no card.
	Marker    LegacyMarker
	DeleteOld bool
	Progress  *Progress
}

// MigrateLegacy re-archives a v3.1 archive in the discofs format (chunked, deduplicated,
// sealed under the vault's keys) under a new ID, checks every byte of the new archive
// against the old, marks the old card and drops the old archive from the index, so the two
// never disagree. The old chunks are deleted only with DeleteOld and only after the check.
//
// The v3.1 files pass through a temporary folder beside the spool, the one place plaintext
// may be on disk, and are removed when it returns.
func (v *Vault) MigrateLegacy(ctx context.Context, ref string, o MigrateOptions) (index.Archive, error) {
	old, err := v.Resolve(ref)
	if err != nil {
		return index.Archive{}, err
	}
	if !old.Legacy {
		return old, fmt.Errorf("%s is not a v3.1 archive", FormatID(old.ID))
	}
	la, err := v.idx.GetLegacy(old.ID)
	if err != nil {
		return old, fmt.Errorf("%s: %w", FormatID(old.ID), err)
	}
	if la.Source.Kind == index.LegacyDiscord && o.Marker == nil {
		return old, fmt.Errorf("%s: its card cannot be marked without a Discord connection", FormatID(old.ID))
	}
	if err := os.MkdirAll(v.paths.Data, 0o700); err != nil {
		return old, err
	}
	tmp, err := os.MkdirTemp(v.paths.Data, ".migrate-")
	if err != nil {
		return old, err
	}
	defer os.RemoveAll(tmp)
	tree := filepath.Join(tmp, old.Name)
	damaged, err := v.Get(ctx, old.ID, tree, nil)
	if err != nil {
		return old, fmt.Errorf("%s: read: %w", FormatID(old.ID), err)
	}
	if len(damaged) > 0 {
		return old, fmt.Errorf("%s: %d files cannot be read, the first: %s", FormatID(old.ID), len(damaged), damaged[0])
	}
	a, err := v.Put(ctx, []string{tree}, PutOptions{Name: old.Name, Progress: o.Progress, scratch: true})
	if err != nil {
		return a, fmt.Errorf("%s: archive: %w", FormatID(old.ID), err)
	}
	// A new archive that fails its checks is deleted again, so that a second migrate (once
	// the store is well) does not leave two copies; gc frees what only it used.
	discard := func(what string, err error) (index.Archive, error) {
		err = fmt.Errorf("%s: %s the new archive %s: %w", FormatID(old.ID), what, FormatID(a.ID), err)
		if _, rmErr := v.Remove(ctx, a.ID); rmErr != nil {
			return a, fmt.Errorf("%w (and deleting it failed: %v)", err, rmErr)
		}
		return a, fmt.Errorf("%w (it was deleted again)", err)
	}
	if err := v.sameAsTree(ctx, a.ID, tree); err != nil {
		return discard("comparing", err)
	}
	if rep, err := v.Verify(ctx, a.ID, true, nil); err != nil || len(rep.Damaged) > 0 {
		if err == nil {
			err = fmt.Errorf("%d damaged, the first: %s", len(rep.Damaged), rep.Damaged[0])
		}
		return discard("verify of", err)
	}
	if o.Marker != nil {
		if err := o.Marker.MarkMigrated(ctx, la, a.ID); err != nil {
			return a, fmt.Errorf("%s: mark the v3.1 card: %w", FormatID(old.ID), err)
		}
	}
	if err := v.idx.DeleteArchive(old.ID); err != nil {
		return a, err
	}
	if err := v.idx.DeleteLegacy(old.ID); err != nil {
		return a, err
	}
	if o.DeleteOld {
		if o.Marker == nil {
			return a, fmt.Errorf("%s: its chunks are in %s; delete that folder yourself", FormatID(old.ID), la.Source.Dir)
		}
		if err := o.Marker.DeleteOld(ctx, la); err != nil {
			return a, fmt.Errorf("%s: delete the v3.1 thread: %w", FormatID(old.ID), err)
		}
	}
	return a, nil
}

// sameAsTree compares every file of archive id, read through ReadAt, with the tree on disk.
func (v *Vault) sameAsTree(ctx context.Context, id, tree string) error {
	buf := make([]byte, 1<<20)
	return v.idx.Walk(id, func(n index.Node) error {
		if n.Type != index.TypeFile {
			return nil
		}
		f, err := os.Open(filepath.Join(tree, filepath.FromSlash(strings.TrimPrefix(n.Path, "/"))))
		if err != nil {
			return err
		}
		defer f.Close()
		want := make([]byte, len(buf))
		for off := int64(0); ; off += int64(len(buf)) {
			k, err := v.ReadAt(ctx, n, buf, off)
			if err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			w, _ := io.ReadFull(f, want[:k])
			if w != k || !bytes.Equal(buf[:k], want[:k]) {
				return fmt.Errorf("%s differs at byte %d", n.Path, off)
			}
			if k < len(buf) {
				break
			}
		}
		if extra, _ := f.Read(want[:1]); extra > 0 {
			return fmt.Errorf("%s is shorter than the original", n.Path)
		}
		return nil
	})
}
