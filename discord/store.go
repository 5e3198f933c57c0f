package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/textproto"
	"strings"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/vault"
)

// Lock order: Store.mu before cardState.mu before laneSet.mu is never needed; each lock is
// taken alone and never held across a request, except cardState.editMu, which is held
// across a card edit so that edits of one card reach Discord in order, and Store.delMu,
// held across one Delete, which takes Store.mu briefly inside it.

// DefaultMaxObjectSize is Discord's attachment limit today.
const DefaultMaxObjectSize = 10 << 20

// UploadersPerLane is how many uploads a writer should keep going per lane. A lane sends one
// message at a time, of as many queued objects as fit; with fewer uploads per lane, a lane
// often finds a single object queued when its rate limit opens, and a message of one pack
// uses a slot that could carry two.
const UploadersPerLane = 4

// Options configure a Store.
type Options struct {
	// Session talks to Discord (see NewSession); its ShouldRetryOnRateLimit must be false so
	// that the store's callers decide about retries.
	Session *discordgo.Session
	// ChannelID is the vault's text channel.
	ChannelID string
	// MaxObjectSize is the attachment limit (default DefaultMaxObjectSize).
	MaxObjectSize int64
	// Lanes is how many threads of one archive upload at once (default 2). Discord lets one
	// channel take 5 messages in 5 seconds, and discordgo sends one request per route at a
	// time, so more lanes means more threads, not more requests to one.
	Lanes int
	// MaxFiles is how many attachments one message takes (default 10).
	MaxFiles int
	// MaxRequestBytes is the largest request Discord takes (default 25 MiB); the objects
	// of one message fit in it.
	MaxRequestBytes int64
	// CoalesceWindow is how long an upload that finds a lane free waits for more uploads of
	// its archive to share its message (default 200 ms; negative: not at all).
	CoalesceWindow time.Duration
	// RequestsPerSecond caps all REST requests (default 45, under Discord's global 50).
	RequestsPerSecond float64
	// MaxInvalid is how many refused requests (401/403/429) in 10 minutes stop the store
	// (default 1000; Discord bans an IP at 10,000).
	MaxInvalid int
	// ProgressEvery is the least time between two progress edits of an archive's card while
	// it uploads (default 1.2 s): Discord takes 5 edits per 5 seconds per channel, and the
	// final edit must find room.
	ProgressEvery time.Duration
	// Logger hears about retries and refreshes; never about secrets.
	Logger *slog.Logger
}

// Store is a chunkstore.Store and a vault.Catalog on one Discord channel. Packs and
// manifests are attachments of messages in each archive's thread; the vault header is a
// pinned message and each archive has a card message in the channel.
//
// Its Refs are "channelID/messageID/attachmentID"; attachment URLs are never stored, only
// cached with their expiry.
type Store struct {
	sess    *discordgo.Session
	channel string
	guild   string
	botID   string
	max     int64
	nLanes  int
	// maxFiles, maxRequest and window shape messages of several objects (see batch.go).
	maxFiles   int
	maxRequest int64
	window     time.Duration
	lim        *requestLimiter
	log        *slog.Logger
	urls       *urlCache

	// progressEvery spaces the progress edits of a card (see progress.go).
	progressEvery time.Duration

	mu      sync.Mutex
	cards   map[string]*cardState // by archive ID without '#'
	scanned bool                  // cards holds every card of the channel
	lanes   map[string]*laneSet   // by Handle.Group
	// delMu is held across one Delete's requests (see Delete).
	delMu sync.Mutex
	// deleting holds attachments whose deletion failed on the way back and may have happened.
	deleting map[string]bool
	closed   chan struct{}
}

var (
	_ chunkstore.Store = (*Store)(nil)
	_ vault.Catalog    = (*Store)(nil)
)

