package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bwmarrin/discordgo"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/discord/emulator"
	"github.com/discofs/discofs/discord/emulator/emulatortest"
	"github.com/discofs/discofs/index"
	"github.com/discofs/discofs/vault"
)

const legacyPass = "legacy passphrase 27"

// legacyFixtures is the shared folder of real v3.1 output beside the repository.
func legacyFixtures(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "shared", "legacy-v3.1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "discord-state.json")); err != nil {
		t.Fatalf("v3.1 fixtures: %v", err)
	}
	return dir
}

// legacySeed writes a copy of the fixtures' discord-state.json changed by edit, beside
// links to the chunk folders its paths name, and returns its path.
func legacySeed(t *testing.T, edit func(state map[string]any)) string {
	t.Helper()
	fx := legacyFixtures(t)
	raw, err := os.ReadFile(filepath.Join(fx, "discord-state.json"))
	if err != nil {
		t.Fatal(err)
	}
	if edit == nil {
		return filepath.Join(fx, "discord-state.json")
	}
	var state map[string]any
	if err := json.Unmarshal(raw, &state); err != nil {
		t.Fatal(err)
	}
	edit(state)
	dir := t.TempDir()
	for _, set := range []string{"small", "large"} {
		if err := os.Symlink(filepath.Join(fx, set), filepath.Join(dir, set)); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := json.Marshal(state)
	p := filepath.Join(dir, "discord-state.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// legacyVault starts an emulator from a seed and a vault whose v3.1 reads go to it.
func legacyVault(t *testing.T, seed string) (*vault.Vault, emulator.Info, []*vault.LegacyImport, []error) {
	t.Helper()
	cfg := emulator.FastConfig()
	cfg.SeedFile = seed
	srv, sess := emulatortest.Start(t, cfg)
	info := srv.Info()
	ctx := context.Background()
	mem := chunkstore.NewMem(chunkstore.Limits{})
	paths := vault.HomePaths(t.TempDir())
	vc, _, err := vault.Init(ctx, paths, "mem:", nil, vault.Options{Catalog: vault.RecordCatalog(mem)}, "pw",
		vault.KDFParams{Time: 1, Memory: 8 << 10, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	master, err := vault.Unlock(vc, "pw")
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Open(ctx, paths, vc, master, vault.Options{Store: mem, Catalog: vault.RecordCatalog(mem),
		Legacy: NewLegacyFetcher(info.Token)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	imps, errs := ScanLegacy(ctx, sess, info.API, info.ChannelID)
	return v, info, imps, errs
}

// checkLegacyArchive restores an archive and reads it through ReadAt, against original/.
func checkLegacyArchive(t *testing.T, v *vault.Vault, id, want string) {
	t.Helper()
	ctx := context.Background()
	dest := filepath.Join(t.TempDir(), "out")
	if damaged, err := v.Get(ctx, id, dest, nil); err != nil || len(damaged) > 0 {
		t.Fatalf("get %s: %v %v", id, err, damaged)
	}
	entries, _ := os.ReadDir(want)
	for _, e := range entries {
		orig, _ := os.ReadFile(filepath.Join(want, e.Name()))
		back, err := os.ReadFile(filepath.Join(dest, e.Name()))
		if err != nil || !bytes.Equal(orig, back) {
			t.Fatalf("%s/%s: restored file differs (%v)", id, e.Name(), err)
		}
		n, err := v.Index().GetNode(id, "/"+e.Name())
		if err != nil {
			t.Fatal(err)
		}
		// A read across a chunk boundary, and one at the end.
		for _, off := range []int64{0, 65536 - 100, 9961472 - 7, int64(len(orig)) - 5} {
			if off < 0 || off >= int64(len(orig)) {
				continue
			}
			p := make([]byte, 300)
			k, err := v.ReadAt(ctx, n, p, off)
			end := min(off+300, int64(len(orig)))
			if int64(k) != end-off || !bytes.Equal(p[:k], orig[off:end]) || err != nil && err != io.EOF {
				t.Fatalf("%s: ReadAt(%d): %d, %v", e.Name(), off, k, err)
			}
		}
	}
}

func TestLegacyImportFromChannel(t *testing.T) {
	v, _, imps, errs := legacyVault(t, legacySeed(t, nil))
	if len(errs) > 0 || len(imps) != 2 {
		t.Fatalf("scan: %d archives, %v", len(imps), errs)
	}
	fx := legacyFixtures(t)
	for i, want := range []struct{ id, name, set string }{{"170126-01", "holiday-photos", "small"}, {"180126-02", "camera-roll", "large"}} {
		a, err := v.ImportLegacy(context.Background(), imps[i], legacyPass)
		if err != nil {
			t.Fatal(err)
		}
		if a.ID != want.id || a.Name != want.name || !a.Legacy || a.Lot != i+1 {
			t.Fatalf("archive %+v", a)
		}
		checkLegacyArchive(t, v, a.ID, filepath.Join(fx, want.set, "original"))
	}
	la, err := v.Index().GetLegacy("170126-01")
	if err != nil || la.Source.Kind != index.LegacyDiscord || la.Card != "1310000000000000001" {
		t.Fatalf("legacy record %+v %v", la.Source, err)
	}
}

func TestLegacyChannelBadInput(t *testing.T) {
	seed := legacySeed(t, func(state map[string]any) {
		archives := state["archives"].([]any)
		// #170126-01: one chunk message is gone, and the card's JSON was cut
		// (metadata_truncated), so the embed and the truncated keys tell the rest.
		a0 := archives[0].(map[string]any)
		msgs := a0["thread_messages"].([]any)
		a0["thread_messages"] = append(msgs[:3:3], msgs[4:]...)
		card0 := a0["card"].(map[string]any)
		card0["content"] = "```json\n" + `{"lot":1,"archive_id":"#170126-01","timestamp":"2026-01-17 14:25:01","status":"success","file_count":4,"metadata_truncated":true,"thread_id":1310000000000000001}` + "\n```"
		// #180126-02: no JSON at all; only the embed.
		card1 := archives[1].(map[string]any)["card"].(map[string]any)
		card1["content"] = ""
	})
	v, _, imps, errs := legacyVault(t, seed)
	if len(errs) > 0 || len(imps) != 2 {
		t.Fatalf("scan: %d archives, %v", len(imps), errs)
	}
	if imps[1].ID != "180126-02" || imps[1].Lot != 2 || imps[1].Created.Format("2006-01-02 15:04:05") != "2026-01-18 09:03:44" {
		t.Fatalf("card from the embed: %+v", imps[1])
	}
	ctx := context.Background()
	_, err := v.ImportLegacy(ctx, imps[0], legacyPass)
	if !errors.Is(err, vault.ErrLegacyFormat) || !strings.Contains(err.Error(), "#170126-01") ||
		!strings.Contains(err.Error(), "0004-aa3ada108b05-664103f55fd96b26-0002.bin") {
		t.Fatalf("missing chunk: %v", err)
	}
	_, err = v.ImportLegacy(ctx, imps[1], "wrong")
	if !errors.Is(err, vault.ErrLegacyPassphrase) || !strings.Contains(err.Error(), "#180126-02") {
		t.Fatalf("wrong passphrase: %v", err)
	}
	a, err := v.ImportLegacy(ctx, imps[1], legacyPass)
	if err != nil {
		t.Fatal(err)
	}
	checkLegacyArchive(t, v, a.ID, filepath.Join(legacyFixtures(t), "large", "original"))
}

func TestLegacyMigrateMarksCardAndDeletesThread(t *testing.T) {
	v, info, imps, errs := legacyVault(t, legacySeed(t, nil))
	if len(errs) > 0 || len(imps) != 2 {
		t.Fatalf("scan: %v", errs)
	}
	ctx := context.Background()
	if _, err := v.ImportLegacy(ctx, imps[0], legacyPass); err != nil {
		t.Fatal(err)
	}
	marker := NewLegacyFetcher(info.Token)
	a, err := v.MigrateLegacy(ctx, "#170126-01", vault.MigrateOptions{Marker: marker, DeleteOld: true})
	if err != nil {
		t.Fatal(err)
	}
	if a.Legacy || a.Name != "holiday-photos" || a.ID == "170126-01" {
		t.Fatalf("new archive %+v", a)
	}
	checkLegacyArchive(t, v, a.ID, filepath.Join(legacyFixtures(t), "small", "original"))
	s, err := NewSession(info.Token, info.API, 0)
	if err != nil {
		t.Fatal(err)
	}
	card, err := s.ChannelMessage(info.ChannelID, "1310000000000000001")
	if err != nil || !strings.Contains(card.Content, `"migrated_to":"#`+a.ID+`"`) {
		t.Fatalf("card after migrate: %v %q", err, card.Content)
	}
	if _, err := s.Channel("1310000000000000001"); err == nil {
		t.Fatal("the v3.1 thread is still there")
	}
	again, errs := ScanLegacy(ctx, s, info.API, info.ChannelID)
	if len(errs) > 0 || len(again) != 1 || again[0].ID != "180126-02" {
		t.Fatalf("scan after migrate: %d, %v", len(again), errs)
	}
}

func FuzzLegacyCard(f *testing.F) {
	f.Add("```json\n{\"lot\":1,\"archive_id\":\"#170126-01\",\"timestamp\":\"2026-01-17 14:25:01\",\"status\":\"success\",\"thread_id\":13}\n```", "📦 Archive #170126-01", "Lot 1 • Uploader: a")
	f.Add("```json\n{\"archive_id\":\"#170126-01\",\"metadata_truncated\":true,\"migrated_to\":\"#010226-05\"}", "", "")
	f.Add("", "📦 Archive #999999-123", "Lot x")
	f.Fuzz(func(t *testing.T, content, title, footer string) {
		m := &discordgo.Message{ID: "5", Content: content, Embeds: []*discordgo.MessageEmbed{{Title: title,
			Footer: &discordgo.MessageEmbedFooter{Text: footer}, Fields: []*discordgo.MessageEmbedField{{Name: "📅 Timestamp", Value: content}}}}}
		c, ok, err := parseLegacyCard(m)
		if ok && err == nil && (!legacyIDPattern.MatchString(c.ID) || c.Thread == "") {
			t.Fatalf("accepted card %+v", c)
		}
	})
}
