package discord

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
	"github.com/discofs/discofs/vault"
)

// archiveDuration is the threads' auto-archive time in minutes (the longest Discord
// allows); an archived thread still serves its attachments, and a new message reopens it.
const archiveDuration = 10080

// laneSet is the threads one archive uploads into at once, and the uploads waiting for one
// of them. Lane 0 is the archive's own thread, started from its card; further lanes are
// extra threads of the channel, because Discord takes 5 messages per 5 seconds per channel
// and discordgo sends one request per channel at a time.
type laneSet struct {
	group string

	mu      sync.Mutex
	changed chan struct{} // closed (and replaced) when a lane frees or the queue changes
	busy    []bool
	threads []string           // by lane; "" until made
	queue   []*putReq          // uploads waiting for a message, oldest first
	retries map[string]retryAt // object name → where its unanswered upload went
	// wait says how long a thread's rate limit holds its next message back.
	wait func(thread string) time.Duration
}

// retryAt is the lane and nonce of a message whose upload got no answer: Discord matches a
// retried message's nonce only within one channel, so a retry must use both again.
type retryAt struct {
	lane  int
	nonce string
}

func (s *Store) laneSet(ctx context.Context, group string) (*laneSet, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ls := s.lanes[group]
	if ls == nil {
		ls = &laneSet{group: group, changed: make(chan struct{}), busy: make([]bool, s.nLanes),
			threads: make([]string, s.nLanes), retries: map[string]retryAt{},
			wait: func(thread string) time.Duration { return s.bucketWait(createBucket(thread)) }}
		s.lanes[group] = ls
	}
	return ls, nil
}

// _signal wakes everyone waiting on the lane set; ls.mu is held.
func (ls *laneSet) _signal() {
	close(ls.changed)
	ls.changed = make(chan struct{})
}

// _free returns a free lane (want, or when want < 0 the free lane whose rate limit lets a
// message through soonest), or -1; ls.mu is held. Sending through whichever lane is free
// first would pile messages onto one thread while another's limit sits unused.
func (ls *laneSet) _free(want int) int {
	if want >= 0 {
		if !ls.busy[want] {
			return want
		}
		return -1
	}
	best, bestWait := -1, time.Duration(0)
	for i, b := range ls.busy {
		if b {
			continue
		}
		var w time.Duration
		if ls.threads[i] != "" && ls.wait != nil {
			w = ls.wait(ls.threads[i])
		}
		if best < 0 || w < bestWait {
			best, bestWait = i, w
		}
	}
	return best
}

// acquire waits for lane want (any lane when want < 0) and takes it.
func (ls *laneSet) acquire(ctx context.Context, want int) (int, error) {
	for {
		ls.mu.Lock()
		if i := ls._free(want); i >= 0 {
			ls.busy[i] = true
			ls.mu.Unlock()
			return i, nil
		}
		ch := ls.changed
		ls.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return -1, ctx.Err()
		}
	}
}

// release frees lane i.
func (ls *laneSet) release(i int) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ls.busy[i] = false
	ls._signal()
}

// thread returns lane i's thread, making it when it has none yet; the caller holds lane i.
func (ls *laneSet) thread(ctx context.Context, s *Store, i int) (string, error) {
	ls.mu.Lock()
	thread := ls.threads[i]
	ls.mu.Unlock()
	if thread != "" {
		return thread, nil
	}
	thread, err := s.makeLane(ctx, ls.group, i)
	if err != nil {
		return "", err
	}
	ls.mu.Lock()
	ls.threads[i] = thread
	ls.mu.Unlock()
	return thread, nil
}

// forget drops a thread that no longer exists.
func (ls *laneSet) forget(thread string) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for i, t := range ls.threads {
		if t == thread {
			ls.threads[i] = ""
		}
	}
}

