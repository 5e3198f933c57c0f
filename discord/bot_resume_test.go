package discord

import (
	"bytes"
	"context"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
	"github.com/discofs/discofs/vault"
)

// TestBotResumeInterruptedUpload cuts an upload off after its first pack is stored, as a
// killed process would, and resumes it with /resume: the archive is committed under the
// ID the upload took, reads back byte for byte, and no pack is stored twice.
func TestBotResumeInterruptedUpload(t *testing.T) {
	t.Parallel()
	h := newBotHarness(t, nil, nil)
	src := filepath.Join(t.TempDir(), "scans")
	big := make([]byte, 12<<20) // three packs of the harness's 5 MiB objects
	rand.New(rand.NewSource(6)).Read(big)
	files := map[string][]byte{"big.bin": big, "notes/a.txt": []byte("scanned on the bot's host\n")}
	for p, data := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(src, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, p), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	h.store.mu.Lock()
	h.store.delay = 150 * time.Millisecond
	h.store.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	var prog vault.Progress
	go func() {
		for prog.Stored.Load() == 0 && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	if _, err := h.v.Put(ctx, []string{src}, vault.PutOptions{Progress: &prog}); !errors.Is(err, context.Canceled) {
		t.Fatalf("the cut-off upload: %v", err)
	}
	cancel()
	packs := func() map[chunkstore.Ref]bool {
		m := map[chunkstore.Ref]bool{}
		if err := h.store.List(context.Background(), chunkstore.TypePack, func(o chunkstore.Object) error { m[o.Ref] = true; return nil }); err != nil {
			t.Fatal(err)
		}
		return m
	}
	before := packs()
	if len(before) == 0 || len(before) >= 3 {
		t.Fatalf("%d packs stored before the cut, want 1 or 2 of 3", len(before))
	}
	h.store.mu.Lock()
	h.store.delay = 0
	h.store.mu.Unlock()

	m := h.final(t, h.invoke(t, h.info.OwnerID, "resume", nil), "Resumed")
	for _, want := range []string{"✅ Resumed #", "`scans`", src, "2 files"} {
		if !strings.Contains(m.Content, want) {
			t.Errorf("/resume: %q lacks %q", m.Content, want)
		}
	}
	a, err := h.v.Resolve("scans")
	if err != nil || a.Status != index.StatusSuccess || !strings.Contains(m.Content, vault.FormatID(a.ID)) {
		t.Fatalf("the resumed archive: %+v %v", a, err)
	}
	dest := filepath.Join(t.TempDir(), "out")
	if _, err := h.v.Get(context.Background(), a.ID, dest, nil); err != nil {
		t.Fatal(err)
	}
	for p, want := range files {
		if got, err := os.ReadFile(filepath.Join(dest, p)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s reads back wrong: %v", p, err)
		}
	}
	after := packs()
	var indexed int
	if err := h.v.Index().Packs(func(p index.Pack) error {
		indexed++
		if !after[p.Ref] {
			t.Errorf("pack %s is indexed but not stored", p.Ref)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for ref := range before {
		if !after[ref] {
			t.Errorf("pack %s stored before the cut is gone", ref)
		}
	}
	// Only what the cut-off run had not stored was stored: every stored pack is used once.
	if len(after) != indexed || len(after) < 3 {
		t.Errorf("%d packs stored (%d before the cut), %d indexed", len(after), len(before), indexed)
	}

	h.final(t, h.invoke(t, h.info.OwnerID, "resume", nil), "No interrupted upload to resume") // a second /resume
}
