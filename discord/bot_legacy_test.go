package discord

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/discofs/discofs/discord/emulator"
)

// legacyBot is a bot on an emulator seeded with the v3.1 channel, holding the v3.1
// passphrase.
func legacyBot(t *testing.T, seed string) *botHarness {
	t.Helper()
	return newBotHarness(t, func(c *emulator.Config) { c.SeedFile = seed }, func(c *BotConfig, i emulator.Info) {
		c.LegacyPassphrase, c.API = legacyPass, i.API
	})
}

// migrate runs migrate-legacy as the owner, clicks Confirm and returns the final answer.
func (h *botHarness) migrate(t *testing.T) string {
	t.Helper()
	owner := h.info.OwnerID
	m := h.invoke(t, owner, "migrate-legacy", nil)
	if !strings.Contains(m.Content, "Import the v3.1 archives posted in <#"+h.info.ChannelID+">") {
		t.Fatalf("prompt: %q", m.Content)
	}
	h.click(t, owner, m.ID, h.button(t, m, "Confirm"))
	// Importing reads and decrypts a chunk of each archive, which takes a while under -race
	// beside the other tests; the progress edits show it going on.
	var last string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		r, err := h.sess.ChannelMessage(h.info.ChannelID, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if last = r.Content; strings.Contains(last, "v3.1 import:") {
			return last
		}
	}
	t.Fatalf("the import did not finish; last reply: %q", last)
	return ""
}

// TestBotMigrateLegacy imports the v3.1 archives of the channel through the bot, then
// again, which finds them imported.
func TestBotMigrateLegacy(t *testing.T) {
	t.Parallel()
	h := legacyBot(t, legacySeed(t, nil))
	got := h.migrate(t)
	for _, want := range []string{"2 imported, 0 already imported, 0 failed", "#170126-01 holiday-photos", "#180126-02 camera-roll"} {
		if !strings.Contains(got, want) {
			t.Errorf("answer lacks %q:\n%s", want, got)
		}
	}
	for _, ref := range []string{"#170126-01", "#180126-02"} {
		a, err := h.v.Resolve(ref)
		if err != nil || !a.Legacy || a.Files == 0 {
			t.Errorf("%s in the vault: %+v %v", ref, a, err)
		}
	}
	la, err := h.v.Index().GetLegacy("170126-01")
	if err != nil || la.Source.API != h.info.API {
		t.Errorf("the import does not record the bot's API: %+v %v", la.Source, err)
	}
	if got := h.migrate(t); !strings.Contains(got, "0 imported, 2 already imported, 0 failed") {
		t.Errorf("second import:\n%s", got)
	}
	if logs := h.logs.String(); strings.Contains(logs, legacyPass) || !strings.Contains(logs, "command=migrate-legacy") {
		t.Errorf("the log holds the passphrase or lacks the command:\n%s", logs)
	}
}

// TestBotMigrateLegacyNotes: a v3.1 card whose metadata was cut imports, and the answer
// carries the importer's note on it, naming the archive.
func TestBotMigrateLegacyNotes(t *testing.T) {
	t.Parallel()
	h := legacyBot(t, legacySeed(t, func(state map[string]any) {
		legacyEditCard(t, state["archives"].([]any)[0], func(j map[string]any) {
			delete(j, "uploaded_files")
			j["metadata_truncated"] = true
		})
	}))
	got := h.migrate(t)
	for _, want := range []string{"2 imported, 0 already imported, 0 failed", "Notes:", "#170126-01", "metadata_truncated"} {
		if !strings.Contains(got, want) {
			t.Errorf("answer lacks %q:\n%s", want, got)
		}
	}
	if i, j := strings.Index(got, "Notes:"), strings.Index(got, "metadata_truncated"); i < 0 || j < i {
		t.Errorf("the note is not under Notes:\n%s", got)
	}
}

// TestBotMigrateLegacyFailure imports a channel where one archive's thread lost a chunk
// message and the other's lost everything: neither is imported, and each failure names its
// archive and what is missing.
func TestBotMigrateLegacyFailure(t *testing.T) {
	t.Parallel()
	h := legacyBot(t, legacySeed(t, func(state map[string]any) {
		archives := state["archives"].([]any)
		a0 := archives[0].(map[string]any)
		msgs := a0["thread_messages"].([]any)
		a0["thread_messages"] = append(msgs[:3:3], msgs[4:]...)
		archives[1].(map[string]any)["thread_messages"] = []any{}
	}))
	got := h.migrate(t)
	for _, want := range []string{"⚠️ v3.1 import: 0 imported, 0 already imported, 2 failed", "Failed:",
		"v3.1 archive #170126-01", "0004-aa3ada108b05-664103f55fd96b26-0002.bin",
		"v3.1 archive #180126-02", "holds no v3.1 manifest"} {
		if !strings.Contains(got, want) {
			t.Errorf("answer lacks %q:\n%s", want, got)
		}
	}
	if list, err := h.v.Archives(); err != nil || len(list) != 0 {
		t.Errorf("archives after a failed import: %v %v", list, err)
	}
}

// TestBotResume retries through a fake queue, as `discofs mount --bot` wires the real one.
func TestBotResume(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var calls []string
	requeued := 3
	h := newBotHarness(t, nil, func(c *BotConfig, _ emulator.Info) {
		c.Retry = func(archive string) int {
			mu.Lock()
			defer mu.Unlock()
			calls = append(calls, archive)
			n := requeued
			requeued = 0
			return n
		}
	})
	photos := h.archive(t, "photos", 100)
	owner := h.info.OwnerID
	for _, c := range []struct {
		options map[string]any
		want    string
	}{
		{nil, "Re-queued 3 file(s) of the writeback queue whose upload failed"},
		{map[string]any{"archive": "photos"}, "No failed upload is waiting in " + photos},
		{map[string]any{"archive": "#010101-99"}, "archive not found"},
	} {
		h.final(t, h.invoke(t, owner, "resume", c.options), c.want) // fails unless the answer holds want
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(calls, ",") != ","+strings.TrimPrefix(photos, "#") {
		t.Errorf("Retry calls: %q", calls)
	}
}
