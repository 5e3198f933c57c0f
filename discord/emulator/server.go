package emulator

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Server is one emulated Discord: a guild with a vault channel, a bot, an
// owner, an administrator (by role) and an ordinary member, served on one
// loopback port.
type Server struct {
	cfg Config

	mu           sync.Mutex
	st           *state
	interactions map[string]*interaction // by interaction ID
	itokens      map[string]*interaction // by interaction token

	blobs   blobStore
	faults  *faultState
	limiter *limiter
	hub     *hub
	persist *persister

	ln      net.Listener
	srv     *http.Server
	base    string
	rest    *http.ServeMux
	started bool
	done    chan struct{}
}

// Info is what the emulator prints when it is ready: where it listens and
// who is who in its guild.
type Info struct {
	API           string `json:"api"`
	Token         string `json:"token"`
	GuildID       string `json:"guild_id"`
	ChannelID     string `json:"channel_id"`
	ApplicationID string `json:"application_id"`
	OwnerID       string `json:"owner_id"`
	MemberID      string `json:"member_id"`
	// AdminID holds the role AdminRoleID, which has ADMINISTRATOR; the
	// guild's owner is someone else.
	AdminID     string `json:"admin_id"`
	AdminRoleID string `json:"admin_role_id"`
}

// New builds a server from cfg, loading cfg.DataDir and cfg.SeedFile when
// set. It does not listen until Start.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("emulator config: %w", err)
	}
	s := &Server{
		cfg:          cfg,
		interactions: map[string]*interaction{},
		itokens:      map[string]*interaction{},
		faults:       newFaultState(cfg.Faults, cfg.Seed),
		limiter:      newLimiter(),
		done:         make(chan struct{}),
	}
	s.hub = newHub(s)
	st, blobs, fresh, err := openState(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	s.st, s.blobs = st, blobs
	if fresh {
		if err := s.initState(); err != nil {
			return nil, err
		}
		if cfg.SeedFile != "" {
			if err := s.loadSeed(cfg.SeedFile); err != nil {
				return nil, err
			}
		}
	}
	s.st.addAdmin(time.Now())
	if cfg.Token != "" {
		s.st.Token = cfg.Token
	}
	if fresh || cfg.BotPermissions != DefaultBotPermissions {
		s.st.BotPermissions = cfg.BotPermissions
	}
	if cfg.DataDir != "" {
		s.persist = newPersister(s, cfg.DataDir)
		if err := s.persist.flush(); err != nil {
			return nil, err
		}
	}
	s.rest = s.restMux()
	return s, nil
}

// initState creates the guild, its vault channel and the bot, owner and
// member; addAdmin adds the administrator.
func (s *Server) initState() error {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return err
	}
	tok := make([]byte, 24)
	if _, err := rand.Read(tok); err != nil {
		return err
	}
	now := time.Now()
	st := s.st
	st.Version = stateVersion
	st.URLSecret = secret
	st.AppID = st.newSnowflake(now)
	st.Token = base64.RawURLEncoding.EncodeToString([]byte(st.AppID)) + "." + base64.RawURLEncoding.EncodeToString(tok)
	st.OwnerID = st.newSnowflake(now)
	st.MemberID = st.newSnowflake(now)
	st.GuildID = st.newSnowflake(now)
	st.GuildName = "discofs emulator"
	st.BotRoleID = st.newSnowflake(now)
	st.ChannelID = st.newSnowflake(now)
	st.Users[st.AppID] = &user{ID: st.AppID, Username: "discofs", Bot: true}
	st.Users[st.OwnerID] = &user{ID: st.OwnerID, Username: "owner", GlobalName: "Owner"}
	st.Users[st.MemberID] = &user{ID: st.MemberID, Username: "member", GlobalName: "Member"}
	st.Channels[st.ChannelID] = &channel{ID: st.ChannelID, Type: chanText, Name: "vault", Created: now}
	return nil
}

// Start listens on listen (a loopback host:port; port 0 picks one) and
// serves in the background.
func (s *Server) Start(listen string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("emulator listen address %q: %w", listen, err)
	}
	if !isLoopback(host) {
		return fmt.Errorf("emulator listen address %q: only loopback addresses are allowed", listen)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("emulator listen: %w", err)
	}
	s.mu.Lock()
	s.ln = ln
	s.base = "http://" + ln.Addr().String()
	s.started = true
	s.mu.Unlock()
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	if s.persist != nil {
		go s.persist.run(s.done)
	}
	go s.hub.reap(s.done)
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Close stops serving, drops gateway connections and flushes state to
// cfg.DataDir.
func (s *Server) Close() error {
	s.mu.Lock()
	select {
	case <-s.done:
		s.mu.Unlock()
		return nil
	default:
	}
	close(s.done)
	s.mu.Unlock()
	var errs []error
	s.hub.closeAll()
	if s.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := s.srv.Shutdown(ctx); err != nil {
			_ = s.srv.Close()
		}
		cancel()
	}
	if s.persist != nil {
		errs = append(errs, s.persist.flush())
	}
	errs = append(errs, s.blobs.close())
	return errors.Join(errs...)
}

// URL is the base URL (http://127.0.0.1:PORT); REST lives under
// URL()+"/api/v9/" and "/api/v10/".
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.base
}

// Info describes the running server.
func (s *Server) Info() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Info{
		API:           s.base,
		Token:         s.st.Token,
		GuildID:       s.st.GuildID,
		ChannelID:     s.st.ChannelID,
		ApplicationID: s.st.AppID,
		OwnerID:       s.st.OwnerID,
		MemberID:      s.st.MemberID,
		AdminID:       s.st.AdminID,
		AdminRoleID:   s.st.AdminRoleID,
	}
}

// SetFaults replaces the injected faults.
func (s *Server) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	s.faults.set(f)
	return nil
}

// SetBotPermissions replaces the bot's guild permissions (a Discord
// permission bitfield), so tests can provoke 403 Missing Permissions.
func (s *Server) SetBotPermissions(p int64) {
	s.mu.Lock()
	s.st.BotPermissions = p
	s.mu.Unlock()
	s.markDirty()
}

// ExpireURLs makes every CDN URL signed so far invalid.
func (s *Server) ExpireURLs() error {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return err
	}
	s.mu.Lock()
	s.st.URLSecret = secret
	s.mu.Unlock()
	s.markDirty()
	return nil
}

func (s *Server) markDirty() {
	if s.persist != nil {
		s.persist.mark()
	}
}

// ServeHTTP routes REST, CDN, the gateway and the control API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/_emulator/"):
		s.serveControl(w, r)
	case p == "/gateway" || p == "/gateway/":
		s.hub.serve(w, r)
	case strings.HasPrefix(p, "/api/"):
		s.withFaults(w, r, s.serveREST)
	case strings.HasPrefix(p, "/attachments/"):
		s.withFaults(w, r, s.serveCDN)
	default:
		writeError(w, errNotFound())
	}
}
