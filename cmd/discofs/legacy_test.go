package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

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
	r := c.reports(importProblems, "import-legacy", "--dir", filepath.Join(fx, "small", "chunks"), "--legacy-passphrase-file", keyFile)
	if !strings.Contains(r.stderr, "12-manifest_181827_261126.json") || !strings.Contains(r.stderr, "v3.1 passphrase") {
		t.Fatalf("wrong passphrase: %s", r.stderr)
	}
	os.WriteFile(keyFile, []byte(legacyPass+"\n"), 0o600)

	// Both archives in one folder, a chunk of the large one missing: the small one imports.
	dir := t.TempDir()
	copyFlat(t, filepath.Join(fx, "small", "chunks"), dir, "")
	copyFlat(t, filepath.Join(fx, "large", "chunks"), dir, "0003-b2cb2fb94ec8-7780007ff9142015-0001.bin")
	r = c.reports(importProblems, "import-legacy", "--dir", dir, "--legacy-passphrase-file", keyFile)
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
	srv := seededEmulator(t, fx)
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

	// Sliced under a new key and another passphrase: put --sliced takes the folder's
	// passphrase from --sliced-passphrase-file or $DISCOFS_SLICED_PASSPHRASE, the vault's
	// from where it always comes, and re-seals the folder.
	slicer := &cli{t: t, home: c.home, pass: "another passphrase 456"}
	out2 := filepath.Join(t.TempDir(), "sliced2")
	slicer.ok("slice", "--new-key", "--kdf-memory", "8", "--kdf-time", "1", src, out2)
	keyFile := filepath.Join(t.TempDir(), "key")
	os.WriteFile(keyFile, []byte(slicer.pass+"\n"), 0o600)
	if !haveTerminal() {
		r := c.fails(exitPassphrase, "put", "--sliced", out2)
		if !strings.Contains(r.stderr, out2) || !strings.Contains(r.stderr, "--sliced-passphrase-file") {
			t.Fatalf("put --sliced without the folder's passphrase:\n%s", r.stderr)
		}
	}
	wrongFile := filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(wrongFile, []byte("not the one 123\n"), 0o600)
	if r := c.fails(exitPassphrase, "put", "--sliced", out2, "--sliced-passphrase-file", wrongFile); !strings.Contains(r.stderr, "wrong passphrase") {
		t.Fatalf("a wrong sliced passphrase:\n%s", r.stderr)
	}
	c.fails(exitUsage, "put", "--sliced-passphrase-file", keyFile, src)
	for _, args := range [][]string{{"--sliced-passphrase-file", keyFile}, nil} {
		if args == nil {
			t.Setenv("DISCOFS_SLICED_PASSPHRASE", slicer.pass)
		}
		id := c.put(append([]string{"--sliced", out2}, args...)...)
		back := filepath.Join(t.TempDir(), "back")
		c.ok("get", id, back)
		diffTrees(t, src, back)
		c.ok("verify", "--full", id)
	}
	t.Setenv("DISCOFS_SLICED_PASSPHRASE", "")

	// Sliced under a new key and the vault's passphrase: the vault's opens it.
	out3 := filepath.Join(t.TempDir(), "sliced3")
	c.ok("slice", "--new-key", "--kdf-memory", "8", "--kdf-time", "1", src, out3)
	id = c.put("--sliced", out3)
	c.ok("verify", "--full", id)
}