// lane0 is the thread of lane 0 when it is made.
func (s *Store) lane0(group string) string {
	s.mu.Lock()
	ls := s.lanes[group]
	s.mu.Unlock()
	if ls == nil {
		return ""
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.threads[0]
}

// makeLane finds or makes lane i's thread of an archive: lane 0 is the card's thread when
// the archive has a card; every other lane is a thread of its own.
func (s *Store) makeLane(ctx context.Context, group string, i int) (string, error) {
	name := "#" + group + " chunks"
	if group == "" {
		name = "discofs chunks"
	}
	if i == 0 && group != "" {
		st, err := s.findCard(ctx, group)
		if err != nil {
			return "", err
		}
		if st != nil && st.threadID != "" {
			return st.threadID, nil
		}
	}
	if i > 0 {
		name += fmt.Sprintf(" (lane %d)", i+1)
	}
	var ch discordgo.Channel
	err := s.sendJSON(ctx, "create thread "+name, "POST", discordgo.EndpointChannelThreads(s.channel),
		map[string]any{"name": name, "type": discordgo.ChannelTypeGuildPublicThread, "auto_archive_duration": archiveDuration}, &ch)
	return ch.ID, err
}

// startThread starts the archive's thread from its card message. On Discord the thread's
// ID is the message's, which is how a retry after a lost answer finds it.
func (s *Store) startThread(ctx context.Context, msgID, name string) (string, error) {
	var ch discordgo.Channel
	err := s.sendJSON(ctx, "start thread "+name, "POST", discordgo.EndpointChannelMessageThread(s.channel, msgID),
		map[string]any{"name": name, "auto_archive_duration": archiveDuration}, &ch)
	if err != nil && strings.Contains(err.Error(), "code 160004") {
		return msgID, nil // the thread was made by an attempt whose answer was lost
	}
	return ch.ID, err
}

// threads lists the IDs of every thread of the channel, active and archived.
func (s *Store) threads(ctx context.Context) ([]string, error) {
	list, err := s.threadList(ctx)
	ids := make([]string, len(list))
	for i, t := range list {
		ids[i] = t.ID
	}
	return ids, err
}

// threadList lists every thread of the channel, active and archived.
func (s *Store) threadList(ctx context.Context) ([]*discordgo.Channel, error) {
	seen := map[string]bool{}
	var out []*discordgo.Channel
	add := func(list []*discordgo.Channel) {
		for _, t := range list {
			if t.ParentID == s.channel && !seen[t.ID] {
				seen[t.ID] = true
				out = append(out, t)
			}
		}
	}
	var active discordgo.ThreadsList
	if err := s.getJSON(ctx, "list active threads", discordgo.EndpointGuildActiveThreads(s.guild), &active); err != nil {
		return nil, err
	}
	add(active.Threads)
	// discordgo's ThreadsArchived cuts "before" to whole seconds; threads archived in the
	// same second would be skipped, so the query is built here with the full timestamp.
	before := ""
	for {
		q := url.Values{"limit": {"100"}}
		if before != "" {
			q.Set("before", before)
		}
		var page discordgo.ThreadsList
		if err := s.getJSON(ctx, "list archived threads", discordgo.EndpointChannelPublicArchivedThreads(s.channel)+"?"+q.Encode(), &page); err != nil {
			return nil, err
		}
		add(page.Threads)
		if !page.HasMore || len(page.Threads) == 0 {
			return out, nil
		}
		last := page.Threads[len(page.Threads)-1]
		if last.ThreadMetadata == nil {
			return out, nil
		}
		before = last.ThreadMetadata.ArchiveTimestamp.UTC().Format(time.RFC3339Nano)
	}
}

// laneThreadName matches the names makeLane and startThread give an archive's threads.
var laneThreadName = regexp.MustCompile(`^#(\d{6}-\d{2,}) chunks( \(lane \d+\))?$`)

// PruneThreads deletes the threads (lane 0 and the other lanes) of deleted and failed
// archives once they hold no message: GC calls it after deleting what nothing references.
// The cards stay, saying the archive is deleted. A thread that still holds anything, packs
// another archive uses or messages people wrote, stays. It returns how many it deleted.
func (s *Store) PruneThreads(ctx context.Context) (int, error) {
	dead := map[string]bool{}
	err := s.Cards(ctx, func(c *vault.Card) error {
		if c.Status == index.StatusDeleted || c.Status == index.StatusFailed {
			dead[strings.TrimPrefix(c.ArchiveID, "#")] = true
		}
		return nil
	})
	var dc *vault.DamagedCardError
	if err != nil && !errors.As(err, &dc) {
		return 0, err
	}
	if len(dead) == 0 {
		return 0, nil
	}
	var list []*discordgo.Channel
	if err := s.retry(ctx, func() (err error) { list, err = s.threadList(ctx); return err }); err != nil {
		return 0, err
	}
	n := 0
	for _, t := range list {
		m := laneThreadName.FindStringSubmatch(t.Name)
		if m == nil || !dead[m[1]] {
			continue
		}
		var page []*discordgo.Message
		err := s.retry(ctx, func() error {
			return s.getJSON(ctx, "read thread "+t.ID, discordgo.EndpointChannelMessages(t.ID)+"?limit=1", &page)
		})
		if chunkstore.IsNotFound(err) {
			continue
		}
		if err != nil {
			return n, err
		}
		if len(page) > 0 {
			continue
		}
		err = s.retry(ctx, func() error {
			_, err := s.do(ctx, "delete the empty thread "+t.Name, "DELETE", discordgo.EndpointChannel(t.ID), "", nil, "")
			return err
		})
		if err != nil && !chunkstore.IsNotFound(err) {
			return n, err
		}
		s.mu.Lock()
		ls := s.lanes[m[1]]
		s.mu.Unlock()
		if ls != nil {
			ls.forget(t.ID)
		}
		n++
	}
	return n, nil
}
