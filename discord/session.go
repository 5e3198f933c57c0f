// Package discord keeps a vault in a Discord channel: the Store of packs and manifests in
// archive threads, the catalogue of the pinned vault header and the archive cards, and the
// bot that manages the vault from Discord. discord/emulator is a loopback Discord API for
// tests and demos.
package discord

import (
	"errors"
	"net/http"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/discofs/discofs/discord/emulator"
)

// uploadTimeout is the HTTP client timeout: discordgo's default 20 s is too short for a
// 10 MiB attachment on a slow link.
const uploadTimeout = 5 * time.Minute

// NewSession makes a discordgo session for a bot token. api, when set, is the base URL of
// another Discord API (the emulator): every request to Discord's hosts goes there instead.
// The token is never logged or put into an error.
func NewSession(token, api string, intents discordgo.Intent) (*discordgo.Session, error) {
	if token == "" {
		return nil, errors.New("no Discord bot token: set DISCORD_BOT_TOKEN or use a token file")
	}
	var s *discordgo.Session
	var err error
	if api != "" {
		s, err = emulator.NewSession(api, token)
	} else {
		s, err = discordgo.New("Bot " + token)
		if err == nil {
			s.Client = &http.Client{Timeout: uploadTimeout}
		}
	}
	if err != nil {
		return nil, errors.New("cannot make a Discord session: " + err.Error())
	}
	s.Identify.Intents = intents
	s.ShouldRetryOnRateLimit = false // discofs's own retry layer decides, with retry_after
	return s, nil
}
