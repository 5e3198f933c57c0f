package discord

// Import of v3.1 archives from a channel. v3.1's bot posted one card per archive in the
// archive channel and a thread "{id} chunks" from it, holding one message per chunk (one
// attachment each) and the manifest. Nothing is re-uploaded: the index records each chunk's
// message and attachment, and reads fetch them through a LegacyFetcher.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"

	"github.com/bwmarrin/discordgo"

	"github.com/discofs/discofs/index"
	"github.com/discofs/discofs/vault"
)

// legacyManifestLimit bounds a downloaded v3.1 manifest; real ones are kilobytes.
const legacyManifestLimit = 64 << 20

// ScanLegacy finds the v3.1 archives in a channel: every v3.1 card, its thread's chunk
// attachments and the manifests in it, one archive per manifest. A card that cannot be read
// in full gives an error naming its archive and is left out; the others are returned. api
// is the API base URL the session talks to ("" for discord.com), recorded so later reads
// use the same one.
func ScanLegacy(ctx context.Context, s *discordgo.Session, api, channel string) ([]*vault.LegacyImport, []error) {
	var cards []legacyCard
	var errs []error
	err := legacyHistory(ctx, s, channel, func(m *discordgo.Message) {
		c, ok, err := parseLegacyCard(m)
		switch {
		case err != nil:
			errs = append(errs, err)
		case ok:
			cards = append(cards, c)
		}
	})
	if err != nil {
		return nil, append(errs, fmt.Errorf("channel %s: %w", channel, err))
	}
	sort.Slice(cards, func(i, j int) bool { return cards[i].Lot < cards[j].Lot })
	var out []*vault.LegacyImport
	f := &LegacyFetcher{sessions: map[string]*discordgo.Session{api: s}}
	for _, c := range cards {
		if c.Status == index.StatusDeleted || c.Migrated != "" {
			continue // gone, or already a discofs archive
		}
		imps, err := legacyThread(ctx, s, c)
		if err != nil {
			errs = append(errs, fmt.Errorf("v3.1 archive %s: %w", vault.FormatID(c.ID), err))
			continue
		}
		for _, imp := range imps {
			if c.MigratedManifests[imp.ManifestName] != "" {
				continue // this manifest of a shared thread is a discofs archive now
			}
			imp.Source.API = api
			imp.Fetcher = f
			out = append(out, imp)
		}
	}
	return out, errs
}

// legacyHistory calls fn for every message of a channel, newest first.
func legacyHistory(ctx context.Context, s *discordgo.Session, channel string, fn func(*discordgo.Message)) error {
	before := ""
	for {
		page, err := s.ChannelMessages(channel, 100, before, "", "", discordgo.WithContext(ctx))
		if err != nil {
			return err
		}
		for _, m := range page {
			fn(m)
		}
		if len(page) < 100 {
			return nil
		}
		before = page[len(page)-1].ID
	}
}

// legacyThread reads one card's thread: its chunk attachments and its manifests, and checks
// them against the card. v3.1 posted every manifest of its upload folder, so a thread may
// hold several, each its own archive as in a folder: the oldest takes the card's ID, the
// others the vault's next lots when imported.
func legacyThread(ctx context.Context, s *discordgo.Session, c legacyCard) ([]*vault.LegacyImport, error) {
	parts := map[string]index.LegacyPart{}
	var manifests []*discordgo.MessageAttachment
	err := legacyHistory(ctx, s, c.Thread, func(m *discordgo.Message) {
		for _, a := range m.Attachments {
			if vault.IsLegacyManifestName(a.Filename) {
				manifests = append(manifests, a)
				continue
			}
			parts[a.Filename] = index.LegacyPart{Name: a.Filename, Size: int64(a.Size), Message: m.ID, Attachment: a.ID}
		}
	})
	var re *discordgo.RESTError
	if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("its thread %s is gone", c.Thread)
	}
	if err != nil {
		return nil, fmt.Errorf("thread %s: %w", c.Thread, stripLegacyURL(err))
	}
	if len(manifests) == 0 {
		return nil, fmt.Errorf("thread %s holds no v3.1 manifest (N-manifest_HHMMSS_DDMMYY.json)", c.Thread)
	}
	sort.Slice(manifests, func(i, j int) bool { return vault.LegacyManifestLess(manifests[i].Filename, manifests[j].Filename) })
	var imps []*vault.LegacyImport
	for i, mf := range manifests {
		b, err := legacyDownload(ctx, s, mf.URL, legacyManifestLimit)
		if err != nil {
			return nil, fmt.Errorf("manifest %s: %w", mf.Filename, err)
		}
		imp := &vault.LegacyImport{ID: c.ID, Lot: c.Lot, Created: c.Created, Status: c.Status, Card: c.Message,
			Source: index.LegacySource{Kind: index.LegacyDiscord, Channel: c.Thread}, Parts: parts,
			ManifestName: mf.Filename, Manifest: b}
		if i > 0 {
			imp.ID, imp.Lot, imp.Of = "", 0, c.ID
		}
		if c.Note != "" {
			imp.Notes = append(imp.Notes, c.Note)
		}
		imps = append(imps, imp)
	}
	if err := vault.CheckLegacySource(imps, &c.Counts); err != nil {
		return nil, err
	}
	return imps, nil
}