// TestLegacyThroughMount reads imported v3.1 files through a real mount: whole, and from
// offsets that straddle v3.1 chunk boundaries. The mount needs no v3.1 passphrase. The
// archives are read-only there: changes fail with EROFS and leave nothing queued.
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
		if m.ProcessState == nil { // not stopped below
			m.Process.Signal(syscall.SIGINT)
			m.Wait()
		}
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

	arch := filepath.Join(mnt, "holiday-photos")
	appendTo := func(p string) error {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return err
		}
		_, err = f.WriteString("more\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}
	for what, err := range map[string]error{
		"create":  os.WriteFile(filepath.Join(arch, "new.txt"), []byte("hi\n"), 0o644),
		"append":  appendTo(filepath.Join(arch, "notes.txt")),
		"unlink":  os.Remove(filepath.Join(arch, "photo-001.jpg")),
		"mkdir":   os.Mkdir(filepath.Join(arch, "made"), 0o755),
		"rename":  os.Rename(filepath.Join(arch, "notes.txt"), filepath.Join(arch, "moved.txt")),
		"chmod":   os.Chmod(filepath.Join(arch, "notes.txt"), 0o600),
		"touch":   os.Chtimes(filepath.Join(arch, "notes.txt"), time.Now(), time.Now()),
		"rmdir":   syscall.Rmdir(arch),
		"symlink": os.Symlink("notes.txt", filepath.Join(arch, "link")),
	} {
		if !errors.Is(err, syscall.EROFS) {
			t.Errorf("%s in a v3.1 archive: %v, want EROFS", what, err)
		}
	}
	sameFiles(t, filepath.Join(fx, "small", "original"), arch)
	if entries, _ := os.ReadDir(arch); len(entries) != 4 {
		t.Errorf("the v3.1 archive lists %d entries after refused changes", len(entries))
	}
	m.Process.Signal(syscall.SIGINT)
	m.Wait()
	if log := m.Log(); strings.Contains(log, "wait in the queue") || strings.Contains(log, "read-only v3.1 archive") {
		t.Fatalf("the mount queued changes:\n%s", log)
	}
	if r := c.ok("sync"); !strings.Contains(r.stderr, "0 files committed") {
		t.Fatalf("sync after the mount:\n%s", r.stderr)
	}
	// rm forgets a v3.1 archive, and a second import brings it back.
	if r := c.ok("rm", "holiday-photos"); !strings.Contains(r.stdout, "removed the v3.1 archive") {
		t.Fatalf("rm:\n%s", r.stdout)
	}
	t.Setenv("USER_KEY", legacyPass)
	c.ok("import-legacy", "--dir", filepath.Join(fx, "small", "chunks"))
	out := filepath.Join(t.TempDir(), "out")
	c.ok("get", "holiday-photos", out)
	sameFiles(t, filepath.Join(fx, "small", "original"), out)
}

// TestImportLegacyEnvFile: --env reads v3.1's .env (comments, quotes and spaces as v3.1
// read them) for the token, the channel and the passphrase; a name set in the environment
// wins over the file; no value is printed.
func TestImportLegacyEnvFile(t *testing.T) {
	fx := legacyFixtures(t)
	srv := seededEmulator(t, fx)
	info := srv.Info()
	c := newCLI(t)
	for _, k := range []string{"DISCORD_BOT_TOKEN", "DISCORD_DRIVE_ARCHIVE_CHANNEL_ID", "USER_KEY"} {
		t.Setenv(k, "")
	}
	envFile := filepath.Join(t.TempDir(), ".env")
	os.WriteFile(envFile, []byte("# v3.1 settings\n\nDISCORD_BOT_TOKEN = \""+info.Token+"\"\r\n"+
		"DISCORD_DRIVE_ARCHIVE_CHANNEL_ID="+info.ChannelID+"\nnot a setting\n  USER_KEY='"+legacyPass+"'  \nUSER_KEY=second\n"), 0o600)
	noSecrets := func(r result) {
		t.Helper()
		if strings.Contains(r.stdout+r.stderr, legacyPass) || strings.Contains(r.stdout+r.stderr, info.Token) {
			t.Fatalf("a value of the .env was printed:\n%s%s", r.stdout, r.stderr)
		}
	}
	r := c.ok("import-legacy", "--discord-api", info.API, "--env", envFile)
	noSecrets(r)
	if !strings.Contains(r.stdout, "#170126-01 holiday-photos") || !strings.Contains(r.stdout, "#180126-02 camera-roll") {
		t.Fatalf("import:\n%s", r.stdout)
	}
	if ls := c.ok("ls", "camera-roll").stdout; !strings.Contains(ls, "clip-0001.mov") {
		t.Fatalf("ls camera-roll:\n%s", ls)
	}

	// The environment wins: a wrong USER_KEY there fails though the file has the right one.
	c = newCLI(t)
	t.Setenv("USER_KEY", "not the passphrase")
	r = c.run("import-legacy", "--dir", filepath.Join(fx, "large", "chunks"), "--env", envFile)
	noSecrets(r)
	if r.code != exitFailure || !strings.Contains(r.stderr, "3-manifest_181834_261126.json") || !strings.Contains(r.stderr, "v3.1 passphrase") {
		t.Fatalf("wrong passphrase in the environment:\n%s", r.stderr)
	}
	t.Setenv("USER_KEY", "")
	noSecrets(c.ok("import-legacy", "--dir", filepath.Join(fx, "large", "chunks"), "--env", envFile))
	if r := c.fails(exitFailure, "import-legacy", "--env", filepath.Join(t.TempDir(), "missing")); !strings.Contains(r.stderr, "v3.1 .env") {
		t.Fatalf("missing .env:\n%s", r.stderr)
	}
}

