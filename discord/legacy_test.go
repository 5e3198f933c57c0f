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
	verifyClean(t, v, a.ID)
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

// verifyClean fails unless archive id verifies clean, quick and full.
func verifyClean(t *testing.T, v *vault.Vault, id string) {
	t.Helper()
	for _, full := range []bool{false, true} {
		rep, err := v.Verify(context.Background(), id, full, nil)
		if err != nil || len(rep.Damaged) > 0 || rep.Packs == 0 || full && rep.Chunks == 0 {
			t.Fatalf("verify %s (full %v): %v %+v", vault.FormatID(id), full, err, rep)
		}
	}
}

// TestLegacyMigrateKeepsThreadWhenVerifyFails: when migrate's own verify of the new
// archive fails (a pack of it is gone from the store, as verify sees it), --delete-old
// deletes nothing: the v3.1 thread and its chunks stay, the card is not marked, and the
// old archive stays in the index and reads. Once the store is whole again, migrate goes
// through and what it made verifies clean.
func TestLegacyMigrateKeepsThreadWhenVerifyFails(t *testing.T) {
	cfg := emulator.FastConfig()
	cfg.SeedFile = legacySeed(t, nil)
	srv, sess := emulatortest.Start(t, cfg)
	info := srv.Info()
	ctx := context.Background()
	mem := chunkstore.NewMem(chunkstore.Limits{})
	fault := chunkstore.NewFault(mem)
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
	v, err := vault.Open(ctx, paths, vc, master, vault.Options{Store: fault, Catalog: vault.RecordCatalog(mem),
		Legacy: NewLegacyFetcher(info.Token)})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	imps, errs := ScanLegacy(ctx, sess, info.API, info.ChannelID)
	if len(errs) > 0 || len(imps) != 2 {
		t.Fatalf("scan: %v", errs)
	}
	if _, err := v.ImportLegacy(ctx, imps[0], legacyPass); err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(info.Token, info.API, 0)
	if err != nil {
		t.Fatal(err)
	}
	before, err := s.ChannelMessage(info.ChannelID, "1310000000000000001")
	if err != nil {
		t.Fatal(err)
	}
	chunks, err := s.ChannelMessages("1310000000000000001", 100, "", "", "")
	if err != nil || len(chunks) == 0 {
		t.Fatalf("the v3.1 thread: %d messages, %v", len(chunks), err)
	}

	// Only verify asks the store whether objects are there; reading the new archive back,
	// which migrate does first, never does.
	fault.Add(chunkstore.Fault{Op: chunkstore.OpStat, Times: -1, Err: chunkstore.Classify(chunkstore.NotFound, errors.New("gone"))})
	marker := NewLegacyFetcher(info.Token)
	_, err = v.MigrateLegacy(ctx, "#170126-01", vault.MigrateOptions{Marker: marker, DeleteOld: true})
	if err == nil || !strings.Contains(err.Error(), "verify of the new archive") {
		t.Fatalf("migrate with a failing verify: %v", err)
	}
	fault.VerifyAllFaultsExercised(t)
	card, err := s.ChannelMessage(info.ChannelID, "1310000000000000001")
	if err != nil || card.Content != before.Content || strings.Contains(card.Content, "migrated_to") {
		t.Fatalf("the card after a failed migrate: %v %q", err, card.Content)
	}
	if after, err := s.ChannelMessages("1310000000000000001", 100, "", "", ""); err != nil || len(after) != len(chunks) {
		t.Fatalf("the v3.1 thread after a failed migrate: %d messages of %d, %v", len(after), len(chunks), err)
	}
	if old, err := v.Resolve("#170126-01"); err != nil || !old.Legacy {
		t.Fatalf("the old archive after a failed migrate: %+v %v", old, err)
	}
	checkLegacyArchive(t, v, "170126-01", filepath.Join(legacyFixtures(t), "small", "original"))

	fault.Clear() // the store whole again
	a, err := v.MigrateLegacy(ctx, "#170126-01", vault.MigrateOptions{Marker: marker, DeleteOld: true})
	if err != nil {
		t.Fatal(err)
	}
	verifyClean(t, v, a.ID)
	if _, err := s.Channel("1310000000000000001"); err == nil {
		t.Fatal("the v3.1 thread is still there after migrate")
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

// legacyEditCard rewrites the fenced JSON of a seeded card through edit.
func legacyEditCard(t *testing.T, archive any, edit func(j map[string]any)) {
	t.Helper()
	card := archive.(map[string]any)["card"].(map[string]any)
	body := strings.TrimSuffix(strings.TrimPrefix(card["content"].(string), "```json\n"), "\n```")
	var j map[string]any
	d := json.NewDecoder(strings.NewReader(body))
	d.UseNumber() // snowflakes do not fit a float64
	if err := d.Decode(&j); err != nil {
		t.Fatal(err)
	}
	edit(j)
	b, _ := json.Marshal(j)
	card["content"] = "```json\n" + string(b) + "\n```"
}

// importAll imports every archive scanned and returns the error of each by label.
func importAll(t *testing.T, v *vault.Vault, imps []*vault.LegacyImport) map[string]error {
	t.Helper()
	out := map[string]error{}
	for _, imp := range imps {
		_, err := v.ImportLegacy(context.Background(), imp, legacyPass)
		out[imp.Label()] = err
	}
	return out
}

// TestLegacyTruncatedCard: a card whose lists were dropped (metadata_truncated) imports
// from its thread and manifest with a note naming it; a card whose JSON is cut with no
// embed, or a truncated card whose thread lacks the manifest, is an error naming the
// archive while the other archive imports.
func TestLegacyTruncatedCard(t *testing.T) {
	fx := legacyFixtures(t)
	t.Run("imports", func(t *testing.T) {
		v, _, imps, errs := legacyVault(t, legacySeed(t, func(state map[string]any) {
			legacyEditCard(t, state["archives"].([]any)[0], func(j map[string]any) {
				for _, k := range []string{"uploaded_files", "failed_files", "message_ids", "files_display"} {
					delete(j, k)
				}
				j["metadata_truncated"] = true
			})
		}))
		if len(errs) > 0 || len(imps) != 2 {
			t.Fatalf("scan: %d archives, %v", len(imps), errs)
		}
		if len(imps[0].Notes) != 1 || !strings.Contains(imps[0].Notes[0], "metadata_truncated") || len(imps[1].Notes) != 0 {
			t.Fatalf("notes: %q %q", imps[0].Notes, imps[1].Notes)
		}
		a, err := v.ImportLegacy(context.Background(), imps[0], legacyPass)
		if err != nil || a.ID != "170126-01" || a.Lot != 1 {
			t.Fatalf("import: %+v %v", a, err)
		}
		checkLegacyArchive(t, v, a.ID, filepath.Join(fx, "small", "original"))
	})
	for _, c := range []struct {
		name, id string
		edit     func(state map[string]any)
		want     string
	}{
		{"cut without embed", "#170126-01", func(state map[string]any) {
			card := state["archives"].([]any)[0].(map[string]any)["card"].(map[string]any)
			card["content"] = card["content"].(string)[:300]
			delete(card, "embeds")
		}, "no embed"},
		{"truncated without manifest", "#180126-02", func(state map[string]any) {
			a := state["archives"].([]any)[1].(map[string]any)
			legacyEditCard(t, a, func(j map[string]any) {
				delete(j, "uploaded_files")
				j["metadata_truncated"] = true
			})
			msgs := a["thread_messages"].([]any)
			a["thread_messages"] = msgs[:len(msgs)-1]
		}, "no v3.1 manifest"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, _, imps, errs := legacyVault(t, legacySeed(t, c.edit))
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), c.id) || !strings.Contains(errs[0].Error(), c.want) {
				t.Fatalf("scan errors: %v", errs)
			}
			if len(imps) != 1 || imps[0].ID == strings.TrimPrefix(c.id, "#") {
				t.Fatalf("scan: %d archives", len(imps))
			}
			for label, err := range importAll(t, v, imps) {
				if err != nil {
					t.Fatalf("%s: %v", label, err)
				}
			}
		})
	}
}

