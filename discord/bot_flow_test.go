package discord

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/discofs/discofs/discord/emulator"
)

// TestBotConfirmation clicks through the confirmations with the emulator's buttons: a
// stranger's click, Confirm, a button of an earlier run, the timeout, and a prefix
// command's buttons.
func TestBotConfirmation(t *testing.T) {
	t.Parallel()
	h := newBotHarness(t, nil, func(c *BotConfig, _ emulator.Info) { c.ConfirmTimeout = 1500 * time.Millisecond })
	owner := h.info.OwnerID
	photos := h.archive(t, "photos", 4000)
	h.archive(t, "docs", 4000)

	m := h.invoke(t, owner, "cleanup", map[string]any{"archive": "photos"})
	confirm := h.button(t, m, "Confirm")
	h.button(t, m, "Cancel")
	r := h.click(t, h.info.MemberID, m.ID, confirm)
	if r.ID == m.ID || r.Flags&discordgo.MessageFlagsEphemeral == 0 || !strings.Contains(r.Content, "Only the person") {
		t.Errorf("a stranger's click: %+v", r)
	}
	if _, err := h.v.Resolve(photos); err != nil {
		t.Errorf("a stranger's click deleted the archive: %v", err)
	}
	// The owner's click updates the prompt in place (a deferred update), no new message.
	if r := h.click(t, owner, m.ID, confirm); r.ID != m.ID {
		t.Errorf("the owner's click is answered with a new message: %+v", r)
	}
	done := h.waitContent(t, m.ID, "Deleted "+photos)
	if !strings.Contains(done.Content, "freed") || len(done.Components) != 0 {
		t.Errorf("cleanup result: %q %v", done.Content, done.Components)
	}
	if _, err := h.v.Resolve(photos); err == nil {
		t.Error("the archive is still there")
	}
	// The buttons are gone, so only a message that kept one (a bot restarted while it
	// waited) can still be clicked.
	stale, err := h.sess.ChannelMessageSendComplex(h.info.ChannelID, &discordgo.MessageSend{Content: "old prompt",
		Components: []discordgo.MessageComponent{discordgo.ActionsRow{Components: []discordgo.MessageComponent{
			discordgo.Button{Label: "Confirm", Style: discordgo.DangerButton, CustomID: confirm}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if r := h.click(t, owner, stale.ID, confirm); !strings.Contains(r.Content, "no longer waiting") || r.Flags&discordgo.MessageFlagsEphemeral == 0 {
		t.Errorf("a click on a stale button: %+v", r)
	}

	m = h.invoke(t, owner, "rebuild-index", nil)
	h.click(t, owner, m.ID, h.button(t, m, "Confirm"))
	if got := h.waitContent(t, m.ID, "Index rebuilt"); !strings.Contains(got.Content, "1 archives, 3 files") {
		t.Errorf("rebuild: %q", got.Content)
	}
	if _, err := h.v.Resolve("docs"); err != nil {
		t.Errorf("after rebuild: %v", err)
	}

	m = h.invoke(t, owner, "gc", nil)
	h.button(t, m, "Confirm")
	if got := h.waitContent(t, m.ID, "Not confirmed within 1.5s"); len(got.Components) != 0 {
		t.Errorf("the timed-out prompt keeps its buttons: %v", got.Components)
	}
	h.bot.mu.Lock()
	if n := len(h.bot.pending); n != 0 {
		t.Errorf("%d confirmations still waiting", n)
	}
	h.bot.mu.Unlock()

	id := h.say(t, owner, "!gc")
	prompt := h.replyTo(t, id, "Collect garbage?", 5*time.Second)
	if prompt == nil {
		t.Fatal("!gc asked nothing")
	}
	if r := h.click(t, owner, prompt.ID, h.button(t, prompt, "Confirm")); r.ID != prompt.ID {
		t.Errorf("the click on a prefix command's prompt: %+v", r)
	}
	h.waitContent(t, prompt.ID, "Garbage collection freed")
	// The outcome is logged just after the reply is edited.
	waitFile(t, h.logs.String, "command=gc via=prefix+button outcome=ok")
}

// TestBotProgress checks that a long command is deferred at once and then edited with
// progress no more often than ProgressEvery, ending with its result.
func TestBotProgress(t *testing.T) {
	t.Parallel()
	h := newBotHarness(t, nil, nil)
	h.store.mu.Lock()
	h.store.delay = 120 * time.Millisecond
	h.store.mu.Unlock()
	src := filepath.Join(t.TempDir(), "big")
	writeTree(t, src, 6<<20)
	if err := os.WriteFile(filepath.Join(src, "noise"), noise(4<<20), 0o644); err != nil {
		t.Fatal(err)
	}

	// A second gateway session sees every create and edit, as a Discord client would.
	obs, err := NewSession(h.info.Token, h.info.API, discordgo.IntentsGuildMessages|discordgo.IntentMessageContent)
	if err != nil {
		t.Fatal(err)
	}
	type event struct {
		at      time.Time
		content string
		flags   discordgo.MessageFlags
	}
	var mu sync.Mutex
	var created []event
	var edits []event
	obs.AddHandler(func(_ *discordgo.Session, m *discordgo.MessageCreate) {
		mu.Lock()
		created = append(created, event{time.Now(), m.Content, m.Flags})
		mu.Unlock()
	})
	obs.AddHandler(func(_ *discordgo.Session, m *discordgo.MessageUpdate) {
		mu.Lock()
		edits = append(edits, event{time.Now(), m.Content, m.Flags})
		mu.Unlock()
	})
	if err := obs.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { obs.Close() })

	m := h.final(t, h.invoke(t, h.info.OwnerID, "upload", map[string]any{"path": src}), "Archived")
	if !strings.Contains(m.Content, "4 files") {
		t.Errorf("upload: %q", m.Content)
	}
	time.Sleep(200 * time.Millisecond) // the last events are on their way
	mu.Lock()
	defer mu.Unlock()
	// The emulator dispatches the "thinking" placeholder before it flags it as loading, so
	// its zero-width content tells it apart too.
	if len(created) == 0 || (created[0].flags&discordgo.MessageFlagsLoading == 0 && created[0].content != "\u200b") {
		t.Errorf("the reply was not deferred: %+v", created)
	}
	var progress []event
	for _, e := range edits {
		if strings.HasPrefix(e.content, "📤 Archiving `big`") {
			progress = append(progress, e)
		}
	}
	if len(progress) < 2 {
		t.Fatalf("%d progress edits (%+v)", len(progress), edits)
	}
	// Each event arrives with jitter, so the spacing is checked on average: the bot waits
	// ProgressEvery (100 ms) after each edit.
	if avg := progress[len(progress)-1].at.Sub(progress[0].at) / time.Duration(len(progress)-1); avg < 90*time.Millisecond {
		t.Errorf("progress edits %v apart on average", avg)
	}
	if last := edits[len(edits)-1]; !strings.Contains(last.content, "Archived") {
		t.Errorf("the last edit is %q", last.content)
	}
}

func noise(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// TestBotPrefix runs prefix commands with the MESSAGE_CONTENT intent and without it.
func TestBotPrefix(t *testing.T) {
	t.Parallel()
	t.Run("intent", func(t *testing.T) {
		t.Parallel()
		h := newBotHarness(t, nil, nil)
		id := h.archive(t, "summer photos", 1000)
		if r := h.replyTo(t, h.say(t, h.info.OwnerID, "!status"), "Archives: 1", 5*time.Second); r == nil {
			t.Error("!status: no answer")
		}
		if r := h.replyTo(t, h.say(t, h.info.OwnerID, "!archives summer photos"), id, 5*time.Second); r == nil {
			t.Error("!archives with a query of two words: no answer")
		}
		if r := h.replyTo(t, h.say(t, h.info.OwnerID, "!verify "+id+" full"), "chunks authenticated", 5*time.Second); r == nil {
			t.Error("!verify full: no answer")
		}
		if r := h.replyTo(t, h.say(t, h.info.OwnerID, "!info"), "Usage: `!info archive`", 5*time.Second); r == nil {
			t.Error("!info without an archive: no usage")
		}
		if r := h.replyTo(t, h.say(t, h.info.MemberID, "!status"), "Sorry", 5*time.Second); r == nil {
			t.Error("a stranger's !status: no refusal")
		}
		quiet := h.say(t, h.info.OwnerID, "!nosuchcommand")
		h.say(t, h.info.OwnerID, "status without the prefix")
		if r := h.replyTo(t, quiet, "", 500*time.Millisecond); r != nil {
			t.Errorf("an unknown command was answered: %q", r.Content)
		}
	})
	t.Run("no intent", func(t *testing.T) {
		t.Parallel()
		h := newBotHarness(t, func(c *emulator.Config) { c.MessageContentIntent = false }, nil)
		if h.bot.prefixOn {
			t.Fatal("prefix commands are on without the intent")
		}
		if r := h.replyTo(t, h.say(t, h.info.OwnerID, "!status"), "", 700*time.Millisecond); r != nil {
			t.Errorf("!status answered without the intent: %q", r.Content)
		}
		if m := h.invoke(t, h.info.OwnerID, "help", nil); !strings.Contains(m.Content, "Prefix commands are off") {
			t.Errorf("help: %q", m.Content)
		}
		if !strings.Contains(h.logs.String(), "prefix commands are off") {
			t.Error("the fallback is not logged")
		}
	})
}

// TestBotReconnect takes the gateway connection away, by a reconnect request (op 7) and by
// a dropped connection; each time the bot resumes its session, answers the commands sent
// while it was away (the emulator replays them on RESUME, as Discord does) and stays
// connected.
//
// The connection is taken away just after a heartbeat was acknowledged. discordgo's
// heartbeat goroutine reads its connection outside the lock that closing takes: a tick at
// the very moment of the close writes to the closed connection, and that failure closes the
// next connection with code 1000, which ends the session on Discord (and in the emulator).
// The bot then identifies again and misses what was sent meanwhile; that race is discordgo's,
// about microseconds wide with Discord's 41 s heartbeats, and this test stays clear of it.
func TestBotReconnect(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"/_emulator/gateway/reconnect", "/_emulator/gateway/drop"} {
		t.Run(strings.TrimPrefix(path, "/_emulator/gateway/"), func(t *testing.T) {
			t.Parallel()
			h := newBotHarness(t, func(c *emulator.Config) { c.HeartbeatInterval = 2 * time.Second }, nil)
			var readies, resumes atomic.Int32
			resumed := make(chan struct{}, 1)
			h.bot.s.AddHandler(func(_ *discordgo.Session, _ *discordgo.Ready) { readies.Add(1) })
			h.bot.s.AddHandler(func(_ *discordgo.Session, _ *discordgo.Resumed) {
				resumes.Add(1)
				select {
				case resumed <- struct{}{}:
				default:
				}
			})
			awaitHeartbeat(t, h.bot.s)
			var out map[string]int
			if h.control(t, path, map[string]any{}, &out); out["sessions"] != 1 {
				t.Fatalf("%s: %v", path, out)
			}
			// Both commands reach the emulator before discordgo reconnects (it waits a second
			// after closing), so they are dispatched to the session while it has no connection.
			id := h.say(t, h.info.OwnerID, "!status")
			if n := resumes.Load(); n != 0 {
				t.Fatalf("resumed %d time(s) before the commands were sent", n)
			}
			if m := h.invoke(t, h.info.OwnerID, "status", nil); !strings.Contains(m.Content, "Archives: 0") {
				t.Errorf("/status sent while the bot was away: %q", m.Content)
			}
			select {
			case <-resumed:
			case <-time.After(10 * time.Second):
				t.Fatal("the bot did not resume")
			}
			if r := h.replyTo(t, id, "Archives: 0", 5*time.Second); r == nil {
				t.Error("!status sent while the bot was away: no answer")
			}
			// The resumed connection stays: commands over the next heartbeat are answered at
			// once, with no second reconnect and no new session.
			for range 3 {
				m, code := h.tryInvoke(t, h.info.OwnerID, "status", nil)
				if code != http.StatusOK || !strings.Contains(m.Content, "connected 2 time(s), resumed 1 time(s)") {
					t.Fatalf("/status after the resume: HTTP %d %q", code, m.Content)
				}
				time.Sleep(800 * time.Millisecond)
			}
			if r, n := readies.Load(), resumes.Load(); r != 0 || n != 1 {
				t.Errorf("%d new session(s) and %d resume(s), want 0 and 1", r, n)
			}
		})
	}
}

// awaitHeartbeat returns once s has its next heartbeat acknowledged.
func awaitHeartbeat(t *testing.T, s *discordgo.Session) {
	t.Helper()
	ack := func() time.Time {
		s.RLock()
		defer s.RUnlock()
		return s.LastHeartbeatAck
	}
	last := ack()
	for deadline := time.Now().Add(10 * time.Second); ack().Equal(last); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no heartbeat acknowledged within 10 s")
		}
	}
}
