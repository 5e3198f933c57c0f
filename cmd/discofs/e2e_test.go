package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// The end-to-end tests run the real binary, as a user would.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "discofs-e2e-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "discofs")
	build := exec.Command("go", "build", "-race", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("build: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type cli struct {
	t    *testing.T
	home string
	pass string
	env  []string // more environment for daemons (startDaemon)
}

type result struct {
	stdout, stderr string
	code           int
}

func newCLI(t *testing.T) *cli {
	c := &cli{t: t, home: t.TempDir(), pass: "correct horse battery staple"}
	c.ok("init", "--kdf-memory", "8", "--kdf-time", "1")
	return c
}

func (c *cli) run(args ...string) result {
	c.t.Helper()
	return c.runBinary(binary, args...)
}

// runBinary runs the binary at path (discofs under another name) as run does.
func (c *cli) runBinary(path string, args ...string) result {
	c.t.Helper()
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), "DISCOFS_HOME="+c.home, "DISCOFS_PASSPHRASE="+c.pass)
	r := runCmd(c.t, cmd)
	if c.pass != "" && strings.Contains(r.stdout+r.stderr, c.pass) {
		c.t.Fatalf("discofs %v printed the passphrase", args)
	}
	return r
}

func (c *cli) ok(args ...string) result {
	c.t.Helper()
	r := c.run(args...)
	if r.code != 0 {
		c.t.Fatalf("discofs %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// fails runs a command that must fail with code and a one-line error.
func (c *cli) fails(code int, args ...string) result {
	c.t.Helper()
	r := c.run(args...)
	if r.code != code {
		c.t.Fatalf("discofs %s: exit %d, want %d\n%s%s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	if r.stderr == "" || strings.Count(strings.TrimSuffix(r.stderr, "\n"), "\n") > 0 {
		c.t.Fatalf("discofs %s: the error is not one line:\n%s", strings.Join(args, " "), r.stderr)
	}
	return r
}

// importProblems are the lines import-legacy lists its notes and failed archives on.
var importProblems = []string{"discofs import-legacy: "}

// reports runs a command that must fail with exit 1 after listing what it found: each
// line of stderr but the last begins with one of prefixes, and the last is one line
// saying what failed.
func (c *cli) reports(prefixes []string, args ...string) result {
	c.t.Helper()
	r := c.run(args...)
	if r.code != exitFailure {
		c.t.Fatalf("discofs %s: exit %d, want %d\n%s%s", strings.Join(args, " "), r.code, exitFailure, r.stdout, r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "discofs "+args[0]+": ") {
		c.t.Fatalf("discofs %s: the last line is not the error: %q", strings.Join(args, " "), last)
	}
	for _, l := range lines[:len(lines)-1] {
		if !slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(l, p) }) {
			c.t.Fatalf("discofs %s: %q is neither a listed item nor the error:\n%s", strings.Join(args, " "), l, r.stderr)
		}
	}
	return r
}

var idLine = regexp.MustCompile(`^#\d{6}-\d{2,}$`)

func (c *cli) put(args ...string) string {
	c.t.Helper()
	r := c.ok(append([]string{"put"}, args...)...)
	id := lastLineOf(r.stdout)
	if !idLine.MatchString(id) {
		c.t.Fatalf("put's last line is %q, not an archive ID", id)
	}
	return id
}

func writeTree(t *testing.T, dir string) {
	t.Helper()
	rng := rand.New(rand.NewSource(42))
	files := map[string]int{"a.bin": 5<<20 + 17, "docs/readme.md": 3000, "docs/empty.txt": 0, "x/y/z.dat": 200000}
	for name, size := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		b := make([]byte, size)
		rng.Read(b)
		if err := os.WriteFile(p, b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(dir, "empty"), 0o700)
	os.Symlink("docs/readme.md", filepath.Join(dir, "link"))
}

func diffTrees(t *testing.T, want, got string) {
	t.Helper()
	n := 0
	filepath.WalkDir(want, func(p string, d fs.DirEntry, _ error) error {
		rel, _ := filepath.Rel(want, p)
		wi, _ := os.Lstat(p)
		gi, err := os.Lstat(filepath.Join(got, rel))
		if err != nil {
			t.Errorf("%s missing", rel)
			return nil
		}
		n++
		if wi.Mode() != gi.Mode() || (rel != "." && !wi.ModTime().Equal(gi.ModTime())) {
			t.Errorf("%s: %v %v, want %v %v", rel, gi.Mode(), gi.ModTime(), wi.Mode(), wi.ModTime())
		}
		if wi.Mode().IsRegular() {
			a, _ := os.ReadFile(p)
			b, _ := os.ReadFile(filepath.Join(got, rel))
			if !bytes.Equal(a, b) {
				t.Errorf("%s differs", rel)
			}
		}
		return nil
	})
	m := 0
	filepath.WalkDir(got, func(string, fs.DirEntry, error) error { m++; return nil })
	if m != n {
		t.Errorf("%d entries restored, want %d", m, n)
	}
}

func storeDir(c *cli) string { return filepath.Join(c.home, "store") }

func dirSize(t *testing.T, dir string) (n int64) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			info, _ := d.Info()
			n += info.Size()
		}
		return nil
	})
	return n
}