// TestLegacyThreadDisagrees: a chunk of the wrong size is an error naming the archive; a
// .bin attachment no manifest lists is a note; a card whose counts disagree with its
// thread's manifest is an error naming the archive. The other archive imports each time.
func TestLegacyThreadDisagrees(t *testing.T) {
	small := func(state map[string]any) map[string]any { return state["archives"].([]any)[0].(map[string]any) }
	const stray = "0099-deadbeefdead-0123456789abcdef-0000.bin"
	for _, c := range []struct {
		name      string
		edit      func(state map[string]any)
		scan, imp string // what the scan's error, or the small archive's import error, says
		note      string
	}{
		{name: "wrong size", edit: func(state map[string]any) {
			at := small(state)["thread_messages"].([]any)[2].(map[string]any)["attachments"].([]any)[0].(map[string]any)
			at["path"], at["size"] = "small/chunks/0001-10fba2f1ce1f-8c00d4e5a452cdd1-0000.bin", 0
		}, imp: "0003-aa3ada108b05-e4fa503034f0455f-0001.bin of photo-001.jpg has 64 bytes, the manifest says"},
		{name: "stray attachment", edit: func(state map[string]any) {
			a := small(state)
			a["thread_messages"] = append(a["thread_messages"].([]any), map[string]any{"id": "1310000000000000099",
				"attachments": []any{map[string]any{"filename": stray, "path": "small/chunks/0001-10fba2f1ce1f-8c00d4e5a452cdd1-0000.bin"}}})
		}, note: "1 .bin file that no manifest lists, left out: " + stray},
		{name: "chunk_count", edit: func(state map[string]any) {
			legacyEditCard(t, small(state), func(j map[string]any) { j["chunk_count"] = 14 })
		}, scan: "its card counts 14 files (chunk_count), its thread holds 13"},
		{name: "chunk_count below", edit: func(state map[string]any) {
			legacyEditCard(t, small(state), func(j map[string]any) { j["chunk_count"], j["status"] = 5, "partial" })
		}, scan: "its card counts 5 files (chunk_count), fewer than the 12 chunks and 1 manifest"},
		{name: "file_count", edit: func(state map[string]any) {
			legacyEditCard(t, small(state), func(j map[string]any) { j["file_count"] = 3 })
		}, scan: "its card counts 3 files (file_count), its manifest list 4"},
		{name: "uploaded_files", edit: func(state map[string]any) {
			legacyEditCard(t, small(state), func(j map[string]any) {
				up := j["uploaded_files"].([]any)
				j["uploaded_files"] = append(up[:4:4], up[5:]...)
			})
		}, scan: "uploaded_files does not name 1 of the files its thread's manifests list: 0005-aa3ada108b05"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, _, imps, errs := legacyVault(t, legacySeed(t, c.edit))
			if c.scan != "" {
				if len(errs) != 1 || !strings.Contains(errs[0].Error(), "#170126-01") || !strings.Contains(errs[0].Error(), c.scan) {
					t.Fatalf("scan errors: %v", errs)
				}
				if len(imps) != 1 || imps[0].ID != "180126-02" {
					t.Fatalf("scan: %d archives", len(imps))
				}
			} else if len(errs) > 0 || len(imps) != 2 {
				t.Fatalf("scan: %d archives, %v", len(imps), errs)
			}
			if c.note != "" && (len(imps[0].Notes) != 1 || imps[0].Notes[0] != c.note) {
				t.Fatalf("notes: %q", imps[0].Notes)
			}
			for label, err := range importAll(t, v, imps) {
				switch {
				case label == "v3.1 archive #170126-01" && c.imp != "":
					if !errors.Is(err, vault.ErrLegacyFormat) || !strings.Contains(err.Error(), "#170126-01") || !strings.Contains(err.Error(), c.imp) {
						t.Fatalf("import: %v", err)
					}
				case err != nil:
					t.Fatalf("%s: %v", label, err)
				}
			}
		})
	}
}

