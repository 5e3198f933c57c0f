package discord

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/discofs/discofs/index"
	"github.com/discofs/discofs/vault"
)

// cardState is what the store knows of one archive card.
//
// Lock order: editMu before mu. editMu is held across a card edit, so that a progress edit
// never lands after the final one; mu guards the fields.
type cardState struct {
	editMu sync.Mutex

	mu        sync.Mutex
	messageID string
	threadID  string
	card      vault.Card // as last saved
	packs     int64      // objects uploaded by this store while the card is partial
	stored    int64
	lastEdit  time.Time
	pending   bool // a progress edit is scheduled
}

// A card shows progress only while its archive uploads, whoever uploads it (put, the mount,
// the bot's upload). Downloads and verifies read an archive and leave its card, the archive's
// record shared by every machine of the vault, as it is: their progress goes to the reply of
// the command that runs them, and a verify's damage is reported there and by its exit code.

// progress counts an upload for the archive's card and schedules a progress edit, at most
// one per Options.ProgressEvery, while the card says the archive is partial.
func (s *Store) progress(group string, size int64) {
	s.mu.Lock()
	st := s.cards[group]
	s.mu.Unlock()
	if st == nil {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.card.Status != index.StatusPartial {
		return
	}
	st.packs++
	st.stored += size
	if st.pending {
		return
	}
	st.pending = true
	delay := max(0, s.progressEvery-time.Since(st.lastEdit))
	time.AfterFunc(delay, func() { s.flushProgress(st) })
}

// flushProgress edits the card to show the upload so far, unless the card has moved on.
func (s *Store) flushProgress(st *cardState) {
	st.editMu.Lock()
	defer st.editMu.Unlock()
	st.mu.Lock()
	st.pending = false
	card := st.card
	text := fmt.Sprintf("%d objects, %s so far", st.packs, humanSize(st.stored))
	partial := card.Status == index.StatusPartial
	st.lastEdit = time.Now()
	st.mu.Unlock()
	select {
	case <-s.closed:
		return
	default:
	}
	if !partial {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// One try: a lost progress edit is made good by the next one or by the final card.
	if err := s.editCard(ctx, st.messageID, &card, text); err != nil {
		s.log.Debug("discord: card progress edit failed", "archive", card.ArchiveID, "err", err)
	}
}