// Open checks the token, the channel and the bot's access to it and returns the store.
// Each failure is one clear, fatal error: a bad token, an unknown channel, a channel that is
// not a text channel, missing permissions.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.Session == nil || o.ChannelID == "" {
		return nil, errors.New("discord: no session or channel")
	}
	if o.MaxObjectSize <= 0 {
		o.MaxObjectSize = DefaultMaxObjectSize
	}
	if o.Lanes <= 0 {
		o.Lanes = 2
	}
	if o.MaxFiles <= 0 {
		o.MaxFiles = 10
	}
	if o.MaxRequestBytes <= 0 {
		o.MaxRequestBytes = 25 << 20
	}
	if o.CoalesceWindow == 0 {
		o.CoalesceWindow = 200 * time.Millisecond
	}
	if o.RequestsPerSecond <= 0 {
		o.RequestsPerSecond = 45
	}
	if o.MaxInvalid <= 0 {
		o.MaxInvalid = 1000
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 1200 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.Session.ShouldRetryOnRateLimit = false
	s := &Store{
		sess: o.Session, channel: o.ChannelID, max: o.MaxObjectSize, nLanes: o.Lanes,
		maxFiles: o.MaxFiles, maxRequest: o.MaxRequestBytes, window: o.CoalesceWindow, progressEvery: o.ProgressEvery,
		lim: newRequestLimiter(o.RequestsPerSecond, o.MaxInvalid, 10*time.Minute),
		log: o.Logger, urls: newURLCache(), cards: map[string]*cardState{},
		lanes: map[string]*laneSet{}, deleting: map[string]bool{}, closed: make(chan struct{}),
	}
	err := s.retry(ctx, func() error {
		var me discordgo.User
		if err := s.getJSON(ctx, "check the bot token", discordgo.EndpointUser("@me"), &me); err != nil {
			return err
		}
		s.botID = me.ID
		var ch discordgo.Channel
		err := s.getJSON(ctx, "open channel "+o.ChannelID, discordgo.EndpointChannel(o.ChannelID), &ch)
		if chunkstore.IsNotFound(err) {
			return chunkstore.Classify(chunkstore.Fatal, fmt.Errorf(
				"discord: channel %s does not exist or the bot is not in its server", o.ChannelID))
		}
		if err != nil {
			return err
		}
		if ch.Type != discordgo.ChannelTypeGuildText {
			return chunkstore.Classify(chunkstore.Fatal, fmt.Errorf(
				"discord: channel %s is not a server text channel (type %d)", o.ChannelID, ch.Type))
		}
		s.guild = ch.GuildID
		// Reading history is the first thing every vault operation needs.
		_, err = s.do(ctx, "read channel "+o.ChannelID, "GET", discordgo.EndpointChannelMessages(o.ChannelID)+"?limit=1", "", nil, "")
		return err
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Limits: one attachment per object, read by ranges.
func (s *Store) Limits() chunkstore.Limits {
	return chunkstore.Limits{MaxObjectSize: s.max, Ranged: true}
}

// Close stops pending card progress edits. The session belongs to the caller.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	return nil
}

// do sends one REST request through the global limiter and classifies the outcome with
// shouldRetry. bucket is discordgo's rate-limit key ("" : the URL without its query).
func (s *Store) do(ctx context.Context, what, method, url, contentType string, body []byte, bucket string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.lim.wait(ctx); err != nil {
		return nil, err
	}
	if bucket == "" {
		bucket, _, _ = strings.Cut(url, "?")
	}
	resp, err := s.sess.RequestRaw(method, url, contentType, body, bucket, 0,
		discordgo.WithContext(ctx), discordgo.WithRestRetries(0), discordgo.WithRetryOnRatelimit(false))
	cerr, invalid := shouldRetry(ctx, what, err)
	if invalid {
		s.lim.noteInvalid()
	}
	return resp, cerr
}

func (s *Store) getJSON(ctx context.Context, what, url string, v any) error {
	b, err := s.do(ctx, what, "GET", url, "", nil, "")
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("discord: %s: bad answer: %w", what, err)
	}
	return nil
}

func (s *Store) sendJSON(ctx context.Context, what, method, url string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	b, err := s.do(ctx, what, method, url, "application/json", body, "")
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("discord: %s: bad answer: %w", what, err)
	}
	return nil
}

// messageSend is Create Message's body with what discordgo's MessageSend lacks: nonce and
// enforce_nonce, which make a retried create return the first message instead of a copy.
type messageSend struct {
	Content      string                    `json:"content,omitempty"`
	Embeds       []*discordgo.MessageEmbed `json:"embeds,omitempty"`
	Nonce        string                    `json:"nonce,omitempty"`
	EnforceNonce bool                      `json:"enforce_nonce,omitempty"`
}

// send creates a message in channel, with files when given.
func (s *Store) send(ctx context.Context, what, channel string, m *messageSend, files []*discordgo.File) (*discordgo.Message, error) {
	m.EnforceNonce = m.Nonce != ""
	url := discordgo.EndpointChannelMessages(channel)
	var b []byte
	var err error
	if len(files) > 0 {
		ct, body, err := multipartBody(m, files)
		if err != nil {
			return nil, err
		}
		b, err = s.do(ctx, what, "POST", url, ct, body, createBucket(channel))
		if err != nil {
			return nil, err
		}
	} else {
		body, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		if b, err = s.do(ctx, what, "POST", url, "application/json", body, createBucket(channel)); err != nil {
			return nil, err
		}
	}
	var msg discordgo.Message
	if err = json.Unmarshal(b, &msg); err != nil {
		return nil, fmt.Errorf("discord: %s: bad answer: %w", what, err)
	}
	return &msg, nil
}

