package discord

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/discofs/discofs/index"
	"github.com/discofs/discofs/vault"
)

// legacyCard is what a v3.1 archive card tells: the JSON in its content, or its embed when
// the JSON is missing, cut, or had its lists dropped (metadata_truncated).
type legacyCard struct {
	ID        string // "DDMMYY-NN", without '#'
	Lot       int
	Created   time.Time
	Status    index.Status
	Thread    string
	Message   string // the card message's ID
	Truncated bool   // metadata_truncated: the card's lists were dropped
	Migrated  string // the discofs archive it was migrated to, if it was
	// MigratedManifests are the manifests of a thread holding several that were migrated
	// one by one, with the discofs archive each became; Migrated is set with the last.
	MigratedManifests map[string]string
	// Counts are what the card says of the upload, to check against the thread.
	Counts vault.LegacyCardCounts
	// Note says how a card without its full JSON was read; empty when it had it.
	Note string
}

// legacyCardJSON is v3.1's card JSON; thread_id is a number in v3.1 and a string in
// discofs, so it is decoded loosely.
type legacyCardJSON struct {
	Lot               int               `json:"lot"`
	ArchiveID         string            `json:"archive_id"`
	Timestamp         string            `json:"timestamp"`
	Status            string            `json:"status"`
	ThreadID          json.RawMessage   `json:"thread_id"`
	MetadataTruncated bool              `json:"metadata_truncated"`
	Discofs           json.RawMessage   `json:"discofs"`
	MigratedTo        string            `json:"migrated_to"`
	MigratedManifests map[string]string `json:"migrated_manifests"`
	FileCount         *int              `json:"file_count"`
	ChunkCount        *int              `json:"chunk_count"`
	UploadedFiles     []string          `json:"uploaded_files"`
	UploadedTruncated bool              `json:"uploaded_files_truncated"`
}

var (
	legacyIDPattern    = regexp.MustCompile(`#?(\d{6}-\d{2,})`)
	legacyTitlePattern = regexp.MustCompile(`^📦 Archive #?(\d{6}-\d{2,})$`)
	legacyLotPattern   = regexp.MustCompile(`Lot (\d+)`)
)

const legacyTimeLayout = "2006-01-02 15:04:05"

// legacyUnfence returns the body of a ```json fenced block.
func legacyUnfence(content string) (string, bool) {
	s := strings.TrimSpace(content)
	body, ok := strings.CutPrefix(s, "```json")
	if !ok {
		return "", false
	}
	body, _ = strings.CutSuffix(body, "```")
	return strings.TrimSpace(body), true
}

// parseLegacyCard reads a v3.1 card. ok is false for a message that is not a v3.1 card
// (a discofs card, the vault header, chatter); err says why a card could not be read.
func parseLegacyCard(m *discordgo.Message) (c legacyCard, ok bool, err error) {
	c.Message = m.ID
	c.Counts = vault.LegacyCardCounts{Chunks: -1, Files: -1}
	var j legacyCardJSON
	body, fenced := legacyUnfence(m.Content)
	jsonOK := fenced && json.Unmarshal([]byte(body), &j) == nil && j.ArchiveID != ""
	if jsonOK && len(j.Discofs) > 0 {
		return c, false, nil // a discofs archive, not a v3.1 one
	}
	var e *discordgo.MessageEmbed
	for _, em := range m.Embeds {
		if em != nil && legacyTitlePattern.MatchString(em.Title) {
			e = em
		}
	}
	if !jsonOK && e == nil {
		if fenced && strings.Contains(body, `"archive_id"`) {
			// A card whose JSON was cut and that has no embed to fall back on.
			what := "a v3.1 card"
			if sm := legacyIDPattern.FindStringSubmatch(body); sm != nil {
				what = "v3.1 archive " + vault.FormatID(sm[1])
			}
			return c, true, fmt.Errorf("%s (card %s): its JSON cannot be read and it has no embed to read instead", what, m.ID)
		}
		return c, false, nil
	}
	if jsonOK {
		sm := legacyIDPattern.FindStringSubmatch(j.ArchiveID)
		if sm == nil {
			return c, true, fmt.Errorf("card %s: archive_id %q is not #DDMMYY-NN", m.ID, j.ArchiveID)
		}
		c.ID, c.Lot, c.Status, c.Truncated = sm[1], j.Lot, index.Status(j.Status), j.MetadataTruncated
		c.Migrated, c.MigratedManifests = j.MigratedTo, j.MigratedManifests
		if j.ChunkCount != nil {
			c.Counts.Chunks = *j.ChunkCount
		}
		if j.FileCount != nil {
			c.Counts.Files = *j.FileCount
		}
		if j.UploadedFiles != nil && !j.UploadedTruncated && !j.MetadataTruncated {
			c.Counts.Uploaded = j.UploadedFiles
		}
		c.Created, _ = time.ParseInLocation(legacyTimeLayout, j.Timestamp, time.Local)
		c.Thread = strings.Trim(string(j.ThreadID), `"`)
		if c.Thread == "null" {
			c.Thread = ""
		}
	}
	switch {
	case !jsonOK && fenced:
		c.Note = "its card's JSON cannot be read; its embed, thread and manifest were read instead"
	case !jsonOK:
		c.Note = "its card has no JSON; its embed, thread and manifest were read instead"
	case c.Truncated:
		c.Note = "its card's metadata was truncated (metadata_truncated); its thread and manifest were read instead"
	}
	if e != nil && (!jsonOK || c.Truncated) {
		legacyFromEmbed(&c, e)
	}
	if c.ID == "" {
		return c, true, fmt.Errorf("card %s carries no archive ID", m.ID)
	}
	if c.Lot == 0 {
		c.Lot, _ = strconv.Atoi(c.ID[strings.IndexByte(c.ID, '-')+1:])
	}
	if c.Created.IsZero() {
		c.Created, _ = time.ParseInLocation("020106", c.ID[:6], time.Local)
	}
	switch c.Status {
	case index.StatusSuccess, index.StatusPartial, index.StatusFailed, index.StatusDeleted:
	default:
		c.Status = index.StatusUnknown
	}
	c.Counts.Status = c.Status
	if c.Thread == "" {
		// A thread started from a message has the message's ID.
		c.Thread = m.ID
	}
	return c, true, nil
}

// legacyFromEmbed fills what the card JSON lacks from v3.1's embed: the title, the
// "📅 Timestamp" and "✅ Status" fields and the "Lot N • Uploader: X" footer.
func legacyFromEmbed(c *legacyCard, e *discordgo.MessageEmbed) {
	if c.ID == "" {
		c.ID = legacyTitlePattern.FindStringSubmatch(e.Title)[1]
	}
	for _, f := range e.Fields {
		if f == nil {
			continue
		}
		switch {
		case strings.Contains(f.Name, "Timestamp") && c.Created.IsZero():
			c.Created, _ = time.ParseInLocation(legacyTimeLayout, strings.TrimSpace(f.Value), time.Local)
		case strings.Contains(f.Name, "Status") && c.Status == "":
			c.Status = index.Status(strings.ToLower(strings.TrimSpace(f.Value)))
		case f.Name == legacyMigratedField && c.Migrated == "":
			c.Migrated = strings.Trim(strings.Fields(f.Value + " x")[0], "`")
		}
	}
	if e.Footer != nil && c.Lot == 0 {
		if sm := legacyLotPattern.FindStringSubmatch(e.Footer.Text); sm != nil {
			c.Lot, _ = strconv.Atoi(sm[1])
		}
	}
}