// legacyDownload fetches an attachment through the session's client, which the emulator
// rewrites. The signed URL is never put into an error.
func legacyDownload(ctx context.Context, s *discordgo.Session, url string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, errors.New("bad attachment URL")
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		return nil, stripLegacyURL(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("download: HTTP %d", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("download: %w", stripLegacyURL(err))
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("download: more than %d bytes", limit)
	}
	return b, nil
}

// stripLegacyURL drops the URL from a *url.Error: signed URLs are not for logs.
func stripLegacyURL(err error) error {
	type unwrapper interface{ Unwrap() error }
	var ue interface {
		unwrapper
		Timeout() bool
	}
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// LegacyFetcher reads v3.1 chunks from their messages. It fetches the message each time,
// so the attachment URL is freshly signed and never stored.
type LegacyFetcher struct {
	token string

	mu       sync.Mutex
	sessions map[string]*discordgo.Session // by API base URL
	redirect map[string]string             // API base URL -> the one to use instead
}

// NewLegacyFetcher makes a fetcher that opens sessions with token as reads need them;
// with no token, reads of Discord-held v3.1 chunks fail and say how to fix it.
func NewLegacyFetcher(token string) *LegacyFetcher {
	return &LegacyFetcher{token: token, sessions: map[string]*discordgo.Session{}}
}

// UseAPI sends reads of archives imported through the API base URL from to the API at to
// instead (the emulator moved, or the archive was imported through a proxy).
func (f *LegacyFetcher) UseAPI(from, to string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.redirect == nil {
		f.redirect = map[string]string{}
	}
	f.redirect[from] = to
}

func (f *LegacyFetcher) session(api string) (*discordgo.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.sessions[api]; s != nil {
		return s, nil
	}
	to := api
	if r, ok := f.redirect[api]; ok {
		to = r
	}
	s, err := NewSession(f.token, to, 0)
	if err != nil {
		return nil, err
	}
	f.sessions[api] = s
	return s, nil
}

// FetchLegacy downloads one chunk's attachment.
func (f *LegacyFetcher) FetchLegacy(ctx context.Context, src index.LegacySource, part index.LegacyPart) ([]byte, error) {
	if src.Kind != index.LegacyDiscord {
		return vault.DirFetcher{}.FetchLegacy(ctx, src, part)
	}
	s, err := f.session(src.API)
	if err != nil {
		return nil, err
	}
	m, err := s.ChannelMessage(src.Channel, part.Message, discordgo.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("message %s: %w", part.Message, stripLegacyURL(err))
	}
	for _, a := range m.Attachments {
		if a.ID == part.Attachment || part.Attachment == "" && a.Filename == part.Name {
			limit := int64(a.Size)
			if part.Size > 0 {
				limit = part.Size
			}
			return legacyDownload(ctx, s, a.URL, limit)
		}
	}
	return nil, fmt.Errorf("message %s no longer carries the chunk", part.Message)
}
