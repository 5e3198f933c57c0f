package fs

// An fsx-style exerciser (after xfstests' fsx): seeded random writes, truncates, reads at
// random offsets and sizes, renames, reopens, unlinks, fallocates and fsyncs on a few files
// inside an archive of a writable mount, each step checked against an in-memory model. The
// run is cut into phases; between phases the mount is unmounted, the vault closed and
// opened again and mounted anew, sometimes after a sync (so committed data is read back
// from the store through a cold cache) and sometimes not (so the persisted queue resumes).
//
// The files are reached with raw system calls (open, pread, pwrite): no os.File, so the
// runtime never puts a descriptor of this process's own mount in its epoll set.

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/vault"
)

// reopenable is a vault that can be closed and opened again on the same store and state.
type reopenable struct {
	paths  vault.Paths
	cfg    *vault.Config
	master []byte
	opts   vault.Options
}

func newReopenable(t *testing.T) *reopenable {
	t.Helper()
	mem := chunkstore.NewMem(chunkstore.Limits{MaxObjectSize: 5 << 20})
	r := &reopenable{paths: vault.HomePaths(t.TempDir()),
		opts: vault.Options{Store: mem, Catalog: vault.RecordCatalog(mem),
			Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}}
	cfg, _, err := vault.Init(context.Background(), r.paths, "mem:", nil, r.opts, "pass", vault.KDFParams{Time: 1, Memory: 64, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	r.cfg = cfg
	if r.master, err = vault.Unlock(cfg, "pass"); err != nil {
		t.Fatal(err)
	}
	return r
}

// liveMount is one mount of a reopenable vault with its queue.
type liveMount struct {
	v   *vault.Vault
	wb  *vault.Writeback
	srv *fuse.Server
}

// mount opens the vault, resumes its queue and mounts it at dir.
func (r *reopenable) mount(t *testing.T, dir string) *liveMount {
	t.Helper()
	v, err := vault.Open(context.Background(), r.paths, r.cfg, r.master, r.opts)
	if err != nil {
		t.Fatal(err)
	}
	wb, err := v.StartWriteback(vault.WritebackOptions{Idle: 50 * time.Millisecond, Delay: time.Millisecond, MinBackoff: 10 * time.Millisecond})
	if err != nil {
		v.Close()
		t.Fatal(err)
	}
	srv, err := MountSource(dir, VaultSource{V: v}, MountOptions{Writer: wb})
	if err != nil {
		wb.Close()
		v.Close()
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount: %v", err)
		}
		t.Skipf("cannot mount FUSE here: %v", err)
	}
	return &liveMount{v: v, wb: wb, srv: srv}
}

// close unmounts, stops the queue (what is not committed stays queued) and closes the vault.
func (m *liveMount) close(t *testing.T) {
	t.Helper()
	if err := m.srv.Unmount(); err != nil {
		t.Errorf("unmount: %v", err)
	}
	m.wb.Close()
	if err := m.v.Close(); err != nil {
		t.Errorf("close vault: %v", err)
	}
}

// fsxFile is the model of one file: its bytes and the descriptor it is open on, if any.
type fsxFile struct {
	data []byte
	fd   int // -1: closed
	rw   bool
}

type fsx struct {
	t       *testing.T
	rng     *rand.Rand
	dir     string // the archive's directory in the mount
	names   map[string]*fsxFile
	maxSize int
	ops     int
	counts  map[string]int
	history []string // the latest steps, for a failure's message
}

// fsxNames are the paths the files move between; a few are in a subdirectory.
var fsxNames = []string{"f0", "f1", "f2", "f3", "f4", "d/f5", "d/f6"}

func (x *fsx) logf(format string, args ...any) {
	x.history = append(x.history, fmt.Sprintf("%6d ", x.ops)+fmt.Sprintf(format, args...))
	if os.Getenv("FSX_TRACE") != "" {
		fmt.Fprintln(os.Stderr, x.history[len(x.history)-1])
	}
	if len(x.history) > 40 {
		x.history = x.history[1:]
	}
}

func (x *fsx) fail(format string, args ...any) {
	x.t.Helper()
	x.t.Fatalf("after %d operations: %s\nlatest steps:\n%s", x.ops, fmt.Sprintf(format, args...), strings.Join(x.history, "\n"))
}

func (x *fsx) path(name string) string { return filepath.Join(x.dir, name) }

// open gives f a descriptor that can write (rw) or at least read.
func (x *fsx) open(name string, f *fsxFile, rw, trunc bool) {
	if f.fd >= 0 && (f.rw || !rw) && !trunc {
		return
	}
	x.closeFile(name, f)
	flags := unix.O_RDONLY
	if rw {
		flags = unix.O_RDWR
	}
	if trunc {
		flags |= unix.O_TRUNC
		f.data = f.data[:0]
	}
	fd, err := unix.Open(x.path(name), flags|unix.O_CLOEXEC, 0)
	if err != nil {
		x.fail("open %s (rw %v, trunc %v): %v", name, rw, trunc, err)
	}
	f.fd, f.rw = fd, rw || trunc
	x.logf("open %s rw=%v trunc=%v", name, rw, trunc)
}

func (x *fsx) closeFile(name string, f *fsxFile) {
	if f.fd < 0 {
		return
	}
	if err := unix.Close(f.fd); err != nil {
		x.fail("close %s: %v", name, err)
	}
	f.fd = -1
	x.logf("close %s", name)
}

// fileFor returns the file at name, making an empty one when there is none.
func (x *fsx) fileFor(name string) *fsxFile {
	if f := x.names[name]; f != nil {
		return f
	}
	fd, err := unix.Open(x.path(name), unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
	if err != nil {
		x.fail("create %s: %v", name, err)
	}
	f := &fsxFile{fd: fd, rw: true}
	x.names[name] = f
	x.logf("create %s", name)
	return f
}

// check reads [off, off+n) through f's descriptor and compares it with the model.
func (x *fsx) check(name string, f *fsxFile, off, n int) {
	x.t.Helper()
	buf := make([]byte, n)
	got := 0
	for got < n {
		k, err := unix.Pread(f.fd, buf[got:], int64(off+got))
		if err != nil {
			x.fail("pread %s [%d,+%d): %v", name, off+got, n-got, err)
		}
		if k == 0 {
			break
		}
		got += k
	}
	want := []byte{}
	if off < len(f.data) {
		want = f.data[off:min(off+n, len(f.data))]
	}
	if !bytes.Equal(buf[:got], want) {
		i := 0
		for i < got && i < len(want) && buf[i] == want[i] {
			i++
		}
		x.fail("read %s [%d,+%d): %d bytes, want %d; first difference at %d", name, off, n, got, len(want), off+i)
	}
}

// checkSize compares the file's size as fstat sees it with the model.
func (x *fsx) checkSize(name string, f *fsxFile) {
	x.t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(f.fd, &st); err != nil {
		x.fail("fstat %s: %v", name, err)
	}
	if st.Size != int64(len(f.data)) {
		x.fail("fstat %s: size %d, want %d", name, st.Size, len(f.data))
	}
}

// checkAll reads every file whole through a new descriptor.
func (x *fsx) checkAll() {
	x.t.Helper()
	for _, name := range x.sortedNames() {
		f := x.names[name]
		fd := f.fd
		f.fd = -1
		x.open(name, f, false, false)
		x.checkSize(name, f)
		x.check(name, f, 0, len(f.data)+1)
		x.closeFile(name, f)
		f.fd = fd
	}
	// Nothing else is in the archive.
	for _, d := range []string{x.dir, x.path("d")} {
		ents, err := os.ReadDir(d)
		if err != nil {
			x.fail("readdir: %v", err)
		}
		for _, e := range ents {
			rel, _ := filepath.Rel(x.dir, filepath.Join(d, e.Name()))
			if x.names[rel] == nil && rel != "d" {
				x.fail("%s is in the archive, not in the model", rel)
			}
		}
	}
}

func (x *fsx) sortedNames() []string {
	names := make([]string, 0, len(x.names))
	for n := range x.names {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// retire verifies and closes the descriptor of a file that left the tree while open.
func (x *fsx) retire(name string, f *fsxFile) {
	if f == nil || f.fd < 0 {
		return
	}
	x.check(name+" (unlinked)", f, 0, len(f.data)+1)
	x.closeFile(name+" (unlinked)", f)
}

// size picks a length: mostly small, sometimes up to a few hundred KiB.
func (x *fsx) size() int {
	switch r := x.rng.Intn(10); {
	case r < 6:
		return 1 + x.rng.Intn(4096)
	case r < 9:
		return 1 + x.rng.Intn(64<<10)
	}
	return 1 + x.rng.Intn(x.maxSize/3)
}

// offset picks a position in or a little past a file of n bytes.
func (x *fsx) offset(n int) int {
	if n == 0 || x.rng.Intn(8) == 0 {
		return x.rng.Intn(n + 70000)
	}
	return x.rng.Intn(n)
}

// step runs one random operation and checks its outcome.
func (x *fsx) step() {
	x.ops++
	name := fsxNames[x.rng.Intn(len(fsxNames))]
	r := x.rng.Intn(100)
	op := ""
	switch {
	case r < 30:
		op = "write"
		f := x.fileFor(name)
		x.open(name, f, true, false)
		off := x.offset(len(f.data))
		n := x.size()
		if off+n > x.maxSize {
			off = x.rng.Intn(x.maxSize / 2)
			n = min(n, x.maxSize-off)
		}
		data := make([]byte, n)
		x.rng.Read(data)
		x.logf("write %s [%d,+%d)", name, off, n)
		if k, err := unix.Pwrite(f.fd, data, int64(off)); err != nil || k != n {
			x.fail("pwrite %s [%d,+%d) = %d, %v", name, off, n, k, err)
		}
		if off+n > len(f.data) {
			f.data = append(f.data, make([]byte, off+n-len(f.data))...)
		}
		copy(f.data[off:], data)
		x.checkSize(name, f)
		x.check(name, f, max(0, off-100), n+200)
	case r < 58:
		op = "read"
		f := x.names[name]
		if f == nil {
			return
		}
		x.open(name, f, false, false)
		off, n := x.offset(len(f.data)), x.size()
		x.logf("read %s [%d,+%d)", name, off, n)
		x.check(name, f, off, n)
	case r < 66:
		op = "truncate"
		f := x.names[name]
		if f == nil {
			return
		}
		size := x.offset(len(f.data))
		if x.rng.Intn(6) == 0 {
			size = 0
		}
		size = min(size, x.maxSize)
		if f.fd >= 0 && f.rw && x.rng.Intn(2) == 0 {
			x.logf("ftruncate %s %d", name, size)
			if err := unix.Ftruncate(f.fd, int64(size)); err != nil {
				x.fail("ftruncate %s %d: %v", name, size, err)
			}
		} else {
			x.logf("truncate %s %d", name, size)
			if err := unix.Truncate(x.path(name), int64(size)); err != nil {
				x.fail("truncate %s %d: %v", name, size, err)
			}
		}
		if size > len(f.data) {
			f.data = append(f.data, make([]byte, size-len(f.data))...)
		}
		f.data = f.data[:size]
		x.open(name, f, false, false)
		x.checkSize(name, f)
		x.check(name, f, max(0, size-5000), 10000)
	case r < 72:
		op = "rename"
		f := x.names[name]
		to := fsxNames[x.rng.Intn(len(fsxNames))]
		if f == nil || to == name {
			return
		}
		x.logf("rename %s %s", name, to)
		if err := unix.Rename(x.path(name), x.path(to)); err != nil {
			x.fail("rename %s %s: %v", name, to, err)
		}
		old := x.names[to]
		x.names[to] = f
		delete(x.names, name)
		x.retire(to, old)
		if f.fd >= 0 {
			x.check(to, f, x.offset(len(f.data)), x.size())
		}
	case r < 82:
		op = "reopen"
		f := x.names[name]
		if f == nil {
			return
		}
		x.closeFile(name, f)
		switch x.rng.Intn(4) {
		case 0:
			x.open(name, f, true, true)
		case 1:
			x.open(name, f, true, false)
		default:
			x.open(name, f, false, false)
		}
		x.checkSize(name, f)
		x.check(name, f, x.offset(len(f.data)), x.size())
	case r < 88:
		op = "close"
		if f := x.names[name]; f != nil {
			x.closeFile(name, f)
		}
	case r < 91:
		op = "unlink"
		f := x.names[name]
		if f == nil {
			return
		}
		x.logf("unlink %s", name)
		if err := unix.Unlink(x.path(name)); err != nil {
			x.fail("unlink %s: %v", name, err)
		}
		delete(x.names, name)
		if err := unix.Access(x.path(name), unix.F_OK); err != unix.ENOENT {
			x.fail("%s after unlink: %v", name, err)
		}
		x.retire(name, f)
	case r < 94:
		op = "fallocate"
		f := x.fileFor(name)
		x.open(name, f, true, false)
		off, n := x.offset(len(f.data)), x.size()
		if off+n > x.maxSize {
			off, n = 0, min(n, x.maxSize)
		}
		mode := uint32(0)
		if x.rng.Intn(2) == 0 {
			mode = unix.FALLOC_FL_KEEP_SIZE
		}
		x.logf("fallocate %s mode %d [%d,+%d)", name, mode, off, n)
		if err := unix.Fallocate(f.fd, mode, int64(off), int64(n)); err != nil {
			x.fail("fallocate %s [%d,+%d): %v", name, off, n, err)
		}
		if mode == 0 && off+n > len(f.data) {
			f.data = append(f.data, make([]byte, off+n-len(f.data))...)
		}
		x.checkSize(name, f)
	case r < 96:
		op = "fsync"
		f := x.names[name]
		if f == nil {
			return
		}
		x.open(name, f, true, false)
		x.logf("fsync %s", name)
		if err := unix.Fsync(f.fd); err != nil {
			x.fail("fsync %s: %v", name, err)
		}
		x.check(name, f, 0, len(f.data)+1)
	default:
		op = "stat"
		f := x.names[name]
		var st unix.Stat_t
		err := unix.Stat(x.path(name), &st)
		switch {
		case f == nil && err != unix.ENOENT:
			x.fail("stat of missing %s: %v", name, err)
		case f != nil && err != nil:
			x.fail("stat %s: %v", name, err)
		case f != nil && st.Size != int64(len(f.data)):
			x.fail("stat %s: size %d, want %d", name, st.Size, len(f.data))
		}
	}
	x.counts[op]++
}

// closeAll closes every descriptor, so the files enter the queue.
func (x *fsx) closeAll() {
	for _, name := range x.sortedNames() {
		x.closeFile(name, x.names[name])
	}
}

// TestFsx runs the exerciser: a few thousand operations, or 100,000 with DISCOFS_LONG=1.
// DISCOFS_FSX_SEED repeats a run; FSX_TRACE=1 prints every step as it runs.
func TestFsx(t *testing.T) {
	ops, phases, maxSize := 3000, 3, 1<<20
	if os.Getenv("DISCOFS_LONG") == "1" {
		ops, phases, maxSize = 100000, 20, 4<<20
	}
	seed := time.Now().UnixNano()
	if s := os.Getenv("DISCOFS_FSX_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("seed %d (DISCOFS_FSX_SEED=%d repeats this run)", seed, seed)

	r := newReopenable(t)
	dir := t.TempDir()
	m := r.mount(t, dir)
	defer func() {
		if m != nil {
			m.close(t)
		}
	}()
	x := &fsx{t: t, rng: rand.New(rand.NewSource(seed)), dir: filepath.Join(dir, "fsx"),
		names: map[string]*fsxFile{}, maxSize: maxSize, counts: map[string]int{}}
	if err := os.Mkdir(x.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(x.path("d"), 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for phase := range phases {
		for range ops / phases {
			x.step()
		}
		x.checkAll()
		x.closeAll()
		synced := x.rng.Intn(3) != 0
		if synced {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			err := m.wb.Sync(ctx)
			cancel()
			if err != nil {
				x.fail("sync: %v", err)
			}
		}
		spool := m.wb.SpoolDir()
		m.close(t)
		m = nil
		if synced {
			// Nothing is queued: every byte read next comes from the store.
			if names, _ := vault.SpoolFiles(spool); len(names) > 0 {
				t.Errorf("phase %d: spool files %v left after a sync", phase, names)
			}
			os.RemoveAll(r.paths.Cache)
		}
		x.logf("remount (synced %v)", synced)
		m = r.mount(t, dir)
		x.checkAll()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := m.wb.Sync(ctx); err != nil {
		x.fail("final sync: %v", err)
	}
	x.checkAll()
	t.Logf("%d operations in %d phases in %v: %v", x.ops, phases, time.Since(start).Round(time.Millisecond), x.counts)
}
