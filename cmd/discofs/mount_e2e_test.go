package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/discofs/discofs/vault"
)

// startMount runs `discofs mount` and waits for its ready line. A mount that cannot start
// fails the test in CI and skips it elsewhere.
func (c *cli) startMount(mnt string, extra ...string) *daemon {
	c.t.Helper()
	d, ok := c.startDaemon("mounted at ", append(append([]string{"mount"}, extra...), mnt)...)
	if ok {
		return d
	}
	if os.Getenv("CI") == "true" {
		c.t.Fatalf("mount did not start:\n%s", d.Log())
	}
	c.t.Skipf("cannot mount here:\n%s", d.Log())
	return nil
}

// TestMountSurvivesSIGKILL copies files into a mount and kills it with SIGKILL at random
// moments, several times; after a restart and `discofs sync`, every file closed before a
// kill is committed byte for byte, and nothing shows content that was never written.
func TestMountSurvivesSIGKILL(t *testing.T) {
	c := newCLI(t)
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	seed := rng.Int63()
	t.Logf("seed %d", seed)
	rng = rand.New(rand.NewSource(seed))
	want := map[string][]byte{}
	var names []string
	for i := range 80 {
		name := fmt.Sprintf("d%d/f%03d", i%5, i)
		b := make([]byte, rng.Intn(600<<10))
		rng.Read(b)
		want[name] = b
		names = append(names, name)
	}
	mnt := t.TempDir()
	closed := map[string]bool{}
	next := 0
	for round := 0; round < 4 && next < len(names); round++ {
		m := c.startMount(mnt)
		arch := filepath.Join(mnt, "copy")
		if round == 0 {
			if err := os.Mkdir(arch, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		var killed atomic.Bool
		done := make(chan struct{})
		go func() {
			defer close(done)
			for ; next < len(names); next++ {
				p := filepath.Join(arch, names[next])
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, want[names[next]], 0o644); err != nil {
					return
				}
				if killed.Load() {
					return
				}
				closed[names[next]] = true
			}
		}()
		time.Sleep(time.Duration(100+rng.Intn(700)) * time.Millisecond)
		killed.Store(true)
		m.Process.Signal(syscall.SIGKILL)
		m.Wait()
		<-done
		syscall.Unmount(mnt, syscall.MNT_DETACH)
		t.Logf("round %d: %d files closed before the kill", round, len(closed))
	}
	c.ok("sync", "--timeout", "60s")

	m := c.startMount(mnt)
	defer func() {
		m.Process.Signal(syscall.SIGINT)
		m.Wait()
	}()
	st := c.ok("status")
	if !strings.Contains(st.stdout, "queue     0 files") {
		t.Errorf("status of a synced mount:\n%s", st.stdout)
	}
	c.ok("sync", "--timeout", "30s") // through the control socket
	for _, name := range names {
		got, err := os.ReadFile(filepath.Join(mnt, "copy", name))
		switch {
		case closed[name] && err != nil:
			t.Errorf("%s was closed before a kill and is gone: %v", name, err)
		case closed[name] && !bytes.Equal(got, want[name]):
			t.Errorf("%s differs: %d bytes, want %d", name, len(got), len(want[name]))
		case err == nil && !bytes.HasPrefix(want[name], got):
			t.Errorf("%s shows %d bytes that were never written", name, len(got))
		}
		if err == nil {
			buf := make([]byte, 32)
			n, _ := syscall.Getxattr(filepath.Join(mnt, "copy", name), "user.discofs.state", buf)
			if s := string(buf[:n]); s != "committed" {
				t.Errorf("%s is %q after sync", name, s)
			}
		}
	}
}

// TestMountKeepsNoDescriptors runs rounds of copy-in, sync and reads through a subprocess
// mount and counts the mount process's open descriptors after each: after a first round
// has warmed every pool and cache, the count must not grow.
func TestMountKeepsNoDescriptors(t *testing.T) {
	c := newCLI(t)
	mnt := t.TempDir()
	m := c.startMount(mnt)
	defer func() {
		m.Process.Signal(syscall.SIGINT)
		m.Wait()
	}()
	arch := filepath.Join(mnt, "fds")
	if err := os.Mkdir(arch, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	// Descriptors into the index are left out: badger opens table files as the index grows;
	// so are the local store's pack files, a bounded number of which it keeps open for reads.
	index := filepath.Join(c.home, "index") + "/"
	packs := filepath.Join(c.home, "store", "packs") + "/"
	fds := func() int {
		dir := fmt.Sprintf("/proc/%d/fd", m.Process.Pid)
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range ents {
			if target, _ := os.Readlink(filepath.Join(dir, e.Name())); !strings.HasPrefix(target, index) && !strings.HasPrefix(target, packs) {
				n++
			}
		}
		return n
	}
	round := func(r int) {
		want := map[string][]byte{}
		for i := range 20 {
			name := filepath.Join(arch, fmt.Sprintf("r%d", r), fmt.Sprintf("f%02d", i))
			b := make([]byte, rng.Intn(300<<10))
			rng.Read(b)
			os.MkdirAll(filepath.Dir(name), 0o755)
			if err := os.WriteFile(name, b, 0o644); err != nil {
				t.Fatal(err)
			}
			want[name] = b
		}
		c.ok("sync", "--timeout", "60s")
		for name, b := range want {
			got, err := os.ReadFile(name)
			if err != nil || !bytes.Equal(got, b) {
				t.Fatalf("%s: %d bytes, %v; want %d", name, len(got), err, len(b))
			}
		}
	}
	round(0)
	before := fds()
	for r := 1; r <= 2; r++ {
		round(r)
	}
	// Each round opens, writes and reads 20 files: a leak per file, connection or upload
	// shows as tens of descriptors. A few come and go with the runtime's own work (timers,
	// connections of the last sync closing), so a handful of slack is allowed.
	const slack = 4
	after := fds()
	for deadline := time.Now().Add(5 * time.Second); after > before+slack && time.Now().Before(deadline); after = fds() {
		time.Sleep(100 * time.Millisecond)
	}
	if after > before+slack {
		t.Errorf("the mount process holds %d descriptors after more rounds, %d after the first", after, before)
	}
	t.Logf("descriptors: %d after the first round, %d after two more", before, fds())
}

// TestStatusOfARunningMount: a mount holds the index, so `discofs status` asks it, for the
// vault's totals and its queue; a read-only mount, which has no queue, answers too.
func TestStatusOfARunningMount(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "photos")
	writeTree(t, src)
	c.ok("put", src)
	mnt := t.TempDir()
	for _, extra := range [][]string{nil, {"--read-only"}} {
		m := c.startMount(mnt, extra...)
		text := c.ok("status").stdout
		for _, want := range []string{"archives  1\n", "mounted   yes\n"} {
			if !strings.Contains(text, want) {
				t.Errorf("status of a mount %v lacks %q:\n%s", extra, want, text)
			}
		}
		if queued := strings.Contains(text, "queue "); queued != (extra == nil) {
			t.Errorf("status of a mount %v shows a queue: %v\n%s", extra, queued, text)
		}
		var st struct {
			Archives int
			Mounted  bool
			Queue    *vault.WritebackStatus
		}
		if err := json.Unmarshal([]byte(c.ok("status", "--json").stdout), &st); err != nil ||
			st.Archives != 1 || !st.Mounted || (st.Queue != nil) != (extra == nil) {
			t.Errorf("status --json of a mount %v: %+v, %v", extra, st, err)
		}
		c.ok("sync", "--timeout", "30s")
		m.Process.Signal(syscall.SIGINT)
		if err := m.Wait(); err != nil {
			t.Fatalf("unmount: %v\n%s", err, m.Log())
		}
	}
}
