package fs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/vault"
)

// mountWritable mounts v with a writeback queue; the queue closes after the unmount.
func mountWritable(t testing.TB, v *vault.Vault, opts ...func(*MountOptions)) (string, *vault.Writeback) {
	t.Helper()
	wb, err := v.StartWriteback(vault.WritebackOptions{Idle: 50 * time.Millisecond, Delay: time.Millisecond, MinBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mo := MountOptions{Writer: wb}
	for _, o := range opts {
		o(&mo)
	}
	srv, err := MountSource(dir, VaultSource{V: v}, mo)
	if err != nil {
		wb.Close()
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount: %v", err)
		}
		t.Skipf("cannot mount FUSE here: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
		wb.Close()
	})
	return dir, wb
}

func xattr(t *testing.T, p, name string) string {
	t.Helper()
	buf := make([]byte, 64)
	n, err := unix.Getxattr(p, name, buf)
	if err != nil {
		t.Fatalf("getxattr %s %s: %v", p, name, err)
	}
	return string(buf[:n])
}

func TestMountWritesCommitAndSurviveRemount(t *testing.T) {
	v, _ := testVault(t)
	putTree(t, v, "old")
	mnt, wb := mountWritable(t, v)
	arch := filepath.Join(mnt, "new")
	if err := os.Mkdir(arch, 0o755); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	makeTree(t, src)
	makeTree(t, arch) // the same seed, written through the mount
	copyTimes(t, src, arch)
	sameTree(t, src, arch)
	if st := xattr(t, filepath.Join(arch, "big.bin"), XattrState); st != "queued" && st != "uploading" && st != "committed" {
		t.Fatalf("state after close = %q", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := wb.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if st := xattr(t, filepath.Join(arch, "big.bin"), XattrState); st != "committed" {
		t.Fatalf("state after sync = %q", st)
	}
	sameTree(t, src, arch)

	// Copy-up: append to a committed file, then rename and chmod.
	f, err := os.OpenFile(filepath.Join(arch, "text", "notes.txt"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st := xattr(t, filepath.Join(arch, "text", "notes.txt"), XattrState); st != "local" {
		t.Fatalf("state while open = %q", st)
	}
	f.Write([]byte("appended\n"))
	f.Close()
	want, _ := os.ReadFile(filepath.Join(src, "text", "notes.txt"))
	want = append(want, "appended\n"...)
	if err := os.Rename(filepath.Join(arch, "text"), filepath.Join(arch, "prose")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(arch, "prose", "notes.txt"), 0o611); err != nil {
		t.Fatal(err)
	}
	if err := wb.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(arch, "prose", "notes.txt")); !bytes.Equal(got, want) {
		t.Fatal("copy-up content differs")
	}

	// What is not supported says so.
	checks := map[string]struct {
		err  error
		want syscall.Errno
	}{
		"rename across archives": {os.Rename(filepath.Join(arch, "big.bin"), filepath.Join(mnt, "old", "big2")), syscall.EXDEV},
		"hard link":              {os.Link(filepath.Join(arch, "big.bin"), filepath.Join(arch, "l2")), syscall.EPERM},
		"fifo":                   {unix.Mkfifo(filepath.Join(arch, "fifo"), 0o644), syscall.EPERM},
		"file at the root":       {os.WriteFile(filepath.Join(mnt, "f"), nil, 0o644), syscall.EPERM},
		"rmdir full":             {os.Remove(filepath.Join(arch, "prose")), syscall.ENOTEMPTY},
		"setxattr":               {unix.Setxattr(filepath.Join(arch, "big.bin"), "user.x", []byte("y"), 0), syscall.ENOTSUP},
	}
	for what, c := range checks {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: %v, want %v", what, c.err, c.want)
		}
	}

	// A fresh mount of the same vault shows the committed tree.
	mnt2 := mount(t, VaultSource{V: v})
	if got, _ := os.ReadFile(filepath.Join(mnt2, "new", "prose", "notes.txt")); !bytes.Equal(got, want) {
		t.Fatal("remounted content differs")
	}
	os.Rename(filepath.Join(src, "text"), filepath.Join(src, "prose"))
	os.WriteFile(filepath.Join(src, "prose", "notes.txt"), want, 0o611)
	os.Chmod(filepath.Join(src, "prose", "notes.txt"), 0o611)
	info, _ := os.Stat(filepath.Join(mnt2, "new", "prose", "notes.txt"))
	os.Chtimes(filepath.Join(src, "prose", "notes.txt"), info.ModTime(), info.ModTime())
	// Directory times do not follow changes inside them (see the package comment).
	info, _ = os.Stat(filepath.Join(mnt2, "new"))
	os.Chtimes(src, info.ModTime(), info.ModTime())
	sameTree(t, src, filepath.Join(mnt2, "new"))
}

func TestMountFullSpoolIsENOSPC(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	v, _ := testVault(t)
	mnt, wb := mountWritable(t, v)
	spool := wb.SpoolDir()
	if err := unix.Mount("tmpfs", spool, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(spool, unix.MNT_DETACH) })
	arch := filepath.Join(mnt, "a")
	if err := os.Mkdir(arch, 0o755); err != nil {
		t.Fatal(err)
	}
	err := os.WriteFile(filepath.Join(arch, "huge"), make([]byte, 4<<20), 0o644)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("writing past a full spool = %v, want ENOSPC", err)
	}
}

// copyTimes gives every entry under dst the mtime of its twin under src, deepest first
// so a directory's time is set after what is inside it changed.
func copyTimes(t *testing.T, src, dst string) {
	t.Helper()
	var rels []string
	filepath.Walk(src, func(p string, _ os.FileInfo, err error) error {
		rel, _ := filepath.Rel(src, p)
		rels = append(rels, rel)
		return err
	})
	for i := len(rels) - 1; i >= 0; i-- {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(src, rels[i]), &st); err != nil {
			t.Fatal(err)
		}
		ts := []unix.Timespec{st.Atim, st.Mtim}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(dst, rels[i]), ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			t.Fatal(err)
		}
	}
}

