package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/discofs/discofs/discord"
	"github.com/discofs/discofs/index"
	"github.com/discofs/discofs/vault"
)

func init() {
	register("import-legacy", command{
		summary: "index v3.1 archives read-only, from the vault's channel or a folder of chunks",
		usage:   "[--dir FOLDER | --channel ID] [--discord-api URL] [--legacy-passphrase-file FILE]",
		run:     runImportLegacy,
	})
	register("migrate", command{
		summary: "re-archive a v3.1 archive in the discofs format and mark its old card",
		usage:   "[--delete-old] [--discord-api URL] ARCHIVE",
		run:     runMigrate,
	})
}

// The v3.1 tool's .env names, accepted as they are so its users can bring their .env.
const (
	envLegacyToken   = "DISCORD_BOT_TOKEN"
	envLegacyChannel = "DISCORD_DRIVE_ARCHIVE_CHANNEL_ID"
	envLegacyKey     = "USER_KEY"
)

// legacyFetcher reads v3.1 chunks kept in Discord, with the bot token from the environment.
// legacyFetcher reads v3.1 chunks kept in Discord with the vault's bot token (its token
// file, else $DISCORD_BOT_TOKEN).
func legacyFetcher(e *env, storeOpts map[string]string) vault.LegacyFetcher {
	token, err := discordToken(storeOpts)
	if err != nil {
		token = e.getenv(envLegacyToken)
	}
	return discord.NewLegacyFetcher(token)
}

func runImportLegacy(ctx context.Context, e *env, args []string) error {
	var c common
	var dir, channel, api, passFile string
	fs := newFlags("import-legacy", e, &c)
	fs.StringVar(&dir, "dir", "", "import the v3.1 manifests and chunks in this folder")
	fs.StringVar(&channel, "channel", "", "the v3.1 archive channel (default $"+envLegacyChannel+", else the vault's channel)")
	fs.StringVar(&api, "discord-api", "", "Discord API base URL (for the emulator; default discord.com)")
	fs.StringVar(&passFile, "legacy-passphrase-file", "", "read the v3.1 passphrase from this file (default $"+envLegacyKey+", else a prompt)")
	_, err := parseArgs(fs, args, 0, 0)
	if err != nil {
		return err
	}
	if dir != "" && channel != "" {
		return usagef("--dir and --channel do not go together")
	}
	v, err := c.openVault(ctx, e, false)
	if err != nil {
		return err
	}
	defer v.Close()

	var imps []*vault.LegacyImport
	var problems []error
	if dir != "" {
		if imps, err = vault.ScanLegacyDir(dir); err != nil {
			return err
		}
	} else {
		if channel == "" {
			channel = e.getenv(envLegacyChannel)
		}
		if channel == "" {
			if id, ok := strings.CutPrefix(v.Config().Store, "discord:"); ok {
				channel = id
			}
		}
		if channel == "" {
			return usagef("no channel: give --channel, set %s, or use --dir", envLegacyChannel)
		}
		sess, err := discord.NewSession(e.getenv(envLegacyToken), api, 0)
		if err != nil {
			return err
		}
		imps, problems = discord.ScanLegacy(ctx, sess, api, channel)
	}
	pass := ""
	if len(imps) > 0 {
		if pass, err = readSecret(e, passFile, envLegacyKey, "v3.1 passphrase: ", false); err != nil {
			return err
		}
	}
	imported := 0
	for _, imp := range imps {
		a, err := v.ImportLegacy(ctx, imp, pass)
		switch {
		case errors.Is(err, vault.ErrLegacyImported):
			fmt.Fprintf(e.stdout, "%s %s: already imported\n", vault.FormatID(a.ID), a.Name)
		case err != nil:
			problems = append(problems, err)
		default:
			imported++
			fmt.Fprintf(e.stdout, "%s %s: %d files, %s (v3.1, read-only)\n", vault.FormatID(a.ID), a.Name, a.Files, vault.HumanBytes(a.Size))
		}
	}
	for _, p := range problems {
		fmt.Fprintf(e.stderr, "discofs import-legacy: %s\n", oneLine(p.Error()))
	}
	if len(problems) > 0 {
		fmt.Fprintf(e.stderr, "discofs import-legacy: %d imported, %d failed\n", imported, len(problems))
		return exitError{exitFailure}
	}
	return nil
}

func runMigrate(ctx context.Context, e *env, args []string) error {
	var c common
	var deleteOld bool
	var api string
	fs := newFlags("migrate", e, &c)
	fs.BoolVar(&deleteOld, "delete-old", false, "delete the v3.1 thread once the new archive has been verified")
	fs.StringVar(&api, "discord-api", "", "Discord API base URL (default: the one the archive was imported from)")
	return c.withVault(ctx, e, fs, args, 1, 1, func(v *opened, args []string) error {
		old, err := v.Resolve(args[0])
		if err != nil {
			return err
		}
		opts := vault.MigrateOptions{DeleteOld: deleteOld}
		if la, err := v.Index().GetLegacy(old.ID); err == nil && la.Source.Kind == index.LegacyDiscord {
			f := discord.NewLegacyFetcher(e.getenv(envLegacyToken))
			if api != "" {
				f.UseAPI(la.Source.API, api)
			}
			opts.Marker = f
		}
		var prog vault.Progress
		stop := showProgress(e.stderr, "migrating", &prog)
		opts.Progress = &prog
		a, err := v.MigrateLegacy(ctx, args[0], opts)
		stop()
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s %s: migrated to %s (%d files, %s)\n", vault.FormatID(old.ID), old.Name, vault.FormatID(a.ID), a.Files, vault.HumanBytes(a.Size))
		fmt.Fprintln(e.stdout, vault.FormatID(a.ID))
		return nil
	})
}
