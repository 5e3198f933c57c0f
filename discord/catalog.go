package discord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/bwmarrin/discordgo"

	"github.com/discofs/discofs/vault"
)

// findHeader finds the pinned vault header, falling back to the whole history (a header
// someone unpinned still counts).
func (s *Store) findHeader(ctx context.Context) (*discordgo.Message, *vault.Header, error) {
	var pins []*discordgo.Message
	if err := s.getJSON(ctx, "read pins", discordgo.EndpointChannelMessagesPins(s.channel), &pins); err != nil {
		return nil, nil, err
	}
	for _, m := range pins {
		if h := s.headerOf(m); h != nil {
			return m, h, nil
		}
	}
	var found *discordgo.Message
	var hdr *vault.Header
	stop := errors.New("found")
	err := s.history(ctx, s.channel, func(m *discordgo.Message) error {
		if h := s.headerOf(m); h != nil {
			found, hdr = m, h
			return stop
		}
		return nil
	})
	if err != nil && err != stop {
		return nil, nil, err
	}
	return found, hdr, nil
}

// headerOf reads a vault header from one of the bot's messages, or returns nil.
func (s *Store) headerOf(m *discordgo.Message) *vault.Header {
	if m.Author == nil || m.Author.ID != s.botID {
		return nil
	}
	body, ok := unfence(m.Content)
	if !ok {
		return nil
	}
	var h vault.Header
	if json.Unmarshal(body, &h) != nil || h.Format != "discofs-vault" {
		return nil
	}
	return &h
}