func TestPutGetLsStatus(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "holiday")
	writeTree(t, src)
	id := c.put(src)
	if r := c.ok("ls"); !strings.Contains(r.stdout, id) || !strings.Contains(r.stdout, "holiday") {
		t.Fatalf("ls:\n%s", r.stdout)
	}
	if r := c.ok("ls", "holiday/docs"); !strings.Contains(r.stdout, "/docs/readme.md") || !strings.Contains(r.stdout, "/docs/empty.txt") {
		t.Fatalf("ls holiday/docs:\n%s", r.stdout)
	}
	var st struct {
		Archives int   `json:"archives"`
		Files    int64 `json:"files"`
	}
	if err := json.Unmarshal([]byte(c.ok("status", "--json").stdout), &st); err != nil || st.Archives != 1 || st.Files != 4 {
		t.Fatalf("status --json: %+v %v", st, err)
	}
	dest := filepath.Join(t.TempDir(), "restore")
	c.ok("get", strings.TrimPrefix(id, "#"), dest)
	diffTrees(t, src, dest)
	one := t.TempDir()
	c.ok("get", id+"/x/y/z.dat", one)
	a, _ := os.ReadFile(filepath.Join(src, "x/y/z.dat"))
	b, _ := os.ReadFile(filepath.Join(one, "z.dat"))
	if !bytes.Equal(a, b) {
		t.Fatal("single-file get differs")
	}
	c.ok("verify", "--full")

	// Putting the same tree again stores under 1% new bytes.
	before := dirSize(t, storeDir(c))
	id2 := c.put("--name", "again", src)
	if id2 == id {
		t.Fatal("second put reused the ID")
	}
	if grown := dirSize(t, storeDir(c)) - before; grown*100 > before {
		t.Fatalf("re-put grew the store by %d of %d bytes", grown, before)
	}
	c.ok("rm", id)
	c.ok("gc")
	c.ok("verify", "--full")
	if r := c.ok("ls"); strings.Contains(r.stdout, id+" ") || !strings.Contains(r.stdout, id2) {
		t.Fatalf("ls after rm:\n%s", r.stdout)
	}
}

func TestBadInput(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "tree")
	writeTree(t, src)
	id := c.put(src)
	before := dirSize(t, c.home)

	wrong := *c
	wrong.pass = "not it"
	for _, args := range [][]string{{"ls"}, {"status"}, {"put", src}, {"get", id, t.TempDir()}, {"verify"}, {"rm", id}, {"gc"}, {"passwd"}} {
		r := wrong.fails(exitPassphrase, args...)
		if !strings.Contains(r.stderr, "wrong passphrase") {
			t.Errorf("%v: %q", args, r.stderr)
		}
	}
	if after := dirSize(t, c.home); after != before {
		t.Fatalf("wrong passphrases changed the state: %d → %d bytes", before, after)
	}

	c.fails(exitFailure, "get", "#010101-99", t.TempDir())
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "keep"), []byte("mine"), 0o644)
	if r := c.fails(exitFailure, "get", id, full); !strings.Contains(r.stderr, "not empty") {
		t.Fatalf("non-empty dest: %q", r.stderr)
	}
	c.fails(exitFailure, "put", filepath.Join(src, "no-such-file"))
	c.fails(exitUsage, "get", id)
	c.fails(exitUsage, "frobnicate")

	// No passphrase at all and no terminal: a clear error.
	none := *c
	none.pass = ""
	if r := none.fails(exitFailure, "ls"); !strings.Contains(r.stderr, "DISCOFS_PASSPHRASE") {
		t.Fatalf("no passphrase: %q", r.stderr)
	}
}