// TestLegacyThreadWithTwoManifests: v3.1 posted every manifest of its upload folder, so one
// card's thread may hold two slices. Each imports as its own archive, the oldest under the
// card's ID; migrating the first keeps the thread (the other's chunks are in it) and marks
// only its manifest; migrating the second marks the card and deletes the thread.
func TestLegacyThreadWithTwoManifests(t *testing.T) {
	fx := legacyFixtures(t)
	seed := legacySeed(t, func(state map[string]any) {
		archives := state["archives"].([]any)
		a0, a1 := archives[0].(map[string]any), archives[1].(map[string]any)
		// The large slice's manifest first: the scan orders by the time in the names.
		a0["thread_messages"] = append(append([]any(nil), a1["thread_messages"].([]any)...), a0["thread_messages"].([]any)...)
		legacyEditCard(t, a0, func(j map[string]any) {
			j["chunk_count"], j["file_count"] = 17, 6
			up := j["uploaded_files"].([]any)
			for _, m := range a1["thread_messages"].([]any) {
				up = append(up, m.(map[string]any)["attachments"].([]any)[0].(map[string]any)["filename"])
			}
			j["uploaded_files"] = up
		})
		state["archives"] = archives[:1]
	})
	v, info, imps, errs := legacyVault(t, seed)
	if len(errs) > 0 || len(imps) != 2 {
		t.Fatalf("scan: %d archives, %v", len(imps), errs)
	}
	if imps[0].ID != "170126-01" || imps[0].ManifestName != "12-manifest_181827_261126.json" ||
		imps[1].ID != "" || imps[1].ManifestName != "3-manifest_181834_261126.json" ||
		imps[1].Label() != "v3.1 archive 3-manifest_181834_261126.json (uploaded as #170126-01)" {
		t.Fatalf("scan: %s %s, %s %s", imps[0].ID, imps[0].ManifestName, imps[1].ID, imps[1].ManifestName)
	}
	ctx := context.Background()
	var ids []string
	for i, set := range []string{"small", "large"} {
		a, err := v.ImportLegacy(ctx, imps[i], legacyPass)
		if err != nil {
			t.Fatal(err)
		}
		checkLegacyArchive(t, v, a.ID, filepath.Join(fx, set, "original"))
		ids = append(ids, a.ID)
	}
	if ids[1] == ids[0] || !strings.HasPrefix(ids[1], "170126-") {
		t.Fatalf("archives %v", ids)
	}

	marker := NewLegacyFetcher(info.Token)
	s, err := NewSession(info.Token, info.API, 0)
	if err != nil {
		t.Fatal(err)
	}
	first, err := v.MigrateLegacy(ctx, ids[0], vault.MigrateOptions{Marker: marker, DeleteOld: true})
	if err == nil || !strings.Contains(err.Error(), "is kept") || !strings.Contains(err.Error(), "3-manifest_181834_261126.json") {
		t.Fatalf("migrate of the first: %v", err)
	}
	if _, err := s.Channel("1310000000000000001"); err != nil {
		t.Fatalf("the shared thread is gone: %v", err)
	}
	again, errs := ScanLegacy(ctx, s, info.API, info.ChannelID)
	if len(errs) > 0 || len(again) != 1 || again[0].ManifestName != "3-manifest_181834_261126.json" {
		t.Fatalf("scan after the first migrate: %d, %v", len(again), errs)
	}
	second, err := v.MigrateLegacy(ctx, ids[1], vault.MigrateOptions{Marker: marker, DeleteOld: true})
	if err != nil {
		t.Fatal(err)
	}
	checkLegacyArchive(t, v, second.ID, filepath.Join(fx, "large", "original"))
	card, err := s.ChannelMessage(info.ChannelID, "1310000000000000001")
	if err != nil || !strings.Contains(card.Content, `"migrated_to":"#`+second.ID+`"`) ||
		!strings.Contains(card.Content, `"12-manifest_181827_261126.json":"#`+first.ID+`"`) {
		t.Fatalf("card after migrate: %v %q", err, card.Content)
	}
	if _, err := s.Channel("1310000000000000001"); err == nil {
		t.Fatal("the v3.1 thread is still there")
	}
	if again, errs := ScanLegacy(ctx, s, info.API, info.ChannelID); len(errs) > 0 || len(again) != 0 {
		t.Fatalf("scan after migrate: %d, %v", len(again), errs)
	}
}
