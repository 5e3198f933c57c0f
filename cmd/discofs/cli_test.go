package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/discofs/discofs/vault"
)

// The CLI's contract beyond put → get: logging, flags, --json shapes, state directories,
// and what every command does with a wrong passphrase.

// smallTree writes a few small files, so a test's puts stay quick.
func smallTree(t *testing.T, dir string) {
	t.Helper()
	for name, body := range map[string]string{"a.txt": "alpha\n", "docs/b.md": "# beta\n", "docs/deep/c.bin": strings.Repeat("gamma", 5000)} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o640); err != nil {
			t.Fatal(err)
		}
	}
}

// lastLineOf is the last line of s.
func lastLineOf(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// -v logs what the command does, at info level, to stderr; without it a successful
// command prints nothing there; -v -v adds debug lines.
func TestVerboseLogs(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "tree")
	smallTree(t, src)

	r := c.ok("put", "-v", src)
	id := lastLineOf(r.stdout)
	for _, want := range []string{
		`msg="vault opened"`, "store=dir:" + storeDir(c),
		`msg="archive created" archive=` + id + " name=tree",
		`msg="archive committed" archive=` + id + " name=tree generation=1 files=3 read=25013 stored=",
		"packs=1 took=",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("put -v: no %q in:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "level=DEBUG") || strings.Contains(r.stderr, "badger") {
		t.Errorf("put -v logged debug lines:\n%s", r.stderr)
	}
	if r := c.ok("put", "--name", "quiet", src); r.stderr != "" {
		t.Fatalf("put without -v wrote to stderr:\n%s", r.stderr)
	}
	dest := filepath.Join(t.TempDir(), "out")
	for _, step := range []struct {
		args []string
		want string
	}{
		{[]string{"ls", "-v"}, `msg="vault opened"`},
		{[]string{"status", "-v"}, `msg="vault opened"`},
		{[]string{"get", "-v", id, dest}, `msg=restored archive=` + id + ` path=/ files=3 damaged=0 took=`},
		{[]string{"verify", "-v", "--full"}, `msg=verified archives=2 manifests=2 packs=1`},
		{[]string{"verify", "-v"}, `msg="checking one by one" kind=pack objects=1`},
		{[]string{"rm", "-v", "quiet"}, `msg="archive deleted" archive=`},
		{[]string{"gc", "-v"}, `msg="gc done" packs=0 freed=0 manifests=1`},
	} {
		if r := c.ok(step.args...); !strings.Contains(r.stderr, step.want) {
			t.Errorf("%s: no %q in:\n%s", strings.Join(step.args, " "), step.want, r.stderr)
		}
	}
	if r := c.ok("ls", "-v", "-v"); !strings.Contains(r.stderr, "level=DEBUG") {
		t.Errorf("ls -v -v logged no debug lines:\n%s", r.stderr)
	}
	if r := c.ok("ls", "-v=0"); r.stderr != "" {
		t.Errorf("ls -v=0 logged:\n%s", r.stderr)
	}
}

// A mistake in the flags is one line and exit 64; -h and --help print the usage to stdout.
func TestFlagErrorsAndHelp(t *testing.T) {
	c := newCLI(t)
	r := c.fails(exitUsage, "put", "--bogus", t.TempDir())
	if want := "discofs put: flag provided but not defined: -bogus (usage: discofs put "; !strings.HasPrefix(r.stderr, want) {
		t.Errorf("put --bogus: %q", r.stderr)
	}
	if r := c.fails(exitUsage, "init", "--kdf-time", "lots"); !strings.Contains(r.stderr, "-kdf-time") {
		t.Errorf("init --kdf-time lots: %q", r.stderr)
	}
	c.fails(exitUsage, "verify", "-v=maybe")
	// Flags that would do nothing are refused rather than ignored.
	c.fails(exitUsage, "mount", "--save", t.TempDir())
	c.fails(exitUsage, "mount", "--read-only", "--notify", t.TempDir())
	for _, h := range []string{"-h", "--help"} {
		r := c.ok("put", h)
		if r.stderr != "" || !strings.HasPrefix(r.stdout, "usage: discofs put [--name NAME") || !strings.Contains(r.stdout, "  -archive string") {
			t.Errorf("put %s: stdout %q, stderr %q", h, r.stdout, r.stderr)
		}
	}
}

// A file put cannot read fails the put with one line naming it, and no archive shows.
// Root reads a mode-000 file anyway, so as root the put runs as the user nobody.
func TestUnreadableSource(t *testing.T) {
	base, err := os.MkdirTemp("", "discofs-unreadable-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	home, src := filepath.Join(base, "home"), filepath.Join(base, "tree")
	smallTree(t, src)
	secret := filepath.Join(src, "docs", "locked.txt")
	if err := os.WriteFile(secret, []byte("not for you\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(cleanEnv(), "HOME="+base, "DISCOFS_HOME="+home, "DISCOFS_PASSPHRASE=correct horse")
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		cred = &syscall.Credential{Uid: nobody, Gid: nobody}
		if err := os.Mkdir(home, 0o700); err != nil {
			t.Fatal(err)
		}
		err := filepath.WalkDir(base, func(p string, _ fs.DirEntry, err error) error {
			if err == nil {
				err = os.Lchown(p, nobody, nobody)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		// nobody must reach the test binary and the tree.
		for _, d := range []string{base, filepath.Dir(binary)} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.Chmod(secret, 0); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) result {
		t.Helper()
		cmd := exec.Command(binary, args...)
		cmd.Env = env
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		return runCmd(t, cmd)
	}
	if r := run("init", "--kdf-memory", "8", "--kdf-time", "1"); r.code != 0 {
		t.Fatalf("init: %d %s", r.code, r.stderr)
	}
	r := run("put", src)
	if r.code != exitFailure || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, secret) || !strings.Contains(r.stderr, "permission denied") {
		t.Fatalf("put of a tree with an unreadable file: exit %d, stderr %q", r.code, r.stderr)
	}
	if idLine.MatchString(lastLineOf(r.stdout)) {
		t.Fatalf("the failed put printed an archive ID: %q", r.stdout)
	}
	if r := run("ls"); r.code != 0 || r.stdout != "" {
		t.Fatalf("ls after the failed put: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// snake is what every --json key looks like.
var snake = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// checkKeys fails unless every key in v, at every depth, is snake_case.
func checkKeys(t *testing.T, what string, v any) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		for k, sub := range v {
			if !snake.MatchString(k) {
				t.Errorf("%s: key %q is not snake_case", what, k)
			}
			checkKeys(t, what, sub)
		}
	case []any:
		for _, sub := range v {
			checkKeys(t, what, sub)
		}
	}
}

// jsonLines decodes stdout as one JSON object a line.
func jsonLines(t *testing.T, what, stdout string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%s: %q is not a JSON object: %v", what, l, err)
		}
		checkKeys(t, what, m)
		out = append(out, m)
	}
	return out
}

// Every --json output is snake_case, of the documented shape.
func TestJSONOutputs(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "tree")
	smallTree(t, src)

	put := jsonLines(t, "put --json", c.ok("put", "--json", src).stdout)
	if len(put) != 1 {
		t.Fatalf("put --json printed %d lines", len(put))
	}
	a := put[0]
	id, _ := a["id"].(string)
	if !idLine.MatchString(id) || a["name"] != "tree" || a["status"] != "success" || a["files"] != 3.0 ||
		a["size_bytes"] != 25013.0 || a["stored_bytes"].(float64) <= 0 || a["new_bytes"] != a["stored_bytes"] || a["created"] == nil {
		t.Errorf("put --json: %v", a)
	}
	if _, ok := a["legacy"]; ok {
		t.Errorf("put --json says legacy: %v", a)
	}
	again := jsonLines(t, "put --json", c.ok("put", "--json", "--name", "again", src).stdout)[0]
	if again["new_bytes"].(float64) >= a["new_bytes"].(float64)/2 {
		t.Errorf("the same tree again stored %v new bytes, the first time %v", again["new_bytes"], a["new_bytes"])
	}

	list := jsonLines(t, "ls --json", c.ok("ls", "--json").stdout)
	if len(list) != 2 || list[0]["id"] != id || list[1]["name"] != "again" || list[0]["files"] != 3.0 {
		t.Errorf("ls --json: %v", list)
	}
	entries := jsonLines(t, "ls --json ARCHIVE/PATH", c.ok("ls", "--json", id+"/docs").stdout)
	if len(entries) != 2 || entries[0]["path"] != "/docs/b.md" || entries[0]["type"] != "file" || entries[0]["size"] != 7.0 ||
		entries[0]["mode"] != "-rw-r-----" || entries[1]["path"] != "/docs/deep" || entries[1]["type"] != "dir" {
		t.Errorf("ls --json %s/docs: %v", id, entries)
	}

	st := jsonLines(t, "status --json", c.ok("status", "--json").stdout)
	if len(st) != 1 || st[0]["archives"] != 2.0 || st[0]["files"] != 6.0 || st[0]["mounted"] != false || st[0]["packs"] != 1.0 {
		t.Errorf("status --json: %v", st)
	}
	if last, _ := st[0]["last_archive"].(map[string]any); last["name"] != "again" || !idLine.MatchString(fmt.Sprint(last["id"])) {
		t.Errorf("status --json last_archive: %v", st[0]["last_archive"])
	}

	for _, full := range []bool{false, true} {
		args := []string{"verify", "--json"}
		if full {
			args = append(args, "--full")
		}
		v := jsonLines(t, "verify --json", c.ok(args...).stdout)
		if len(v) != 1 || v[0]["full"] != full || v[0]["archives"] != 2.0 || v[0]["packs"] != 1.0 || v[0]["pack_bytes"].(float64) <= 0 {
			t.Errorf("%v: %v", args, v)
		}
		if d, ok := v[0]["damaged"].([]any); !ok || len(d) != 0 {
			t.Errorf("%v: damaged is %#v, want []", args, v[0]["damaged"])
		}
		if chunks := v[0]["chunks"].(float64); (chunks > 0) != full {
			t.Errorf("%v: %v chunks authenticated", args, chunks)
		}
	}
	// One flipped byte in the pack: every file of both archives is listed as damaged.
	pack := packFiles(t, storeDir(c))[0]
	b, err := os.ReadFile(pack)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(pack, b, 0o600); err != nil {
		t.Fatal(err)
	}
	r := c.run("verify", "--json", "--full", id)
	if r.code != exitFailure {
		t.Fatalf("verify --json --full of a damaged pack: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	v := jsonLines(t, "verify --json", r.stdout)
	d, _ := v[0]["damaged"].([]any)
	if len(d) == 0 {
		t.Fatalf("verify --json --full: nothing damaged: %v", v)
	}
	first := d[0].(map[string]any)
	if first["archive"] != id || !strings.HasPrefix(fmt.Sprint(first["path"]), "/") || first["error"] == "" {
		t.Errorf("verify --json damaged entry: %v", first)
	}
}

// snapshot describes every file and folder under root: a change of content, size, mode
// or mtime, or anything made or removed, changes it.
func snapshot(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v %d %d\n", p, info.Mode(), info.Size(), info.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// Every command that opens a vault unlocks it first: a wrong passphrase fails each with
// exit 2 and one line, and nothing in the state directory or the store changes.
// (ls, status, put, get, verify, rm, gc and passwd: TestBadInput; mount --daemon:
// TestMountDaemon.)
func TestWrongPassphraseEveryCommand(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "tree")
	smallTree(t, src)
	id := c.put(src)
	sliced := filepath.Join(t.TempDir(), "sliced")
	c.ok("slice", "--kdf-memory", "8", "--kdf-time", "1", src, sliced)
	wrong := *c
	wrong.pass = "not it"
	scratch := t.TempDir()
	join := t.TempDir() // a new state directory joining c's store
	before, beforeJoin := snapshot(t, c.home), snapshot(t, join)
	for _, args := range [][]string{
		{"rebuild-index"},
		{"sync"},
		{"resume"},
		{"mount", filepath.Join(scratch, "mnt")},
		{"slice", src, filepath.Join(scratch, "out")},
		{"put", "--sliced", sliced},
		{"import-legacy", "--dir", filepath.Join(scratch, "v31")},
		{"migrate", id},
		{"bot", "--channel", "123", "--discord-api", "http://127.0.0.1:1"},
		{"init", "--home", join, "--store", "dir:" + storeDir(c)},
	} {
		r := wrong.fails(exitPassphrase, args...)
		if !strings.Contains(r.stderr, "wrong passphrase") || r.stdout != "" {
			t.Errorf("%v: stdout %q, stderr %q", args, r.stdout, r.stderr)
		}
	}
	if entries, _ := os.ReadDir(scratch); len(entries) > 0 {
		t.Errorf("wrong passphrases made %v", entries)
	}
	if after := snapshot(t, c.home); after != before {
		t.Errorf("wrong passphrases changed the state directory or the store:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if after := snapshot(t, join); after != beforeJoin {
		t.Errorf("init with a wrong passphrase wrote:\n%s", after)
	}
	// The right one joins.
	c.ok("init", "--home", join, "--store", "dir:"+storeDir(c))
}

// cleanEnv is this process's environment without what says where discofs keeps its state
// or finds its passphrase.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "DISCOFS_") || strings.HasPrefix(name, "XDG_") || name == "HOME" {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// runEnv runs the binary with exactly env.
func runEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = env
	return runCmd(t, cmd)
}

// runCmd runs cmd and returns its output and exit code; it fails the test only when cmd
// could not run.
func runCmd(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// Where the state lives: --home over $DISCOFS_HOME over the XDG directories; the store
// where init --store puts it; the passphrase from --passphrase-file.
func TestStateDirectories(t *testing.T) {
	const pass = "state of the art"
	src := filepath.Join(t.TempDir(), "tree")
	smallTree(t, src)
	kdf := []string{"--kdf-memory", "8", "--kdf-time", "1"}

	t.Run("home over DISCOFS_HOME", func(t *testing.T) {
		envHome, flagHome := t.TempDir(), t.TempDir()
		env := append(cleanEnv(), "HOME="+t.TempDir(), "DISCOFS_HOME="+envHome, "DISCOFS_PASSPHRASE="+pass)
		if r := runEnv(t, env, append([]string{"init", "--home", flagHome}, kdf...)...); r.code != 0 {
			t.Fatalf("init --home: %d %s", r.code, r.stderr)
		}
		if !exists(filepath.Join(flagHome, "config.json")) || exists(filepath.Join(envHome, "config.json")) {
			t.Fatal("init --home did not put config.json in --home alone")
		}
		if r := runEnv(t, env, "put", "--home", flagHome, src); r.code != 0 || !exists(filepath.Join(flagHome, "store", "packs")) {
			t.Fatalf("put --home: %d %s", r.code, r.stderr)
		}
		if r := runEnv(t, env, "ls"); r.code != exitFailure || !strings.Contains(r.stderr, "no vault here") {
			t.Fatalf("ls in $DISCOFS_HOME, which has no vault: %d %q", r.code, r.stderr)
		}
		if entries, _ := os.ReadDir(envHome); len(entries) > 0 {
			t.Fatalf("$DISCOFS_HOME got %v", entries)
		}
	})

	t.Run("XDG directories", func(t *testing.T) {
		x := t.TempDir()
		env := append(cleanEnv(), "HOME="+filepath.Join(x, "home"), "XDG_CONFIG_HOME="+filepath.Join(x, "config"),
			"XDG_DATA_HOME="+filepath.Join(x, "data"), "XDG_CACHE_HOME="+filepath.Join(x, "cache"), "DISCOFS_PASSPHRASE="+pass)
		for _, args := range [][]string{append([]string{"init"}, kdf...), {"put", src}, {"verify"}} {
			if r := runEnv(t, env, args...); r.code != 0 {
				t.Fatalf("%v: %d %s", args, r.code, r.stderr)
			}
		}
		for _, p := range []string{"config/discofs/config.json", "data/discofs/index", "data/discofs/store/packs"} {
			if !exists(filepath.Join(x, p)) {
				t.Errorf("no %s", p)
			}
		}
		if exists(filepath.Join(x, "home")) || exists(filepath.Join(x, "config/discofs/index")) {
			t.Error("state outside the XDG data directory")
		}
		// Without the XDG variables: under $HOME.
		home := t.TempDir()
		env = append(cleanEnv(), "HOME="+home, "DISCOFS_PASSPHRASE="+pass)
		if r := runEnv(t, env, append([]string{"init"}, kdf...)...); r.code != 0 {
			t.Fatalf("init: %d %s", r.code, r.stderr)
		}
		for _, p := range []string{".config/discofs/config.json", ".local/share/discofs/store"} {
			if !exists(filepath.Join(home, p)) {
				t.Errorf("no ~/%s", p)
			}
		}
	})

	t.Run("init --store dir:PATH", func(t *testing.T) {
		c := &cli{t: t, home: t.TempDir(), pass: pass}
		store := filepath.Join(t.TempDir(), "usb", "discofs")
		r := c.ok(append([]string{"init", "--store", "dir:" + store}, kdf...)...)
		if !strings.Contains(r.stdout, "on dir:"+store) {
			t.Errorf("init: %q", r.stdout)
		}
		c.put(src)
		if dirSize(t, filepath.Join(store, "packs")) == 0 || exists(storeDir(c)) {
			t.Fatalf("the packs are not in %s alone", store)
		}
		if r := c.ok("status", "--json"); !strings.Contains(r.stdout, `"store":"dir:`+store+`"`) {
			t.Errorf("status --json: %s", r.stdout)
		}
	})

	t.Run("passphrase-file", func(t *testing.T) {
		home, dir := t.TempDir(), t.TempDir()
		right, wrongFile := filepath.Join(dir, "pass"), filepath.Join(dir, "wrong")
		os.WriteFile(right, []byte(pass+"\n"), 0o600)
		os.WriteFile(wrongFile, []byte("not it\n"), 0o600)
		env := append(cleanEnv(), "HOME="+home, "DISCOFS_HOME="+home)
		if r := runEnv(t, env, append([]string{"init", "--passphrase-file", right}, kdf...)...); r.code != 0 {
			t.Fatalf("init --passphrase-file: %d %s", r.code, r.stderr)
		}
		if r := runEnv(t, env, "put", "--passphrase-file", right, src); r.code != 0 || !idLine.MatchString(lastLineOf(r.stdout)) {
			t.Fatalf("put --passphrase-file: %d %s", r.code, r.stderr)
		}
		// The file wins over the environment.
		if r := runEnv(t, append(env, "DISCOFS_PASSPHRASE=not it"), "ls", "--passphrase-file", right); r.code != 0 {
			t.Fatalf("ls --passphrase-file beside a wrong $DISCOFS_PASSPHRASE: %d %s", r.code, r.stderr)
		}
		if r := runEnv(t, env, "ls", "--passphrase-file", wrongFile); r.code != exitPassphrase || !strings.Contains(r.stderr, "wrong passphrase") {
			t.Fatalf("ls with a wrong passphrase file: %d %q", r.code, r.stderr)
		}
		r := runEnv(t, env, "ls", "--passphrase-file", filepath.Join(dir, "missing"))
		if r.code != exitFailure || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "missing") {
			t.Fatalf("ls with a missing passphrase file: %d %q", r.code, r.stderr)
		}
		if strings.Contains(r.stderr, pass) {
			t.Fatal("the passphrase was printed")
		}
	})
}

// get ARCHIVE/PATH of a folder restores the folder's contents into DEST.
func TestGetFolder(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "tree")
	smallTree(t, src)
	docs := filepath.Join(src, "docs")
	if err := os.Symlink("deep/c.bin", filepath.Join(docs, "link")); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(docs, "empty"), 0o700)
	os.Chmod(filepath.Join(docs, "b.md"), 0o604)
	stamp := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, p := range []string{filepath.Join(docs, "deep"), filepath.Join(docs, "deep", "c.bin"), docs} {
		if err := os.Chtimes(p, stamp, stamp); err != nil {
			t.Fatal(err)
		}
		stamp = stamp.Add(time.Hour)
	}
	os.Chmod(docs, 0o750)
	id := c.put(src)

	for _, dest := range []string{filepath.Join(t.TempDir(), "new"), t.TempDir()} {
		c.ok("get", id+"/docs", dest)
		diffTrees(t, docs, dest)
		want, _ := os.Stat(docs)
		got, err := os.Stat(dest)
		if err != nil || got.Mode() != want.Mode() || !got.ModTime().Equal(want.ModTime()) {
			t.Errorf("%s: %v %v, want the folder's %v %v", dest, got.Mode(), got.ModTime(), want.Mode(), want.ModTime())
		}
		if _, err := os.Stat(filepath.Join(dest, "a.txt")); err == nil {
			t.Error("a file beside the folder was restored too")
		}
	}
	if r := c.fails(exitFailure, "get", id+"/nope", t.TempDir()); !strings.Contains(r.stderr, "no such file or directory") {
		t.Errorf("get of a missing folder: %q", r.stderr)
	}
}

// The progress line: files and bytes with a rate, and a bar once the total is known.
func TestProgressLine(t *testing.T) {
	var p vault.Progress
	p.Files.Store(3)
	p.Bytes.Store(3 << 20)
	if got, want := progressLine("archiving", &p, 2*time.Second), "archiving 3 files, 3.0 MiB, 1.5 MiB/s"; got != want {
		t.Errorf("no total: %q, want %q", got, want)
	}
	p.Total.Store(12 << 20)
	if got, want := progressLine("restoring", &p, time.Second), "restoring [======                  ]  25% 3.0 MiB of 12.0 MiB, 3.0 MiB/s"; got != want {
		t.Errorf("a quarter: %q, want %q", got, want)
	}
	p.Bytes.Store(13 << 20) // files grew while being read; no time has passed
	if got, want := progressLine("verifying", &p, 0), "verifying [========================] 100% 13.0 MiB of 12.0 MiB, 12.7 GiB/s"; got != want {
		t.Errorf("past the total: %q, want %q", got, want)
	}
}

// openPty opens a pseudo-terminal: the controlling side and the terminal a child writes to.
func openPty(t *testing.T) (ptm, pts *os.File) {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ptm.Close() })
	if err := unix.IoctlSetPointerInt(int(ptm.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptm.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	if pts, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0); err != nil {
		t.Fatal(err)
	}
	return ptm, pts
}

// put draws a progress bar when stderr is a terminal, and none otherwise.
func TestPutProgressOnTerminal(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "big")
	os.Mkdir(src, 0o755)
	// Enough to take longer than one redraw (200 ms), even on a fast machine.
	b := make([]byte, 48<<20)
	rand.New(rand.NewSource(1)).Read(b)
	if err := os.WriteFile(filepath.Join(src, "random.bin"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	ptm, pts := openPty(t)
	cmd := exec.Command(binary, "put", src)
	cmd.Env = append(os.Environ(), "DISCOFS_HOME="+c.home, "DISCOFS_PASSPHRASE="+c.pass)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, pts
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pts.Close()
	screen := make(chan string)
	go func() {
		var got bytes.Buffer
		buf := make([]byte, 4096)
		for {
			n, err := ptm.Read(buf)
			got.Write(buf[:n])
			if err != nil { // EIO once the child's end is closed
				screen <- got.String()
				return
			}
		}
	}()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("put on a terminal: %v\n%s", err, out.String())
	}
	got := <-screen
	bar := regexp.MustCompile(`\r\x1b\[Karchiving \[=* *\] +\d+% [\d.]+ [KMG]?i?B of 48\.0 MiB, [\d.]+ [KMG]?i?B/s`)
	if !bar.MatchString(got) || !strings.HasSuffix(got, "\r\x1b[K") {
		t.Fatalf("put on a terminal drew no bar, or did not clear it: %q", got)
	}
	if !idLine.MatchString(lastLineOf(out.String())) || strings.Contains(out.String(), "archiving") {
		t.Fatalf("put's stdout: %q", out.String())
	}
	// Not a terminal: nothing on stderr.
	if r := c.ok("put", "--name", "again", src); r.stderr != "" {
		t.Fatalf("put drew on a stderr that is not a terminal: %q", r.stderr)
	}
}
