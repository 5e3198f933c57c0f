package vault

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/discofs/discofs/index"
)

// Interrupted is a put that was cut off before its commit (the process was killed, the
// store failed, the command was cancelled) and can be resumed.
type Interrupted struct {
	// Archive is the archive the put makes (still pending) or adds to.
	Archive index.Archive
	// Adding says the put adds to Archive, which stays as it was until the put commits.
	Adding bool
	// Paths are the sources it archives, on the host that ran it.
	Paths []string
	stage string
}

// Interrupted lists the puts that can be resumed, oldest first. Puts running in this
// process are not among them.
func (v *Vault) Interrupted() ([]Interrupted, error) {
	var out []Interrupted
	err := v.idx.PutSources(func(p index.PutSource) error {
		if _, running := v.staging.Load(p.Stage); running {
			return nil
		}
		stage, err := v.idx.GetArchive(p.Stage)
		if errors.Is(err, index.ErrNotFound) || (err == nil && stage.Status != index.StatusPending) {
			return nil // committed or abandoned; GC drops the record
		}
		if err != nil {
			return err
		}
		it := Interrupted{Archive: stage, Paths: p.Paths, stage: p.Stage}
		if p.Target != p.Stage {
			it.Adding = true
			if it.Archive, err = v.idx.GetArchive(p.Target); err != nil {
				it.Archive = index.Archive{ID: p.Target, Name: "(deleted)", Status: index.StatusDeleted}
			}
		}
		out = append(out, it)
		return nil
	})
	sort.Slice(out, func(i, k int) bool { return out[i].Archive.Lot < out[k].Archive.Lot })
	return out, err
}

// FindInterrupted finds an interrupted put by its archive's ID (with or without '#') or
// name.
func (v *Vault) FindInterrupted(ref string) (Interrupted, error) {
	list, err := v.Interrupted()
	if err != nil {
		return Interrupted{}, err
	}
	id := strings.TrimPrefix(ref, "#")
	var found []Interrupted
	for _, it := range list {
		if it.Archive.ID == id || it.Archive.Name == ref {
			found = append(found, it)
		}
	}
	switch len(found) {
	case 0:
		return Interrupted{}, fmt.Errorf("no interrupted upload of %s to resume", ref)
	case 1:
		return found[0], nil
	}
	return Interrupted{}, fmt.Errorf("%q names %d interrupted uploads: use the archive's ID", ref, len(found))
}

// Resume runs an interrupted put again from its sources into the same archive and commits
// it. Chunks the cut-off run stored are found in the index and not stored again; what the
// sources hold now is archived, so a file changed since is taken as it is.
func (v *Vault) Resume(ctx context.Context, it Interrupted, progress *Progress) (index.Archive, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if _, running := v.staging.LoadOrStore(it.stage, true); running {
		return it.Archive, fmt.Errorf("the upload of %s is running now", FormatID(it.Archive.ID))
	}
	defer v.staging.Delete(it.stage)
	// Read again under the lock: a GC may have abandoned it since it was listed.
	stage, err := v.idx.GetArchive(it.stage)
	if errors.Is(err, index.ErrNotFound) || (err == nil && stage.Status != index.StatusPending) {
		return it.Archive, fmt.Errorf("the upload of %s is no longer waiting (committed, or abandoned by gc)", FormatID(it.Archive.ID))
	}
	if err != nil {
		return it.Archive, err
	}
	p, err := v.idx.GetPutSource(it.stage)
	if err != nil {
		return it.Archive, err
	}
	target := stage
	if p.Target != p.Stage {
		if target, err = v.idx.GetArchive(p.Target); err != nil || target.Status == index.StatusPending {
			return it.Archive, fmt.Errorf("%s, which the upload added to, is gone: run gc to abandon the upload", FormatID(p.Target))
		}
	}
	srcs, err := layout(p.Paths)
	if err != nil {
		return target, fmt.Errorf("resume %s: %w (run gc to abandon the upload)", FormatID(target.ID), err)
	}
	// The cut-off run may have written part of the tree; it is written again whole.
	if err := v.idx.DeleteTree(it.stage, "/"); err != nil {
		return target, err
	}
	if progress != nil {
		progress.Total.Store(totalSize(srcs))
	}
	return v.putStaged(ctx, srcs, target, it.stage, progress)
}
