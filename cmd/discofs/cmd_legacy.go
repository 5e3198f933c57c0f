package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/discofs/discofs/discord"
	"github.com/discofs/discofs/index"
	"github.com/discofs/discofs/vault"
)

func init() {
	register("import-legacy", command{
		summary: "index v3.1 archives read-only, from the vault's channel or a folder of chunks",
		usage:   "[--dir FOLDER | --channel ID] [--discord-api URL] [--legacy-passphrase-file FILE] [--env FILE]",
		run:     runImportLegacy,
	})
	register("migrate", command{
		summary: "re-archive a v3.1 archive in the discofs format and mark its old card",
		usage:   "[--delete-old] [--discord-api URL] [--env FILE] ARCHIVE",
		run:     runMigrate,
	})
}

// The v3.1 tool's .env names. v3.1 took them from its environment and from the .env file
// beside its main.py; import-legacy and migrate take them from the environment and from the
// .env file --env names.
const (
	envLegacyToken   = "DISCORD_BOT_TOKEN"
	envLegacyChannel = "DISCORD_DRIVE_ARCHIVE_CHANNEL_ID"
	envLegacyKey     = "USER_KEY"
)

// openLegacyVault opens the vault for a command that reads v3.1 archives, with the v3.1
// names of envFile (when given) beside e's; it returns the environment it used.
func (c *common) openLegacyVault(ctx context.Context, e *env, envFile string) (*opened, *env, error) {
	e, err := legacyEnv(e, envFile)
	if err != nil {
		return nil, nil, err
	}
	v, err := c.openVault(ctx, e, false)
	return v, e, err
}

// legacyEnv returns e with the v3.1 names found in the .env file at path (none when path is
// empty) filled in where the environment leaves them empty, as v3.1's load_env_file did
// with os.environ.setdefault. Other names in the file are ignored, and no value is ever
// put into an error.
func legacyEnv(e *env, path string) (*env, error) {
	if path == "" {
		return e, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("v3.1 .env: %w", err)
	}
	file := parseDotEnv(string(b))
	out := *e
	out.getenv = func(name string) string {
		if v := e.getenv(name); v != "" {
			return v
		}
		switch name {
		case envLegacyToken, envLegacyChannel, envLegacyKey:
			return file[name]
		}
		return ""
	}
	return &out, nil
}

// parseDotEnv reads a .env as v3.1's load_env_file did: each line stripped of spaces;
// empty lines, lines starting with '#' and lines without '=' skipped; the key is what stands
// before the first '=', the value what follows it with spaces, then double quotes, then
// single quotes stripped from both ends (not only a matching pair). A key given twice
// keeps its first value.
func parseDotEnv(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		if _, seen := out[k]; !seen {
			out[k] = strings.Trim(strings.Trim(strings.TrimSpace(v), `"`), "'")
		}
	}
	return out
}

// legacyToken is the bot token v3.1 chunks kept in Discord are read with: the vault's (its
// token file, else $DISCORD_BOT_TOKEN), as every other Discord command finds it, else
// DISCORD_BOT_TOKEN from a v3.1 .env.
func legacyToken(e *env, storeOpts map[string]string) (string, error) {
	if t, err := discordToken(e.getenv, storeOpts); err == nil || storeOpts[optTokenFile] != "" {
		return t, err
	}
	return "", errors.New("no Discord bot token: set " + envLegacyToken + ", give the vault a token file (init --token-file), or pass v3.1's .env with --env")
}

// legacyFetcher reads v3.1 chunks kept in Discord with legacyToken; without one, reads of
// them fail and say so.
func legacyFetcher(e *env, storeOpts map[string]string) vault.LegacyFetcher {
	token, _ := legacyToken(e, storeOpts)
	return discord.NewLegacyFetcher(token)
}

