package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/vault"
)

func (c *common) paths(e *env) (vault.Paths, error) {
	home := c.home
	if home == "" {
		home = e.getenv("DISCOFS_HOME")
	}
	if home != "" {
		abs, err := filepath.Abs(home)
		if err != nil {
			return vault.Paths{}, err
		}
		return vault.HomePaths(abs), nil
	}
	return vault.DefaultPaths()
}

// passphrase reads the passphrase from the file flag, the environment or the terminal.
func (c *common) passphrase(e *env, prompt string, confirm bool) (string, error) {
	if p, ok, err := passphraseFromFD(e); ok || err != nil {
		return p, err // handed over by 'mount --daemon'
	}
	return readSecret(e, c.passphraseFile, "DISCOFS_PASSPHRASE", prompt, confirm)
}

// readSecret reads a secret from a file, else an environment variable, else the terminal.
func readSecret(e *env, file, envName, prompt string, confirm bool) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", err
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	if p := e.getenv(envName); p != "" {
		return p, nil
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil || !term.IsTerminal(int(tty.Fd())) {
		if tty != nil {
			tty.Close()
		}
		return "", fmt.Errorf("no passphrase: set %s, use --passphrase-file, or run in a terminal", envName)
	}
	defer tty.Close()
	ask := func(p string) (string, error) {
		fmt.Fprint(tty, p)
		b, err := term.ReadPassword(int(tty.Fd()))
		fmt.Fprintln(tty)
		return string(b), err
	}
	p, err := ask(prompt)
	if err != nil {
		return "", err
	}
	if confirm {
		again, err := ask("Repeat it: ")
		if err != nil {
			return "", err
		}
		if again != p {
			return "", errors.New("the passphrases differ")
		}
	}
	return p, nil
}

// openStore opens the store a spec names and stacks the wrappers around it.
func openStore(ctx context.Context, e *env, spec string, opts map[string]string) (chunkstore.Store, vault.Catalog, error) {
	kind, arg, _ := strings.Cut(spec, ":")
	switch kind {
	case "dir":
		if arg == "" {
			return nil, nil, errors.New("dir store: no folder given (dir:PATH)")
		}
		d, err := chunkstore.OpenDir(arg, chunkstore.Limits{})
		if err != nil {
			return nil, nil, err
		}
		var s chunkstore.Store = chunkstore.NewLimit(chunkstore.NewMetrics(d), 4, 16)
		s = chunkstore.NewRetry(s, chunkstore.RetryOptions{})
		return s, vault.RecordCatalog(d), nil
	case "discord":
		return openDiscord(ctx, e.getenv, arg, opts)
	}
	return nil, nil, fmt.Errorf("unknown store %q (want dir:PATH or discord:CHANNEL_ID)", spec)
}

// opened is an unlocked vault with what it needs closed after.
type opened struct {
	*vault.Vault
	store chunkstore.Store
}

func (o *opened) Close() {
	o.Vault.Close()
	o.store.Close()
}

// unlocked is a vault's config with the passphrase that unlocks it.
type unlocked struct {
	paths  vault.Paths
	cfg    *vault.Config
	pass   string
	master []byte
}

// unlock loads the vault's config and checks the passphrase (asked with prompt) against
// it, before anything else is opened or touched.
func (c *common) unlock(e *env, prompt string) (*unlocked, error) {
	paths, err := c.paths(e)
	if err != nil {
		return nil, err
	}
	cfg, err := vault.LoadConfig(paths)
	if err != nil {
		return nil, err
	}
	pass, err := c.passphrase(e, prompt, false)
	if err != nil {
		return nil, err
	}
	master, err := vault.Unlock(cfg, pass)
	if err != nil {
		return nil, err
	}
	return &unlocked{paths: paths, cfg: cfg, pass: pass, master: master}, nil
}

// openVault unlocks the vault, opens its store and opens it.
func (c *common) openVault(ctx context.Context, e *env, cardNames bool) (*opened, error) {
	u, err := c.unlock(e, "Passphrase: ")
	if err != nil {
		return nil, err
	}
	return c.openUnlocked(ctx, e, u, cardNames)
}

// openUnlocked opens the store of a vault unlock has unlocked, and the vault.
func (c *common) openUnlocked(ctx context.Context, e *env, u *unlocked, cardNames bool) (*opened, error) {
	paths, cfg, master := u.paths, u.cfg, u.master
	store, catalog, err := openStore(ctx, e, cfg.Store, cfg.StoreOptions)
	if err != nil {
		return nil, err
	}
	cardNames = cardNames || cfg.StoreOptions[optCardNames] == "true"
	v, err := vault.Open(ctx, paths, cfg, master, vault.Options{
		Store: store, Catalog: catalog, Logger: c.logger(e.stderr), CardNames: cardNames,
		Uploaders:        storeUploaders(cfg),
		FrameCacheBytes:  c.frameCache,
		MemoryCacheBytes: c.memoryCache,
		Legacy:           legacyFetcher(e, cfg.StoreOptions), // v3.1 archives in Discord (cmd_legacy.go)
	})
	if err != nil {
		store.Close()
		return nil, err
	}
	return &opened{Vault: v, store: store}, nil
}
