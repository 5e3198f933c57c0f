package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/discofs/discofs/discord/emulator"
	"github.com/discofs/discofs/discord/emulator/emulatortest"
)

const legacyPass = "legacy passphrase 27"

// legacyFixtures is the shared folder of real v3.1 output beside the repository.
func legacyFixtures(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "legacy-v3.1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "discord-state.json")); err != nil {
		t.Fatalf("v3.1 fixtures: %v", err)
	}
	return dir
}

// sameFiles fails unless every file of want is in got with the same bytes.
func sameFiles(t *testing.T, want, got string) {
	t.Helper()
	entries, err := os.ReadDir(want)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		a, _ := os.ReadFile(filepath.Join(want, e.Name()))
		b, err := os.ReadFile(filepath.Join(got, e.Name()))
		if err != nil || !bytes.Equal(a, b) {
			t.Fatalf("%s differs from the original (%v)", e.Name(), err)
		}
	}
}

func copyFlat(t *testing.T, from, to, skip string) {
	t.Helper()
	entries, _ := os.ReadDir(from)
	for _, e := range entries {
		if e.Name() == skip {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(to, e.Name()), b, 0o644)
	}
}

func TestImportLegacyDir(t *testing.T) {
	fx := legacyFixtures(t)
	c := newCLI(t)
	t.Setenv("USER_KEY", "")
	keyFile := filepath.Join(t.TempDir(), "key")
	os.WriteFile(keyFile, []byte("not the passphrase\n"), 0o600)
	r := c.fails(exitFailure, "import-legacy", "--dir", filepath.Join(fx, "small", "chunks"), "--legacy-passphrase-file", keyFile)
	if !strings.Contains(r.stderr, "12-manifest_181827_261126.json") || !strings.Contains(r.stderr, "v3.1 passphrase") {
		t.Fatalf("wrong passphrase: %s", r.stderr)
	}
	os.WriteFile(keyFile, []byte(legacyPass+"\n"), 0o600)

	// Both archives in one folder, a chunk of the large one missing: the small one imports.
	dir := t.TempDir()
	copyFlat(t, filepath.Join(fx, "small", "chunks"), dir, "")
	copyFlat(t, filepath.Join(fx, "large", "chunks"), dir, "0003-b2cb2fb94ec8-7780007ff9142015-0001.bin")
	r = c.fails(exitFailure, "import-legacy", "--dir", dir, "--legacy-passphrase-file", keyFile)
	if !strings.Contains(r.stderr, "3-manifest_181834_261126.json") || !strings.Contains(r.stderr, "0003-b2cb2fb94ec8") ||
		!strings.Contains(r.stdout, "holiday-photos") {
		t.Fatalf("missing chunk:\n%s%s", r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, legacyPass) {
		t.Fatal("the v3.1 passphrase was printed")
	}
	out := filepath.Join(t.TempDir(), "small")
	c.ok("get", "holiday-photos", out)
	sameFiles(t, filepath.Join(fx, "small", "original"), out)

	t.Setenv("USER_KEY", legacyPass)
	r = c.ok("import-legacy", "--dir", filepath.Join(fx, "large", "chunks"))
	ls := c.ok("ls").stdout
	if !strings.Contains(ls, "camera-roll") || !strings.Contains(ls, "holiday-photos") {
		t.Fatalf("ls:\n%s", ls)
	}
	if ls := c.ok("ls", "camera-roll").stdout; !strings.Contains(ls, "clip-0001.mov") {
		t.Fatalf("ls camera-roll:\n%s", ls)
	}
	out = filepath.Join(t.TempDir(), "large")
	c.ok("get", "camera-roll", out)
	sameFiles(t, filepath.Join(fx, "large", "original"), out)
}

func TestImportLegacyChannel(t *testing.T) {
	fx := legacyFixtures(t)
	cfg := emulator.FastConfig()
	cfg.SeedFile = filepath.Join(fx, "discord-state.json")
	srv, _ := emulatortest.Start(t, cfg)
	info := srv.Info()
	c := newCLI(t)
	t.Setenv("DISCORD_BOT_TOKEN", info.Token)
	t.Setenv("DISCORD_DRIVE_ARCHIVE_CHANNEL_ID", info.ChannelID)
	t.Setenv("USER_KEY", legacyPass)
	r := c.ok("import-legacy", "--discord-api", info.API)
	if !strings.Contains(r.stdout, "#170126-01 holiday-photos") || !strings.Contains(r.stdout, "#180126-02 camera-roll") {
		t.Fatalf("import:\n%s", r.stdout)
	}
	if strings.Contains(r.stdout+r.stderr, info.Token) {
		t.Fatal("the bot token was printed")
	}
	if r := c.ok("import-legacy", "--discord-api", info.API, "--channel", info.ChannelID); !strings.Contains(r.stdout, "already imported") {
		t.Fatalf("second import:\n%s", r.stdout)
	}
	for _, a := range []struct{ id, set string }{{"#170126-01", "small"}, {"170126-01/notes.txt", ""}, {"#180126-02", "large"}} {
		out := filepath.Join(t.TempDir(), "out")
		c.ok("get", a.id, out)
		if a.set != "" {
			sameFiles(t, filepath.Join(fx, a.set, "original"), out)
		}
	}
	r = c.ok("migrate", "--delete-old", "#170126-01")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	id := lines[len(lines)-1]
	if !idLine.MatchString(id) || id == "#170126-01" {
		t.Fatalf("migrate:\n%s", r.stdout)
	}
	out := filepath.Join(t.TempDir(), "migrated")
	c.ok("get", id, out)
	sameFiles(t, filepath.Join(fx, "small", "original"), out)
	if ls := c.ok("ls").stdout; strings.Contains(ls, "#170126-01") || !strings.Contains(ls, id) {
		t.Fatalf("ls after migrate:\n%s", ls)
	}
	c.fails(exitFailure, "migrate", id)
}

func TestSliceAssemblePutSliced(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join(t.TempDir(), "trip")
	writeTree(t, src)
	out := filepath.Join(t.TempDir(), "sliced")
	if r := c.ok("slice", "--kdf-memory", "8", "--kdf-time", "1", src, out); !strings.Contains(r.stdout, "trip") {
		t.Fatalf("slice: %s", r.stdout)
	}
	// The folder opens with the passphrase alone: no state directory.
	other := &cli{t: t, home: t.TempDir(), pass: c.pass}
	dest := filepath.Join(t.TempDir(), "assembled")
	other.ok("assemble", out, dest)
	diffTrees(t, src, dest)
	other.pass = "not the one 123"
	other.fails(exitPassphrase, "assemble", out, filepath.Join(t.TempDir(), "x"))

	id := c.put("--sliced", out)
	back := filepath.Join(t.TempDir(), "back")
	c.ok("get", id, back)
	diffTrees(t, src, back)
	c.ok("verify", "--full", id)
}

// TestLegacyThroughMount reads imported v3.1 files through a real mount: whole, and from
// offsets that straddle v3.1 chunk boundaries. The mount needs no v3.1 passphrase.
func TestLegacyThroughMount(t *testing.T) {
	fx := legacyFixtures(t)
	c := newCLI(t)
	t.Setenv("USER_KEY", legacyPass)
	c.ok("import-legacy", "--dir", filepath.Join(fx, "small", "chunks"))
	c.ok("import-legacy", "--dir", filepath.Join(fx, "large", "chunks"))
	t.Setenv("USER_KEY", "")
	mnt := t.TempDir()
	m := c.startMount(mnt)
	defer func() {
		m.Process.Signal(syscall.SIGINT)
		m.Wait()
	}()
	for _, set := range []struct{ dir, name string }{{"small", "holiday-photos"}, {"large", "camera-roll"}} {
		want := filepath.Join(fx, set.dir, "original")
		sameFiles(t, want, filepath.Join(mnt, set.name))
		entries, _ := os.ReadDir(want)
		for _, e := range entries {
			orig, _ := os.ReadFile(filepath.Join(want, e.Name()))
			f, err := os.Open(filepath.Join(mnt, set.name, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			for _, off := range []int64{65536 - 10, 3*65536 - 1, 9961472 - 4000} {
				if off >= int64(len(orig)) {
					continue
				}
				p := make([]byte, 8192)
				k, _ := f.ReadAt(p, off)
				end := min(off+8192, int64(len(orig)))
				if int64(k) != end-off || !bytes.Equal(p[:k], orig[off:end]) {
					t.Errorf("%s/%s at %d: %d bytes differ", set.name, e.Name(), off, k)
				}
			}
			f.Close()
		}
	}
}
