package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/discord"
	"github.com/discofs/discofs/vault"
)

func init() {
	register("bot", command{
		summary: "run the Discord bot that manages the vault",
		usage:   "[--discord-api URL] [--channel ID] [--allow USER_OR_ROLE_ID,...] [--download-dir DIR] [--save] [--token-file F] [--legacy-passphrase-file F] [--notify] [--inhibit-sleep] [--no-prefix]",
		run:     runBot,
	})
}

// botFlags are the bot's settings on the command line; `discofs mount --bot` takes the same
// through addBotFlags.
type botFlags struct {
	api, channel, allow, downloadDir, tokenFile string
	legacyPassFile                              string
	notify, inhibitSleep, noPrefix, save        bool
	// queue is the writeback queue of a mount in the same process, for the bot's status;
	// retry makes its failed uploads due now, for the bot's resume.
	queue func() vault.WritebackStatus
	retry func(archive string) int
	// health describes the store's requests, for the bot's status.
	health func() string
	// host is shared with the mount's queue watcher, so one inhibitor covers both.
	host *discord.Host
	// home is the --home flag, where --save writes.
	home string
}

// addBotFlags puts the bot's flags on a command's flag set.
func addBotFlags(fs *flag.FlagSet, bf *botFlags) {
	fs.StringVar(&bf.api, "discord-api", "", "base URL of another Discord API, such as `discofs emulator`'s (default: the vault's, else discord.com)")
	fs.StringVar(&bf.channel, "channel", "", "the vault's Discord channel (default: the vault's store channel)")
	fs.StringVar(&bf.allow, "allow", "", "comma-separated user or role IDs that may use the bot (default: the guild owner and administrators)")
	fs.StringVar(&bf.downloadDir, "download-dir", "", "folder where the download command restores archives (default: downloads are off)")
	fs.StringVar(&bf.tokenFile, "token-file", "", "read the bot token from this file (default: the vault's token file, else $DISCORD_BOT_TOKEN)")
	fs.StringVar(&bf.legacyPassFile, "legacy-passphrase-file", "", "read the v3.1 passphrase for the migrate-legacy command from this file (default $"+envLegacyKey+"; without either, migrate-legacy is off)")
	fs.BoolVar(&bf.notify, "notify", false, "desktop notification on this host when an upload or a commit of the mount finishes (notify-send or osascript)")
	fs.BoolVar(&bf.inhibitSleep, "inhibit-sleep", false, "keep this host awake while uploads run (systemd-inhibit or caffeinate)")
	fs.BoolVar(&bf.noPrefix, "no-prefix", false, "slash commands only: do not ask for the MESSAGE_CONTENT intent")
	fs.BoolVar(&bf.save, "save", false, "keep --allow and --download-dir in the vault's config, for later runs without them")
}

func runBot(ctx context.Context, e *env, args []string) error {
	var c common
	var bf botFlags
	fs := newFlags("bot", e, &c)
	addBotFlags(fs, &bf)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := needArgs(pos, 0, 0); err != nil {
		return err
	}
	bf.home = c.home
	o, err := c.openVault(ctx, e, false)
	if err != nil {
		return err
	}
	defer o.Close()
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if c.level > 0 {
		log = c.logger(e.stderr)
	}
	bf.health = storeHealth(o)
	wait, err := startBot(ctx, e, o.Vault, &bf, log)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stderr, "discofs bot: serving; stop with Ctrl-C")
	return wait() // a signal ends ctx: the way the bot is meant to stop, not an error
}

