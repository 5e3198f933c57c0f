package main

import (
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkPutPeakRSS puts a 2 GiB file with the real binary (built without the race
// detector) and reports the process's peak resident memory.
func BenchmarkPutPeakRSS(b *testing.B) {
	dir := b.TempDir()
	bin := buildBench(b)
	big := filepath.Join(dir, "big.bin")
	const size = 2 << 30
	writeRandom(b, big, size)
	b.SetBytes(size)
	b.ResetTimer()
	var peak int64
	for range b.N {
		b.StopTimer()
		h := newBenchHome(b, bin)
		h.run("init", "--kdf-memory", "8", "--kdf-time", "1")
		b.StartTimer()
		st := h.run("put", big)
		peak = max(peak, st.SysUsage().(*syscall.Rusage).Maxrss)
	}
	b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
}

// writeRandom writes a file of size random bytes.
func writeRandom(b *testing.B, name string, size int64) {
	f, err := os.Create(name)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if _, err := io.CopyN(f, rand.New(rand.NewSource(1)), size); err != nil {
		b.Fatal(err)
	}
}

// buildBench builds the binary without the race detector, for benchmarks.
func buildBench(b *testing.B) string {
	bin := filepath.Join(b.TempDir(), "discofs")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// benchHome is a state directory of its own that a benchmark runs the binary bin in, and
// a folder to mount its vault at.
type benchHome struct {
	b             *testing.B
	bin, dir, mnt string
	env           []string
}

func newBenchHome(b *testing.B, bin string) benchHome {
	dir := b.TempDir()
	return benchHome{b: b, bin: bin, dir: dir, mnt: b.TempDir(),
		env: append(os.Environ(), "DISCOFS_HOME="+dir, "DISCOFS_PASSPHRASE=bench")}
}

// run runs the binary with args, failing the benchmark if it fails.
func (h benchHome) run(args ...string) *os.ProcessState {
	cmd := exec.Command(h.bin, args...)
	cmd.Env = h.env
	if out, err := cmd.CombinedOutput(); err != nil {
		h.b.Fatalf("discofs %v: %v\n%s", args, err, out)
	}
	return cmd.ProcessState
}

// unmount unmounts the vault and waits until the mount is gone.
func (h benchHome) unmount() {
	h.run("unmount", h.mnt)
	for i := 0; i < 100 && mounted(h.mnt); i++ {
		time.Sleep(100 * time.Millisecond)
	}
}
