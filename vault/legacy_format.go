package vault

// The v3.1 format, as the Python tool wrote it (legacy-v3.1/README.md in the shared docs):
// a chunk is chunk_size plaintext bytes, gzipped at level 9, sealed with AES-256-GCM under
// PBKDF2-HMAC-SHA256(passphrase, salt, 600,000 iterations), stored as
// salt(16) ‖ nonce(12) ‖ ciphertext‖tag, without AAD. The manifest is JSON and does not
// record the chunk size; the first chunk of a file with several chunks tells it.

import (
	"bytes"
	"compress/gzip"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/singleflight"

	"github.com/discofs/discofs/chunkstore"
)

const (
	legacySaltLen   = 16
	legacyNonceLen  = 12
	legacyTagLen    = 16
	legacyIters     = 600_000
	legacyKeyLen    = 32
	legacyKeysLimit = 1 << 16 // derived keys kept; 600k iterations make each worth keeping
)

var (
	// ErrLegacyPassphrase is wrapped by errors for a v3.1 chunk that does not decrypt under
	// the v3.1 passphrase given: the passphrase is wrong, or the chunk was changed.
	ErrLegacyPassphrase = errors.New("does not decrypt with the v3.1 passphrase (wrong passphrase or damaged chunk)")
	// ErrLegacyFormat is wrapped by errors for a v3.1 manifest or chunk that is malformed or
	// disagrees with what is stored.
	ErrLegacyFormat = errors.New("v3.1 archive is inconsistent")
)

// legacyManifest is a v3.1 manifest; only what reading needs is decoded.
type legacyManifest struct {
	Version     string `json:"version"`
	Encrypted   *bool  `json:"encrypted"` // absent in the oldest manifests, which always encrypted
	Compression string `json:"compression"`
	// Scope "chunk" seals each chunk alone; anything else seals a file's concatenated chunks.
	Scope        string                        `json:"encryption_scope"`
	SourceFolder string                        `json:"source_folder"`
	Files        map[string]legacyManifestFile `json:"files"`
}

type legacyManifestFile struct {
	Name   string             `json:"original_name"`
	Size   int64              `json:"original_size"`
	Chunks []legacyChunkEntry `json:"chunks"`
}

// legacyChunkEntry is one chunk of a file: an object {name, size, index}, or in older
// manifests just the name, whose order (or the index in the name) is then its place.
type legacyChunkEntry struct {
	Name  string `json:"name"`
	Size  int64  `json:"size"`
	Index int    `json:"index"`
}

func (c *legacyChunkEntry) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		c.Index = -1
		return json.Unmarshal(b, &c.Name)
	}
	type plain legacyChunkEntry
	p := plain{Index: -1}
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*c = legacyChunkEntry(p)
	return nil
}

// legacyChunkName matches {n:04d}-{file_id}-{chunk_hash}-{index:04d}.bin.
var legacyChunkName = regexp.MustCompile(`^\d+-([0-9a-f]{12})-([0-9a-f]{16})-(\d+)\.bin$`)

// parseLegacyManifest decodes and checks a v3.1 manifest; chunks come out in file order.
func parseLegacyManifest(b []byte) (*legacyManifest, error) {
	var m legacyManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: manifest: %v", ErrLegacyFormat, err)
	}
	if m.Version != "" && !strings.HasPrefix(m.Version, "3.") && m.Version != "3" {
		return nil, fmt.Errorf("%w: manifest version %q is not v3", ErrLegacyFormat, m.Version)
	}
	if m.Files == nil {
		return nil, fmt.Errorf("%w: manifest lists no files", ErrLegacyFormat)
	}
	for id, f := range m.Files {
		if f.Name == "" || f.Size < 0 {
			return nil, fmt.Errorf("%w: manifest file %s has no name or a negative size", ErrLegacyFormat, id)
		}
		for i := range f.Chunks {
			c := &f.Chunks[i]
			if c.Name == "" || strings.ContainsAny(c.Name, "/\\\x00") || c.Name == "." || c.Name == ".." {
				return nil, fmt.Errorf("%w: %s: bad chunk name %q", ErrLegacyFormat, f.Name, c.Name)
			}
			if c.Index < 0 {
				c.Index = i
				if sm := legacyChunkName.FindStringSubmatch(c.Name); sm != nil {
					c.Index, _ = strconv.Atoi(sm[3])
				}
			}
		}
		sort.SliceStable(f.Chunks, func(i, j int) bool { return f.Chunks[i].Index < f.Chunks[j].Index })
		for i, c := range f.Chunks {
			if c.Index != i {
				return nil, fmt.Errorf("%w: %s: chunk indexes are not 0..%d", ErrLegacyFormat, f.Name, len(f.Chunks)-1)
			}
		}
	}
	return &m, nil
}

func (m *legacyManifest) encrypted() bool { return m.Encrypted == nil || *m.Encrypted }

func (m *legacyManifest) gzip() bool {
	switch strings.ToLower(m.Compression) {
	case "none", "off", "false", "raw":
		return false
	}
	return true // v3.1 always gzipped; the field only names the level
}