func TestCorruptionAndMissingPack(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "tree")
	writeTree(t, src)
	id := c.put(src)
	packs := packFiles(t, storeDir(c))
	if len(packs) == 0 {
		t.Fatal("no packs in the store")
	}
	// Flip one byte in the middle of every pack.
	for _, p := range packs {
		b, _ := os.ReadFile(p)
		b[len(b)/2] ^= 0x40
		os.WriteFile(p, b, 0o600)
	}
	c.ok("verify") // sizes are right
	r := c.fails(exitFailure, "verify", "--full")
	if !strings.Contains(r.stdout, "damaged: "+id+"/") {
		t.Fatalf("verify --full:\n%s", r.stdout)
	}
	dest := filepath.Join(t.TempDir(), "out")
	r = c.reports([]string{"damaged: "}, "get", id, dest)
	if !strings.Contains(r.stderr, "damaged: ") {
		t.Fatalf("get of a corrupt archive:\n%s", r.stderr)
	}
	// Whatever get restored is byte-identical; the damaged files are not there at all.
	filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(dest, p)
			a, _ := os.ReadFile(filepath.Join(src, rel))
			b, _ := os.ReadFile(p)
			if !bytes.Equal(a, b) {
				t.Errorf("%s was restored with wrong bytes", rel)
			}
		}
		return nil
	})
	os.Remove(packs[0])
	if r := c.fails(exitFailure, "verify"); !strings.Contains(r.stdout, "is missing from the store") {
		t.Fatalf("verify with a missing pack:\n%s", r.stdout)
	}
}

func TestPasswd(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "tree")
	writeTree(t, src)
	id := c.put(src)
	cmd := exec.Command(binary, "passwd", "--kdf-memory", "8", "--kdf-time", "1")
	cmd.Env = append(os.Environ(), "DISCOFS_HOME="+c.home, "DISCOFS_PASSPHRASE="+c.pass, "DISCOFS_NEW_PASSPHRASE=new one")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("passwd: %v\n%s", err, out)
	}
	c.fails(exitPassphrase, "ls")
	c.pass = "new one"
	dest := filepath.Join(t.TempDir(), "out")
	c.ok("get", id, dest)
	diffTrees(t, src, dest)
}

// TestFullDisk restores onto a tiny tmpfs: a clear error, nothing half-written left as if whole.
func TestFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root; this test needs it to mount a tmpfs")
		}
		t.Skip("needs root to mount a small tmpfs")
	}
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "tree")
	writeTree(t, src)
	id := c.put(src)
	small := t.TempDir()
	if err := syscall.Mount("tmpfs", small, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(small, 0) })
	r := c.fails(exitFailure, "get", id, filepath.Join(small, "out"))
	if !strings.Contains(r.stderr, "no space left on device") {
		t.Fatalf("full disk: %q", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(small, "out", "a.bin")); !os.IsNotExist(err) {
		t.Fatalf("a partial a.bin was left: %v", err)
	}
}

func TestRebuildIndex(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "tree")
	writeTree(t, src)
	id := c.put(src)
	// Lose every bit of local state but the config.
	if err := os.RemoveAll(filepath.Join(c.home, "index")); err != nil {
		t.Fatal(err)
	}
	if r := c.ok("ls"); strings.Contains(r.stdout, id) {
		t.Fatalf("ls with an empty index:\n%s", r.stdout)
	}
	if r := c.ok("rebuild-index"); !strings.Contains(r.stdout, "indexed 1 archives, 4 files") {
		t.Fatalf("rebuild-index:\n%s", r.stdout)
	}
	dest := filepath.Join(t.TempDir(), "out")
	c.ok("get", id, dest)
	diffTrees(t, src, dest)
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "4096": 4096, "512M": 512 << 20, "1G": 1 << 30, "2GiB": 2 << 30, "64k": 64 << 10} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "lots", "-1", "1X"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) succeeded", bad)
		}
	}
}

// packFiles lists the pack files of a dir store.
func packFiles(t *testing.T, store string) []string {
	t.Helper()
	var packs []string
	err := filepath.WalkDir(filepath.Join(store, "packs"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.HasPrefix(d.Name(), ".") {
			packs = append(packs, p)
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return packs
}
