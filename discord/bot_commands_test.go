package discord

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/discofs/discofs/discord/emulator"
	"github.com/discofs/discofs/vault"
)

// final is the settled text of a command's reply: the control API may answer with a
// progress edit when an operation pauses, so a long command is read again until done.
func (h *botHarness) final(t *testing.T, m *discordgo.Message, want string) *discordgo.Message {
	t.Helper()
	if strings.Contains(m.Content, want) {
		return m
	}
	return h.waitContent(t, m.ID, want)
}

// TestBotEveryCommandAllowed runs every command as the guild owner.
func TestBotEveryCommandAllowed(t *testing.T) {
	t.Parallel()
	h := newBotHarness(t, nil, nil)
	owner := h.info.OwnerID
	photos := h.archive(t, "photos", 5000)
	docs := h.archive(t, "docs", 3000)

	cases := []struct {
		command string
		options map[string]any
		want    []string
	}{
		{"help", nil, []string{"/status", "/cleanup archive", "asks for confirmation", "!help"}},
		{"status", nil, []string{"Archives: 2", "files: 6", docs, "gateway: connected 1 time(s)"}},
		{"archives", nil, []string{"2 archives", photos, docs, "page 1 of 1"}},
		{"archives", map[string]any{"query": "PHOTO"}, []string{"1 archives", photos}},
		{"archives", map[string]any{"query": "nothing-like-this"}, []string{"No archive matches"}},
		{"history", map[string]any{"n": 1}, []string{"1 newest", docs}},
		{"info", map[string]any{"archive": photos}, []string{"Archive " + photos, "photos", "Tree: 2 folders, 3 files, 0 symlinks", "a.txt", "Largest files"}},
		{"info", map[string]any{"archive": "#010101-99"}, []string{"info failed", "archive not found"}},
		{"verify", map[string]any{"archive": photos}, []string{"is intact", "packs"}},
		{"verify", map[string]any{"archive": "docs", "full": true}, []string{"is intact", "chunks authenticated"}},
		{"download", map[string]any{"archive": photos}, []string{"Restored " + photos, "3 files"}},
		{"download", map[string]any{"archive": docs, "path": "sub/c"}, []string{"Restored " + docs + "/sub/c", "1 files"}},
		{"upload", map[string]any{"path": "relative/dir"}, []string{"upload failed", "absolute path"}},
		{"resume", nil, []string{"No interrupted upload to resume"}},
		{"resume", map[string]any{"archive": "#010101-99"}, []string{"resume failed", "no interrupted upload of #010101-99"}},
		{"migrate-legacy", nil, []string{"needs their passphrase", "--legacy-passphrase-file", "USER_KEY"}},
	}
	for _, c := range cases {
		m := h.invoke(t, owner, c.command, c.options)
		if m.Flags&discordgo.MessageFlagsEphemeral != 0 {
			t.Errorf("/%s: the answer is private", c.command)
		}
		m = h.final(t, m, c.want[0])
		for _, w := range c.want {
			if !strings.Contains(m.Content, w) {
				t.Errorf("/%s %v: %q lacks %q", c.command, c.options, m.Content, w)
			}
		}
	}
	// info shows the archive's card as the channel has it, beside the tree summary.
	a, err := h.v.Resolve(docs)
	if err != nil {
		t.Fatal(err)
	}
	card, err := h.v.Card(&a)
	if err != nil {
		t.Fatal(err)
	}
	want := cardEmbed(card, "")
	got := h.final(t, h.invoke(t, owner, "info", map[string]any{"archive": docs}), "Tree:").Embeds
	if len(got) != 1 || got[0].Title != want.Title || got[0].Color != want.Color || len(got[0].Fields) != len(want.Fields) {
		t.Fatalf("info's card: %+v, want %+v", got, want)
	}
	for i, f := range want.Fields {
		if got[0].Fields[i].Name != f.Name || got[0].Fields[i].Value != f.Value {
			t.Errorf("info's card field %d: %+v, want %+v", i, got[0].Fields[i], f)
		}
	}

	restored, err := os.ReadFile(filepath.Join(h.bot.cfg.DownloadDir, safeName(strings.TrimPrefix(photos, "#")+" photos"), "sub", "c", "d.txt"))
	if err != nil || string(restored) != "deep" {
		t.Errorf("downloaded file: %q %v", restored, err)
	}

	src := filepath.Join(t.TempDir(), "music")
	writeTree(t, src, 20000)
	m := h.final(t, h.invoke(t, owner, "upload", map[string]any{"path": src}), "Archived")
	if !strings.Contains(m.Content, "`music`") || !strings.Contains(m.Content, "3 files") {
		t.Errorf("upload: %q", m.Content)
	}
	if _, err := h.v.Resolve("music"); err != nil {
		t.Errorf("the uploaded archive is not in the vault: %v", err)
	}

	// Destructive commands only ask, and nothing happens until a click.
	for _, c := range []struct {
		command string
		options map[string]any
		want    string
	}{
		{"cleanup", map[string]any{"archive": photos}, "Delete archive " + photos},
		{"gc", nil, "Collect garbage?"},
		{"rebuild-index", nil, "Rebuild the local index"},
	} {
		m := h.invoke(t, owner, c.command, c.options)
		if !strings.Contains(m.Content, c.want) || !strings.Contains(m.Content, "Press **Confirm**") {
			t.Errorf("/%s: %q", c.command, m.Content)
		}
		h.click(t, owner, m.ID, h.button(t, m, "Cancel"))
		if got := h.waitContent(t, m.ID, "Cancelled"); len(got.Components) != 0 {
			t.Errorf("/%s: the cancelled prompt keeps its buttons", c.command)
		}
	}
	if _, err := h.v.Resolve(photos); err != nil {
		t.Errorf("a cancelled cleanup deleted the archive: %v", err)
	}
	if m := h.invoke(t, owner, "cleanup", map[string]any{"archive": "#010101-99"}); !strings.Contains(m.Content, "archive not found") {
		t.Errorf("cleanup of a missing archive: %q", m.Content)
	}
	logs := h.logs.String()
	for _, w := range []string{"command=status", "outcome=ok", "outcome=cancelled", "outcome=\"awaiting confirmation\"", "user_id=" + owner} {
		if !strings.Contains(logs, w) {
			t.Errorf("the log lacks %s", w)
		}
	}
	if strings.Contains(logs, h.info.Token) {
		t.Error("the log holds the bot token")
	}
}