// The kernel keeps a file's pages across opens, and reading handles skip the index while
// no file has left the queue: neither may ever serve old bytes. Readers hammer a committed
// file with small reads while it is rewritten and committed again and again, and then the
// kernel's view and a fresh read both match what was written.
func TestReadsWhileRewritingSeeWhatWasWritten(t *testing.T) {
	p, want, wb := mountCommittedFile(t, 3<<20, 5)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(r)))
			buf := make([]byte, 4096)
			for {
				select {
				case <-stop:
					return
				default:
				}
				f, err := os.Open(p)
				if err != nil {
					continue
				}
				for range 50 {
					f.ReadAt(buf, rng.Int63n(int64(len(want))-4096))
				}
				f.Close()
			}
		}()
	}
	rng := rand.New(rand.NewSource(9))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for range 15 {
		patch := make([]byte, 1+rng.Intn(20000))
		rng.Read(patch)
		off := rng.Int63n(int64(len(want) - len(patch)))
		copy(want[off:], patch)
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt(patch, off); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if err := wb.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the kernel's view differs from what was written (%v)", err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	if got, err := io.ReadAll(f); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("a fresh read differs from what was written (%v)", err)
	}
}

// A handle opened only for writing passes its writes straight to the mount, past the
// kernel's page cache; the kernel drops the pages a write covers, so a reader that holds
// them cached, on a handle opened before, reads the new bytes.
func TestWriteOnlyHandlesKeepCachedReadersCoherent(t *testing.T) {
	p, want, _ := mountCommittedFile(t, 1<<20, 6)
	r, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("first read: %v", err)
	}
	w, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	patch := bytes.Repeat([]byte("new!"), 3000)
	if _, err := w.WriteAt(patch, 5000); err != nil {
		t.Fatal(err)
	}
	copy(want[5000:], patch)
	got := make([]byte, len(want))
	if _, err := r.ReadAt(got, 0); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("a reader's cached pages hide a write made while the writer is open (%v)", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadAt(got, 0); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("a reader's cached pages hide a write after the writer closed (%v)", err)
	}
}

