package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/discord/emulator"
	"github.com/discofs/discofs/discord/emulator/emulatortest"
	"github.com/discofs/discofs/vault"
)

// botHarness is an emulator, a vault on a memory store (or on the emulator's channel) and a
// bot serving it, for one test.
type botHarness struct {
	srv   *emulator.Server
	info  emulator.Info
	sess  *discordgo.Session // the test's own REST session, to read what the bot wrote
	bot   *Bot
	v     *vault.Vault
	store *slowStore // the memory store, nil when the vault is on Discord
	logs  *syncBuffer
}

// slowStore delays every Put (by delay) and Load (by loadDelay) so that operations last
// long enough to show progress.
type slowStore struct {
	chunkstore.Store
	mu               sync.Mutex
	delay, loadDelay time.Duration
}

func (s *slowStore) Load(ctx context.Context, ref chunkstore.Ref, length int, offset int64, fn func(io.Reader) error) error {
	s.mu.Lock()
	d := s.loadDelay
	s.mu.Unlock()
	time.Sleep(d)
	return s.Store.Load(ctx, ref, length, offset, fn)
}

func (s *slowStore) Put(ctx context.Context, h chunkstore.Handle, src chunkstore.Source) (chunkstore.Object, error) {
	s.mu.Lock()
	d := s.delay
	s.mu.Unlock()
	time.Sleep(d)
	return s.Store.Put(ctx, h, src)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newBotHarness starts everything and waits until the bot has registered its commands.
func newBotHarness(t *testing.T, emu func(*emulator.Config), cfg func(*BotConfig, emulator.Info)) *botHarness {
	t.Helper()
	return startBotHarness(t, emu, func(h *botHarness) *vault.Vault {
		mem := chunkstore.NewMem(chunkstore.Limits{MaxObjectSize: 5 << 20})
		h.store = &slowStore{Store: mem}
		return openBotVault(t, "mem:", vault.Options{Store: h.store, Catalog: vault.RecordCatalog(mem)})
	}, cfg)
}

// openBotVault makes a vault on a store in a fresh home and opens it.
func openBotVault(t *testing.T, location string, opts vault.Options) *vault.Vault {
	t.Helper()
	paths := vault.HomePaths(t.TempDir())
	kdf := vault.KDFParams{Time: 1, Memory: 64, Threads: 1}
	vcfg, _, err := vault.Init(context.Background(), paths, location, nil, opts, "pass", kdf)
	if err != nil {
		t.Fatal(err)
	}
	master, err := vault.Unlock(vcfg, "pass")
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Open(context.Background(), paths, vcfg, master, opts)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// startBotHarness starts the emulator, the vault openVault makes and a bot serving it, and
// waits until the bot has registered its commands.
func startBotHarness(t *testing.T, emu func(*emulator.Config), openVault func(*botHarness) *vault.Vault, cfg func(*BotConfig, emulator.Info)) *botHarness {
	t.Helper()
	ecfg := emulator.FastConfig()
	if emu != nil {
		emu(&ecfg)
	}
	srv, sess := emulatortest.Start(t, ecfg)
	h := &botHarness{srv: srv, info: srv.Info(), sess: sess, logs: &syncBuffer{}}
	h.v = openVault(h)

	bs, err := NewSession(h.info.Token, h.info.API, 0)
	if err != nil {
		t.Fatal(err)
	}
	bc := BotConfig{ChannelID: h.info.ChannelID, DownloadDir: filepath.Join(t.TempDir(), "downloads"), ProgressEvery: 100 * time.Millisecond}
	if cfg != nil {
		cfg(&bc, h.info)
	}
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.bot = NewBot(bs, h.v, bc, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.bot.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("bot: %v", err)
		}
		h.v.Close()
		if t.Failed() {
			t.Logf("bot log:\n%s", h.logs.String())
		}
	})
	select {
	case <-h.bot.Ready():
	case err := <-done:
		t.Fatalf("bot stopped: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the bot did not get ready")
	}
	return h
}

