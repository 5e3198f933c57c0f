package discord

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/discofs/discofs/chunkstore"
)

// Several objects per message. Discord limits messages, not bytes: 5 per 5 seconds per
// thread, each with up to 10 attachments and 25 MiB. Puts of one archive therefore wait in
// their lane set's queue; whoever finds a lane free becomes the sender, waits a moment for
// more puts, and posts as many queued objects as fit in one message. Each caller gets the
// Ref of its own attachment; a failed message fails every object in it.

// requestOverhead is room left in a request for the multipart headers and the JSON part.
const requestOverhead = 64 << 10

// putReq is one Put waiting for its message.
type putReq struct {
	ctx  context.Context
	h    chunkstore.Handle
	data []byte

	taken bool // in a message being sent; ls.mu

	done chan struct{} // closed once obj or err is set
	obj  chunkstore.Object
	err  error
}

// upload stores data as one attachment of a message in one of ls's threads.
func (s *Store) upload(ctx context.Context, ls *laneSet, h chunkstore.Handle, data []byte) (chunkstore.Object, error) {
	ls.mu.Lock()
	at, sticky := ls.retries[h.Name]
	ls.mu.Unlock()
	if sticky {
		obj, found, err := s.resend(ctx, ls, h, data, at)
		if err != nil || found {
			return obj, err
		}
		// The message of that nonce does not hold the object: its first upload never
		// landed, and it may go out in any message now.
	}
	req := &putReq{ctx: ctx, h: h, data: data, done: make(chan struct{})}
	ls.mu.Lock()
	ls.queue = append(ls.queue, req)
	ls._signal()
	ls.mu.Unlock()
	for {
		ls.mu.Lock()
		select {
		case <-req.done:
			ls.mu.Unlock()
			return req.obj, req.err
		default:
		}
		i := -1
		if !req.taken {
			i = ls._free(-1)
		}
		if i >= 0 {
			ls.busy[i] = true
			ls.mu.Unlock()
			s.sendBatch(ctx, ls, i)
			continue
		}
		ch := ls.changed
		ls.mu.Unlock()
		select {
		case <-ch:
		case <-req.done:
		case <-ctx.Done():
			// A queued object leaves the queue; one already in a message being sent
			// may still land, as an attachment nobody references (GC's orphan).
			ls.mu.Lock()
			ls._dequeue(req)
			ls.mu.Unlock()
			return chunkstore.Object{}, ctx.Err()
		}
	}
}

// _dequeue drops req from the queue if it is still there; ls.mu is held.
func (ls *laneSet) _dequeue(req *putReq) {
	for i, r := range ls.queue {
		if r == req {
			ls.queue = append(ls.queue[:i], ls.queue[i+1:]...)
			return
		}
	}
}

// _takeBatch takes the oldest queued objects that fit one message; ls.mu is held.
func (ls *laneSet) _takeBatch(maxFiles int, budget int64) []*putReq {
	var batch []*putReq
	var size int64
	for len(ls.queue) > 0 && len(batch) < maxFiles {
		r := ls.queue[0]
		if len(batch) > 0 && size+int64(len(r.data)) > budget {
			break
		}
		r.taken = true
		size += int64(len(r.data))
		batch = append(batch, r)
		ls.queue = ls.queue[1:]
	}
	return batch
}

// waitQueued waits d, or less if the queue empties: a sender waiting for its lane's rate
// limit must not sit out the wait when another lane has sent what it was waiting to send.
// It reports whether anything is left to send.
func (ls *laneSet) waitQueued(ctx context.Context, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		ls.mu.Lock()
		empty := len(ls.queue) == 0
		ch := ls.changed
		ls.mu.Unlock()
		left := time.Until(deadline)
		if empty || left <= 0 || ctx.Err() != nil {
			return !empty
		}
		t := time.NewTimer(left)
		select {
		case <-t.C:
		case <-ch:
		case <-ctx.Done():
		}
		t.Stop()
	}
}

// _batchFull reports whether the queue already fills a message; ls.mu is held.
func (ls *laneSet) _batchFull(maxFiles int, budget int64) bool {
	var size int64
	for i, r := range ls.queue {
		size += int64(len(r.data))
		if i+1 >= maxFiles || size > budget {
			return true
		}
	}
	return false
}

