package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/discofs/discofs/vault"
)

func init() {
	register("status", command{summary: "show the vault's totals", usage: "[--json]", run: runStatus})
	register("verify", command{
		summary: "check that every pack is stored (--full: download and authenticate every chunk)",
		usage:   "[--full] [--json] [ARCHIVE]",
		run:     runVerify,
	})
	register("rm", command{summary: "delete an archive (gc frees its space)", usage: "ARCHIVE", run: runRm})
	register("gc", command{summary: "delete packs and leftovers that no archive uses", usage: "", run: runGC})
}

func runStatus(ctx context.Context, e *env, args []string) error {
	var c common
	var asJSON bool
	fs := newFlags("status", e, &c)
	fs.BoolVar(&asJSON, "json", false, "print the totals (and, with a mount running, its queue) as JSON")
	_, err := parseArgs(fs, args, 0, 0)
	if err != nil {
		return err
	}
	// A running mount holds the index; it answers for the vault and its queue.
	if paths, err := c.paths(e); err == nil {
		resp, err := askControl(ctx, controlPath(paths), controlRequest{Op: "status"})
		switch {
		case err == nil && resp.Error != "":
			return errors.New(resp.Error)
		case err == nil && resp.Vault != nil:
			return printStatus(e, asJSON, resp.Vault, true, resp.Status)
		}
	}
	v, err := c.openVault(ctx, e, false)
	if err != nil {
		return err
	}
	defer v.Close()
	s, err := v.Status()
	if err != nil {
		return err
	}
	return printStatus(e, asJSON, s, false, nil)
}

// printStatus prints a vault's totals and, of a running mount, its queue (nil on a
// read-only mount).
func printStatus(e *env, asJSON bool, s *vault.Status, mounted bool, queue *vault.WritebackStatus) error {
	if asJSON {
		return json.NewEncoder(e.stdout).Encode(statusOut(s, mounted, queue))
	}
	fmt.Fprintf(e.stdout, "vault     %s\nstore     %s\narchives  %d\nfiles     %d (%s)\nstored    %s in %d packs\n",
		s.VaultID, s.Store, s.Archives, s.Files, vault.HumanBytes(s.Size), vault.HumanBytes(s.Stored), s.Packs)
	if s.Last != nil {
		fmt.Fprintf(e.stdout, "last      %s %s (%s)\n", vault.FormatID(s.Last.ID), s.Last.Name, s.Last.Created.Local().Format("2006-01-02 15:04"))
	}
	if mounted {
		fmt.Fprintln(e.stdout, "mounted   yes")
	}
	if queue != nil {
		printQueue(e.stdout, queue)
	}
	return nil
}

func runVerify(ctx context.Context, e *env, args []string) error {
	var c common
	var full, asJSON bool
	fs := newFlags("verify", e, &c)
	fs.BoolVar(&full, "full", false, "download and authenticate every chunk")
	fs.BoolVar(&asJSON, "json", false, "print the counts and the damaged files as JSON")
	return c.withVault(ctx, e, fs, args, 0, 1, func(v *opened, args []string) error {
		ref := ""
		if len(args) == 1 {
			ref = args[0]
		}
		var prog vault.Progress
		stop := showProgress(e.stderr, "verifying", &prog)
		rep, err := v.Verify(ctx, ref, full, &prog)
		stop()
		if err != nil {
			return err
		}
		if asJSON {
			if err := json.NewEncoder(e.stdout).Encode(verifyOut(rep, full)); err != nil {
				return err
			}
		} else {
			for _, d := range rep.Damaged {
				fmt.Fprintf(e.stdout, "damaged: %s\n", oneLine(d.String()))
			}
			what := "packs present"
			if full {
				what = fmt.Sprintf("%d chunks authenticated", rep.Chunks)
			}
			fmt.Fprintf(e.stdout, "checked %d archives, %d packs (%s), %s: %d damaged files\n",
				rep.Archives, rep.Packs, vault.HumanBytes(rep.Bytes), what, len(rep.Damaged))
		}
		if len(rep.Damaged) > 0 {
			fmt.Fprintf(e.stderr, "discofs verify: %d damaged files\n", len(rep.Damaged))
			return exitError{exitFailure}
		}
		return nil
	})
}

func runRm(ctx context.Context, e *env, args []string) error {
	var c common
	fs := newFlags("rm", e, &c)
	return c.withVault(ctx, e, fs, args, 1, 1, func(v *opened, args []string) error {
		a, err := v.Remove(ctx, args[0])
		if err != nil {
			return err
		}
		if a.Legacy {
			fmt.Fprintf(e.stdout, "removed the v3.1 archive %s %s from the index; its chunks stay where v3.1 put them ('discofs import-legacy' finds it again)\n", vault.FormatID(a.ID), a.Name)
			return nil
		}
		fmt.Fprintf(e.stdout, "deleted %s %s (run 'discofs gc' to free its space)\n", vault.FormatID(a.ID), a.Name)
		return nil
	})
}

func runGC(ctx context.Context, e *env, args []string) error {
	var c common
	fs := newFlags("gc", e, &c)
	return c.withVault(ctx, e, fs, args, 0, 0, func(v *opened, _ []string) error {
		rep, err := v.GC(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "deleted %d packs (%s), %d old manifests, %d leftovers; cleaned %d interrupted puts\n",
			rep.Packs, vault.HumanBytes(rep.Bytes), rep.Manifests, rep.Orphans, rep.Abandoned)
		if rep.OrphansSkipped {
			fmt.Fprintln(e.stdout, "objects unknown to this index were kept: the store has archives this machine has not indexed")
		}
		return nil
	})
}
