package discord

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/discofs/discofs/discord/emulator"
	"github.com/discofs/discofs/vault"
)

// BenchmarkRebuild100x1000 rebuilds the index of a vault on Discord (the emulator, without
// rate limits, which would only measure Discord's) holding 100 archives of 1,000 files each.
func BenchmarkRebuild100x1000(b *testing.B) {
	const archives, files = 100, 1000
	e := newEnv(b, emulator.FastConfig(), Options{MaxObjectSize: 10 << 20})
	v := e.openVault(b)
	src := filepath.Join(b.TempDir(), "tree")
	for i := range files {
		p := filepath.Join(src, fmt.Sprintf("d%02d", i%10), fmt.Sprintf("f%04d.txt", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(fmt.Sprintf("file %d\n", i)), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for i := range archives {
		// Each archive differs in one file, so every manifest is its own.
		os.WriteFile(filepath.Join(src, "which.txt"), []byte(fmt.Sprint(i)), 0o644)
		if _, err := v.Put(b.Context(), []string{src}, vault.PutOptions{Name: fmt.Sprint("a", i)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		rep, err := v.Rebuild(b.Context(), nil)
		if err != nil || rep.Archives != archives || rep.Files != archives*(files+1) {
			b.Fatalf("rebuild: %+v %v", rep, err)
		}
	}
}
