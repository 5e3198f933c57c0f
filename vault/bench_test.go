package vault

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
)

// The benchmarks run on the local directory store, as `discofs put` does without Discord.

func newBenchVault(b *testing.B) *Vault {
	b.Helper()
	dir := b.TempDir()
	store, err := chunkstore.OpenDir(filepath.Join(dir, "store"), chunkstore.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	paths := HomePaths(filepath.Join(dir, "home"))
	opts := Options{Store: store, Catalog: RecordCatalog(store)}
	cfg, _, err := Init(context.Background(), paths, "dir:", nil, opts, "pass", fastKDF)
	if err != nil {
		b.Fatal(err)
	}
	master, _ := Unlock(cfg, "pass")
	v, err := Open(context.Background(), paths, cfg, master, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { v.Close() })
	return v
}

// writeCorpus writes size bytes in files of about 8 MiB: half random, half Go source, the
// kind of corpus v3.1's figures were measured on.
func writeCorpus(b *testing.B, dir string, size int64) {
	b.Helper()
	var source []byte
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		b.Fatal(err)
	}
	filepath.WalkDir(filepath.Join(strings.TrimSpace(string(goroot)), "src"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".go") && int64(len(source)) < size/2 {
			data, _ := os.ReadFile(p)
			source = append(source, data...)
		}
		return nil
	})
	if int64(len(source)) < size/2 {
		b.Skipf("not enough Go source for a %d-byte corpus", size)
	}
	rng := rand.New(rand.NewSource(1))
	random := make([]byte, size/2)
	rng.Read(random)
	const fileSize = 8 << 20
	write := func(kind string, data []byte) {
		for i := 0; len(data) > 0; i++ {
			n := min(len(data), fileSize)
			p := filepath.Join(dir, kind, fmt.Sprintf("%03d", i))
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, data[:n], 0o644); err != nil {
				b.Fatal(err)
			}
			data = data[n:]
		}
	}
	write("random", random)
	write("source", source[:size/2])
}

const corpusSize = 128 << 20

func BenchmarkPut(b *testing.B) {
	src := filepath.Join(b.TempDir(), "corpus")
	writeCorpus(b, src, corpusSize)
	b.SetBytes(corpusSize)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		v := newBenchVault(b)
		b.StartTimer()
		if _, err := v.Put(context.Background(), []string{src}, PutOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGet(b *testing.B) {
	src := filepath.Join(b.TempDir(), "corpus")
	writeCorpus(b, src, corpusSize)
	v := newBenchVault(b)
	a, err := v.Put(context.Background(), []string{src}, PutOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(corpusSize)
	b.ResetTimer()
	for i := range b.N {
		dest := filepath.Join(b.TempDir(), fmt.Sprint(i))
		if _, err := v.Get(context.Background(), a.ID, dest, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRePut reports how many bytes a second put of the same tree stores, as a
// percentage of the first.
func BenchmarkRePut(b *testing.B) {
	src := filepath.Join(b.TempDir(), "corpus")
	writeCorpus(b, src, 32<<20)
	v := newBenchVault(b)
	var first Progress
	if _, err := v.Put(context.Background(), []string{src}, PutOptions{Progress: &first}); err != nil {
		b.Fatal(err)
	}
	before, _ := v.Status()
	b.ResetTimer()
	for range b.N {
		if _, err := v.Put(context.Background(), []string{src}, PutOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	after, _ := v.Status()
	b.ReportMetric(float64(after.Stored-before.Stored)/float64(b.N)/float64(first.Stored.Load())*100, "%new")
}

// BenchmarkList100k lists the root of an archive holding 100,000 files.
func BenchmarkList100k(b *testing.B) {
	src := filepath.Join(b.TempDir(), "many")
	os.MkdirAll(src, 0o755)
	for i := range 100_000 {
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("f%06d", i)), []byte(fmt.Sprint(i)), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	v := newBenchVault(b)
	a, err := v.Put(context.Background(), []string{src}, PutOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		n := 0
		v.Index().Children(a.ID, "/", func(index.Node) error { n++; return nil })
		if n != 100_000 {
			b.Fatalf("listed %d files", n)
		}
	}
}

// BenchmarkStatus1000 reads the totals of a vault with 1,000 archives.
func BenchmarkStatus1000(b *testing.B) {
	v := newBenchVault(b)
	src := filepath.Join(b.TempDir(), "f.txt")
	os.WriteFile(src, []byte("one small file"), 0o644)
	start := time.Now()
	for i := range 1000 {
		if _, err := v.Put(context.Background(), []string{src}, PutOptions{Name: fmt.Sprint("a", i)}); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("1,000 puts took %v", time.Since(start))
	b.ResetTimer()
	for range b.N {
		s, err := v.Status()
		if err != nil || s.Archives != 1000 {
			b.Fatalf("status: %+v %v", s, err)
		}
	}
}

// BenchmarkReadAtRandom is the vault's side of a random 4 KiB read through the mount,
// without FUSE: a 256 MiB file of random bytes, so most reads miss the default memory
// cache and open a 64 KiB segment.
func BenchmarkReadAtRandom(b *testing.B) {
	const size = 256 << 20
	src := filepath.Join(b.TempDir(), "src")
	os.Mkdir(src, 0o755)
	data := make([]byte, size)
	rand.New(rand.NewSource(1)).Read(data)
	if err := os.WriteFile(filepath.Join(src, "file"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	v := newBenchVault(b)
	a, err := v.Put(context.Background(), []string{src}, PutOptions{})
	if err != nil {
		b.Fatal(err)
	}
	n, err := v.Index().GetNode(a.ID, "/file")
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewSource(2))
	buf := make([]byte, 4096)
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for range b.N {
		off := rng.Int63n(size/4096) * 4096
		if _, err := v.ReadAt(context.Background(), n, buf, off); err != nil {
			b.Fatal(err)
		}
	}
}