// TestBotStranger runs every command as a member who is not allowed, and as one who is.
func TestBotStranger(t *testing.T) {
	t.Parallel()
	h := newBotHarness(t, nil, nil)
	id := h.archive(t, "photos", 100)
	args := map[string]map[string]any{
		"info": {"archive": id}, "verify": {"archive": id}, "download": {"archive": id},
		"upload": {"path": t.TempDir()}, "cleanup": {"archive": id},
	}
	for _, c := range commandList {
		m := h.invoke(t, h.info.MemberID, c.name, args[c.name])
		if !strings.Contains(m.Content, "Sorry") || !strings.Contains(m.Content, "owner and administrators") {
			t.Errorf("/%s as a stranger: %q", c.name, m.Content)
		}
		if m.Flags&discordgo.MessageFlagsEphemeral == 0 {
			t.Errorf("/%s: the refusal is public", c.name)
		}
	}
	if _, err := h.v.Resolve(id); err != nil {
		t.Errorf("a stranger's cleanup deleted the archive: %v", err)
	}
	if n := strings.Count(h.logs.String(), "outcome=refused"); n != len(commandList) {
		t.Errorf("%d refusals logged, want %d", n, len(commandList))
	}

	// An allowlist replaces the default: the member is in, the owner is out.
	a := newBotHarness(t, nil, func(c *BotConfig, i emulator.Info) { c.Allow = []string{"42", i.MemberID} })
	if m := a.invoke(t, a.info.MemberID, "status", nil); !strings.Contains(m.Content, "Archives: 0") {
		t.Errorf("allowlisted member: %q", m.Content)
	}
	if m := a.invoke(t, a.info.OwnerID, "status", nil); !strings.Contains(m.Content, "allowlist") {
		t.Errorf("owner outside the allowlist: %q", m.Content)
	}
}

// TestBotLongOutput pages the archive list and attaches a history longer than a message.
func TestBotLongOutput(t *testing.T) {
	t.Parallel()
	h := newBotHarness(t, nil, nil)
	var last string
	for i := range 32 {
		last = h.archive(t, fmt.Sprintf("archive with a rather long name number %02d", i), 10)
	}
	m := h.invoke(t, h.info.OwnerID, "archives", map[string]any{"page": 3})
	if !strings.Contains(m.Content, "page 3 of 3") || !strings.Contains(m.Content, last) || strings.Contains(m.Content, "Next:") {
		t.Errorf("page 3: %q", m.Content)
	}
	if m := h.invoke(t, h.info.OwnerID, "archives", nil); !strings.Contains(m.Content, "Next: `/archives page:2`") {
		t.Errorf("page 1: %q", m.Content)
	}
	m = h.invoke(t, h.info.OwnerID, "history", map[string]any{"n": 100})
	if len([]rune(m.Content)) > maxContent || !strings.Contains(m.Content, "full text is attached") {
		t.Errorf("history: %d characters: %q", len([]rune(m.Content)), m.Content)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].Filename != "history.txt" || m.Attachments[0].Size < maxContent {
		t.Fatalf("history attachments: %+v", m.Attachments)
	}
	// The same list as a prefix command.
	id := h.say(t, h.info.OwnerID, "!history 100")
	if r := h.replyTo(t, id, "full text is attached", 5*time.Second); r == nil || len(r.Attachments) != 1 {
		t.Errorf("!history: %+v", r)
	}
}