// TestWriteOnlyHandlesBypassThePageCache: what a handle open only for writing writes goes
// to the spool without a copy into the kernel's page cache, which nothing would read.
func TestWriteOnlyHandlesBypassThePageCache(t *testing.T) {
	v, _ := testVault(t)
	putFile(t, v, 4096, 7)
	// (Passed-through writes bypass the page cache too, and the reader below would be
	// passed through to the spool file's while the writer's close is on its way.)
	mnt, _ := mountWritable(t, v, func(o *MountOptions) { o.NoPassthrough = true })
	p := filepath.Join(mnt, "a", "new")
	data := make([]byte, 1<<20)
	rand.New(rand.NewSource(8)).Read(data)
	if err := os.WriteFile(p, data, 0o644); err != nil { // O_WRONLY|O_CREATE|O_TRUNC
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	resident := func() int { return cachedPages(pageCache(t, f, len(data))) }
	if n := resident(); n != 0 {
		t.Errorf("%d of %d pages of a file written through a write-only handle are in the page cache", n, len(data)/os.Getpagesize())
	}
	// The check can fail: reading the file brings its pages in.
	if got, err := io.ReadAll(f); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back: %v", err)
	}
	if resident() == 0 {
		t.Error("mincore sees no page of a file just read")
	}
}

// pageCache says which of the first size bytes' pages of f the kernel has cached
// (mincore(2) on a mapping of it).
func pageCache(t *testing.T, f *os.File, size int) []bool {
	t.Helper()
	m, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	vec := make([]byte, (size+os.Getpagesize()-1)/os.Getpagesize())
	_, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0])))
	if e != 0 {
		t.Fatal(e)
	}
	in := make([]bool, len(vec))
	for i, v := range vec {
		in[i] = v&1 != 0
	}
	return in
}

// cachedPages counts the cached pages pageCache found.
func cachedPages(in []bool) int {
	n := 0
	for _, c := range in {
		if c {
			n++
		}
	}
	return n
}

// mountCommittedFile archives one file of size random bytes (from seed) as archive "a",
// mounts the vault writable and returns the file's path in the mount and its bytes.
func mountCommittedFile(t *testing.T, size int, seed int64) (string, []byte, *vault.Writeback) {
	t.Helper()
	v, _ := testVault(t)
	want := putFile(t, v, size, seed)
	mnt, wb := mountWritable(t, v)
	return filepath.Join(mnt, "a", "f"), want, wb
}

