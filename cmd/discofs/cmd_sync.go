package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/discofs/discofs/vault"
)

func init() {
	register("sync", command{
		summary: "upload and commit every queued file (through the running mount, if any)",
		usage:   "[--timeout D]",
		run:     runSync,
	})
}

func runSync(ctx context.Context, e *env, args []string) error {
	var c common
	var timeout time.Duration
	fl := newFlags("sync", e, &c)
	fl.DurationVar(&timeout, "timeout", 0, "give up after this long (0: wait as long as it takes)")
	_, err := parseArgs(fl, args, 0, 0)
	if err != nil {
		return err
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	paths, err := c.paths(e)
	if err != nil {
		return err
	}
	resp, err := askControl(ctx, controlPath(paths), controlRequest{Op: "sync", Timeout: timeout})
	switch {
	case err == nil && resp.Error != "":
		return errors.New(resp.Error)
	case err == nil:
		fmt.Fprintln(e.stderr, "discofs sync: the mount's queue is committed")
		return nil
	case !errors.Is(err, errNoMount):
		return err
	}
	// No mount runs: drain the queue here.
	v, err := c.openVault(ctx, e, false)
	if err != nil {
		return err
	}
	defer v.Close()
	wb, err := v.StartWriteback(vault.WritebackOptions{})
	if err != nil {
		return err
	}
	defer wb.Close()
	for _, msg := range wb.Recovered() {
		fmt.Fprintf(e.stderr, "discofs sync: %s\n", msg)
	}
	before := wb.Status()
	if err := wb.Sync(ctx); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "discofs sync: %d files committed\n", before.Files)
	return nil
}

// printQueue shows a writeback queue's state.
func printQueue(w io.Writer, s *vault.WritebackStatus) {
	elapsed := time.Since(s.Started).Seconds()
	rate := int64(0)
	if elapsed > 0 {
		rate = int64(float64(s.UploadedBytes) / elapsed)
	}
	fmt.Fprintf(w, "queue     %d files (%s), %d uploading, %d failed\n", s.Files, vault.HumanBytes(s.Bytes), s.Uploading, s.Failed)
	fmt.Fprintf(w, "uploaded  %d files (%s, %s/s), %d commits\n", s.UploadedFiles, vault.HumanBytes(s.UploadedBytes), vault.HumanBytes(rate), s.Commits)
	if len(s.Dirty) > 0 {
		fmt.Fprintf(w, "pending   %d archives with changes to commit\n", len(s.Dirty))
	}
	for _, e := range s.Errors {
		fmt.Fprintf(w, "error     %s\n", oneLine(e))
	}
}
