package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/discofs/discofs/discord/emulator"
	"github.com/discofs/discofs/discord/emulator/emulatortest"
)

// BenchmarkMountColdReadDiscord reads a 64 MiB file through a mount of a vault on the
// emulator with 50 ms of latency on every request, from a cold start each time: a new
// mount with no cached segment or attachment URL. It measures how well read-ahead hides
// Discord's latency from a sequential reader.
func BenchmarkMountColdReadDiscord(b *testing.B) {
	srv, _ := emulatortest.Start(b, emulator.FastConfig())
	info := srv.Info()
	h := newBenchHome(b, buildBench(b))
	tok := filepath.Join(b.TempDir(), "token")
	os.WriteFile(tok, []byte(info.Token), 0o600)
	h.run("init", "--store", "discord", "--channel", info.ChannelID, "--discord-api", info.API,
		"--token-file", tok, "--kdf-memory", "8", "--kdf-time", "1")
	const size = 64 << 20
	src := filepath.Join(b.TempDir(), "movie")
	os.Mkdir(src, 0o755)
	writeRandom(b, filepath.Join(src, "movie.bin"), size)
	h.run("put", src)
	if err := srv.SetFaults(emulator.Faults{LatencyMS: 50}); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		os.RemoveAll(filepath.Join(h.dir, "cache"))
		h.run("mount", "--daemon", h.mnt)
		b.StartTimer()
		f, err := os.Open(filepath.Join(h.mnt, "movie", "movie.bin"))
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.CopyBuffer(io.Discard, f, buf)
		f.Close()
		if err != nil || n != size {
			b.Fatalf("read %d bytes: %v", n, err)
		}
		b.StopTimer()
		h.unmount()
	}
}
