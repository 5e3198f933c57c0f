package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/discofs/discofs/vault"
)

func init() {
	register("init", command{
		summary: "set up a vault (a local store unless --store says otherwise)",
		usage:   "[--store dir:PATH] [--kdf-time N --kdf-memory MiB]",
		run:     runInit,
	})
	register("passwd", command{
		summary: "change the passphrase (re-wraps the key; no data is touched)",
		usage:   "[--new-passphrase-file FILE]",
		run:     runPasswd,
	})
}

func kdfFlags(fs interface {
	UintVar(*uint, string, uint, string)
}, t, m *uint) {
	fs.UintVar(t, "kdf-time", uint(vault.DefaultKDF.Time), "Argon2id passes")
	fs.UintVar(m, "kdf-memory", uint(vault.DefaultKDF.Memory>>10), "Argon2id memory in MiB")
}

func kdfParams(t, m uint) (vault.KDFParams, error) {
	if t < 1 || t > 100 || m < 1 || m > 4096 {
		return vault.KDFParams{}, usagef("--kdf-time must be 1..100 and --kdf-memory 1..4096 MiB")
	}
	return vault.KDFParams{Time: uint32(t), Memory: uint32(m) << 10, Threads: vault.DefaultKDF.Threads}, nil
}

func runInit(ctx context.Context, e *env, args []string) error {
	var c common
	var store string
	var kt, km uint
	fs := newFlags("init", e, &c)
	fs.StringVar(&store, "store", "", "where the bytes live: dir:PATH (default: a folder in the state directory)")
	kdfFlags(fs, &kt, &km)
	args, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := needArgs(args, 0, 0); err != nil {
		return err
	}
	kdf, err := kdfParams(kt, km)
	if err != nil {
		return err
	}
	paths, err := c.paths(e)
	if err != nil {
		return err
	}
	if store == "" {
		store = "dir:" + paths.DefaultStoreDir()
	} else if dir, ok := strings.CutPrefix(store, "dir:"); ok {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return err
		}
		store = "dir:" + abs
	}
	s, catalog, err := openStore(ctx, store, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	pass, err := c.passphrase(e, "New passphrase: ", true)
	if err != nil {
		return err
	}
	cfg, joined, err := vault.Init(ctx, paths, store, nil, vault.Options{Catalog: catalog}, pass, kdf)
	if err != nil {
		return err
	}
	if joined {
		fmt.Fprintf(e.stdout, "joined vault %s on %s\n", cfg.VaultID, store)
	} else {
		fmt.Fprintf(e.stdout, "created vault %s on %s\n", cfg.VaultID, store)
	}
	return nil
}

func runPasswd(ctx context.Context, e *env, args []string) error {
	var c common
	var newFile string
	var kt, km uint
	fs := newFlags("passwd", e, &c)
	fs.StringVar(&newFile, "new-passphrase-file", "", "read the new passphrase from this file (default $DISCOFS_NEW_PASSPHRASE, else a prompt)")
	kdfFlags(fs, &kt, &km)
	args, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := needArgs(args, 0, 0); err != nil {
		return err
	}
	kdf, err := kdfParams(kt, km)
	if err != nil {
		return err
	}
	paths, err := c.paths(e)
	if err != nil {
		return err
	}
	cfg, err := vault.LoadConfig(paths)
	if err != nil {
		return err
	}
	old, err := c.passphrase(e, "Current passphrase: ", false)
	if err != nil {
		return err
	}
	if _, err := vault.Unlock(cfg, old); err != nil {
		return err
	}
	next, err := readSecret(e, newFile, "DISCOFS_NEW_PASSPHRASE", "New passphrase: ", true)
	if err != nil {
		return err
	}
	s, catalog, err := openStore(ctx, cfg.Store, cfg.StoreOptions)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := vault.ChangePassphrase(ctx, paths, cfg, catalog, old, next, kdf); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "passphrase changed")
	return nil
}
