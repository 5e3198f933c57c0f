package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
)

// HeaderVersion is the vault header format this code writes and reads.
const HeaderVersion = 1

// Header is the vault header kept in the store (on Discord: the pinned message). With the
// passphrase it opens the vault from nothing else.
type Header struct {
	Format  string     `json:"format"` // "discofs-vault"
	Version int        `json:"version"`
	VaultID string     `json:"vault_id"`
	Key     WrappedKey `json:"key"`
}

// ErrNoHeader is returned by a Catalog that holds no vault header.
var ErrNoHeader = errors.New("the store holds no discofs vault")

// Card is an archive's public card: v3.1's keys, so old tools and people read it the same,
// plus what discofs needs to find the archive's manifest. File names are on it only when
// the vault opts in; everything else about the tree is in the sealed manifest.
type Card struct {
	Lot              int          `json:"lot"`
	ArchiveID        string       `json:"archive_id"` // "#DDMMYY-NN"
	Timestamp        string       `json:"timestamp"`  // "2006-01-02 15:04:05", local time
	Status           index.Status `json:"status"`
	FileCount        int64        `json:"file_count"`
	TotalSizeBytes   int64        `json:"total_size_bytes"` // stored (encrypted) bytes, as v3.1
	ChunkCount       int64        `json:"chunk_count"`
	FilesDisplay     []string     `json:"files_display,omitempty"`
	ArchiveChannelID string       `json:"archive_channel_id,omitempty"`
	ThreadID         string       `json:"thread_id,omitempty"`
	Discofs          *CardDiscofs `json:"discofs,omitempty"`
}

// CardDiscofs is the card's pointer to the archive's newest manifest.
type CardDiscofs struct {
	Version    int            `json:"v"`
	Generation uint64         `json:"gen"`
	Manifest   []CardManifest `json:"manifest"`
}

// CardManifest is one stored object of manifest frames.
type CardManifest struct {
	Ref  chunkstore.Ref `json:"ref"`
	Size int64          `json:"size"`
}

// cardTimeLayout is v3.1's timestamp format.
const cardTimeLayout = "2006-01-02 15:04:05"

// Catalog keeps the vault header and the archive cards in the store.
type Catalog interface {
	// LoadHeader returns ErrNoHeader when the store holds no vault.
	LoadHeader(ctx context.Context) (*Header, error)
	SaveHeader(ctx context.Context, h *Header) error
	// SaveCard creates or replaces the card of c.ArchiveID.
	SaveCard(ctx context.Context, c *Card) error
	// Cards calls fn for every card.
	Cards(ctx context.Context, fn func(*Card) error) error
}

// RecordCatalog keeps the catalogue as records of a chunkstore.RecordStore.
func RecordCatalog(rs chunkstore.RecordStore) Catalog { return recordCatalog{rs} }

type recordCatalog struct{ rs chunkstore.RecordStore }

const (
	headerRecord = "vault-header"
	cardPrefix   = "cards/"
)

func (c recordCatalog) LoadHeader(ctx context.Context) (*Header, error) {
	b, err := c.rs.GetRecord(ctx, headerRecord)
	if chunkstore.IsNotFound(err) {
		return nil, ErrNoHeader
	}
	if err != nil {
		return nil, err
	}
	var h Header
	if err := json.Unmarshal(b, &h); err != nil || h.Format != "discofs-vault" {
		return nil, fmt.Errorf("vault header is damaged: %v", err)
	}
	if h.Version != HeaderVersion {
		return nil, fmt.Errorf("vault header version %d is not supported", h.Version)
	}
	return &h, nil
}

func (c recordCatalog) SaveHeader(ctx context.Context, h *Header) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	return c.rs.PutRecord(ctx, headerRecord, b)
}

func (c recordCatalog) SaveCard(ctx context.Context, card *Card) error {
	b, err := json.Marshal(card)
	if err != nil {
		return err
	}
	return c.rs.PutRecord(ctx, cardPrefix+strings.TrimPrefix(card.ArchiveID, "#"), b)
}

func (c recordCatalog) Cards(ctx context.Context, fn func(*Card) error) error {
	var damaged []error
	err := c.rs.ListRecords(ctx, cardPrefix, func(name string, data []byte) error {
		var card Card
		if err := json.Unmarshal(data, &card); err != nil {
			id := "#" + strings.TrimPrefix(name, cardPrefix)
			damaged = append(damaged, &DamagedCardError{ArchiveID: id, Where: "record " + name, Err: err})
			return nil
		}
		return fn(&card)
	})
	if err != nil {
		return err
	}
	return errors.Join(damaged...)
}

// cardOf renders an archive's card.
func cardOf(a *index.Archive, names []string) *Card {
	c := &Card{
		Lot:            a.Lot,
		ArchiveID:      "#" + a.ID,
		Timestamp:      a.Created.Local().Format(cardTimeLayout),
		Status:         a.Status,
		FileCount:      a.Files,
		TotalSizeBytes: a.Stored,
		ChunkCount:     a.Chunks,
		FilesDisplay:   names,
	}
	if a.Status == index.StatusPending {
		c.Status = index.StatusPartial
	}
	d := &CardDiscofs{Version: 1, Generation: a.Generation}
	for _, p := range a.Manifest {
		d.Manifest = append(d.Manifest, CardManifest{Ref: p.Ref, Size: p.Size})
	}
	c.Discofs = d
	return c
}

// FormatID renders an archive ID the way people write it: "#DDMMYY-NN".
func FormatID(id string) string { return "#" + id }

// NewArchiveID makes the ID of lot number lot created at t: DDMMYY-NN, NN at least two digits.
func NewArchiveID(t time.Time, lot int) string {
	return fmt.Sprintf("%s-%02d", t.Format("020106"), lot)
}
