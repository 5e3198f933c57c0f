package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/hkdf"
)

// ErrWrongPassphrase is returned when a passphrase does not unwrap the master key.
var ErrWrongPassphrase = errors.New("wrong passphrase")

// KDFParams are the Argon2id parameters a key was wrapped with.
type KDFParams struct {
	Time    uint32 `json:"t"`
	Memory  uint32 `json:"m"` // KiB
	Threads uint8  `json:"p"`
}

// DefaultKDF follows RFC 9106's second recommended option (t=3, 64 MiB), which unlocks in
// a fraction of a second on a small machine.
var DefaultKDF = KDFParams{Time: 3, Memory: 64 << 10, Threads: 4}

// WrappedKey is the master key sealed under a passphrase. It is safe to publish: it sits
// in the local config and in the store's vault header.
type WrappedKey struct {
	KDF    string    `json:"kdf"` // "argon2id"
	Params KDFParams `json:"params"`
	Salt   []byte    `json:"salt"`
	Nonce  []byte    `json:"nonce"`
	Sealed []byte    `json:"sealed"`
}

// Keys are the master key's subkeys, each for one purpose.
type Keys struct {
	Data     []byte // seals data frames
	ID       []byte // chunk IDs: HMAC-SHA256(ID, plaintext)
	Manifest []byte // seals manifest frames
	Chunker  []byte // keys the chunker's gear table
	Index    []byte // encrypts the local index at rest
	Cache    []byte // seals the local frame cache
}

const masterKeySize = 32

// wrapAAD binds a wrapped key to its vault, so one vault's header cannot unlock another.
func wrapAAD(vaultID string) []byte { return []byte("discofs key v1 " + vaultID) }

// NewMasterKey returns a fresh random master key.
func NewMasterKey() ([]byte, error) {
	k := make([]byte, masterKeySize)
	_, err := io.ReadFull(rand.Reader, k)
	return k, err
}

// Wrap seals master under passphrase with fresh salt and nonce.
func Wrap(master []byte, passphrase, vaultID string, p KDFParams) (WrappedKey, error) {
	w := WrappedKey{KDF: "argon2id", Params: p, Salt: make([]byte, 16), Nonce: make([]byte, 12)}
	if _, err := io.ReadFull(rand.Reader, w.Salt); err != nil {
		return w, err
	}
	if _, err := io.ReadFull(rand.Reader, w.Nonce); err != nil {
		return w, err
	}
	aead, err := w.aead(passphrase)
	if err != nil {
		return w, err
	}
	w.Sealed = aead.Seal(nil, w.Nonce, master, wrapAAD(vaultID))
	return w, nil
}

// Unwrap opens the master key; ErrWrongPassphrase when passphrase does not fit.
func (w WrappedKey) Unwrap(passphrase, vaultID string) ([]byte, error) {
	if w.KDF != "argon2id" {
		return nil, fmt.Errorf("unsupported key derivation %q", w.KDF)
	}
	aead, err := w.aead(passphrase)
	if err != nil {
		return nil, err
	}
	if len(w.Nonce) != aead.NonceSize() {
		return nil, errors.New("wrapped key: bad nonce")
	}
	master, err := aead.Open(nil, w.Nonce, w.Sealed, wrapAAD(vaultID))
	if err != nil {
		return nil, ErrWrongPassphrase
	}
	return master, nil
}

func (w WrappedKey) aead(passphrase string) (cipher.AEAD, error) {
	p := w.Params
	if p.Time == 0 || p.Time > 100 || p.Memory < 8 || p.Memory > 4<<20 || p.Threads == 0 || len(w.Salt) < 16 {
		return nil, errors.New("wrapped key: implausible key derivation parameters")
	}
	warmHeap(int(p.Memory) << 10)
	kek := argon2.IDKey([]byte(passphrase), w.Salt, p.Time, p.Memory, p.Threads, 32)
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// DeriveKeys derives every subkey from the master key with HKDF-SHA256.
func DeriveKeys(master []byte) Keys {
	sub := func(purpose string) []byte {
		k := make([]byte, 32)
		r := hkdf.New(sha256.New, master, nil, []byte("discofs v1 "+purpose))
		if _, err := io.ReadFull(r, k); err != nil {
			panic(err) // HKDF cannot fail for 32 bytes
		}
		return k
	}
	return Keys{
		Data:     sub("data"),
		ID:       sub("chunk id"),
		Manifest: sub("manifest"),
		Chunker:  sub("chunker"),
		Index:    sub("index"),
		Cache:    sub("cache"),
	}
}

// warmHeap touches n bytes of memory on one goroutine and frees them, so that Argon2id's
// allocation of as much, which comes next, reuses pages already mapped. Left to Argon2id,
// fresh memory is faulted in by all of its lanes at once, which on a virtual machine costs
// twice the faults and several times the time: a fresh process unlocking with the default
// settings (64 MiB, 3 passes, 4 lanes) took 0.16-0.18 s on the test machine, and
// 0.08-0.10 s after this.
func warmHeap(n int) {
	b := make([]byte, n)
	for i := 0; i < len(b); i += os.Getpagesize() {
		b[i] = 1
	}
	runtime.KeepAlive(b)
	runtime.GC()
}