// sendBatch posts the queued objects that fit one message through lane i, which the caller
// holds, and hands each its result. It releases the lane.
func (s *Store) sendBatch(ctx context.Context, ls *laneSet, i int) {
	defer ls.release(i)
	budget := s.maxRequest - requestOverhead
	thread, err := ls.thread(ctx, s, i)
	if err == nil {
		// The message waits for its rate-limit bucket anyway: it takes everything queued by
		// the time the bucket has room, and gives uploaders that finished together a moment
		// to come back and share it.
		wait := s.bucketWait(createBucket(thread))
		ls.mu.Lock()
		full := ls._batchFull(s.maxFiles, budget)
		ls.mu.Unlock()
		if !full {
			wait = max(wait, s.window)
		}
		if !ls.waitQueued(ctx, wait) {
			return // others sent everything meanwhile, this caller's object too
		}
	}
	ls.mu.Lock()
	batch := ls._takeBatch(s.maxFiles, budget)
	ls.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	if err != nil {
		ls.mu.Lock()
		defer ls.mu.Unlock()
		for _, r := range batch {
			r.err = err
			close(r.done)
		}
		ls._signal()
		return
	}
	// The message is sent while any of its objects' callers still waits for it.
	sendCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	var waiting atomic.Int32
	waiting.Store(int32(len(batch)))
	for _, r := range batch {
		stop := context.AfterFunc(r.ctx, func() {
			if waiting.Add(-1) == 0 {
				cancel()
			}
		})
		defer stop()
	}
	n := randomNonce()
	t0 := time.Now()
	msg, thread, err := s.post(sendCtx, ls, thread, n, batch)
	s.log.Debug("discord: batch", "lane", i, "n", len(batch), "took", time.Since(t0), "err", err)
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for _, r := range batch {
		switch {
		case err == nil:
			delete(ls.retries, r.h.Name)
			r.obj, r.err = s.objectIn(msg, r.h, r.data)
			if chunkstore.IsNotFound(r.err) {
				r.err = chunkstore.Classify(chunkstore.Retryable, r.err)
			}
		case chunkstore.IsRetryable(err) && thread != "":
			// Perhaps posted without an answer: the retry must ask with the same nonce.
			ls.retries[r.h.Name] = retryAt{lane: i, nonce: n}
			r.err = err
		default:
			r.err = err
		}
		close(r.done)
	}
	ls._signal()
}

// resend retries an upload that got no answer: alone, on the same lane, with the same
// nonce, so that Discord returns the first message if it was made. found is false when the
// message of that nonce does not hold the object.
func (s *Store) resend(ctx context.Context, ls *laneSet, h chunkstore.Handle, data []byte, at retryAt) (chunkstore.Object, bool, error) {
	i, err := ls.acquire(ctx, at.lane)
	if err != nil {
		return chunkstore.Object{}, false, err
	}
	defer ls.release(i)
	req := &putReq{ctx: ctx, h: h, data: data}
	thread, err := ls.thread(ctx, s, i)
	if err != nil {
		return chunkstore.Object{}, false, err
	}
	msg, _, err := s.post(ctx, ls, thread, at.nonce, []*putReq{req})
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if err != nil {
		if !chunkstore.IsRetryable(err) {
			delete(ls.retries, h.Name)
		}
		return chunkstore.Object{}, false, err
	}
	delete(ls.retries, h.Name)
	obj, err := s.objectIn(msg, h, data)
	if chunkstore.IsNotFound(err) {
		return chunkstore.Object{}, false, nil
	}
	return obj, true, err
}

// post sends one message holding the batch's objects to thread, the thread of a lane the
// caller holds.
func (s *Store) post(ctx context.Context, ls *laneSet, thread, nonce string, batch []*putReq) (*discordgo.Message, string, error) {
	files := make([]*discordgo.File, len(batch))
	for j, r := range batch {
		files[j] = &discordgo.File{Name: fileName(r.h.Type, r.h.Name), ContentType: "application/octet-stream", Reader: bytes.NewReader(r.data)}
	}
	what := fmt.Sprintf("upload %s %s to thread %s", batch[0].h.Type, batch[0].h.Name, thread)
	if len(batch) > 1 {
		what = fmt.Sprintf("upload %d objects to thread %s", len(batch), thread)
	}
	msg, err := s.send(ctx, what, thread, &messageSend{Nonce: nonce}, files)
	if chunkstore.IsNotFound(err) {
		// The thread is gone (deleted by hand): forget it, so the retry makes another.
		ls.forget(thread)
		return nil, "", chunkstore.Classify(chunkstore.Retryable, err)
	}
	return msg, thread, err
}

// objectIn finds h's attachment in the message that carried it.
func (s *Store) objectIn(msg *discordgo.Message, h chunkstore.Handle, data []byte) (chunkstore.Object, error) {
	name := fileName(h.Type, h.Name)
	for _, a := range msg.Attachments {
		if a.Filename != name {
			continue
		}
		if int64(a.Size) != int64(len(data)) {
			return chunkstore.Object{}, chunkstore.Classify(chunkstore.Retryable, fmt.Errorf(
				"discord: upload %s %s: stored %d bytes of %d", h.Type, h.Name, a.Size, len(data)))
		}
		s.urls.put(a.ID, a.URL, int64(a.Size))
		obj := chunkstore.Object{Ref: chunkstore.Ref(ref{msg.ChannelID, msg.ID, a.ID}.String()), Type: h.Type, Name: h.Name, Size: int64(a.Size)}
		s.progress(h.Group, obj.Size)
		return obj, nil
	}
	return chunkstore.Object{}, chunkstore.NotFoundError(fmt.Sprintf("discord: message %s does not hold %s", msg.ID, name))
}

// randomNonce is a fresh message nonce; Discord takes at most 25 characters.
func randomNonce() string {
	var b [12]byte
	rand.Read(b[:])
	return "u" + hex.EncodeToString(b[:])
}