// control calls the emulator's control API.
func (h *botHarness) control(t *testing.T, path string, in, out any) int {
	t.Helper()
	b, _ := json.Marshal(in)
	resp, err := http.Post(h.info.API+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if out != nil && json.Unmarshal(body, out) != nil {
		t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
	}
	return resp.StatusCode
}

// invoke runs a slash command as user and returns the bot's settled response.
func (h *botHarness) invoke(t *testing.T, user, command string, options map[string]any) *discordgo.Message {
	t.Helper()
	m, code := h.tryInvoke(t, user, command, options)
	if code != http.StatusOK {
		t.Fatalf("/%s: HTTP %d: %+v", command, code, m)
	}
	return m
}

// tryInvoke is invoke that hands back the emulator's HTTP status (504: the bot never
// answered) instead of failing the test.
func (h *botHarness) tryInvoke(t *testing.T, user, command string, options map[string]any) (*discordgo.Message, int) {
	t.Helper()
	var m discordgo.Message
	in := map[string]any{"user_id": user, "command": command, "options": options, "settle_ms": 250}
	return &m, h.control(t, "/_emulator/interactions", in, &m)
}

// say posts a message as user and returns its ID.
func (h *botHarness) say(t *testing.T, user, content string) string {
	t.Helper()
	var m discordgo.Message
	if code := h.control(t, "/_emulator/messages", map[string]any{"author_id": user, "content": content}, &m); code != http.StatusOK {
		t.Fatalf("post %q: HTTP %d", content, code)
	}
	return m.ID
}

// replyTo waits for the bot's reply to message id whose content contains want, and returns
// it; nil when none comes within wait.
func (h *botHarness) replyTo(t *testing.T, id, want string, wait time.Duration) *discordgo.Message {
	t.Helper()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		msgs, err := h.sess.ChannelMessages(h.info.ChannelID, 50, "", id, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.MessageReference != nil && m.MessageReference.MessageID == id && strings.Contains(m.Content, want) {
				return m
			}
		}
		time.Sleep(30 * time.Millisecond)
	}
	return nil
}

// waitContent waits until message id of the vault channel contains want.
func (h *botHarness) waitContent(t *testing.T, id, want string) *discordgo.Message {
	t.Helper()
	var m *discordgo.Message
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(30 * time.Millisecond) {
		if m, err = h.sess.ChannelMessage(h.info.ChannelID, id); err == nil && strings.Contains(m.Content, want) {
			return m
		}
	}
	t.Fatalf("message %s never said %q (last: %v %v)", id, want, m, err)
	return nil
}

// archive puts a small tree into the vault and returns its ID with '#'.
func (h *botHarness) archive(t *testing.T, name string, size int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	writeTree(t, dir, size)
	a, err := h.v.Put(context.Background(), []string{dir}, vault.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return vault.FormatID(a.ID)
}

func writeTree(t *testing.T, dir string, size int) {
	t.Helper()
	for p, data := range map[string][]byte{
		"a.txt":       bytes.Repeat([]byte("discofs "), size/8+1),
		"sub/b.bin":   bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7}, size/7+1),
		"sub/c/d.txt": []byte("deep"),
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// button is the custom ID of the button labelled label on m; the test fails when m has
// no such button.
func (h *botHarness) button(t *testing.T, m *discordgo.Message, label string) string {
	t.Helper()
	for _, c := range m.Components {
		if row, ok := c.(*discordgo.ActionsRow); ok {
			for _, b := range row.Components {
				if btn, ok := b.(*discordgo.Button); ok && btn.Label == label {
					return btn.CustomID
				}
			}
		}
	}
	t.Fatalf("message %s (%q) has no %s button: %+v", m.ID, m.Content, label, m.Components)
	return ""
}

// click makes user click the button customID of message id through the emulator, which
// sends the bot a MESSAGE_COMPONENT interaction, and returns the bot's settled response:
// a new message, or the clicked message when the bot answered with an update.
func (h *botHarness) click(t *testing.T, user, id, customID string) *discordgo.Message {
	t.Helper()
	var m discordgo.Message
	in := map[string]any{"user_id": user, "message_id": id, "custom_id": customID, "settle_ms": 250}
	if code := h.control(t, "/_emulator/components", in, &m); code != http.StatusOK {
		t.Fatalf("click %s on %s: HTTP %d: %+v", customID, id, code, m)
	}
	return &m
}
