package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/discofs/discofs/index"
	"github.com/discofs/discofs/vault"
)

func init() {
	register("ls", command{
		summary: "list archives, or the contents of one",
		usage:   "[--json] [ARCHIVE[/PATH]]",
		run:     runLs,
	})
}

// lsEntry is one line of ls --json for a path inside an archive (archiveJSON is one for an
// archive).
type lsEntry struct {
	Path   string    `json:"path"`
	Type   string    `json:"type"`
	Mode   string    `json:"mode"`
	Size   int64     `json:"size"`
	Mtime  time.Time `json:"mtime"`
	Target string    `json:"target,omitempty"`
}

func runLs(ctx context.Context, e *env, args []string) error {
	var c common
	var asJSON bool
	flags := newFlags("ls", e, &c)
	flags.BoolVar(&asJSON, "json", false, "print one JSON object per line: an archive, or an entry of one")
	return c.withVault(ctx, e, flags, args, 0, 1, func(v *opened, args []string) error {
		w := bufio.NewWriterSize(e.stdout, 64<<10)
		defer w.Flush()
		if len(args) == 0 {
			list, err := v.Archives()
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(w)
				for _, a := range list {
					if err := enc.Encode(archiveOut(a)); err != nil {
						return err
					}
				}
				return nil
			}
			for _, a := range list {
				fmt.Fprintf(w, "%-11s %-8s %6d files %10s  %s  %s\n", vault.FormatID(a.ID), a.Status, a.Files,
					vault.HumanBytes(a.Size), a.Created.Local().Format("2006-01-02 15:04"), a.Name)
			}
			return nil
		}
		aref, p := vault.SplitRef(args[0])
		a, err := v.Resolve(aref)
		if err != nil {
			return err
		}
		n, err := v.Index().GetNode(a.ID, p)
		if errors.Is(err, index.ErrNotFound) {
			return fmt.Errorf("%s%s: no such file or directory", vault.FormatID(a.ID), p)
		}
		if err != nil {
			return err
		}
		enc := json.NewEncoder(w)
		show := func(n index.Node) error {
			if asJSON {
				return enc.Encode(lsEntry{Path: n.Path, Type: n.Type.String(), Mode: nodeMode(n).String(),
					Size: n.Size, Mtime: time.Unix(0, n.Mtime), Target: n.Target})
			}
			name := n.Path
			if n.Type == index.TypeSymlink {
				name += " -> " + n.Target
			}
			_, err := fmt.Fprintf(w, "%s %12d %s %s\n", nodeMode(n), n.Size, time.Unix(0, n.Mtime).Local().Format("2006-01-02 15:04"), name)
			return err
		}
		if n.Type != index.TypeDir {
			return show(n)
		}
		return v.Index().Children(a.ID, p, show)
	})
}

func nodeMode(n index.Node) fs.FileMode {
	m := fs.FileMode(n.Mode & 0o777)
	switch n.Type {
	case index.TypeDir:
		m |= fs.ModeDir
	case index.TypeSymlink:
		m |= fs.ModeSymlink
	}
	return m
}