func (m *legacyManifest) wholeFile() bool { return m.Scope != "" && m.Scope != "chunk" }

// checkLegacyChunkHash checks the stored bytes against the hash in a v3.1 chunk name, so a
// chunk swapped for another one of the same archive (which would decrypt) is caught.
func checkLegacyChunkHash(name string, stored []byte) error {
	sm := legacyChunkName.FindStringSubmatch(name)
	if sm == nil {
		return nil
	}
	sum := sha256.Sum256(stored)
	if hex.EncodeToString(sum[:8]) != sm[2] {
		return fmt.Errorf("%w: chunk %s does not hold the bytes its name hashes", ErrLegacyFormat, name)
	}
	return nil
}

// legacyKeys caches PBKDF2 keys by passphrase and salt: each v3.1 chunk has its own salt,
// and deriving one key costs 600,000 HMAC rounds, far more than reading the chunk. One
// cache serves every vault of the process (a mount beside a bot, a migrate that reads
// through a second vault).
var processLegacyKeys legacyKeys

type legacyKeys struct {
	flight singleflight.Group
	mu     sync.Mutex
	keys   map[string][]byte // passphrase digest ‖ salt -> key
	// derived counts the PBKDF2 derivations run, for tests of the cache.
	derived atomic.Int64
}

func (lk *legacyKeys) key(pass string, salt []byte) ([]byte, error) {
	d := sha256.Sum256([]byte(pass))
	id := string(d[:]) + string(salt)
	lk.mu.Lock()
	k, ok := lk.keys[id]
	lk.mu.Unlock()
	if ok {
		return k, nil
	}
	v, err, _ := lk.flight.Do(id, func() (any, error) {
		lk.mu.Lock()
		k, ok := lk.keys[id] // a derivation may have ended since the look above
		lk.mu.Unlock()
		if ok {
			return k, nil
		}
		lk.derived.Add(1)
		k, err := pbkdf2.Key(sha256.New, pass, salt, legacyIters, legacyKeyLen)
		if err != nil {
			return nil, err
		}
		lk.mu.Lock()
		if lk.keys == nil || len(lk.keys) >= legacyKeysLimit {
			lk.keys = map[string][]byte{}
		}
		lk.keys[id] = k
		lk.mu.Unlock()
		return k, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}

// legacyCodec opens the stored bytes of one v3.1 archive.
type legacyCodec struct {
	keys      *legacyKeys
	pass      string
	encrypted bool
	gzip      bool
}

// open returns the plaintext of stored (one chunk, or a whole file's chunks concatenated).
// want is the plaintext length expected, or -1 when unknown; a longer plaintext is an error,
// so a forged gzip stream cannot make it allocate without bound.
func (c legacyCodec) open(stored []byte, want int64) ([]byte, error) {
	data := stored
	if c.encrypted {
		if len(stored) < legacySaltLen+legacyNonceLen+legacyTagLen {
			return nil, fmt.Errorf("%w: %d bytes are too short for a v3.1 chunk", ErrLegacyFormat, len(stored))
		}
		key, err := c.keys.key(c.pass, stored[:legacySaltLen])
		if err != nil {
			return nil, err
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		gcm, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		nonce := stored[legacySaltLen : legacySaltLen+legacyNonceLen]
		data, err = gcm.Open(nil, nonce, stored[legacySaltLen+legacyNonceLen:], nil)
		if err != nil {
			return nil, ErrLegacyPassphrase
		}
	}
	if !c.gzip {
		if want >= 0 && int64(len(data)) != want {
			return nil, fmt.Errorf("%w: chunk holds %d bytes, expected %d", ErrLegacyFormat, len(data), want)
		}
		return data, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: gzip: %v", ErrLegacyFormat, err)
	}
	// Unknown length: bounded by what a ChunkRef can hold, which a whole-file unit reaches.
	limit := int64(math.MaxUint32)
	if want >= 0 {
		limit = want
	}
	var out bytes.Buffer
	if want >= 0 {
		out.Grow(int(want))
	}
	if _, err := io.Copy(&out, io.LimitReader(zr, limit+1)); err != nil {
		return nil, fmt.Errorf("%w: gzip: %v", ErrLegacyFormat, err)
	}
	if int64(out.Len()) > limit {
		return nil, fmt.Errorf("%w: chunk holds more than %d bytes", ErrLegacyFormat, limit)
	}
	if want >= 0 && int64(out.Len()) != want {
		return nil, fmt.Errorf("%w: chunk holds %d bytes, expected %d", ErrLegacyFormat, out.Len(), want)
	}
	return out.Bytes(), nil
}

// legacyChunkID names a legacy chunk in Node.Chunks. It is a hash of the archive and the
// v3.1 chunk name under its own domain, so it never meets an HMAC chunk ID of the vault.
func legacyChunkID(archive, name string) chunkstore.ID {
	return chunkstore.ID(sha256.Sum256([]byte("discofs v3.1 chunk\x00" + archive + "\x00" + name)))
}
