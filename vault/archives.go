package vault

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/discofs/discofs/index"
)

// ErrArchiveNotFound is returned for an archive reference that matches nothing.
var ErrArchiveNotFound = errors.New("archive not found")

var archiveIDPattern = regexp.MustCompile(`^#?(\d{6}-\d{2,})$`)

// Archives returns the vault's visible archives, oldest lot first.
func (v *Vault) Archives() ([]index.Archive, error) {
	var list []index.Archive
	err := v.idx.Archives(func(a index.Archive) error {
		if a.Status != index.StatusPending {
			list = append(list, a)
		}
		return nil
	})
	sort.Slice(list, func(i, j int) bool { return list[i].Lot < list[j].Lot })
	return list, err
}

// Resolve finds an archive by ID (with or without '#') or by name. A name that several
// archives share is an error that lists their IDs.
func (v *Vault) Resolve(ref string) (index.Archive, error) {
	if m := archiveIDPattern.FindStringSubmatch(ref); m != nil {
		a, err := v.idx.GetArchive(m[1])
		if err == nil && a.Status != index.StatusPending {
			return a, nil
		}
		if err != nil && !errors.Is(err, index.ErrNotFound) {
			return a, err
		}
	}
	list, err := v.Archives()
	if err != nil {
		return index.Archive{}, err
	}
	var found []index.Archive
	for _, a := range list {
		if a.Name == ref {
			found = append(found, a)
		}
	}
	switch len(found) {
	case 0:
		return index.Archive{}, fmt.Errorf("%w: %s", ErrArchiveNotFound, ref)
	case 1:
		return found[0], nil
	}
	ids := make([]string, len(found))
	for i, a := range found {
		ids[i] = FormatID(a.ID)
	}
	return index.Archive{}, fmt.Errorf("%q names several archives (%s): use an ID", ref, strings.Join(ids, ", "))
}

// SplitRef splits "ARCHIVE/PATH" into the archive reference and a clean absolute path
// within it ("/" for the root).
func SplitRef(ref string) (archive, p string) {
	archive, rest, _ := strings.Cut(ref, "/")
	return archive, cleanPath(rest)
}

// cleanPath makes an archive path absolute and clean; it never climbs above the root.
func cleanPath(p string) string {
	parts := strings.Split(p, "/")
	out := make([]string, 0, len(parts))
	for _, s := range parts {
		switch s {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/")
}
