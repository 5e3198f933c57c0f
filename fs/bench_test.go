package fs

import (
	"bytes"
	"context"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/vault"
	"github.com/discofs/discofs/vault/vaulttest"
)

// benchVault opens a vault on a local directory store holding one archive "bench" with
// one file of size random bytes, and returns the file's path inside a writable mount.
func benchMount(b *testing.B, size int) (string, *vault.Vault) {
	b.Helper()
	store, err := chunkstore.OpenDir(b.TempDir(), chunkstore.Limits{MaxObjectSize: 8 << 20})
	if err != nil {
		b.Fatal(err)
	}
	paths := vault.HomePaths(b.TempDir())
	opts := vault.Options{Store: store, Catalog: vault.RecordCatalog(store)}
	ctx := context.Background()
	cfg, _, err := vault.Init(ctx, paths, "dir:", nil, opts, "pass", vault.KDFParams{Time: 1, Memory: 64, Threads: 1})
	if err != nil {
		b.Fatal(err)
	}
	master, err := vault.Unlock(cfg, "pass")
	if err != nil {
		b.Fatal(err)
	}
	v, err := vault.Open(ctx, paths, cfg, master, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { v.Close() })
	src := filepath.Join(b.TempDir(), "bench")
	os.Mkdir(src, 0o755)
	data := make([]byte, size)
	rand.New(rand.NewSource(1)).Read(data)
	if err := os.WriteFile(filepath.Join(src, "file"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	if _, err := v.Put(ctx, []string{src}, vault.PutOptions{}); err != nil {
		b.Fatal(err)
	}
	mnt, _ := mountWritable(b, v)
	p := filepath.Join(mnt, "bench", "file")
	got, err := os.ReadFile(p)
	if err != nil || !bytes.Equal(got, data) {
		b.Fatalf("the mounted file differs: %v", err)
	}
	return p, v
}

// dropPages drops the kernel's cached pages of a file, so the next read reaches discofs.
func dropPages(b *testing.B, f *os.File) {
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkMountRead reads a committed file through a real mount with the kernel's page
// cache dropped before each pass, as fio does before each job: sequential 1 MiB reads,
// and 4 KiB reads at random offsets. The store is a local directory whose files the OS
// has cached, as in a warm run of fio.
func BenchmarkMountRead(b *testing.B) {
	const size = 256 << 20
	p, v := benchMount(b, size)
	f, err := os.Open(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.Run("sequential", func(b *testing.B) {
		buf := make([]byte, 1<<20)
		b.SetBytes(size)
		for range b.N {
			dropPages(b, f)
			// Not io.Copy: io.Discard would read through a buffer of its own, 8 KiB.
			for off := int64(0); off < size; off += int64(len(buf)) {
				if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("random4k", func(b *testing.B) {
		buf := make([]byte, 4096)
		rng := rand.New(rand.NewSource(2))
		dropPages(b, f)
		// As fio does for random reads, so the kernel reads no more than asked.
		unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_RANDOM)
		defer unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_NORMAL)
		var lat []time.Duration
		_, misses0 := v.ReadCacheStats()
		b.ResetTimer()
		for range b.N {
			off := rng.Int63n(size/4096) * 4096
			t0 := time.Now()
			if _, err := f.ReadAt(buf, off); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		b.StopTimer()
		b.ReportMetric(float64(percentile(lat, 99).Microseconds()), "p99-µs")
		_, misses := v.ReadCacheStats()
		b.ReportMetric(float64(misses-misses0)/float64(b.N), "misses/op")
	})
}

func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}

// BenchmarkMountListRecursive runs ls -lR over an archive of 100,000 files in 100 folders,
// on a fresh mount each time so no listing comes from the kernel's caches.
func BenchmarkMountListRecursive(b *testing.B) {
	src := filepath.Join(b.TempDir(), "many")
	vaulttest.ManyFiles(b, src, 100, 1000)
	v, _ := testVault(b)
	if _, err := v.Put(context.Background(), []string{src}, vault.PutOptions{}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		mnt := mount(b, VaultSource{V: v})
		b.StartTimer()
		out, err := exec.Command("ls", "-lR", mnt).Output()
		if err != nil {
			b.Fatal(err)
		}
		if lines := bytes.Count(out, []byte("\n")); lines < 100_000 {
			b.Fatalf("ls -lR printed %d lines", lines)
		}
	}
}