// writeLegacyPlain writes an unencrypted v3.1 slice of files into dir as the v3.1 slicer
// did without USER_KEY: gzip-9 chunks of chunkSize bytes, or (wholeFile) a file's gzip
// stream cut into chunkSize pieces.
func writeLegacyPlain(t *testing.T, dir string, chunkSize int, wholeFile bool, files map[string][]byte) {
	t.Helper()
	gz := func(b []byte) []byte {
		var z bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&z, 9)
		zw.Write(b)
		zw.Close()
		return z.Bytes()
	}
	n := 0
	entries := map[string]any{}
	for name, data := range files {
		fid := fmt.Sprintf("%x", sha256.Sum256([]byte(name)))[:12]
		var stored [][]byte
		if wholeFile {
			for all := gz(data); len(all) > 0; all = all[min(len(all), chunkSize):] {
				stored = append(stored, all[:min(len(all), chunkSize)])
			}
		} else {
			for i := 0; i == 0 || i*chunkSize < len(data); i++ {
				stored = append(stored, gz(data[i*chunkSize:min(len(data), (i+1)*chunkSize)]))
			}
		}
		var chunks []any
		for i, b := range stored {
			n++
			sum := sha256.Sum256(b)
			cn := fmt.Sprintf("%04d-%s-%x-%04d.bin", n, fid, sum[:8], i)
			if err := os.WriteFile(filepath.Join(dir, cn), b, 0o644); err != nil {
				t.Fatal(err)
			}
			chunks = append(chunks, map[string]any{"name": cn, "size": len(b), "index": i})
		}
		entries[fid] = map[string]any{"original_name": name, "original_size": len(data), "chunks": chunks}
	}
	scope := "chunk"
	if wholeFile {
		scope = "file"
	}
	b, _ := json.Marshal(map[string]any{"version": "3.1", "encrypted": false, "compression": "gzip-9",
		"encryption_scope": scope, "source_folder": filepath.Base(dir), "files": entries})
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d-manifest_120000_010226.json", n)), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestImportLegacyUnencrypted: unencrypted v3.1 folders, cut per chunk or sealed whole,
// import without any v3.1 passphrase; an encrypted one without it says which flag gives it.
func TestImportLegacyUnencrypted(t *testing.T) {
	c := newCLI(t)
	t.Setenv("USER_KEY", "")
	files := map[string][]byte{"a.dat": bytes.Repeat([]byte("0123456789abcdef"), 5000), "notes.txt": []byte("hello\n"), "empty": nil}
	rand.New(rand.NewSource(1)).Read(files["a.dat"][1000:30000])
	for _, v := range []struct {
		name  string
		whole bool
	}{{"per-chunk", false}, {"whole-file", true}} {
		dir := filepath.Join(t.TempDir(), v.name)
		os.Mkdir(dir, 0o755)
		writeLegacyPlain(t, dir, 16384, v.whole, files)
		if r := c.ok("import-legacy", "--dir", dir); !strings.Contains(r.stdout, v.name+": 3 files") {
			t.Fatalf("import %s:\n%s%s", v.name, r.stdout, r.stderr)
		}
		out := filepath.Join(t.TempDir(), "out")
		c.ok("get", v.name, out)
		for name, want := range files {
			if got, err := os.ReadFile(filepath.Join(out, name)); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s/%s differs (%v)", v.name, name, err)
			}
		}
	}
	if haveTerminal() {
		t.Skip("a terminal is at hand: the passphrase would be asked for")
	}
	r := c.reports(importProblems, "import-legacy", "--dir", filepath.Join(legacyFixtures(t), "small", "chunks"))
	if !strings.Contains(r.stderr, "no v3.1 passphrase: set USER_KEY, use --legacy-passphrase-file") {
		t.Fatalf("encrypted without a passphrase:\n%s", r.stderr)
	}
}

