package vault

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// legacySlicer writes v3.1 output the way the Python slicer did, with the manifest
// variants older versions wrote.
type legacySlicer struct {
	pass      string // "" writes unencrypted chunks
	chunkSize int
	wholeFile bool // encryption_scope "file": each file sealed whole, then cut
	strings   bool // chunks listed as plain names
	n         int
}

func (s *legacySlicer) seal(t *testing.T, plain []byte) []byte {
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, 9)
	zw.Write(plain)
	zw.Close()
	if s.pass == "" {
		return z.Bytes()
	}
	salt, nonce := make([]byte, 16), make([]byte, 12)
	rand.Read(salt)
	rand.Read(nonce)
	key, err := pbkdf2.Key(sha256.New, s.pass, salt, 600_000, 32)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCM(block)
	return gcm.Seal(append(append([]byte(nil), salt...), nonce...), nonce, z.Bytes(), nil)
}

// slice writes files into dir and a manifest; it returns the manifest's name.
func (s *legacySlicer) slice(t *testing.T, dir string, files map[string][]byte) string {
	t.Helper()
	type entry struct {
		Name  string `json:"name"`
		Size  int    `json:"size"`
		Index int    `json:"index"`
	}
	out := map[string]any{}
	for name, data := range files {
		fid := fmt.Sprintf("%x", sha256.Sum256([]byte(name)))[:12]
		var stored [][]byte
		if s.wholeFile {
			all := s.seal(t, data)
			for len(all) > 0 {
				n := min(len(all), s.chunkSize)
				stored, all = append(stored, all[:n]), all[n:]
			}
		} else {
			for i := 0; i == 0 || i*s.chunkSize < len(data); i++ {
				stored = append(stored, s.seal(t, data[i*s.chunkSize:min(len(data), (i+1)*s.chunkSize)]))
			}
		}
		var list []any
		for i, b := range stored {
			s.n++
			sum := sha256.Sum256(b)
			cn := fmt.Sprintf("%04d-%s-%s-%04d.bin", s.n, fid, hex.EncodeToString(sum[:8]), i)
			if err := os.WriteFile(filepath.Join(dir, cn), b, 0o644); err != nil {
				t.Fatal(err)
			}
			if s.strings {
				list = append(list, cn)
			} else {
				list = append(list, entry{cn, len(b), i})
			}
		}
		out[fid] = map[string]any{"original_name": name, "original_size": len(data), "chunks": list}
	}
	m := map[string]any{"version": "3.1", "compression": "gzip-9", "source_folder": "variant", "files": out}
	m["encrypted"] = s.pass != ""
	if s.wholeFile {
		m["encryption_scope"] = "file"
	} else {
		m["encryption_scope"] = "chunk"
	}
	b, _ := json.Marshal(m)
	name := fmt.Sprintf("%d-manifest_120000_010226.json", s.n)
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestLegacyManifestVariants(t *testing.T) {
	files := map[string][]byte{
		"a.bin":        bytes.Repeat([]byte("0123456789abcdef"), 3000), // 48000 bytes
		"dir/b.txt":    []byte("hello"),
		"empty":        nil,
		"exactly-four": bytes.Repeat([]byte{7}, 4*4096),
	}
	rand.Read(files["a.bin"][100:5000])
	for _, tc := range []struct {
		name string
		s    legacySlicer
		pass string
	}{
		{"unencrypted", legacySlicer{chunkSize: 4096}, ""},
		{"plain-string-chunks", legacySlicer{chunkSize: 4096, strings: true}, ""},
		{"whole-file-unencrypted", legacySlicer{chunkSize: 1000, wholeFile: true}, ""},
		{"whole-file-encrypted", legacySlicer{chunkSize: 3000, wholeFile: true, pass: "pw"}, "pw"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tv := newTestVault(t)
			src := t.TempDir()
			tc.s.slice(t, src, files)
			as, errs := importDir(t, tv, src, tc.pass)
			if errs[0] != nil {
				t.Fatal(errs[0])
			}
			want := t.TempDir()
			for name, data := range files {
				os.MkdirAll(filepath.Dir(filepath.Join(want, name)), 0o755)
				os.WriteFile(filepath.Join(want, name), data, 0o644)
			}
			if as[0].ID != "010226-01" || as[0].Files != 4 {
				t.Fatalf("archive %+v", as[0])
			}
			checkTree(t, tv, as[0].ID, want)
		})
	}
}

// checkTree restores an archive and compares it with a tree, file by file.
func checkTree(t *testing.T, tv *testVault, id, want string) {
	t.Helper()
	dest := filepath.Join(t.TempDir(), "out")
	if damaged, err := tv.Get(context.Background(), id, dest, nil); err != nil || len(damaged) > 0 {
		t.Fatalf("get: %v %v", err, damaged)
	}
	err := filepath.Walk(want, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(want, p)
		a, _ := os.ReadFile(p)
		b, err := os.ReadFile(filepath.Join(dest, rel))
		if err != nil || !bytes.Equal(a, b) {
			return fmt.Errorf("%s differs (%v)", rel, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLegacyManifestDisagrees(t *testing.T) {
	tv := newTestVault(t)
	src := t.TempDir()
	s := legacySlicer{chunkSize: 4096}
	name := s.slice(t, src, map[string][]byte{"f": bytes.Repeat([]byte{1}, 10000)})
	// The manifest claims one more byte than the chunks hold.
	b, _ := os.ReadFile(filepath.Join(src, name))
	b = bytes.Replace(b, []byte(`"original_size":10000`), []byte(`"original_size":20000`), 1)
	os.WriteFile(filepath.Join(src, name), b, 0o644)
	_, errs := importDir(t, tv, src, "")
	if !errors.Is(errs[0], ErrLegacyFormat) || !strings.Contains(errs[0].Error(), name) {
		t.Fatalf("disagreeing manifest: %v", errs[0])
	}
	if _, err := parseLegacyManifest([]byte(`{"version":"2.0","files":{}}`)); !errors.Is(err, ErrLegacyFormat) {
		t.Fatalf("version 2: %v", err)
	}
}

func FuzzLegacyManifest(f *testing.F) {
	f.Add([]byte(`{"version":"3.1","files":{"x":{"original_name":"a","original_size":1,"chunks":["0001-aaaaaaaaaaaa-bbbbbbbbbbbbbbbb-0000.bin"]}}}`))
	f.Add([]byte(`{"files":{"x":{"original_name":"a/b","original_size":0,"chunks":[{"name":"c","size":3,"index":0}]}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseLegacyManifest(b)
		if err != nil {
			return
		}
		for _, file := range m.Files {
			for i, c := range file.Chunks {
				if c.Index != i || c.Name == "" {
					t.Fatalf("accepted chunk %+v at %d", c, i)
				}
			}
		}
	})
}
