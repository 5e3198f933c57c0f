package main

import (
	"context"
	"fmt"

	"github.com/discofs/discofs/vault"
)

func init() {
	register("rebuild-index", command{
		summary: "wipe the local index and rebuild it from the store alone",
		usage:   "",
		run:     runRebuild,
	})
}

func runRebuild(ctx context.Context, e *env, args []string) error {
	var c common
	fs := newFlags("rebuild-index", e, &c)
	return c.withVault(ctx, e, fs, args, 0, 0, func(v *opened, _ []string) error {
		var prog vault.Progress
		stop := showProgress(e.stderr, "indexing", &prog)
		rep, err := v.Rebuild(ctx, &prog)
		stop()
		if err != nil {
			return err
		}
		for _, s := range rep.Skipped {
			fmt.Fprintf(e.stdout, "skipped: %s\n", s)
		}
		for _, f := range rep.Failed {
			fmt.Fprintf(e.stdout, "damaged: %s\n", oneLine(f))
		}
		fmt.Fprintf(e.stdout, "indexed %d archives, %d files\n", rep.Archives, rep.Files)
		if len(rep.Failed) > 0 {
			fmt.Fprintf(e.stderr, "discofs rebuild-index: %d archives could not be indexed\n", len(rep.Failed))
			return exitError{exitFailure}
		}
		return nil
	})
}