// TestImportLegacyDirDisagrees: in a folder, a .bin file no manifest lists is a note and
// the archive imports; a chunk of another size than its manifest says fails that archive
// only, naming its manifest and the chunk.
func TestImportLegacyDirDisagrees(t *testing.T) {
	fx := legacyFixtures(t)
	c := newCLI(t)
	t.Setenv("USER_KEY", legacyPass)
	dir := t.TempDir()
	copyFlat(t, filepath.Join(fx, "small", "chunks"), dir, "")
	copyFlat(t, filepath.Join(fx, "large", "chunks"), dir, "")
	const stray = "0099-deadbeefdead-0123456789abcdef-0000.bin"
	os.WriteFile(filepath.Join(dir, stray), []byte("left over"), 0o644)
	os.WriteFile(filepath.Join(dir, "0001-9e6e47720509-823ae2647eeb78f8-0000.bin"), []byte("shorter"), 0o644)
	// A line per note and per archive that failed, and the count.
	r := c.run("import-legacy", "--dir", dir)
	if r.code != exitFailure || !strings.Contains(r.stderr, "note: v3.1 archive 12-manifest_181827_261126.json: 1 .bin file that no manifest lists, left out: "+stray) ||
		!strings.Contains(r.stderr, "3-manifest_181834_261126.json") ||
		!strings.Contains(r.stderr, "0001-9e6e47720509-823ae2647eeb78f8-0000.bin of readme.txt has 7 bytes, the manifest says 146") ||
		!strings.Contains(r.stdout, "holiday-photos: 4 files") || strings.Contains(r.stdout, "camera-roll") {
		t.Fatalf("import:\n%s%s", r.stdout, r.stderr)
	}
}

// TestLegacyChannelThroughMount imports a seeded channel's v3.1 archives into a Discord
// vault with a token file and no $DISCORD_BOT_TOKEN (import, mount and migrate read the
// chunks with the vault's token), then reads every file through a real mount.
func TestLegacyChannelThroughMount(t *testing.T) {
	fx := legacyFixtures(t)
	srv := seededEmulator(t, fx)
	c := newDiscordCLI(t, srv)
	t.Setenv("DISCORD_BOT_TOKEN", "")
	t.Setenv("DISCORD_DRIVE_ARCHIVE_CHANNEL_ID", "")
	c.noToken(c.ok(c.initArgs()...))
	t.Setenv("USER_KEY", legacyPass)
	r := c.noToken(c.ok("import-legacy"))
	if !strings.Contains(r.stdout, "#170126-01 holiday-photos") || !strings.Contains(r.stdout, "#180126-02 camera-roll") {
		t.Fatalf("import:\n%s%s", r.stdout, r.stderr)
	}
	t.Setenv("USER_KEY", "")
	mnt := t.TempDir()
	m := c.startMount(mnt)
	for _, set := range []struct{ dir, name string }{{"small", "holiday-photos"}, {"large", "camera-roll"}} {
		sameFiles(t, filepath.Join(fx, set.dir, "original"), filepath.Join(mnt, set.name))
	}
	m.Process.Signal(syscall.SIGINT)
	m.Wait()
	r = c.noToken(c.ok("migrate", "#180126-02"))
	if !strings.Contains(r.stdout, "#180126-02 camera-roll: migrated to #") {
		t.Fatalf("migrate:\n%s", r.stdout)
	}
}

// TestLegacyEnvTokenOpensDiscordVault: a vault on Discord with no token file opens with
// the token of the v3.1 .env that --env names, as v3.1's users keep it.
func TestLegacyEnvTokenOpensDiscordVault(t *testing.T) {
	fx := legacyFixtures(t)
	srv := seededEmulator(t, fx)
	info := srv.Info()
	c := &cli{t: t, home: t.TempDir(), pass: "correct horse battery staple"}
	t.Setenv("DISCORD_BOT_TOKEN", info.Token)
	t.Setenv("DISCORD_DRIVE_ARCHIVE_CHANNEL_ID", "")
	t.Setenv("USER_KEY", "")
	c.ok("init", "--store", "discord", "--channel", info.ChannelID, "--discord-api", info.API, "--kdf-memory", "8", "--kdf-time", "1")
	t.Setenv("DISCORD_BOT_TOKEN", "")
	envFile := filepath.Join(t.TempDir(), ".env")
	os.WriteFile(envFile, []byte("DISCORD_BOT_TOKEN="+info.Token+"\nUSER_KEY="+legacyPass+"\n"), 0o600)
	c.fails(exitFailure, "import-legacy") // no token anywhere
	r := c.ok("import-legacy", "--env", envFile)
	if !strings.Contains(r.stdout, "#170126-01 holiday-photos") || strings.Contains(r.stdout+r.stderr, info.Token) {
		t.Fatalf("import with the .env's token:\n%s%s", r.stdout, r.stderr)
	}
}

// seededEmulator starts an emulator holding the v3.1 fixture's channel (fx's
// discord-state.json).
func seededEmulator(t *testing.T, fx string) *emulator.Server {
	t.Helper()
	cfg := emulator.FastConfig()
	cfg.SeedFile = filepath.Join(fx, "discord-state.json")
	srv, _ := emulatortest.Start(t, cfg)
	return srv
}
