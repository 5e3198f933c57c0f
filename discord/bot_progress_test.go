package discord

import (
	"context"
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/discofs/discofs/discord/emulator"
	"github.com/discofs/discofs/vault"
)

// watchEdits records every content message id of the vault channel shows until the
// returned stop is called, which returns them in order.
func (h *botHarness) watchEdits(t *testing.T, id string) (stop func() []string) {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		for {
			if m, err := h.sess.ChannelMessage(h.info.ChannelID, id); err == nil {
				mu.Lock()
				if len(seen) == 0 || seen[len(seen)-1] != m.Content {
					seen = append(seen, m.Content)
				}
				mu.Unlock()
			}
			select {
			case <-done:
				return
			case <-time.After(15 * time.Millisecond):
			}
		}
	}()
	return func() []string {
		close(done)
		<-finished
		mu.Lock()
		defer mu.Unlock()
		return seen
	}
}

// TestBotProgressEdits checks that download and verify full edit their reply with progress
// before the result, while a slow store makes them last.
func TestBotProgressEdits(t *testing.T) {
	t.Parallel()
	h := newBotHarness(t, nil, func(c *BotConfig, _ emulator.Info) { c.ProgressEvery = 200 * time.Millisecond })
	src := filepath.Join(t.TempDir(), "photos")
	rng := rand.New(rand.NewSource(4))
	for i := range 6 {
		b := make([]byte, 1<<20)
		rng.Read(b)
		if err := os.MkdirAll(src, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("%d.jpg", i)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a, err := h.v.Put(context.Background(), []string{src}, vault.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id := vault.FormatID(a.ID)
	h.store.mu.Lock()
	h.store.loadDelay = 300 * time.Millisecond
	h.store.mu.Unlock()
	for _, c := range []struct {
		command        string
		options        map[string]any
		progress, done string
	}{
		{"download", map[string]any{"archive": id}, "📥 Restoring " + id, "✅ Restored " + id},
		{"verify", map[string]any{"archive": id, "full": true}, "🔍 Verifying " + id + " (every chunk)…", "is intact"},
	} {
		// A settle time shorter than the edits' interval hands the reply back while the
		// command runs.
		var m discordgo.Message
		in := map[string]any{"user_id": h.info.OwnerID, "command": c.command, "options": c.options, "settle_ms": 50}
		if code := h.control(t, "/_emulator/interactions", in, &m); code != http.StatusOK {
			t.Fatalf("/%s: HTTP %d", c.command, code)
		}
		stop := h.watchEdits(t, m.ID)
		last := h.final(t, &m, c.done)
		seen := append(append([]string{m.Content}, stop()...), last.Content)
		progress, final := -1, -1
		for i, s := range seen {
			if strings.Contains(s, c.progress) && progress < 0 {
				progress = i
			}
			if strings.Contains(s, c.done) {
				final = i
			}
		}
		if progress < 0 || final < progress {
			t.Errorf("/%s: want a progress edit (%q) before the result; the reply read:\n%s", c.command, c.progress, strings.Join(seen, "\n"))
		}
	}
}

// TestBotNoPrefix turns prefix commands off: with the intent granted, `!status` gets no
// answer and is not logged as a command, and slash commands still work.
func TestBotNoPrefix(t *testing.T) {
	t.Parallel()
	h := newBotHarness(t, nil, func(c *BotConfig, _ emulator.Info) { c.NoPrefix = true })
	if h.bot.prefixOn {
		t.Error("prefix commands are on")
	}
	msg := h.say(t, h.info.OwnerID, "!status")
	if r := h.replyTo(t, msg, "", 700*time.Millisecond); r != nil {
		t.Errorf("!status was answered: %q", r.Content)
	}
	if strings.Contains(h.logs.String(), "command=status") {
		t.Error("!status was logged as a command")
	}
	if m := h.invoke(t, h.info.OwnerID, "status", nil); !strings.Contains(m.Content, "Archives: 0") {
		t.Errorf("/status: %q", m.Content)
	}
	if m := h.invoke(t, h.info.OwnerID, "help", nil); !strings.Contains(m.Content, "Prefix commands are off") {
		t.Errorf("/help: %q", m.Content)
	}
}

// TestBotMigrateLegacyCancel cancels migrate-legacy at its confirmation: nothing is
// imported or read, and the cancel is logged.
func TestBotMigrateLegacyCancel(t *testing.T) {
	t.Parallel()
	// A channel with v3.1 archives, so an import that ran would leave some.
	h := legacyBot(t, legacySeed(t, nil))
	m := h.invoke(t, h.info.OwnerID, "migrate-legacy", nil)
	if !strings.Contains(m.Content, "Import the v3.1 archives") {
		t.Fatalf("/migrate-legacy: %q", m.Content)
	}
	h.click(t, h.info.OwnerID, m.ID, h.button(t, m, "Cancel"))
	if got := h.waitContent(t, m.ID, "Cancelled; nothing was changed."); len(got.Components) != 0 {
		t.Errorf("the cancelled prompt keeps its buttons: %v", got.Components)
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "command=migrate-legacy via=slash+button outcome=cancelled") || strings.Contains(logs, legacyPass) {
		t.Errorf("the log:\n%s", logs)
	}
	time.Sleep(200 * time.Millisecond)
	if m, err := h.sess.ChannelMessage(h.info.ChannelID, m.ID); err != nil || m.Content != "Cancelled; nothing was changed." {
		t.Errorf("the import ran after Cancel: %v %v", m, err)
	}
	if list, err := h.v.Archives(); err != nil || len(list) != 0 {
		t.Errorf("archives after a cancelled import: %v %v", list, err)
	}
}
