package discord

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/bwmarrin/discordgo"

	"github.com/discofs/discofs/index"
	"github.com/discofs/discofs/vault"
)

// v3.1's card colours by status.
const (
	colourSuccess = 0x2ECC71
	colourPartial = 0xF1C40F
	colourFailed  = 0xE74C3C
	colourDeleted = 0x7F8C8D
	colourUnknown = 0x95A5A6
)

const (
	cardMaxContent = 2000
	maxFieldValue  = 1024
	cardTitle      = "📦 Archive "
)

// fenced renders v as v3.1 does: a ```json block of compact JSON.
func fenced(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return "```json\n" + string(b) + "\n```", nil
}

// unfence returns the JSON inside a ```json block; ok is false for other content.
func unfence(content string) ([]byte, bool) {
	c := strings.TrimSpace(content)
	body, ok := strings.CutPrefix(c, "```json")
	if !ok {
		return nil, false
	}
	body, ok = strings.CutSuffix(body, "```")
	return []byte(strings.TrimSpace(body)), ok
}

// cardContent is the card's message content: its JSON, with file names dropped from the end
// until it fits Discord's 2000 characters.
func cardContent(c *vault.Card) (string, error) {
	cc := *c
	for {
		s, err := fenced(&cc)
		if err != nil {
			return "", err
		}
		if len([]rune(s)) <= cardMaxContent {
			return s, nil
		}
		if len(cc.FilesDisplay) == 0 {
			return "", fmt.Errorf("the card of %s is over Discord's %d characters", c.ArchiveID, cardMaxContent)
		}
		cc.FilesDisplay = cc.FilesDisplay[:len(cc.FilesDisplay)/2]
	}
}

func colourOf(s index.Status) int {
	switch s {
	case index.StatusSuccess:
		return colourSuccess
	case index.StatusPartial, index.StatusPending:
		return colourPartial
	case index.StatusFailed:
		return colourFailed
	case index.StatusDeleted:
		return colourDeleted
	}
	return colourUnknown
}

func statusIcon(s index.Status) string {
	switch s {
	case index.StatusSuccess:
		return "✅"
	case index.StatusPartial, index.StatusPending:
		return "⏳"
	case index.StatusFailed:
		return "❌"
	case index.StatusDeleted:
		return "🗑️"
	}
	return "❔"
}

// humanSize is v3.1's size format: 1024-based, two decimals.
func humanSize(n int64) string {
	units := []string{"B", "KB", "MB", "GB", "TB"}
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.2f %s", f, units[i])
}

// cardEmbed is v3.1's embed: title, status colour, fields and footer. progress, when not
// empty, is shown while the archive uploads.
func cardEmbed(c *vault.Card, progress string) *discordgo.MessageEmbed {
	files := fmt.Sprintf("%d files", c.FileCount)
	if len(c.FilesDisplay) > 0 {
		files = clipField(strings.Join(c.FilesDisplay, "\n"), maxFieldValue)
	}
	fields := []*discordgo.MessageEmbedField{
		{Name: "📅 Timestamp", Value: c.Timestamp},
		{Name: "📁 Files", Value: files},
		{Name: "📊 Total Size", Value: humanSize(c.TotalSizeBytes), Inline: true},
		{Name: "🧩 Chunks", Value: fmt.Sprintf("%d chunks", c.ChunkCount), Inline: true},
		{Name: statusIcon(c.Status) + " Status", Value: string(c.Status), Inline: true},
	}
	if progress != "" {
		fields = append(fields, &discordgo.MessageEmbedField{Name: "⏫ Uploading", Value: progress})
	}
	fields = append(fields, &discordgo.MessageEmbedField{Name: "💾 Download", Value: "`discofs get " + c.ArchiveID + "`"})
	return &discordgo.MessageEmbed{
		Type:   discordgo.EmbedTypeRich,
		Title:  cardTitle + c.ArchiveID,
		Color:  colourOf(c.Status),
		Fields: fields,
		Footer: &discordgo.MessageEmbedFooter{Text: fmt.Sprintf("Lot %d • Uploader: discofs", c.Lot)},
	}
}

func clipField(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

var archiveIDPattern = regexp.MustCompile(`#\d{6}-\d{2,}`)

// parseCard reads a discofs card from a message. isCard is false for messages that are not
// cards, v3.1 cards (which have no discofs object) among them.
func parseCard(m *discordgo.Message) (c *vault.Card, isCard bool, err error) {
	looks := false
	id := ""
	for _, e := range m.Embeds {
		if t, ok := strings.CutPrefix(e.Title, cardTitle); ok {
			looks, id = true, t
		}
	}
	fail := func(err error) (*vault.Card, bool, error) {
		if id == "" {
			id = archiveIDPattern.FindString(m.Content)
		}
		return nil, true, &vault.DamagedCardError{ArchiveID: id, Where: "message " + m.ID, Err: err}
	}
	body, ok := unfence(m.Content)
	if !ok {
		if looks {
			return fail(errors.New("its content is not a ```json block"))
		}
		return nil, false, nil
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		if looks || strings.Contains(string(body), `"archive_id"`) {
			return fail(fmt.Errorf("invalid JSON: %v", err))
		}
		return nil, false, nil
	}
	if _, ok := probe["archive_id"]; !ok {
		return nil, false, nil
	}
	if _, ok := probe["discofs"]; !ok {
		return nil, false, nil // a v3.1 card: the legacy importer's business
	}
	var card vault.Card
	if err := json.Unmarshal(body, &card); err != nil {
		return fail(fmt.Errorf("invalid card JSON: %v", err))
	}
	if !archiveIDPattern.MatchString(card.ArchiveID) || card.Discofs == nil {
		return fail(fmt.Errorf("archive_id %q or the discofs object is wrong", card.ArchiveID))
	}
	return &card, true, nil
}
