package discord

import (
	"bytes"
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

// nonce makes a message's nonce from its object: the same object gets the same nonce on
// every retry, so Discord returns the first message instead of posting a second.
// Discord takes at most 25 characters.
func nonce(h chunkstore.Handle) string {
	n := h.Type.String()[:1] + h.Name
	return n[:min(len(n), 25)]
}

// Put uploads the object as one attachment of a new message in a thread of the object's
// archive (Handle.Group), using one of the archive's lanes.
func (s *Store) Put(ctx context.Context, h chunkstore.Handle, src chunkstore.Source) (_ chunkstore.Object, err error) {
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
	thread, release, err := ls.acquire(ctx, s, h.Name)
	if err != nil {
		return chunkstore.Object{}, err
	}
	defer func() { release(!chunkstore.IsRetryable(err)) }()
	what := fmt.Sprintf("upload %s %s to thread %s", h.Type, h.Name, thread)
	msg, err := s.send(ctx, what, thread, &messageSend{Nonce: nonce(h)},
		[]*discordgo.File{{Name: fileName(h.Type, h.Name), ContentType: "application/octet-stream", Reader: bytes.NewReader(data)}})
	if chunkstore.IsNotFound(err) {
		// The thread is gone (deleted by hand): forget it, so the retry makes another.
		ls.forget(thread)
		return chunkstore.Object{}, chunkstore.Classify(chunkstore.Retryable, err)
	}
	if err != nil {
		return chunkstore.Object{}, err
	}
	if len(msg.Attachments) != 1 {
		return chunkstore.Object{}, fmt.Errorf("discord: %s: the message has %d attachments", what, len(msg.Attachments))
	}
	a := msg.Attachments[0]
	if int64(a.Size) != int64(len(data)) {
		return chunkstore.Object{}, chunkstore.Classify(chunkstore.Retryable, fmt.Errorf(
			"discord: %s: stored %d bytes of %d", what, a.Size, len(data)))
	}
	s.urls.put(a.ID, a.URL, int64(a.Size))
	obj := chunkstore.Object{Ref: chunkstore.Ref(ref{msg.ChannelID, msg.ID, a.ID}.String()), Type: h.Type, Name: h.Name, Size: int64(a.Size)}
	s.progress(h.Group, obj.Size)
	return obj, nil
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

// Delete deletes the object's message. A Delete that finds the message gone after an
// earlier attempt of this store got no answer counts as done: that attempt is what
// deleted it.
func (s *Store) Delete(ctx context.Context, cr chunkstore.Ref) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r, err := parseRef(cr)
	if err != nil {
		return err
	}
	s.urls.drop(r.attachment)
	s.mu.Lock()
	tried := s.deleting[r.message]
	s.mu.Unlock()
	_, err = s.do(ctx, "delete "+r.String(), "DELETE", discordgo.EndpointChannelMessage(r.channel, r.message), "", nil, "")
	if chunkstore.IsNotFound(err) && tried {
		err = nil
	}
	s.mu.Lock()
	// Only a request that got no answer may have deleted the message unseen.
	if chunkstore.IsRetryable(err) && isTransient(err) {
		s.deleting[r.message] = true
	} else if !chunkstore.IsRetryable(err) {
		delete(s.deleting, r.message)
	}
	s.mu.Unlock()
	return err
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
