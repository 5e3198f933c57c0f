package main

import (
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// BenchmarkPutPeakRSS puts a 2 GiB file with the real binary (built without the race
// detector) and reports the process's peak resident memory.
func BenchmarkPutPeakRSS(b *testing.B) {
	dir := b.TempDir()
	bin := buildBench(b)
	big := filepath.Join(dir, "big.bin")
	f, err := os.Create(big)
	if err != nil {
		b.Fatal(err)
	}
	const size = 2 << 30
	if _, err := io.CopyN(f, rand.New(rand.NewSource(1)), size); err != nil {
		b.Fatal(err)
	}
	f.Close()
	b.SetBytes(size)
	b.ResetTimer()
	var peak int64
	for i := range b.N {
		home := filepath.Join(dir, "home", string(rune('a'+i)))
		env := append(os.Environ(), "DISCOFS_HOME="+home, "DISCOFS_PASSPHRASE=bench")
		run := func(args ...string) *os.ProcessState {
			cmd := exec.Command(bin, args...)
			cmd.Env = env
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%v: %v\n%s", args, err, out)
			}
			return cmd.ProcessState
		}
		b.StopTimer()
		run("init", "--kdf-memory", "8", "--kdf-time", "1")
		b.StartTimer()
		st := run("put", big)
		peak = max(peak, st.SysUsage().(*syscall.Rusage).Maxrss)
	}
	b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
}
