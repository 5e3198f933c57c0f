package main

import (
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/discofs/discofs/discord/emulator"
	"github.com/discofs/discofs/discord/emulator/emulatortest"
)

// BenchmarkMountColdReadDiscord reads a 64 MiB file through a mount of a vault on the
// emulator with 50 ms of latency on every request, from a cold start each time: a new
// mount with no cached segment or attachment URL. It measures how well read-ahead hides
// Discord's latency from a sequential reader.
func BenchmarkMountColdReadDiscord(b *testing.B) {
	bin := buildBench(b)
	srv, _ := emulatortest.Start(b, emulator.FastConfig())
	info := srv.Info()
	home, mnt := b.TempDir(), b.TempDir()
	tok := filepath.Join(b.TempDir(), "token")
	os.WriteFile(tok, []byte(info.Token), 0o600)
	env := append(os.Environ(), "DISCOFS_HOME="+home, "DISCOFS_PASSPHRASE=bench")
	run := func(args ...string) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("discofs %v: %v\n%s", args, err, out)
		}
	}
	run("init", "--store", "discord", "--channel", info.ChannelID, "--discord-api", info.API,
		"--token-file", tok, "--kdf-memory", "8", "--kdf-time", "1")
	const size = 64 << 20
	src := filepath.Join(b.TempDir(), "movie")
	os.Mkdir(src, 0o755)
	f, err := os.Create(filepath.Join(src, "movie.bin"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.New(rand.NewSource(1)), size); err != nil {
		b.Fatal(err)
	}
	f.Close()
	run("put", src)
	if err := srv.SetFaults(emulator.Faults{LatencyMS: 50}); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		os.RemoveAll(filepath.Join(home, "cache"))
		run("mount", "--daemon", mnt)
		b.StartTimer()
		f, err := os.Open(filepath.Join(mnt, "movie", "movie.bin"))
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.CopyBuffer(io.Discard, f, buf)
		f.Close()
		if err != nil || n != size {
			b.Fatalf("read %d bytes: %v", n, err)
		}
		b.StopTimer()
		run("unmount", mnt)
		for i := 0; i < 100 && mounted(mnt); i++ {
			time.Sleep(50 * time.Millisecond)
		}
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