// legacyPassphrase reads the v3.1 passphrase: from --legacy-passphrase-file, $USER_KEY (or
// the .env), else a prompt.
func legacyPassphrase(e *env, file string) (string, error) {
	if file == "" && e.getenv(envLegacyKey) == "" && !haveTerminal() {
		return "", errors.New("no v3.1 passphrase: set " + envLegacyKey + ", use --legacy-passphrase-file or --env, or run in a terminal")
	}
	return readSecret(e, file, envLegacyKey, "v3.1 passphrase: ", false)
}

// haveTerminal reports whether a passphrase can be asked for.
func haveTerminal() bool {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer tty.Close()
	return term.IsTerminal(int(tty.Fd()))
}

func runImportLegacy(ctx context.Context, e *env, args []string) error {
	var c common
	var dir, channel, api, passFile, envFile string
	fs := newFlags("import-legacy", e, &c)
	fs.StringVar(&dir, "dir", "", "import the v3.1 manifests and chunks in this folder")
	fs.StringVar(&channel, "channel", "", "the v3.1 archive channel (default $"+envLegacyChannel+", else the vault's channel)")
	fs.StringVar(&api, "discord-api", "", "Discord API base URL (for the emulator; default the vault's, else discord.com)")
	fs.StringVar(&passFile, "legacy-passphrase-file", "", "read the v3.1 passphrase from this file (default $"+envLegacyKey+", else a prompt)")
	fs.StringVar(&envFile, "env", "", "read v3.1's "+envLegacyToken+", "+envLegacyChannel+" and "+envLegacyKey+" from this .env file (the environment wins)")
	_, err := parseArgs(fs, args, 0, 0)
	if err != nil {
		return err
	}
	if dir != "" && channel != "" {
		return usagef("--dir and --channel do not go together")
	}
	v, e, err := c.openLegacyVault(ctx, e, envFile)
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
		cfg := v.Config()
		if channel == "" {
			channel = e.getenv(envLegacyChannel)
		}
		if channel == "" {
			if id, ok := strings.CutPrefix(cfg.Store, "discord:"); ok {
				channel = id
			}
		}
		if channel == "" {
			return usagef("no channel: give --channel, set %s, or use --dir", envLegacyChannel)
		}
		if api == "" && strings.HasPrefix(cfg.Store, "discord:") {
			api = cfg.StoreOptions[optAPI]
		}
		token, err := legacyToken(e, cfg.StoreOptions)
		if err != nil {
			return err
		}
		sess, err := discord.NewSession(token, api, 0)
		if err != nil {
			return err
		}
		imps, problems = discord.ScanLegacy(ctx, sess, api, channel)
	}
	// Only encrypted archives need the passphrase: an unencrypted v3.1 folder imports
	// without one.
	pass := ""
	for _, imp := range imps {
		if imp.Encrypted() {
			if pass, err = legacyPassphrase(e, passFile); err != nil {
				return err
			}
			break
		}
	}
	imported := 0
	for _, imp := range imps {
		for _, n := range imp.Notes {
			fmt.Fprintf(e.stderr, "discofs import-legacy: note: %s: %s\n", imp.Label(), oneLine(n))
		}
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
	var api, envFile string
	fs := newFlags("migrate", e, &c)
	fs.BoolVar(&deleteOld, "delete-old", false, "delete the v3.1 thread once the new archive has been verified")
	fs.StringVar(&api, "discord-api", "", "Discord API base URL (default: the one the archive was imported from)")
	fs.StringVar(&envFile, "env", "", "read v3.1's "+envLegacyToken+" from this .env file (the environment wins)")
	args, err := parseArgs(fs, args, 1, 1)
	if err != nil {
		return err
	}
	v, e, err := c.openLegacyVault(ctx, e, envFile)
	if err != nil {
		return err
	}
	defer v.Close()
	old, err := v.Resolve(args[0])
	if err != nil {
		return err
	}
	opts := vault.MigrateOptions{DeleteOld: deleteOld}
	if la, err := v.Index().GetLegacy(old.ID); err == nil && la.Source.Kind == index.LegacyDiscord {
		token, err := legacyToken(e, v.Config().StoreOptions)
		if err != nil {
			return err
		}
		f := discord.NewLegacyFetcher(token)
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
}
