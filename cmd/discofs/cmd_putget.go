package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/discofs/discofs/vault"
)

func init() {
	register("put", command{
		summary: "archive files and folders; prints the new archive's ID last",
		usage:   "[--name NAME | --archive ID] [--card-names] [--json] PATH... | --sliced OUTDIR [--sliced-passphrase-file FILE]",
		run:     runPut,
	})
	register("resume", command{
		summary: "finish puts that were interrupted: archive their sources again into the same archives",
		usage:   "[--list] [ARCHIVE]",
		run:     runResume,
	})
	register("get", command{
		summary: "restore an archive, or one file or folder of it",
		usage:   "ARCHIVE[/PATH] DEST",
		run:     runGet,
	})
}

func runPut(ctx context.Context, e *env, args []string) error {
	var c common
	var name, archive string
	var cardNames, asJSON bool
	fs := newFlags("put", e, &c)
	fs.StringVar(&name, "name", "", "the new archive's name (default: the folder's name)")
	fs.StringVar(&archive, "archive", "", "add to this archive (ID or name) instead of making a new one")
	fs.BoolVar(&cardNames, "card-names", false, "show file names on the archive card (they are otherwise only in the encrypted manifest)")
	fs.BoolVar(&asJSON, "json", false, "print the archive as one line of JSON, and nothing else")
	var sliced, slicedPass string
	fs.StringVar(&sliced, "sliced", "", "add the archives of this sliced folder (see 'discofs slice')")
	fs.StringVar(&slicedPass, "sliced-passphrase-file", "", "read the sliced folder's passphrase from this file (default $"+envSlicedPassphrase+", else the vault's, else a prompt)")
	args, err := parse(fs, args)
	if err != nil {
		return err
	}
	if sliced != "" {
		if len(args) > 0 || name != "" || archive != "" {
			return usagef("--sliced takes no paths, --name or --archive")
		}
		return runPutSliced(ctx, e, &c, sliced, slicedPass) // cmd_slice.go
	}
	if slicedPass != "" {
		return usagef("--sliced-passphrase-file goes with --sliced")
	}
	if err := needArgs(args, 1, -1); err != nil {
		return err
	}
	if name != "" && archive != "" {
		return usagef("--name and --archive do not go together")
	}
	v, err := c.openVault(ctx, e, cardNames)
	if err != nil {
		return err
	}
	defer v.Close()
	var prog vault.Progress
	stop := showProgress(e.stderr, "archiving", &prog)
	a, err := v.Put(ctx, args, vault.PutOptions{Name: name, Archive: archive, Progress: &prog})
	stop()
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(e.stdout).Encode(putJSON{archiveOut(a), prog.Stored.Load()})
	}
	fmt.Fprintf(e.stdout, "%s: %d files, %s, %s newly stored\n", a.Name, a.Files, vault.HumanBytes(a.Size), vault.HumanBytes(prog.Stored.Load()))
	fmt.Fprintln(e.stdout, vault.FormatID(a.ID))
	return nil
}

// runResume resumes the puts a killed process or a failed store left unfinished, or lists
// them. Chunks they stored are not stored again.
func runResume(ctx context.Context, e *env, args []string) error {
	var c common
	var list bool
	fs := newFlags("resume", e, &c)
	fs.BoolVar(&list, "list", false, "only list the interrupted puts and their sources")
	return c.withVault(ctx, e, fs, args, 0, 1, func(v *opened, args []string) error {
		var todo []vault.Interrupted
		if len(args) == 1 {
			it, err := v.FindInterrupted(args[0])
			if err != nil {
				return err
			}
			todo = append(todo, it)
		} else {
			var err error
			if todo, err = v.Interrupted(); err != nil {
				return err
			}
		}
		if len(todo) == 0 {
			fmt.Fprintln(e.stdout, "no interrupted put to resume")
			return nil
		}
		failed := 0
		for _, it := range todo {
			what := fmt.Sprintf("%s %s (from %s)", vault.FormatID(it.Archive.ID), it.Archive.Name, strings.Join(it.Paths, ", "))
			if list {
				fmt.Fprintln(e.stdout, what)
				continue
			}
			var prog vault.Progress
			stop := showProgress(e.stderr, "resuming", &prog)
			a, err := v.Resume(ctx, it, &prog)
			stop()
			if err != nil {
				if ctx.Err() != nil {
					return err
				}
				failed++
				fmt.Fprintf(e.stderr, "discofs resume: %s: %s\n", vault.FormatID(it.Archive.ID), oneLine(err.Error()))
				continue
			}
			fmt.Fprintf(e.stdout, "resumed %s %s: %d files, %s, %s newly stored\n", vault.FormatID(a.ID), a.Name, a.Files,
				vault.HumanBytes(a.Size), vault.HumanBytes(prog.Stored.Load()))
		}
		if failed > 0 {
			return exitError{exitFailure}
		}
		return nil
	})
}

func runGet(ctx context.Context, e *env, args []string) error {
	var c common
	fs := newFlags("get", e, &c)
	return c.withVault(ctx, e, fs, args, 2, 2, func(v *opened, args []string) error {
		var prog vault.Progress
		stop := showProgress(e.stderr, "restoring", &prog)
		damaged, err := v.Get(ctx, args[0], args[1], &prog)
		stop()
		for _, d := range damaged {
			fmt.Fprintf(e.stderr, "damaged: %s\n", oneLine(d.String()))
		}
		if err != nil {
			return err
		}
		if len(damaged) > 0 {
			fmt.Fprintf(e.stderr, "discofs get: %d files could not be restored\n", len(damaged))
			return exitError{exitFailure}
		}
		return nil
	})
}