// TestBotStatusQueue checks that status shows the writeback queue of a mount beside the
// bot, and nothing about one when the bot runs alone.
func TestBotStatusQueue(t *testing.T) {
	t.Parallel()
	started := time.Date(2026, 1, 17, 9, 30, 0, 0, time.Local)
	h := newBotHarness(t, nil, func(c *BotConfig, _ emulator.Info) {
		c.Queue = func() vault.WritebackStatus {
			return vault.WritebackStatus{Files: 3, Bytes: 3 << 20, Uploading: 1, Failed: 1, Dirty: []string{"#170126-01"},
				UploadedFiles: 12, UploadedBytes: 5 << 20, Commits: 4, Started: started,
				Errors: []string{"old", "upload notes.txt:\n  store unreachable"}}
		}
	})
	m := h.invoke(t, h.info.OwnerID, "status", nil)
	for _, want := range []string{
		"Writeback queue: 3 files (3.0 MiB), 1 uploading, 1 failed · 1 archives with changes to commit",
		"Uploaded since 2026-01-17 09:30: 12 files (5.0 MiB), 4 commits",
		"Last queue error: upload notes.txt: store unreachable",
	} {
		if !strings.Contains(m.Content, want) {
			t.Errorf("status lacks %q:\n%s", want, m.Content)
		}
	}

	alone := newBotHarness(t, nil, nil)
	if m := alone.invoke(t, alone.info.OwnerID, "status", nil); strings.Contains(m.Content, "queue") {
		t.Errorf("status without a mount: %q", m.Content)
	}
}

func TestFit(t *testing.T) {
	short := fit("hello", "x.txt")
	if short.text != "hello" || short.file != "" {
		t.Errorf("short: %+v", short)
	}
	long := "```\n" + strings.Repeat("é line of text\n", 300) + "```"
	a := fit(long, "x.txt")
	if n := len([]rune(a.text)); n > maxContent || a.file != long || a.name != "x.txt" {
		t.Errorf("long: %d characters, file %d bytes", n, len(a.file))
	}
	if strings.Count(a.text, "```")%2 != 0 {
		t.Errorf("the head leaves a code block open: %q", a.text[len(a.text)-60:])
	}
}

func TestParsePrefix(t *testing.T) {
	for _, c := range []struct {
		cmd, line string
		want      map[string]string
	}{
		{"verify", "#170126-01 full", map[string]string{"archive": "#170126-01", "full": "full"}},
		{"archives", "summer photos", map[string]string{"query": "summer photos"}},
		{"archives", "page:2 summer photos", map[string]string{"query": "summer photos", "page": "2"}},
		{"archives", "summer photos 3", map[string]string{"query": "summer photos", "page": "3"}},
		{"history", "100", map[string]string{"n": "100"}},
		{"verify", "docs", map[string]string{"archive": "docs"}},
		{"upload", "/srv/my folder", map[string]string{"path": "/srv/my folder"}},
		{"download", "docs sub/c", map[string]string{"archive": "docs", "path": "sub/c"}},
		{"status", "", map[string]string{}},
	} {
		got := parsePrefix(lookupCommand(c.cmd), c.line)
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s %q: %v, want %v", c.cmd, c.line, got, c.want)
		}
	}
	if lookupCommand("verify").usage("!") != "!verify archive [full]" {
		t.Error(lookupCommand("verify").usage("!"))
	}
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{"170126-01 a/b:c": "170126-01 a_b_c", "..": "archive", " x. ": "x"} {
		if got := safeName(in); got != want {
			t.Errorf("safeName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestBotRegistrationReplacesOldCommands: registering bulk-overwrites the guild's commands,
// so a command an older version registered is gone, and the kept ones keep their IDs.
func TestBotRegistrationReplacesOldCommands(t *testing.T) {
	t.Parallel()
	h := newBotHarness(t, nil, nil)
	app, guild := h.info.ApplicationID, h.info.GuildID
	ids := func() map[string]string {
		t.Helper()
		cmds, err := h.sess.ApplicationCommands(app, guild)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, c := range cmds {
			m[c.Name] = c.ID
		}
		return m
	}
	before := ids()
	if _, err := h.sess.ApplicationCommandCreate(app, guild, &discordgo.ApplicationCommand{Name: "retired", Description: "a command of an older version"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := ids()["retired"]; !ok {
		t.Fatal("the old command was not registered")
	}

	// A second start of the bot registers again (as a new version's would), over REST.
	bs, err := NewSession(h.info.Token, h.info.API, 0)
	if err != nil {
		t.Fatal(err)
	}
	bs.State.User = &discordgo.User{ID: app}
	b := NewBot(bs, h.v, BotConfig{ChannelID: h.info.ChannelID}, slog.New(slog.DiscardHandler))
	if err := b.register(); err != nil {
		t.Fatal(err)
	}
	after := ids()
	if _, ok := after["retired"]; ok {
		t.Error("the old command survived the registration")
	}
	if len(after) != len(slashCommands()) {
		t.Errorf("%d commands registered, want %d: %v", len(after), len(slashCommands()), after)
	}
	for name, id := range before {
		if after[name] != id {
			t.Errorf("/%s: ID %s before, %s after", name, id, after[name])
		}
	}
}