// mountNewArchive mounts v writable, makes archive "a" through the mount and returns the
// path of a file "f" in it, not made yet.
func mountNewArchive(t *testing.T, v *vault.Vault) (string, *vault.Writeback) {
	t.Helper()
	mnt, wb := mountWritable(t, v)
	if err := os.Mkdir(filepath.Join(mnt, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(mnt, "a", "f"), wb
}

// putFile archives one file "f" of size random bytes (from seed) as archive "a" and
// returns its bytes.
func putFile(t *testing.T, v *vault.Vault, size int, seed int64) []byte {
	t.Helper()
	src := filepath.Join(t.TempDir(), "a")
	os.Mkdir(src, 0o755)
	want := make([]byte, size)
	rand.New(rand.NewSource(seed)).Read(want)
	os.WriteFile(filepath.Join(src, "f"), want, 0o644)
	if _, err := v.Put(context.Background(), []string{src}, vault.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	return want
}

// TestOverwriteFetchesNothing: writing over a committed file with O_TRUNC (cp, a shell's
// >) never fetches its old bytes. The kernel passes O_TRUNC with the open instead of
// opening (a copy-up that downloads the file) and truncating after.
func TestOverwriteFetchesNothing(t *testing.T) {
	v, fault := testVault(t)
	putFile(t, v, 3<<20, 11)
	mnt, _ := mountWritable(t, v)
	fault.Add(chunkstore.Fault{Op: chunkstore.OpLoad, Action: chunkstore.FaultFail, Times: -1,
		Err: chunkstore.Classify(chunkstore.Permanent, errors.New("the test allows no load"))})
	p := filepath.Join(mnt, "a", "f")
	data := []byte("new bytes")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatalf("overwriting a committed file whose bytes cannot be fetched: %v", err)
	}
	if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %q, %v; want %q", got, err, data)
	}
}

// TestInterruptedFsyncIsEINTR: a signal to a thread waiting in fsync (Go's runtime sends
// them to preempt goroutines) ends the wait with EINTR, not EIO, and the upload goes on.
func TestInterruptedFsyncIsEINTR(t *testing.T) {
	v, fault := testVault(t)
	p, wb := mountNewArchive(t, v)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data := []byte("written before the fsync")
	f.Write(data)
	fault.Add(chunkstore.Fault{Op: chunkstore.OpPut, Action: chunkstore.FaultDelay, Delay: time.Second, Times: -1})
	tids, errs := make(chan int, 1), make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tids <- unix.Gettid()
		errs <- unix.Fsync(int(f.Fd())) // not f.Sync, which tries again on EINTR
	}()
	tid := <-tids
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-errs:
			if err != unix.EINTR {
				t.Fatalf("fsync interrupted by signals: %v, want EINTR", err)
			}
			f.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := wb.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("after the interrupted fsync: %q, %v", got, err)
			}
			return
		case <-tick.C:
			unix.Tgkill(unix.Getpid(), tid, unix.SIGURG)
		}
	}
}

// TestClosesDoNotFlush: the kernel is told at the first close that flushes are not
// implemented and sends no more, while files written and closed still commit whole.
func TestClosesDoNotFlush(t *testing.T) {
	v, _ := testVault(t)
	p, wb := mountNewArchive(t, v)
	before := flushRequests.Load()
	var want [][]byte
	for i := range 5 {
		want = append(want, randomBytes(10_000+i, int64(i)))
		if err := os.WriteFile(fmt.Sprint(p, i), want[i], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := wb.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if got := readAll(t, fmt.Sprint(p, i)); !bytes.Equal(got, want[i]) {
			t.Fatalf("file %d reads back %d bytes, not the %d written", i, len(got), len(want[i]))
		}
	}
	if n := flushRequests.Load() - before; n > 1 {
		t.Errorf("10 closes sent %d flushes to discofs; want at most the first", n)
	}
}

// TestOpensDoNotWaitForACopyUp: while an open for writing fetches a committed file into
// the spool (held up here for 3 s), another open of the file returns at once.
func TestOpensDoNotWaitForACopyUp(t *testing.T) {
	v, fault := testVault(t)
	want := putFile(t, v, 100_000, 12)
	mnt, _ := mountWritable(t, v)
	p := filepath.Join(mnt, "a", "f")
	const hold = 3 * time.Second
	fault.Add(chunkstore.Fault{Op: chunkstore.OpLoad, Action: chunkstore.FaultDelay, Delay: hold})
	writer := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err == nil {
			f.Close()
		}
		writer <- err
	}()
	for len(fault.Unexercised()) > 0 {
		time.Sleep(time.Millisecond) // until the copy-up is fetching
	}
	fetching := time.Now()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if waited := time.Since(fetching); waited > hold/2 {
		t.Errorf("a read-only open waited %v, for the copy-up of the file", waited)
	}
	if err := <-writer; err != nil {
		t.Fatalf("open for writing: %v", err)
	}
	if got := readAll(t, p); !bytes.Equal(got, want) {
		t.Fatal("the file reads back other bytes after the copy-up")
	}
}
