package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/discord"
	"github.com/discofs/discofs/vault"
)

// Keys of a Discord store's StoreOptions in config.json. None of them is a secret: the bot
// token comes from DISCORD_BOT_TOKEN or the token file at each start.
const (
	optAPI       = "api"        // another Discord API (the emulator); empty: discord.com
	optTokenFile = "token_file" // file holding the bot token
	optLanes     = "lanes"      // parallel upload threads per archive
	optCardNames = "card_names" // "true": file names on archive cards
)

// discordToken reads the bot token from the token file the options name, else the
// environment getenv reads. The token itself is never printed or stored.
func discordToken(getenv func(string) string, opts map[string]string) (string, error) {
	if f := opts[optTokenFile]; f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("discord token file: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	if t := strings.TrimSpace(getenv("DISCORD_BOT_TOKEN")); t != "" {
		return t, nil
	}
	return "", errors.New("no Discord bot token: set DISCORD_BOT_TOKEN or use --token-file")
}

// openDiscord opens the Discord store of channel and stacks the wrappers around it; the
// store itself is the catalogue (vault header and archive cards).
func openDiscord(ctx context.Context, getenv func(string) string, channel string, opts map[string]string) (chunkstore.Store, vault.Catalog, error) {
	if channel == "" {
		return nil, nil, errors.New("discord store: no channel given (discord:CHANNEL_ID)")
	}
	token, err := discordToken(getenv, opts)
	if err != nil {
		return nil, nil, err
	}
	lanes := 2
	if v := opts[optLanes]; v != "" {
		if lanes, err = strconv.Atoi(v); err != nil || lanes < 1 || lanes > 16 {
			return nil, nil, fmt.Errorf("discord store: lanes %q must be 1..16", v)
		}
	}
	sess, err := discord.NewSession(token, opts[optAPI], 0)
	if err != nil {
		return nil, nil, err
	}
	d, err := discord.Open(ctx, discord.Options{Session: sess, ChannelID: channel, Lanes: lanes})
	if err != nil {
		return nil, nil, err
	}
	// Two uploads per lane keep every lane busy and let the store put two packs in one
	// message; loads go to the CDN, not the API.
	var s chunkstore.Store = chunkstore.NewLimit(chunkstore.NewMetrics(d), discord.UploadersPerLane*lanes, 16)
	s = chunkstore.NewRetry(s, chunkstore.RetryOptions{})
	return s, d, nil
}

// storeUploaders is how many packs a vault should upload at once on its store:
// discord.UploadersPerLane per Discord lane, so the store finds two packs to put in each
// message; 0 (the vault's default) elsewhere.
func storeUploaders(cfg *vault.Config) int {
	if !strings.HasPrefix(cfg.Store, "discord:") {
		return 0
	}
	lanes, err := strconv.Atoi(cfg.StoreOptions[optLanes])
	if err != nil || lanes < 1 {
		lanes = 2
	}
	return discord.UploadersPerLane * lanes
}
