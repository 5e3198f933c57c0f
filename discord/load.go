package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/discofs/discofs/chunkstore"
)

// urlCache keeps attachment URLs with their expiry (the signed "ex" parameter), by
// attachment ID. A URL is a capability for a day; it is never logged or stored on disk.
type urlCache struct {
	mu       sync.Mutex
	m        map[string]cachedURL
	listings map[string]chan struct{} // by channel: closed when its running listing ends
}

type cachedURL struct {
	url     string
	size    int64
	expires time.Time
}

// refreshMargin is how long before its expiry a URL is refreshed rather than used.
const refreshMargin = time.Minute

func newURLCache() *urlCache {
	return &urlCache{m: map[string]cachedURL{}, listings: map[string]chan struct{}{}}
}

func (c *urlCache) put(id, u string, size int64) {
	if u == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[id] = cachedURL{url: u, size: size, expires: urlExpiry(u)}
}

// putAll caches the URLs of every attachment of m.
func (c *urlCache) putAll(m *discordgo.Message) {
	for _, a := range m.Attachments {
		c.put(a.ID, a.URL, int64(a.Size))
	}
}

func (c *urlCache) get(id string) (cachedURL, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	return e, ok && time.Until(e.expires) > refreshMargin
}

func (c *urlCache) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

// expiring lists up to n cached URLs, other than skip, that expire within d: they ride along
// in one refresh request.
func (c *urlCache) expiring(skip string, d time.Duration, n int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for id, e := range c.m {
		if len(out) >= n {
			break
		}
		if id != skip && time.Until(e.expires) < d {
			out = append(out, e.url)
		}
	}
	return out
}

// urlExpiry reads the "ex" parameter (hex Unix seconds); a URL without one is treated as
// already expiring, so it is refreshed before use.
func urlExpiry(u string) time.Time {
	pu, err := url.Parse(u)
	if err != nil {
		return time.Time{}
	}
	ex, err := strconv.ParseInt(pu.Query().Get("ex"), 16, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(ex, 0)
}

// attachmentID is the attachment a CDN URL serves: /attachments/{channel}/{attachment}/{name}.
func attachmentID(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return ""
	}
	parts := strings.Split(strings.TrimPrefix(pu.Path, "/"), "/")
	if len(parts) != 4 || parts[0] != "attachments" {
		return ""
	}
	return parts[2]
}

// locate returns a fresh URL of the object's attachment and its size: from the cache,
// else by a batch refresh of the cached URL, else by fetching the message.
func (s *Store) locate(ctx context.Context, r ref) (cachedURL, error) {
	if e, ok := s.urls.get(r.attachment); ok {
		return e, nil
	}
	s.urls.mu.Lock()
	old, known := s.urls.m[r.attachment]
	s.urls.mu.Unlock()
	if known {
		if e, err := s.refresh(ctx, r, old.url); err == nil {
			return e, nil
		} else if chunkstore.IsFatal(err) || ctx.Err() != nil {
			return cachedURL{}, err
		}
	}
	return s.fetchURL(ctx, r)
}

// fetchURL finds a fresh URL of the object's attachment by listing its message and the 99
// after it, which brings its neighbours' URLs too: an archive's packs follow each other in
// its thread, so a cold sequential read asks once per hundred messages rather than once per
// pack. Loads from one thread at the same time share a listing. A message no listing
// holds is fetched on its own, which says whether it still exists.
func (s *Store) fetchURL(ctx context.Context, r ref) (cachedURL, error) {
	s.urls.drop(r.attachment) // it did not work, or it is about to expire
	for {
		if e, ok := s.urls.get(r.attachment); ok {
			return e, nil
		}
		s.urls.mu.Lock()
		running, busy := s.urls.listings[r.channel]
		if !busy {
			s.urls.listings[r.channel] = make(chan struct{})
		}
		s.urls.mu.Unlock()
		if busy {
			select {
			case <-running:
				continue // it may have brought this one
			case <-ctx.Done():
				return cachedURL{}, ctx.Err()
			}
		}
		err := s.listFrom(ctx, r)
		s.urls.mu.Lock()
		close(s.urls.listings[r.channel])
		delete(s.urls.listings, r.channel)
		s.urls.mu.Unlock()
		if err != nil && (chunkstore.IsFatal(err) || ctx.Err() != nil) {
			return cachedURL{}, err
		}
		if e, ok := s.urls.get(r.attachment); ok {
			return e, nil
		}
		break
	}
	m, err := s.message(ctx, r.channel, r.message)
	if err != nil {
		return cachedURL{}, err
	}
	s.urls.putAll(m)
	a, err := attachmentOf(m, r)
	if err != nil {
		return cachedURL{}, err
	}
	return cachedURL{url: a.URL, size: int64(a.Size), expires: urlExpiry(a.URL)}, nil
}

// listFrom caches the attachment URLs of r's message and of the 99 messages after it.
func (s *Store) listFrom(ctx context.Context, r ref) error {
	id, err := strconv.ParseUint(r.message, 10, 64)
	if err != nil || id == 0 {
		return chunkstore.Classify(chunkstore.Permanent, fmt.Errorf("discord: bad message ID in %s", r))
	}
	var page []*discordgo.Message
	url := discordgo.EndpointChannelMessages(r.channel) + "?limit=100&after=" + strconv.FormatUint(id-1, 10)
	if err := s.getJSON(ctx, "list messages of "+r.channel, url, &page); err != nil {
		return err
	}
	for _, m := range page {
		s.urls.putAll(m)
	}
	return nil
}

