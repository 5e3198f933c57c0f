package discord

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/bwmarrin/discordgo"

	"github.com/discofs/discofs/chunkstore"
)

// fileName is an object's attachment name: its type and name, so that List and Stat know
// an object from its attachment alone.
func fileName(t chunkstore.Type, name string) string { return t.String() + "-" + name + ".bin" }

// parseFileName is fileName's inverse; ok is false for attachments that are not objects.
func parseFileName(fn string) (chunkstore.Type, string, bool) {
	base, ok := strings.CutSuffix(fn, ".bin")
	if !ok {
		return 0, "", false
	}
	kind, name, ok := strings.Cut(base, "-")
	if !ok || chunkstore.CheckHandle(chunkstore.Handle{Type: chunkstore.TypePack, Name: name}) != nil {
		return 0, "", false
	}
	switch kind {
	case "pack":
		return chunkstore.TypePack, name, true
	case "manifest":
		return chunkstore.TypeManifest, name, true
	}
	return 0, "", false
}

// Put uploads the object as an attachment of a message in a thread of the object's archive
// (Handle.Group), using one of the archive's lanes. Puts of one archive that wait at the same
// time share a message, up to Discord's attachment and request limits.
func (s *Store) Put(ctx context.Context, h chunkstore.Handle, src chunkstore.Source) (chunkstore.Object, error) {
	if err := ctx.Err(); err != nil {
		return chunkstore.Object{}, err
	}
	if err := chunkstore.CheckHandle(h); err != nil {
		return chunkstore.Object{}, err
	}
	if src.Length() > s.max {
		return chunkstore.Object{}, chunkstore.Classify(chunkstore.Permanent, fmt.Errorf(
			"discord: put %s %s: %d bytes is over the %d-byte attachment limit", h.Type, h.Name, src.Length(), s.max))
	}
	data := make([]byte, src.Length())
	if _, err := io.ReadFull(src, data); err != nil {
		return chunkstore.Object{}, chunkstore.Classify(chunkstore.Permanent, fmt.Errorf("discord: put %s %s: read source: %w", h.Type, h.Name, err))
	}
	ls, err := s.laneSet(ctx, h.Group)
	if err != nil {
		return chunkstore.Object{}, err
	}
	return s.upload(ctx, ls, h, data)
}

// attachmentOf finds the object's attachment in its message.
func attachmentOf(m *discordgo.Message, r ref) (*discordgo.MessageAttachment, error) {
	for _, a := range m.Attachments {
		if a.ID == r.attachment {
			return a, nil
		}
	}
	return nil, chunkstore.NotFoundError("discord: attachment " + r.String())
}

// Stat fetches the object's message and describes its attachment.
func (s *Store) Stat(ctx context.Context, cr chunkstore.Ref) (chunkstore.Object, error) {
	if err := ctx.Err(); err != nil {
		return chunkstore.Object{}, err
	}
	r, err := parseRef(cr)
	if err != nil {
		return chunkstore.Object{}, err
	}
	m, err := s.message(ctx, r.channel, r.message)
	if err != nil {
		return chunkstore.Object{}, err
	}
	a, err := attachmentOf(m, r)
	if err != nil {
		return chunkstore.Object{}, err
	}
	s.urls.put(a.ID, a.URL, int64(a.Size))
	t, name, ok := parseFileName(a.Filename)
	if !ok {
		return chunkstore.Object{}, fmt.Errorf("discord: %s: attachment %q is not a discofs object", r, a.Filename)
	}
	return chunkstore.Object{Ref: cr, Type: t, Name: name, Size: int64(a.Size)}, nil
}

// Delete removes the object's attachment: its message goes when the attachment is the
// message's only one, else the message is edited to keep the others. A Delete that finds the
// attachment gone after an earlier attempt of this store got no answer counts as done: that
// attempt is what removed it. A thread that has been archived is reopened first.
func (s *Store) Delete(ctx context.Context, cr chunkstore.Ref) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r, err := parseRef(cr)
	if err != nil {
		return err
	}
	s.urls.drop(r.attachment)
	// Deletes of one store go one at a time: two edits of one message, each keeping the
	// other's attachment, would otherwise undo each other.
	s.delMu.Lock()
	defer s.delMu.Unlock()
	s.mu.Lock()
	tried := s.deleting[r.attachment]
	s.mu.Unlock()
	err = s.deleteAttachment(ctx, r)
	if chunkstore.IsNotFound(err) && tried {
		err = nil
	}
	s.mu.Lock()
	// Only a request that got no answer may have removed the attachment unseen.
	if chunkstore.IsRetryable(err) && isTransient(err) {
		s.deleting[r.attachment] = true
	} else if !chunkstore.IsRetryable(err) {
		delete(s.deleting, r.attachment)
	}
	s.mu.Unlock()
	return err
}

func (s *Store) deleteAttachment(ctx context.Context, r ref) error {
	m, err := s.message(ctx, r.channel, r.message)
	if err != nil {
		return err
	}
	if _, err := attachmentOf(m, r); err != nil {
		return err
	}
	var keep []map[string]string
	for _, a := range m.Attachments {
		if a.ID != r.attachment {
			keep = append(keep, map[string]string{"id": a.ID})
		}
	}
	what := "delete " + r.String()
	url := discordgo.EndpointChannelMessage(r.channel, r.message)
	remove := func() error {
		if len(keep) == 0 && m.Content == "" && len(m.Embeds) == 0 {
			_, err := s.do(ctx, what, "DELETE", url, "", nil, "")
			return err
		}
		return s.sendJSON(ctx, what, "PATCH", url, map[string]any{"attachments": keep}, nil)
	}
	err = remove()
	if err != nil && strings.Contains(err.Error(), fmt.Sprintf("code %d", codeThreadArchived)) {
		if err := s.unarchive(ctx, r.channel); err != nil {
			return err
		}
		err = remove()
	}
	return err
}

// unarchive reopens an archived thread, whose messages cannot be edited or deleted.
func (s *Store) unarchive(ctx context.Context, thread string) error {
	return s.sendJSON(ctx, "reopen thread "+thread, "PATCH", discordgo.EndpointChannel(thread), map[string]any{"archived": false}, nil)
}

// List pages through every thread of the channel, active and archived, and every message in
// each, and calls fn for each object of type t.
func (s *Store) List(ctx context.Context, t chunkstore.Type, fn func(chunkstore.Object) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	threads, err := s.threads(ctx)
	if err != nil {
		return err
	}
	for _, th := range threads {
		err := s.history(ctx, th, func(m *discordgo.Message) error {
			if m.Author == nil || m.Author.ID != s.botID {
				return nil
			}
			for _, a := range m.Attachments {
				typ, name, ok := parseFileName(a.Filename)
				if !ok || typ != t {
					continue
				}
				s.urls.put(a.ID, a.URL, int64(a.Size))
				o := chunkstore.Object{Ref: chunkstore.Ref(ref{m.ChannelID, m.ID, a.ID}.String()), Type: typ, Name: name, Size: int64(a.Size)}
				if err := fn(o); err != nil {
					return listStop{err}
				}
			}
			return nil
		})
		if ls, ok := err.(listStop); ok {
			return ls.err
		}
		if chunkstore.IsNotFound(err) {
			continue // deleted while we listed
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// listStop carries fn's error out of a history walk unchanged.
type listStop struct{ err error }

func (l listStop) Error() string { return l.err.Error() }