// startBot starts the bot on an open vault beside whatever else the process runs (`discofs
// mount --bot`). It returns once the bot serves; wait blocks until ctx ends and the bot's
// running commands have finished, and returns what stopped it. The vault must stay open
// until wait returns.
func startBot(ctx context.Context, e *env, v *vault.Vault, bf *botFlags, log *slog.Logger) (wait func() error, err error) {
	cfg, err := bf.config(v.Config())
	if err != nil {
		return nil, err
	}
	if bf.save {
		if err := saveBotSettings(e, bf, &cfg); err != nil {
			return nil, err
		}
	}
	opts := map[string]string{}
	for k, val := range v.Config().StoreOptions {
		opts[k] = val
	}
	if bf.tokenFile != "" {
		opts[optTokenFile] = bf.tokenFile
	}
	token, err := discordToken(e.getenv, opts)
	if err != nil {
		return nil, err
	}
	api := bf.api
	if api == "" {
		api = opts[optAPI]
	}
	cfg.API = api
	// The bot never prompts: it runs unattended, and without a passphrase migrate-legacy
	// says how to give one.
	if bf.legacyPassFile != "" {
		if cfg.LegacyPassphrase, err = readSecret(e, bf.legacyPassFile, envLegacyKey, "", false); err != nil {
			return nil, fmt.Errorf("--legacy-passphrase-file: %w", err)
		}
	} else {
		cfg.LegacyPassphrase = e.getenv(envLegacyKey)
	}
	sess, err := discord.NewSession(token, api, 0)
	if err != nil {
		return nil, err
	}
	bot := discord.NewBot(sess, v, cfg, log)
	done := make(chan error, 1)
	go func() { done <- bot.Run(ctx) }()
	select {
	case <-bot.Ready():
	case err := <-done:
		if err == nil {
			err = ctx.Err()
		}
		return nil, err
	}
	return func() error { return <-done }, nil
}

// config turns the flags into the bot's config; the channel defaults to the vault's own.
func (bf *botFlags) config(vc *vault.Config) (discord.BotConfig, error) {
	cfg := discord.BotConfig{ChannelID: bf.channel, NoPrefix: bf.noPrefix, Notify: bf.notify, InhibitSleep: bf.inhibitSleep, Host: bf.host, Queue: bf.queue, Retry: bf.retry, Health: bf.health}
	if cfg.ChannelID == "" {
		cfg.ChannelID, _ = strings.CutPrefix(vc.Store, "discord:")
		if !strings.HasPrefix(vc.Store, "discord:") {
			return cfg, usagef("this vault is not kept in Discord: give the bot's --channel ID")
		}
	}
	allow, downloadDir := bf.allow, bf.downloadDir
	if vc.Bot != nil {
		if allow == "" {
			allow = strings.Join(vc.Bot.Allow, ",")
		}
		if downloadDir == "" {
			downloadDir = vc.Bot.DownloadDir
		}
	}
	for _, id := range strings.Split(allow, ",") {
		if id = strings.TrimSpace(id); id == "" {
			continue
		}
		if strings.Trim(id, "0123456789") != "" {
			return cfg, usagef("--allow: %q is not a Discord user or role ID", id)
		}
		cfg.Allow = append(cfg.Allow, id)
	}
	if downloadDir != "" {
		abs, err := filepath.Abs(downloadDir)
		if err != nil {
			return cfg, err
		}
		cfg.DownloadDir = abs
	}
	if strings.Trim(cfg.ChannelID, "0123456789") != "" || cfg.ChannelID == "" {
		return cfg, errors.New("--channel must be a Discord channel ID")
	}
	return cfg, nil
}

// storeHealth sums up the store's requests for the bot's status.
func storeHealth(o *opened) func() string {
	m := chunkstore.FindMetrics(o.store)
	if m == nil {
		return nil
	}
	return func() string {
		by, limited := m.Outcomes()
		failed := int64(0)
		for outcome, n := range by {
			if outcome != "ok" {
				failed += n
			}
		}
		return fmt.Sprintf("Store: %d requests answered, %d failed or retried (%d rate-limited)", by["ok"], failed, limited)
	}
}

// saveBotSettings keeps the bot's allowlist and download folder in config.json.
func saveBotSettings(e *env, bf *botFlags, cfg *discord.BotConfig) error {
	var c common
	c.home = bf.home
	paths, err := c.paths(e)
	if err != nil {
		return err
	}
	vc, err := vault.LoadConfig(paths)
	if err != nil {
		return err
	}
	vc.Bot = &vault.BotSettings{Allow: cfg.Allow, DownloadDir: cfg.DownloadDir}
	if err := vault.SaveConfig(paths, vc); err != nil {
		return fmt.Errorf("save the bot's settings: %w", err)
	}
	fmt.Fprintf(e.stderr, "discofs: the bot's allowlist (%d IDs) and download folder are kept in the vault's config\n", len(cfg.Allow))
	return nil
}
