package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/discofs/discofs/discord/emulator"
	"github.com/discofs/discofs/index"
	"github.com/discofs/discofs/vault"
)

// newDiscordBotHarness is newBotHarness with the vault on the emulator's vault channel
// through a Store opened with o, so that commands touch cards and threads. The store's
// message edits are recorded.
func newDiscordBotHarness(t *testing.T, o Options, cfg func(*BotConfig, emulator.Info)) (*botHarness, *editRecorder) {
	t.Helper()
	rec := &editRecorder{}
	h := startBotHarness(t, nil, func(h *botHarness) *vault.Vault {
		sess, err := h.srv.Session()
		if err != nil {
			t.Fatal(err)
		}
		rec.base = sess.Client.Transport
		sess.Client.Transport = rec
		o.Session, o.ChannelID = sess, h.info.ChannelID
		if o.RequestsPerSecond == 0 {
			o.RequestsPerSecond = 1000
		}
		st, err := Open(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return openBotVault(t, "discord:"+h.info.ChannelID, vault.Options{Store: retried(st), Catalog: st})
	}, cfg)
	return h, rec
}

// editRecorder notes every message edit (PATCH) sent through it that Discord took.
type editRecorder struct {
	base  http.RoundTripper
	mu    sync.Mutex
	edits []edit
}

type edit struct {
	at      time.Time // when the request left
	message string    // the edited message's ID
	body    struct {
		Embeds []*discordgo.MessageEmbed `json:"embeds"`
	}
}

func (r *editRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPatch || !strings.Contains(req.URL.Path, "/messages/") {
		return r.base.RoundTrip(req)
	}
	e := edit{at: time.Now(), message: path.Base(req.URL.Path)}
	if req.GetBody != nil {
		if b, err := req.GetBody(); err == nil {
			_ = json.NewDecoder(b).Decode(&e.body)
			b.Close()
		}
	}
	resp, err := r.base.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusOK {
		r.mu.Lock()
		r.edits = append(r.edits, e)
		r.mu.Unlock()
	}
	return resp, err
}

// of returns the edits of message id, in the order they were sent.
func (r *editRecorder) of(id string) []edit {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []edit
	for _, e := range r.edits {
		if e.message == id {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out
}

// uploading is the value of an edit's "Uploading" field of a card, "" when it has none.
func (e edit) uploading() string {
	for _, em := range e.body.Embeds {
		for _, f := range em.Fields {
			if f.Name == "⏫ Uploading" {
				return f.Value
			}
		}
	}
	return ""
}

// threadsOf are the IDs of an archive's threads (id without '#') in d.
func threadsOf(d emulator.StateDump, id string) []string {
	var out []string
	for _, c := range d.Channels {
		if m := laneThreadName.FindStringSubmatch(c.Name); m != nil && m[1] == id {
			out = append(out, c.ID)
		}
	}
	return out
}

// attachmentsIn are the attachment IDs of the messages of channels in d.
func attachmentsIn(d emulator.StateDump, channels []string) map[string]bool {
	out := map[string]bool{}
	for _, m := range d.Messages {
		for _, c := range channels {
			if m.ChannelID == c {
				for _, a := range m.Attachments {
					out[a.ID] = true
				}
			}
		}
	}
	return out
}

// card reads the card of archive id (with '#') from the vault channel.
func (h *botHarness) card(t *testing.T, id string) (*discordgo.Message, *vault.Card) {
	t.Helper()
	msgs, err := h.sess.ChannelMessages(h.info.ChannelID, 100, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if c, ok, err := parseCard(m); ok && err == nil && c.ArchiveID == id {
			return m, c
		}
	}
	t.Fatalf("no card of %s in the vault channel", id)
	return nil, nil
}

// TestBotUploadEditsCard: an upload through the bot edits its archive's card with the
// upload's progress, no more often than the store's ProgressEvery, and leaves the card final
// once the archive is committed.
func TestBotUploadEditsCard(t *testing.T) {
	t.Parallel()
	const every = 300 * time.Millisecond
	h, rec := newDiscordBotHarness(t, Options{MaxObjectSize: 512 << 10, CoalesceWindow: -1, ProgressEvery: every}, nil)
	// Twenty files of a chunk each, and a pack each: packs finish one after another all through
	// the upload.
	src := filepath.Join(t.TempDir(), "big")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	data := noise(20 * 300 << 10)
	for i := range 20 {
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("f%02d", i)), data[i*300<<10:(i+1)*300<<10], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Uploads share 4 MiB/s, so that the upload lasts several intervals.
	h.control(t, "/_emulator/faults", emulator.Faults{Bandwidth: 4 << 20}, nil)
	m := h.final(t, h.invoke(t, h.info.OwnerID, "upload", map[string]any{"path": src}), "Archived")
	h.control(t, "/_emulator/faults", emulator.Faults{}, nil)
	id := archiveIDPattern.FindString(m.Content)
	if id == "" {
		t.Fatalf("upload: %q", m.Content)
	}
	msg, c := h.card(t, id)

	edits := rec.of(msg.ID)
	var progress []time.Time
	for _, e := range edits {
		if p := e.uploading(); p != "" {
			if !strings.Contains(p, "so far") {
				t.Errorf("progress on the card: %q", p)
			}
			progress = append(progress, e.at)
		}
	}
	if len(progress) < 2 {
		t.Fatalf("%d progress edits of the card during the upload, want 2 or more", len(progress))
	}
	for i := 1; i < len(progress); i++ {
		// The store starts the next edit ProgressEvery after it started the last one; what
		// lies between that start and the request leaving is a few instructions.
		if gap := progress[i].Sub(progress[i-1]); gap < every-10*time.Millisecond {
			t.Errorf("progress edits %d and %d of the card %v apart, want %v or more", i-1, i, gap, every)
		}
	}
	// The final card: committed, with no progress edit after it.
	if p := edits[len(edits)-1].uploading(); p != "" {
		t.Errorf("the last edit of the card shows progress: %q", p)
	}
	if c.Status != index.StatusSuccess || c.FileCount != 20 || c.ThreadID == "" || msg.Embeds[0].Color != colourSuccess {
		t.Errorf("the card after the upload: %+v (colour %#x)", c, msg.Embeds[0].Color)
	}
	for _, f := range msg.Embeds[0].Fields {
		if f.Name == "⏫ Uploading" {
			t.Errorf("the final card shows progress: %q", f.Value)
		}
	}
}

// TestBotCleanupOnDiscord: cleanup, confirmed with its button, deletes the archive's packs
// that no other archive uses and its manifest, then its emptied thread, and marks its card
// deleted; a pack the archive shared with another stays, in the other's thread.
func TestBotCleanupOnDiscord(t *testing.T) {
	t.Parallel()
	h, _ := newDiscordBotHarness(t, Options{MaxObjectSize: 512 << 10, CoalesceWindow: -1}, nil)
	shared, own := noise(600 << 10)[:300<<10], noise(600 << 10)[300<<10:]
	put := func(name string, files map[string][]byte) index.Archive {
		dir := filepath.Join(t.TempDir(), name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for n, b := range files {
			if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		a, err := h.v.Put(context.Background(), []string{dir}, vault.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	// kept is stored first, so the shared chunk's pack is in kept's thread.
	kept := put("kept", map[string][]byte{"shared": shared})
	gone := put("gone", map[string][]byte{"shared": shared, "own": own})

	before := h.srv.State("")
	goneThreads, keptThreads := threadsOf(before, gone.ID), threadsOf(before, kept.ID)
	goneAtts, keptAtts := attachmentsIn(before, goneThreads), attachmentsIn(before, keptThreads)
	// gone's thread holds its own pack and its manifest; the shared pack is not in it.
	if len(goneThreads) == 0 || len(keptThreads) == 0 || len(goneAtts) != 2 {
		t.Fatalf("before the cleanup: %s has threads %v with %d attachments, %s threads %v",
			gone.ID, goneThreads, len(goneAtts), kept.ID, keptThreads)
	}

	m := h.invoke(t, h.info.OwnerID, "cleanup", map[string]any{"archive": vault.FormatID(gone.ID)})
	h.click(t, h.info.OwnerID, m.ID, h.button(t, m, "Confirm"))
	done := h.waitContent(t, m.ID, "Deleted "+vault.FormatID(gone.ID))
	if !strings.Contains(done.Content, "freed 1 pack(s)") {
		t.Errorf("cleanup: %q", done.Content)
	}

	after := h.srv.State("")
	if th := threadsOf(after, gone.ID); len(th) != 0 {
		t.Errorf("the threads of %s are still there: %v", gone.ID, th)
	}
	left := map[string]bool{}
	for _, msg := range after.Messages {
		for _, a := range msg.Attachments {
			left[a.ID] = true
		}
	}
	for a := range goneAtts {
		if left[a] {
			t.Errorf("attachment %s of %s's thread is still stored", a, gone.ID)
		}
	}
	for a := range keptAtts {
		if !left[a] {
			t.Errorf("attachment %s of %s's thread, which it still uses, is gone", a, kept.ID)
		}
	}
	if _, c := h.card(t, vault.FormatID(gone.ID)); c.Status != index.StatusDeleted {
		t.Errorf("the card of %s after the cleanup: %+v", gone.ID, c)
	}
	if _, c := h.card(t, vault.FormatID(kept.ID)); c.Status != index.StatusSuccess {
		t.Errorf("the card of %s after the cleanup: %+v", kept.ID, c)
	}
	dest := t.TempDir()
	if d, err := h.v.Get(context.Background(), vault.FormatID(kept.ID), dest, nil); err != nil || len(d) > 0 {
		t.Fatalf("get of %s after the cleanup: %v %v", kept.ID, err, d)
	}
	if b, err := os.ReadFile(filepath.Join(dest, "shared")); err != nil || !bytes.Equal(b, shared) {
		t.Errorf("%s's file after the cleanup: %v", kept.ID, err)
	}
}
