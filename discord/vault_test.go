package discord

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bwmarrin/discordgo"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/chunkstore/chunkstoretest"
	"github.com/discofs/discofs/discord/emulator"
	"github.com/discofs/discofs/index"
	"github.com/discofs/discofs/vault"
)

var testKDF = vault.KDFParams{Time: 1, Memory: 8 << 10, Threads: 1}

const testPass = "correct horse battery staple"

// openVault makes a vault on the env's channel in a fresh home (joining when the channel
// already holds one) and opens it over the retrying store.
func (e *testEnv) openVault(t testing.TB) *vault.Vault {
	t.Helper()
	paths := vault.HomePaths(t.TempDir())
	cfg, _, err := vault.Init(t.Context(), paths, "discord:"+e.store.channel, nil, vault.Options{Catalog: e.store}, testPass, testKDF)
	if err != nil {
		t.Fatal(err)
	}
	master, err := vault.Unlock(cfg, testPass)
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Open(t.Context(), paths, cfg, master, vault.Options{Store: retried(e.store), Catalog: e.store})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// tree writes files of the given sizes and returns their folder.
func tree(t *testing.T, sizes ...int) string {
	dir := t.TempDir()
	for i, n := range sizes {
		p := filepath.Join(dir, "sub", string(rune('a'+i))+".bin")
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, chunkstoretest.Data(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// sameTree fails unless every file under want has an identical copy under got.
func sameTree(t *testing.T, want, got string) {
	t.Helper()
	err := filepath.WalkDir(want, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(want, p)
		a, _ := os.ReadFile(p)
		b, err := os.ReadFile(filepath.Join(got, rel))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs after the round trip (%v)", rel, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestVaultRoundTripUnderFaults(t *testing.T) {
	e := newEnv(t, emulator.FastConfig(), Options{MaxObjectSize: 9 << 19, Lanes: 3})
	v := e.openVault(t)
	src := tree(t, 9<<20, 100_000, 0, 1)
	faults := emulator.Faults{FailRate: 0.1, DropRate: 0.1, Storm429: 0.1}
	e.control(t, "faults", faults)
	a, err := v.Put(t.Context(), []string{src}, vault.PutOptions{Name: "faulty"})
	if err != nil {
		t.Fatalf("put under faults: %v", err)
	}
	e.control(t, "expire-urls", nil)
	dest := t.TempDir()
	damaged, err := v.Get(t.Context(), vault.FormatID(a.ID), dest, nil)
	if err != nil || len(damaged) > 0 {
		t.Fatalf("get under faults: %v %v", err, damaged)
	}
	e.control(t, "faults", emulator.Faults{})
	sameTree(t, src, dest)

	// The card is final, names its thread, and is the only card of the archive.
	var cards []*vault.Card
	if err := e.store.Cards(t.Context(), func(c *vault.Card) error { cards = append(cards, c); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(cards) != 1 || cards[0].Status != index.StatusSuccess || cards[0].ThreadID == "" || cards[0].ArchiveChannelID != e.store.channel {
		t.Fatalf("cards after the put: %+v", cards)
	}
	// No object was posted twice: every stored object is one the index knows.
	n := 0
	if err := e.store.List(t.Context(), chunkstore.TypePack, func(chunkstore.Object) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	st, _ := v.Status()
	if st != nil && n != st.Packs {
		t.Errorf("%d packs stored, the index knows %d", n, st.Packs)
	}
}

// verifyWithoutAPack deletes the message of one of the store's packs, then verifies v.
func verifyWithoutAPack(t *testing.T, e *testEnv, v *vault.Vault) *vault.VerifyReport {
	t.Helper()
	var victim chunkstore.Object
	if err := e.store.List(t.Context(), chunkstore.TypePack, func(o chunkstore.Object) error { victim = o; return nil }); err != nil {
		t.Fatal(err)
	}
	r, _ := parseRef(victim.Ref)
	if err := e.sess.ChannelMessageDelete(r.channel, r.message); err != nil {
		t.Fatal(err)
	}
	rep, err := v.Verify(t.Context(), "", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestVerifyReportsDeletedMessage(t *testing.T) {
	e := newEnv(t, emulator.FastConfig(), Options{MaxObjectSize: 9 << 19})
	v := e.openVault(t)
	a, err := v.Put(t.Context(), []string{tree(t, 1<<20)}, vault.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rep := verifyWithoutAPack(t, e, v)
	if len(rep.Damaged) == 0 || rep.Damaged[0].Archive != a.ID || !chunkstore.IsNotFound(rep.Damaged[0].Err) {
		t.Fatalf("verify after a pack message was deleted: %+v", rep.Damaged)
	}
}

// TestVerifyListsManyPacks: a verify of more than 100 packs lists the threads' messages
// instead of fetching one per pack, and still finds only the pack whose message is gone.
func TestVerifyListsManyPacks(t *testing.T) {
	e := newEnv(t, emulator.FastConfig(), Options{CoalesceWindow: -1})
	v := e.openVault(t)
	sizes := make([]int, 120) // each file a chunk, each chunk a pack of its own
	for i := range sizes {
		sizes[i] = 100<<10 + i
	}
	if _, err := v.Put(t.Context(), []string{tree(t, sizes...)}, vault.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	rep := verifyWithoutAPack(t, e, v)
	if rep.Packs <= 100 {
		t.Fatalf("the archive has %d packs; the test needs more than 100", rep.Packs)
	}
	if len(rep.Damaged) == 0 || len(rep.Damaged) > 2 {
		t.Fatalf("verify after one pack message was deleted found %d damaged files: %+v", len(rep.Damaged), rep.Damaged)
	}
	for _, d := range rep.Damaged {
		if !chunkstore.IsNotFound(d.Err) {
			t.Errorf("%s: %v is not a not-found error", d.Path, d.Err)
		}
	}
}

func TestHandEditedCard(t *testing.T) {
	e := newEnv(t, emulator.FastConfig(), Options{})
	v := e.openVault(t)
	src := tree(t, 50_000)
	a1, err := v.Put(t.Context(), []string{src}, vault.PutOptions{Name: "one"})
	if err != nil {
		t.Fatal(err)
	}
	a2, err := v.Put(t.Context(), []string{src}, vault.PutOptions{Name: "two"})
	if err != nil {
		t.Fatal(err)
	}
	st := e.store.cards[a1.ID]
	if _, err := e.sess.ChannelMessageEdit(e.store.channel, st.messageID, "```json\n{\"lot\":1,\"archive_id\":\"#"+a1.ID+"\",oops\n```"); err != nil {
		t.Fatal(err)
	}
	fresh := newStoreOn(t, e)
	var seen []string
	err = fresh.Cards(t.Context(), func(c *vault.Card) error { seen = append(seen, c.ArchiveID); return nil })
	var dc *vault.DamagedCardError
	if !errors.As(err, &dc) || dc.ArchiveID != vault.FormatID(a1.ID) || !strings.Contains(err.Error(), vault.FormatID(a1.ID)) {
		t.Fatalf("Cards with a hand-edited card: %v, want an error naming %s", err, vault.FormatID(a1.ID))
	}
	if len(seen) != 1 || seen[0] != vault.FormatID(a2.ID) {
		t.Fatalf("Cards passed %v, want only the good card %s", seen, vault.FormatID(a2.ID))
	}
	// The other archive reads back as before.
	dest := t.TempDir()
	if d, err := v.Get(t.Context(), vault.FormatID(a2.ID), dest, nil); err != nil || len(d) > 0 {
		t.Fatalf("get of the other archive: %v %v", err, d)
	}
}

func TestManifestThatDoesNotAuthenticate(t *testing.T) {
	e := newEnv(t, emulator.FastConfig(), Options{})
	v := e.openVault(t)
	a, err := v.Put(t.Context(), []string{tree(t, 20_000)}, vault.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	good, err := v.Put(t.Context(), []string{tree(t, 30_000)}, vault.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := parseRef(a.Manifest[0].Ref)
	e.control(t, "corrupt", map[string]any{"channel_id": r.channel, "message_id": r.message, "attachment_id": r.attachment, "offset": 100})
	rep, err := v.Rebuild(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Archives != 1 || len(rep.Failed) != 1 || !strings.Contains(rep.Failed[0], a.ID) {
		t.Fatalf("rebuild with a corrupted manifest: %+v", rep)
	}
	if _, err := v.Resolve(good.ID); err != nil {
		t.Fatalf("the good archive is gone after the rebuild: %v", err)
	}
}

// newStoreOn opens a second store on the env's channel, as another machine would.
func newStoreOn(t *testing.T, e *testEnv) *Store {
	t.Helper()
	sess, err := e.srv.Session()
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), Options{Session: sess, ChannelID: e.store.channel, RequestsPerSecond: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestGCDeletesThreadsOfRemovedArchive(t *testing.T) {
	e := newEnv(t, emulator.FastConfig(), Options{Lanes: 2, MaxObjectSize: 9 << 19, CoalesceWindow: -1})
	v := e.openVault(t)
	a, err := v.Put(t.Context(), []string{tree(t, 9<<20, 5<<20)}, vault.PutOptions{Name: "gone"})
	if err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "x.bin"), []byte(strings.Repeat("other archive ", 20_000)), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := v.Put(t.Context(), []string{other}, vault.PutOptions{Name: "kept"})
	if err != nil {
		t.Fatal(err)
	}
	threadsOf := func(id string) []string {
		list, err := e.store.threadList(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, th := range list {
			if m := laneThreadName.FindStringSubmatch(th.Name); m != nil && m[1] == id {
				out = append(out, th.ID)
			}
		}
		return out
	}
	before := len(threadsOf(a.ID))
	if before == 0 {
		t.Fatalf("archive %s has no thread", a.ID)
	}
	if _, err := v.Remove(t.Context(), a.ID); err != nil {
		t.Fatal(err)
	}
	rep, err := v.GC(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Threads != before || len(threadsOf(a.ID)) != 0 {
		for _, th := range threadsOf(a.ID) {
			e.store.history(t.Context(), th, func(m *discordgo.Message) error {
				t.Logf("left in %s: type %d %q %d files", th, m.Type, m.Content, len(m.Attachments))
				return nil
			})
		}
		t.Fatalf("GC %+v deleted %d threads; %s still has %v", rep, rep.Threads, a.ID, threadsOf(a.ID))
	}
	if len(threadsOf(b.ID)) == 0 {
		t.Fatalf("the kept archive lost its threads")
	}
	// The card stays, marked deleted; the other archive reads back.
	found := false
	err = newStoreOn(t, e).Cards(t.Context(), func(c *vault.Card) error {
		if c.ArchiveID == vault.FormatID(a.ID) {
			found = c.Status == index.StatusDeleted
		}
		return nil
	})
	if err != nil || !found {
		t.Fatalf("the card of the removed archive: found=%v err=%v", found, err)
	}
	if d, err := v.Get(t.Context(), vault.FormatID(b.ID), t.TempDir(), nil); err != nil || len(d) > 0 {
		t.Fatalf("get of the kept archive: %v %v", err, d)
	}
	// A second GC finds nothing more to do.
	if rep, err := v.GC(t.Context()); err != nil || rep.Threads != 0 {
		t.Fatalf("second GC: %+v %v", rep, err)
	}
}