// refresh asks POST /attachments/refresh-urls for a new URL of r's attachment, and for up to
// 49 other cached URLs that expire within the hour. An attachment that no longer exists
// comes back unchanged; that is reported as NotFound-or-retry by the caller's fallback.
func (s *Store) refresh(ctx context.Context, r ref, old string) (cachedURL, error) {
	urls := append([]string{old}, s.urls.expiring(r.attachment, time.Hour, 49)...)
	var out struct {
		Refreshed []struct {
			Original  string `json:"original"`
			Refreshed string `json:"refreshed"`
		} `json:"refreshed_urls"`
	}
	err := s.sendJSON(ctx, fmt.Sprintf("refresh %d attachment URLs", len(urls)), "POST",
		discordgo.EndpointAPI+"attachments/refresh-urls", map[string]any{"attachment_urls": urls}, &out)
	if err != nil {
		return cachedURL{}, err
	}
	var mine cachedURL
	for _, u := range out.Refreshed {
		id := attachmentID(u.Refreshed)
		if id == "" {
			continue
		}
		s.urls.mu.Lock()
		e, ok := s.urls.m[id]
		if ok {
			e.url, e.expires = u.Refreshed, urlExpiry(u.Refreshed)
			s.urls.m[id] = e
		}
		s.urls.mu.Unlock()
		// An attachment that is gone comes back unchanged; the caller then asks for the
		// message, which says whether it still exists.
		if id == r.attachment && ok && u.Refreshed != u.Original {
			mine = e
		}
	}
	if mine.url == "" {
		return cachedURL{}, chunkstore.NotFoundError("discord: refresh URL of " + r.String())
	}
	return mine, nil
}

// Load reads a range of the object's attachment with one ranged GET from the CDN. A URL
// the CDN no longer accepts (404) is refreshed once and the read tried again.
func (s *Store) Load(ctx context.Context, cr chunkstore.Ref, length int, offset int64, fn func(rd io.Reader) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r, err := parseRef(cr)
	if err != nil {
		return err
	}
	if length < 0 || offset < 0 {
		return chunkstore.Classify(chunkstore.Permanent, fmt.Errorf("discord: load %s: bad range %d+%d", r, offset, length))
	}
	e, err := s.locate(ctx, r)
	if err != nil {
		return err
	}
	n := int64(length)
	if offset > e.size || n > e.size-offset {
		return chunkstore.Classify(chunkstore.Permanent, fmt.Errorf(
			"discord: load %s: range %d+%d is outside its %d bytes", r, offset, length, e.size))
	}
	if n == 0 {
		n = e.size - offset
	}
	if n == 0 {
		return fn(bytes.NewReader(nil))
	}
	for attempt := 0; ; attempt++ {
		resp, err := s.cdnGet(ctx, r, e.url, offset, n)
		if err != nil {
			return err
		}
		if resp.StatusCode == http.StatusNotFound {
			resp.Body.Close()
			// Expired or gone: a refreshed URL tells which, and a message fetch settles it.
			if attempt == 0 {
				if e, err = s.refresh(ctx, r, e.url); err == nil {
					continue
				}
			}
			if e, err = s.fetchURL(ctx, r); err != nil {
				return err
			}
			if attempt > 0 {
				return chunkstore.Classify(chunkstore.Retryable, fmt.Errorf("discord: download %s: the CDN refused a fresh URL (HTTP 404)", r))
			}
			continue
		}
		return s.serve(ctx, r, resp, offset, n, fn)
	}
}

func (s *Store) cdnGet(ctx context.Context, r ref, u string, offset, n int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return nil, chunkstore.Classify(chunkstore.Permanent, fmt.Errorf("discord: load %s: bad attachment URL", r))
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", offset, offset+n-1))
	resp, err := s.sess.Client.Do(req)
	if err != nil {
		cerr, _ := shouldRetry(ctx, "download "+r.String(), err)
		return nil, cerr
	}
	return resp, nil
}

// serve checks the CDN's answer and hands fn exactly n bytes.
func (s *Store) serve(ctx context.Context, r ref, resp *http.Response, offset, n int64, fn func(io.Reader) error) error {
	defer resp.Body.Close()
	what := "download " + r.String()
	var body io.Reader = resp.Body
	switch resp.StatusCode {
	case http.StatusPartialContent:
	case http.StatusOK:
		// A CDN that ignores Range sends the whole attachment: skip to the range.
		if _, err := io.CopyN(io.Discard, resp.Body, offset); err != nil {
			cerr, _ := shouldRetry(ctx, what, err)
			return chunkstore.Classify(chunkstore.Retryable, cerr)
		}
	default:
		var msg struct {
			RetryAfter float64 `json:"retry_after"`
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		_ = json.Unmarshal(b, &msg)
		cerr, invalid := classifyStatus(what, resp.StatusCode, 0, strings.TrimSpace(string(b[:min(len(b), 200)])))
		if invalid {
			s.lim.noteInvalid()
		}
		if resp.StatusCode == http.StatusTooManyRequests && msg.RetryAfter > 0 {
			cerr = chunkstore.RetryAfterError(time.Duration(msg.RetryAfter*float64(time.Second)), cerr)
		}
		return cerr
	}
	return fn(&exactReader{r: body, left: n, what: what})
}

// exactReader yields exactly left bytes or a Retryable error: a body cut short by a dropped
// connection must never pass as the whole range.
type exactReader struct {
	r    io.Reader
	left int64
	what string
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	switch {
	case err == io.EOF && e.left > 0:
		return n, chunkstore.Classify(chunkstore.Retryable, fmt.Errorf("discord: %s: %w", e.what, io.ErrUnexpectedEOF))
	case err == io.EOF:
		return n, io.EOF
	case err != nil:
		return n, chunkstore.Classify(chunkstore.Retryable, fmt.Errorf("discord: %s: %w", e.what, stripURL(err)))
	}
	return n, nil
}
