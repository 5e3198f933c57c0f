package emulator

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/bwmarrin/discordgo"
)

// discordHosts are the hosts discordgo and Discord's answers address; the
// Transport sends them all to the emulator.
var discordHosts = map[string]bool{
	"discord.com":          true,
	"discordapp.com":       true,
	"cdn.discordapp.com":   true,
	"media.discordapp.net": true,
	"gateway.discord.gg":   true,
}

// Transport is an http.RoundTripper that sends requests for Discord's hosts
// to the emulator at API, keeping path and query, and everything else to
// Base. discordgo builds REST URLs from its package-level Endpoint*
// variables (https://discord.com/api/v9/...); rewriting in the transport
// leaves those globals alone, so parallel tests do not race on them. The
// gateway needs no rewrite: discordgo dials the URL that GET /gateway
// returns, which is the emulator's.
type Transport struct {
	API  *url.URL
	Base http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	if !discordHosts[req.URL.Hostname()] {
		return base.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	r.URL.Scheme = t.API.Scheme
	r.URL.Host = t.API.Host
	r.Host = t.API.Host
	return base.RoundTrip(r)
}

// HTTPClient is an http.Client whose requests to Discord reach the
// emulator at api (Info.API). Its timeout allows 25 MiB uploads under a
// bandwidth fault, unlike discordgo's default 20 s.
func HTTPClient(api string) (*http.Client, error) {
	u, err := url.Parse(api)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("emulator API URL %q: not an absolute URL", api)
	}
	return &http.Client{Transport: &Transport{API: u}, Timeout: 2 * time.Minute}, nil
}

// NewSession returns a discordgo session for the bot token whose REST and
// CDN requests go to the emulator at api; Open() then connects to the
// emulator's gateway. token is the bare token from Info.Token.
func NewSession(api, token string) (*discordgo.Session, error) {
	c, err := HTTPClient(api)
	if err != nil {
		return nil, err
	}
	s, err := discordgo.New("Bot " + token)
	if err != nil {
		return nil, err
	}
	s.Client = c
	s.Identify.Intents = discordgo.IntentsAllWithoutPrivileged | discordgo.IntentMessageContent
	return s, nil
}

// Session is NewSession for this server's bot.
func (s *Server) Session() (*discordgo.Session, error) {
	info := s.Info()
	return NewSession(info.API, info.Token)
}