// LoadHeader reads the pinned vault header; vault.ErrNoHeader when the channel holds none.
func (s *Store) LoadHeader(ctx context.Context) (*vault.Header, error) {
	var h *vault.Header
	err := s.retry(ctx, func() (err error) {
		_, h, err = s.findHeader(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	if h == nil {
		return nil, vault.ErrNoHeader
	}
	if h.Version != vault.HeaderVersion {
		return nil, fmt.Errorf("discord: the vault header in channel %s has version %d, which this discofs does not read", s.channel, h.Version)
	}
	return h, nil
}

// SaveHeader posts and pins the vault header, or edits the one the channel has.
func (s *Store) SaveHeader(ctx context.Context, h *vault.Header) error {
	content, err := fenced(h)
	if err != nil {
		return err
	}
	if len([]rune(content)) > cardMaxContent {
		return fmt.Errorf("discord: the vault header is over %d characters", cardMaxContent)
	}
	return s.retry(ctx, func() error {
		m, _, err := s.findHeader(ctx)
		if err != nil {
			return err
		}
		if m == nil {
			if m, err = s.send(ctx, "post the vault header", s.channel, &messageSend{Content: content, Nonce: "h" + h.VaultID}, nil); err != nil {
				return err
			}
		} else {
			err := s.sendJSON(ctx, "edit the vault header", "PATCH", discordgo.EndpointChannelMessage(s.channel, m.ID),
				map[string]any{"content": content}, nil)
			if err != nil {
				return err
			}
		}
		if !m.Pinned {
			_, err = s.do(ctx, "pin the vault header", "PUT", discordgo.EndpointChannelMessagePin(s.channel, m.ID), "", nil, "")
		}
		return err
	})
}

// Cards calls fn for every discofs archive card in the channel, paging through its whole
// history, newest first, 100 messages per request. Messages that are not cards, and v3.1
// cards, are skipped. Cards that cannot be read are reported, as *vault.DamagedCardError values joined
// into the returned error, after every readable card has been passed to fn; fn's own error
// stops the walk at once.
func (s *Store) Cards(ctx context.Context, fn func(*vault.Card) error) error {
	var damaged []error
	found := map[string]*cardState{}
	err := s.retry(ctx, func() error {
		damaged, found = nil, map[string]*cardState{}
		return s.history(ctx, s.channel, func(m *discordgo.Message) error {
			if m.Author == nil || m.Author.ID != s.botID {
				return nil
			}
			c, isCard, err := parseCard(m)
			if !isCard {
				return nil
			}
			if err != nil {
				damaged = append(damaged, err)
				return nil
			}
			id := strings.TrimPrefix(c.ArchiveID, "#")
			if found[id] != nil {
				return nil // an older duplicate; the newest card wins
			}
			found[id] = &cardState{messageID: m.ID, threadID: c.ThreadID, card: *c}
			return nil
		})
	})
	if err != nil {
		return err
	}
	s.learnCards(found)
	for _, st := range found {
		c := st.card
		if err := fn(&c); err != nil {
			return err
		}
	}
	return errors.Join(damaged...)
}

// learnCards remembers where the channel's cards are, keeping states this store made.
func (s *Store) learnCards(found map[string]*cardState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, st := range found {
		if s.cards[id] == nil {
			s.cards[id] = st
		}
	}
	s.scanned = true
}

// findCard returns the state of an archive's card, reading the channel once when this
// store has not seen the card; nil when the archive has no card.
func (s *Store) findCard(ctx context.Context, id string) (*cardState, error) {
	s.mu.Lock()
	st, scanned := s.cards[id], s.scanned
	s.mu.Unlock()
	if st != nil || scanned {
		return st, nil
	}
	err := s.Cards(ctx, func(*vault.Card) error { return nil })
	var ce *vault.DamagedCardError
	if err != nil && !errors.As(err, &ce) {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cards[id], nil
}

// SaveCard creates the archive's card and its thread, or edits the card it has. The card's
// thread_id and archive_channel_id are filled in here.
func (s *Store) SaveCard(ctx context.Context, c *vault.Card) error {
	id := strings.TrimPrefix(c.ArchiveID, "#")
	if !archiveIDPattern.MatchString(c.ArchiveID) {
		return fmt.Errorf("discord: %q is not an archive ID", c.ArchiveID)
	}
	st, err := s.findCard(ctx, id)
	if err != nil {
		return err
	}
	if st == nil {
		return s.retry(ctx, func() error { return s.createCard(ctx, id, c) })
	}
	st.editMu.Lock()
	defer st.editMu.Unlock()
	card := *c
	card.ThreadID, card.ArchiveChannelID = st.threadID, s.channel
	st.mu.Lock()
	st.card = card
	st.mu.Unlock()
	return s.retry(ctx, func() error { return s.editCard(ctx, st.messageID, &card, "") })
}

// createCard posts a card, starts its thread (or adopts the thread packs already went to)
// and edits the card to name the thread.
func (s *Store) createCard(ctx context.Context, id string, c *vault.Card) error {
	card := *c
	card.ArchiveChannelID = s.channel
	card.ThreadID = s.lane0(id)
	content, err := cardContent(&card)
	if err != nil {
		return err
	}
	m, err := s.send(ctx, "post the card of "+c.ArchiveID, s.channel,
		&messageSend{Content: content, Embeds: []*discordgo.MessageEmbed{cardEmbed(&card, "")}, Nonce: "c" + id}, nil)
	if err != nil {
		return err
	}
	if card.ThreadID == "" {
		if card.ThreadID, err = s.startThread(ctx, m.ID, c.ArchiveID+" chunks"); err != nil {
			return err
		}
		if err := s.editCard(ctx, m.ID, &card, ""); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cards[id] = &cardState{messageID: m.ID, threadID: card.ThreadID, card: card}
	return nil
}

// editCard replaces a card's content and embed.
func (s *Store) editCard(ctx context.Context, msgID string, c *vault.Card, progress string) error {
	content, err := cardContent(c)
	if err != nil {
		return err
	}
	return s.sendJSON(ctx, "edit the card of "+c.ArchiveID, "PATCH", discordgo.EndpointChannelMessage(s.channel, msgID),
		map[string]any{"content": content, "embeds": []*discordgo.MessageEmbed{cardEmbed(c, progress)}}, nil)
}
