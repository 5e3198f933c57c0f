package discord

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"
)

// archiveDuration is the threads' auto-archive time in minutes (the longest Discord
// allows); an archived thread still serves its attachments, and a new message reopens it.
const archiveDuration = 10080

// laneSet is the threads one archive uploads into at once. Lane 0 is the archive's own
// thread, started from its card; further lanes are extra threads of the channel, because
// Discord takes 5 messages per 5 seconds per channel and discordgo sends one request per
// channel at a time.
type laneSet struct {
	group string

	mu      sync.Mutex
	cond    *sync.Cond
	busy    []bool
	threads []string       // by lane; "" until made
	retries map[string]int // object name → the lane its failed upload used
}

func (s *Store) laneSet(ctx context.Context, group string) (*laneSet, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ls := s.lanes[group]
	if ls == nil {
		ls = &laneSet{group: group, busy: make([]bool, s.nLanes), threads: make([]string, s.nLanes), retries: map[string]int{}}
		ls.cond = sync.NewCond(&ls.mu)
		s.lanes[group] = ls
	}
	return ls, nil
}

// acquire takes a free lane for the object name, making its thread when it has none yet.
// An object whose upload failed goes back to the lane it used: Discord matches a retried
// message's nonce only within one channel, so another lane could post it twice.
func (ls *laneSet) acquire(ctx context.Context, s *Store, name string) (thread string, release func(ok bool), err error) {
	ls.mu.Lock()
	want, sticky := ls.retries[name]
	i := -1
	for i < 0 {
		if err := ctx.Err(); err != nil {
			ls.mu.Unlock()
			return "", nil, err
		}
		if sticky {
			if !ls.busy[want] {
				i = want
			}
		} else {
			for j, b := range ls.busy {
				if !b {
					i = j
					break
				}
			}
		}
		if i < 0 {
			ls.cond.Wait()
		}
	}
	ls.busy[i] = true
	thread = ls.threads[i]
	ls.mu.Unlock()
	release = func(ok bool) {
		ls.mu.Lock()
		defer ls.mu.Unlock()
		ls.busy[i] = false
		if ok {
			delete(ls.retries, name)
		} else {
			ls.retries[name] = i
		}
		ls.cond.Broadcast()
	}
	if thread == "" {
		if thread, err = s.makeLane(ctx, ls.group, i); err != nil {
			release(true)
			return "", nil, err
		}
		ls.mu.Lock()
		ls.threads[i] = thread
		ls.mu.Unlock()
	}
	return thread, release, nil
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

// threads lists every thread of the channel, active and archived.
func (s *Store) threads(ctx context.Context) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	add := func(list []*discordgo.Channel) {
		for _, t := range list {
			if t.ParentID == s.channel && !seen[t.ID] {
				seen[t.ID] = true
				out = append(out, t.ID)
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
