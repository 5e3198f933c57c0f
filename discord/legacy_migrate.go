package discord

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/bwmarrin/discordgo"

	"github.com/discofs/discofs/index"
	"github.com/discofs/discofs/vault"
)

const (
	legacyMigratedKey   = "migrated_to"
	legacyManifestsKey  = "migrated_manifests"
	legacyMigratedField = "➡️ Migrated"
	legacyContentLimit  = 2000
	legacyDeletedColour = 0x7F8C8D
)

// MarkMigrated edits the v3.1 card: its JSON gains "migrated_to", its embed a field naming
// the new archive and the deleted colour. Import skips cards so marked. When the card's
// thread holds several manifests (archives), each migrated one is recorded under
// "migrated_manifests" in the JSON, which import skips, and the card is marked as a whole
// with the last of them.
func (f *LegacyFetcher) MarkMigrated(ctx context.Context, la index.LegacyArchive, newID string) error {
	s, m, others, err := f.legacyCard(ctx, la)
	if err != nil {
		return err
	}
	edit := discordgo.NewMessageEdit(m.ChannelID, m.ID)
	var done map[string]string
	if body, ok := legacyUnfence(m.Content); ok {
		var j map[string]json.RawMessage
		if json.Unmarshal([]byte(body), &j) == nil {
			if len(others) > 0 {
				json.Unmarshal(j[legacyManifestsKey], &done)
				if done == nil {
					done = map[string]string{}
				}
				done[la.ManifestName] = vault.FormatID(newID)
				j[legacyManifestsKey], _ = json.Marshal(done)
			}
			if legacyAllMigrated(others, done) {
				j[legacyMigratedKey], _ = json.Marshal(vault.FormatID(newID))
			}
			content, err := legacyFence(j)
			if err != nil {
				return err
			}
			edit.Content = &content
		}
	}
	if !legacyAllMigrated(others, done) {
		// The embed is marked with the last archive of the thread. A card without JSON
		// has nowhere to record one archive of several.
		if edit.Content == nil {
			return nil
		}
		if _, err := s.ChannelMessageEditComplex(edit, discordgo.WithContext(ctx)); err != nil {
			return fmt.Errorf("edit card %s: %w", m.ID, stripLegacyURL(err))
		}
		return nil
	}
	embeds := make([]*discordgo.MessageEmbed, 0, len(m.Embeds))
	for _, e := range m.Embeds {
		if e != nil && legacyTitlePattern.MatchString(e.Title) && len(e.Fields) < 25 {
			c := *e
			c.Fields = append(append([]*discordgo.MessageEmbedField(nil), e.Fields...),
				&discordgo.MessageEmbedField{Name: legacyMigratedField, Value: "`" + vault.FormatID(newID) + "` (discofs)"})
			c.Color = legacyDeletedColour
			e = &c
		}
		embeds = append(embeds, e)
	}
	edit.Embeds = &embeds
	if _, err := s.ChannelMessageEditComplex(edit, discordgo.WithContext(ctx)); err != nil {
		return fmt.Errorf("edit card %s: %w", m.ID, stripLegacyURL(err))
	}
	return nil
}

// legacyFence renders card JSON as v3.1 did; past Discord's content limit it drops the
// lists first, as v3.1 did, and says so with metadata_truncated.
func legacyFence(j map[string]json.RawMessage) (string, error) {
	for range 2 {
		b, err := json.Marshal(j)
		if err != nil {
			return "", err
		}
		s := "```json\n" + string(b) + "\n```"
		if len(s) <= legacyContentLimit {
			return s, nil
		}
		for _, k := range []string{"uploaded_files", "failed_files", "message_ids", "files_display"} {
			delete(j, k)
		}
		j["metadata_truncated"] = json.RawMessage("true")
	}
	return "", fmt.Errorf("the card JSON does not fit in %d characters", legacyContentLimit)
}

// DeleteOld deletes the v3.1 archive's thread with its chunks and manifest. A thread that
// also holds archives not yet migrated is kept, with an error saying so: it goes with the
// last of them.
func (f *LegacyFetcher) DeleteOld(ctx context.Context, la index.LegacyArchive) error {
	if la.Source.Kind != index.LegacyDiscord {
		return fmt.Errorf("its chunks are in %s; delete that folder yourself", la.Source.Dir)
	}
	s, m, others, err := f.legacyCard(ctx, la)
	if err != nil {
		return err
	}
	c, _, _ := parseLegacyCard(m)
	if left := legacyNotMigrated(others, c.MigratedManifests); len(left) > 0 {
		return fmt.Errorf("thread %s is kept: it also holds the v3.1 archive of %s, not migrated yet, and is deleted with the last archive it holds",
			la.Source.Channel, strings.Join(left, ", "))
	}
	if _, err := s.ChannelDelete(la.Source.Channel, discordgo.WithContext(ctx)); err != nil {
		return fmt.Errorf("delete thread %s: %w", la.Source.Channel, stripLegacyURL(err))
	}
	return nil
}

// legacyCard fetches the card of a v3.1 archive and lists the other manifests its thread
// holds.
func (f *LegacyFetcher) legacyCard(ctx context.Context, la index.LegacyArchive) (*discordgo.Session, *discordgo.Message, []string, error) {
	s, err := f.session(la.Source.API)
	if err != nil {
		return nil, nil, nil, err
	}
	th, err := s.Channel(la.Source.Channel, discordgo.WithContext(ctx))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("thread %s: %w", la.Source.Channel, stripLegacyURL(err))
	}
	var others []string
	err = legacyHistory(ctx, s, th.ID, func(m *discordgo.Message) {
		for _, a := range m.Attachments {
			if vault.IsLegacyManifestName(a.Filename) && a.Filename != la.ManifestName {
				others = append(others, a.Filename)
			}
		}
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("thread %s: %w", th.ID, stripLegacyURL(err))
	}
	cardID := la.Card
	if cardID == "" {
		cardID = th.ID // a thread started from a message has its ID
	}
	m, err := s.ChannelMessage(th.ParentID, cardID, discordgo.WithContext(ctx))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("card %s: %w", cardID, stripLegacyURL(err))
	}
	return s, m, others, nil
}

// legacyAllMigrated reports whether every other manifest of a thread is in done.
func legacyAllMigrated(others []string, done map[string]string) bool {
	return len(legacyNotMigrated(others, done)) == 0
}

// legacyNotMigrated lists the other manifests of a thread that are not in done.
func legacyNotMigrated(others []string, done map[string]string) []string {
	var left []string
	for _, o := range others {
		if done[o] == "" {
			left = append(left, o)
		}
	}
	return left
}