// createBucket is discordgo's rate-limit key for creating messages in channel. Discord
// limits creating (5 per 5 s) apart from reading (50 per s) the same URL; one key for both
// would let a read's answer overwrite what discordgo knows of the create bucket.
func createBucket(channel string) string {
	return "POST " + discordgo.EndpointChannelMessages(channel)
}

// bucketWait is how long discordgo would hold a request in bucket before sending it.
func (s *Store) bucketWait(bucket string) time.Duration {
	rl := s.sess.Ratelimiter
	b := rl.GetBucket(bucket)
	b.Lock()
	defer b.Unlock()
	return rl.GetWaitTime(b, 1)
}

// multipartBody is discordgo.MultipartBodyWithJSON with the buffer sized up front: the
// files are nearly all of a request, and a buffer grown by doubling to 20 MiB would be
// cleared and copied several times over.
func multipartBody(payload any, files []*discordgo.File) (contentType string, body []byte, err error) {
	js, err := json.Marshal(payload)
	if err != nil {
		return "", nil, err
	}
	size := len(js) + 1024*(len(files)+1)
	for _, f := range files {
		if r, ok := f.Reader.(interface{ Len() int }); ok {
			size += r.Len()
		}
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	w := multipart.NewWriter(buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="payload_json"`)
	h.Set("Content-Type", "application/json")
	p, err := w.CreatePart(h)
	if err == nil {
		_, err = p.Write(js)
	}
	for i := 0; err == nil && i < len(files); i++ {
		f := files[i]
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="files[%d]"; filename="%s"`, i, quoteEscaper.Replace(f.Name)))
		ct := f.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		h.Set("Content-Type", ct)
		if p, err = w.CreatePart(h); err == nil {
			_, err = io.Copy(p, f.Reader)
		}
	}
	if err == nil {
		err = w.Close()
	}
	return w.FormDataContentType(), buf.Bytes(), err
}

var quoteEscaper = strings.NewReplacer("\\", "\\\\", `"`, "\\\"")

// message fetches one message.
func (s *Store) message(ctx context.Context, channel, id string) (*discordgo.Message, error) {
	var m discordgo.Message
	if err := s.getJSON(ctx, "fetch message "+channel+"/"+id, discordgo.EndpointChannelMessage(channel, id), &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// history calls fn for every message of channel, newest first, 100 per request.
func (s *Store) history(ctx context.Context, channel string, fn func(*discordgo.Message) error) error {
	before := ""
	for {
		url := discordgo.EndpointChannelMessages(channel) + "?limit=100"
		if before != "" {
			url += "&before=" + before
		}
		var page []*discordgo.Message
		if err := s.getJSON(ctx, "read history of "+channel, url, &page); err != nil {
			return err
		}
		for _, m := range page {
			if err := fn(m); err != nil {
				return err
			}
		}
		if len(page) < 100 {
			return nil
		}
		before = page[len(page)-1].ID
	}
}

// retry runs fn until it succeeds or fails for good, for the catalogue's calls, which no
// chunkstore wrapper retries.
func (s *Store) retry(ctx context.Context, fn func() error) error {
	wait := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || !chunkstore.IsRetryable(err) || attempt >= 8 {
			return err
		}
		d := chunkstore.RetryAfter(err)
		if d <= 0 {
			d = wait
			wait = min(2*wait, 10*time.Second)
		}
		s.log.Debug("discord: retrying", "err", err, "wait", d)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// ref is a parsed Ref.
type ref struct{ channel, message, attachment string }

func (r ref) String() string { return r.channel + "/" + r.message + "/" + r.attachment }

func parseRef(r chunkstore.Ref) (ref, error) {
	parts := strings.Split(string(r), "/")
	if len(parts) != 3 || !snowflake(parts[0]) || !snowflake(parts[1]) || !snowflake(parts[2]) {
		return ref{}, chunkstore.Classify(chunkstore.Permanent, fmt.Errorf("discord: %q is not a Discord ref", r))
	}
	return ref{parts[0], parts[1], parts[2]}, nil
}

func snowflake(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
