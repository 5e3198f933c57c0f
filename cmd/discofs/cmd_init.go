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
		usage:   "[--store dir:PATH | --store discord --channel ID [--discord-api URL] [--token-file F] [--lanes N] [--card-names]] [--kdf-time N --kdf-memory MiB]",
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
	var store, channel, api, tokenFile string
	var lanes uint
	var cardNames bool
	var kt, km uint
	fs := newFlags("init", e, &c)
	fs.StringVar(&store, "store", "", "where the bytes live: dir:PATH, or discord (default: a folder in the state directory)")
	fs.StringVar(&channel, "channel", "", "the Discord text channel that holds the vault (with --store discord)")
	fs.StringVar(&api, "discord-api", "", "base URL of another Discord API, such as `discofs emulator`'s")
	fs.StringVar(&tokenFile, "token-file", "", "read the bot token from this file (default $DISCORD_BOT_TOKEN)")
	fs.UintVar(&lanes, "lanes", 2, "archive threads that upload at once (1..16)")
	fs.BoolVar(&cardNames, "card-names", false, "show file names on archive cards (otherwise they are only in the encrypted manifest)")
	kdfFlags(fs, &kt, &km)
	_, err := parseArgs(fs, args, 0, 0)
	if err != nil {
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
	var storeOpts map[string]string
	if store == "discord" || strings.HasPrefix(store, "discord:") {
		if store, storeOpts, err = discordSpec(store, channel, api, tokenFile, lanes, cardNames); err != nil {
			return err
		}
	} else if channel != "" || api != "" || tokenFile != "" {
		return usagef("--channel, --discord-api and --token-file go with --store discord")
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
	s, catalog, err := openStore(ctx, e, store, storeOpts)
	if err != nil {
		return err
	}
	defer s.Close()
	pass, err := c.passphrase(e, "New passphrase: ", true)
	if err != nil {
		return err
	}
	cfg, joined, err := vault.Init(ctx, paths, store, storeOpts, vault.Options{Catalog: catalog}, pass, kdf)
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

// discordSpec checks init's Discord flags and returns the store spec and the options kept
// in config.json (never the token).
func discordSpec(store, channel, api, tokenFile string, lanes uint, cardNames bool) (string, map[string]string, error) {
	if ch, ok := strings.CutPrefix(store, "discord:"); ok && channel == "" {
		channel = ch
	}
	if channel == "" {
		return "", nil, usagef("--store discord needs --channel ID")
	}
	for _, c := range channel {
		if c < '0' || c > '9' {
			return "", nil, usagef("--channel %q is not a Discord channel ID", channel)
		}
	}
	if lanes < 1 || lanes > 16 {
		return "", nil, usagef("--lanes must be 1..16")
	}
	opts := map[string]string{optLanes: fmt.Sprint(lanes)}
	if api != "" {
		opts[optAPI] = api
	}
	if tokenFile != "" {
		abs, err := filepath.Abs(tokenFile)
		if err != nil {
			return "", nil, err
		}
		opts[optTokenFile] = abs
	}
	if cardNames {
		opts[optCardNames] = "true"
	}
	return "discord:" + channel, opts, nil
}

func runPasswd(ctx context.Context, e *env, args []string) error {
	var c common
	var newFile string
	var kt, km uint
	fs := newFlags("passwd", e, &c)
	fs.StringVar(&newFile, "new-passphrase-file", "", "read the new passphrase from this file (default $DISCOFS_NEW_PASSPHRASE, else a prompt)")
	kdfFlags(fs, &kt, &km)
	_, err := parseArgs(fs, args, 0, 0)
	if err != nil {
		return err
	}
	kdf, err := kdfParams(kt, km)
	if err != nil {
		return err
	}
	u, err := c.unlock(e, "Current passphrase: ")
	if err != nil {
		return err
	}
	paths, cfg, old := u.paths, u.cfg, u.pass
	next, err := readSecret(e, newFile, "DISCOFS_NEW_PASSPHRASE", "New passphrase: ", true)
	if err != nil {
		return err
	}
	s, catalog, err := openStore(ctx, e, cfg.Store, cfg.StoreOptions)
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
