package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/discofs/discofs/vault"
)

func init() {
	register("slice", command{
		summary: "archive a folder offline into a self-contained encrypted folder",
		usage:   "[--name NAME] [--new-key] [--kdf-time N --kdf-memory MiB] FOLDER OUTDIR",
		run:     runSlice,
	})
	register("assemble", command{
		summary: "restore a sliced folder with its passphrase alone",
		usage:   "OUTDIR DEST",
		run:     runAssemble,
	})
}

func runSlice(ctx context.Context, e *env, args []string) error {
	var c common
	var name string
	var newKey bool
	var kt, km uint
	fs := newFlags("slice", e, &c)
	fs.StringVar(&name, "name", "", "the archive's name (default: the folder's name)")
	fs.BoolVar(&newKey, "new-key", false, "slice under a new key even when a vault is set up (put --sliced then re-seals it)")
	kdfFlags(fs, &kt, &km)
	args, err := parseArgs(fs, args, 2, 2)
	if err != nil {
		return err
	}
	kdf, err := kdfParams(kt, km)
	if err != nil {
		return err
	}
	opts := vault.SliceOptions{Name: name, KDF: kdf}
	var cfg *vault.Config
	if !newKey {
		paths, err := c.paths(e)
		if err != nil {
			return err
		}
		cfg, err = vault.LoadConfig(paths)
		if err != nil && !errors.Is(err, vault.ErrNoVault) {
			return err
		}
	}
	confirm := cfg == nil
	pass, err := c.passphrase(e, "Passphrase: ", confirm)
	if err != nil {
		return err
	}
	if cfg != nil {
		// The vault's key, so put --sliced takes the folder in without re-sealing.
		if _, err := vault.Unlock(cfg, pass); err != nil {
			return err
		}
		opts.Key, opts.VaultID = &cfg.Key, cfg.VaultID
	}
	a, err := vault.Slice(ctx, args[:1], args[1], pass, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: %d files, %s, sliced into %s\n", a.Name, a.Files, vault.HumanBytes(a.Size), args[1])
	return nil
}

func runAssemble(ctx context.Context, e *env, args []string) error {
	var c common
	fs := newFlags("assemble", e, &c)
	args, err := parseArgs(fs, args, 2, 2)
	if err != nil {
		return err
	}
	pass, err := c.passphrase(e, "Passphrase: ", false)
	if err != nil {
		return err
	}
	damaged, err := vault.Assemble(ctx, args[0], args[1], pass)
	for _, d := range damaged {
		fmt.Fprintf(e.stderr, "damaged: %s\n", oneLine(d.String()))
	}
	if err != nil {
		return err
	}
	if len(damaged) > 0 {
		return exitError{exitFailure}
	}
	return nil
}

// envSlicedPassphrase holds the passphrase of a folder put --sliced takes in, when it is
// not the vault's.
const envSlicedPassphrase = "DISCOFS_SLICED_PASSPHRASE"

// runPutSliced is put --sliced: the sliced folder's archives join the vault. The folder's
// passphrase comes from passFile, else $DISCOFS_SLICED_PASSPHRASE, else it is the vault's
// (a folder sliced with the vault's key, or under the same passphrase); when the vault's
// does not open it, it is asked for on the terminal, if there is one.
func runPutSliced(ctx context.Context, e *env, c *common, dir, passFile string) error {
	u, err := c.unlock(e, "Passphrase: ")
	if err != nil {
		return err
	}
	v, err := c.openUnlocked(ctx, e, u, false)
	if err != nil {
		return err
	}
	defer v.Close()
	given := passFile != "" || e.getenv(envSlicedPassphrase) != ""
	pass := u.pass
	if given {
		if pass, err = readSecret(e, passFile, envSlicedPassphrase, "", false); err != nil {
			return err
		}
	}
	list, err := v.PutSliced(ctx, dir, pass)
	if errors.Is(err, vault.ErrWrongPassphrase) && !given {
		asked, aerr := readSecret(e, "", envSlicedPassphrase, "Passphrase of the sliced folder: ", false)
		if aerr != nil {
			return fmt.Errorf("the sliced folder %s does not open with the vault's passphrase; give its own with --sliced-passphrase-file or $%s: %w", dir, envSlicedPassphrase, err)
		}
		list, err = v.PutSliced(ctx, dir, asked)
	}
	for _, a := range list {
		fmt.Fprintf(e.stdout, "%s: %d files, %s\n%s\n", a.Name, a.Files, vault.HumanBytes(a.Size), vault.FormatID(a.ID))
	}
	if errors.Is(err, vault.ErrWrongPassphrase) {
		return fmt.Errorf("the sliced folder %s: %w", dir, err)
	}
	return err
}
