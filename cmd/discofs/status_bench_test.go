package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/discofs/discofs/vault"
)

// BenchmarkStatusAndLs times `discofs status` and `discofs ls`, the binary run as a user
// runs it, on a vault of 1,000 archives with the default Argon2id settings, one of them a
// folder of 100,000 files: status unmounted (the command unlocks the vault, opens the index
// and counts) and while the vault is mounted (the mount answers through its control
// socket), and ls of the large archive. It also reports the unlock alone, which every
// command that opens a vault pays.
func BenchmarkStatusAndLs(b *testing.B) {
	bin := buildBench(b)
	h := newBenchHome(b, bin)
	h.run("init")
	// The archives are put in-process: a thousand runs of the binary would each pay the unlock.
	e := &env{stdout: io.Discard, stderr: io.Discard, stdin: nil, getenv: func(k string) string {
		switch k {
		case "DISCOFS_HOME":
			return h.dir
		case "DISCOFS_PASSPHRASE":
			return "bench"
		}
		return ""
	}}
	ctx := context.Background()
	v, err := (&common{}).openVault(ctx, e, false)
	if err != nil {
		b.Fatal(err)
	}
	many := filepath.Join(b.TempDir(), "many")
	os.Mkdir(many, 0o755)
	for i := range 100_000 {
		if err := os.WriteFile(filepath.Join(many, fmt.Sprintf("f%06d", i)), []byte(fmt.Sprint(i)), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := v.Put(ctx, []string{many}, vault.PutOptions{}); err != nil {
		b.Fatal(err)
	}
	src := filepath.Join(b.TempDir(), "f.txt")
	os.WriteFile(src, []byte("one small file"), 0o644)
	for i := range 999 {
		if _, err := v.Put(ctx, []string{src}, vault.PutOptions{Name: fmt.Sprint("a", i)}); err != nil {
			b.Fatal(err)
		}
	}
	v.Close()

	u, err := (&common{}).unlock(e, "")
	if err != nil {
		b.Fatal(err)
	}
	// each runs fn b.N times and returns the mean time of one run in milliseconds.
	each := func(fn func()) float64 {
		t0 := time.Now()
		for range b.N {
			fn()
		}
		return float64(time.Since(t0).Microseconds()) / 1000 / float64(b.N)
	}
	b.ResetTimer()
	unlock := each(func() {
		if _, err := vault.Unlock(u.cfg, "bench"); err != nil {
			b.Fatal(err)
		}
	})
	unmounted := each(func() { h.run("status") })
	ls := each(func() { h.run("ls", "many") })
	b.StopTimer()
	h.run("mount", "--daemon", h.mnt)
	defer h.unmount()
	b.StartTimer()
	mounted := each(func() { h.run("status") })
	b.ReportMetric(unmounted, "ms-unmounted")
	b.ReportMetric(mounted, "ms-mounted")
	b.ReportMetric(unlock, "ms-unlock")
	b.ReportMetric(ls, "ms-ls-100k")
}
