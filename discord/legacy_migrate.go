package discord

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/bwmarrin/discordgo"

	"github.com/discofs/discofs/index"
	"github.com/discofs/discofs/vault"
)

const (
	legacyMigratedKey   = "migrated_to"
	legacyMigratedField = "➡️ Migrated"
	legacyContentLimit  = 2000
	legacyDeletedColour = 0x7F8C8D
)

// MarkMigrated edits the v3.1 card: its JSON gains "migrated_to", its embed a field naming
// the new archive and the deleted colour. Import skips cards so marked.
func (f *LegacyFetcher) MarkMigrated(ctx context.Context, la index.LegacyArchive, newID string) error {
	s, err := f.session(la.Source.API)
	if err != nil {
		return err
	}
	th, err := s.Channel(la.Source.Channel, discordgo.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("thread %s: %w", la.Source.Channel, stripLegacyURL(err))
	}
	cardID := la.Card
	if cardID == "" {
		cardID = th.ID // a thread started from a message has its ID
	}
	m, err := s.ChannelMessage(th.ParentID, cardID, discordgo.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("card %s: %w", cardID, stripLegacyURL(err))
	}
	edit := discordgo.NewMessageEdit(m.ChannelID, m.ID)
	if body, ok := legacyUnfence(m.Content); ok {
		var j map[string]json.RawMessage
		if json.Unmarshal([]byte(body), &j) == nil {
			j[legacyMigratedKey], _ = json.Marshal(vault.FormatID(newID))
			content, err := legacyFence(j)
			if err != nil {
				return err
			}
			edit.Content = &content
		}
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

// DeleteOld deletes the v3.1 archive's thread with its chunks and manifest.
func (f *LegacyFetcher) DeleteOld(ctx context.Context, la index.LegacyArchive) error {
	if la.Source.Kind != index.LegacyDiscord {
		return fmt.Errorf("its chunks are in %s; delete that folder yourself", la.Source.Dir)
	}
	s, err := f.session(la.Source.API)
	if err != nil {
		return err
	}
	if _, err := s.ChannelDelete(la.Source.Channel, discordgo.WithContext(ctx)); err != nil {
		return fmt.Errorf("delete thread %s: %w", la.Source.Channel, stripLegacyURL(err))
	}
	return nil
}
