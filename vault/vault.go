// Package vault is the service layer that the CLI, the mount and the bot share: it unlocks a
// vault, archives trees (chunk, dedup, seal, pack, upload, commit), reads files back, and
// verifies, restores, deletes and collects garbage. It gets a chunkstore.Store and a
// Catalog from its caller and never knows which backend they are.
//
// Lock order: Vault.mu (gc against writers) before any lock of a put or read in flight.
package vault

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
)

// Options are what a caller wires into a vault.
type Options struct {
	Store   chunkstore.Store
	Catalog Catalog // nil: the store keeps no catalogue (rebuild is then impossible)
	Logger  *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Uploaders is how many packs upload at once (default 2).
	Uploaders int
	// Workers is how many chunks are hashed and sealed at once (default GOMAXPROCS, at
	// most the CPUs: a mount runs with more Ps than CPUs for its FUSE readers).
	Workers int
	// CardNames puts file names on archive cards.
	CardNames bool
	// FrameCacheBytes bounds the on-disk cache of fetched frame segments (kept sealed, in
	// Paths.Cache); 0 keeps none, and so does a store on a local disk, which a cache
	// would only copy.
	FrameCacheBytes int64
	// MemoryCacheBytes bounds the plaintext of opened segments kept in memory for reads
	// (default 64 MiB). Random reads of files that fit it are served without opening a
	// segment again.
	MemoryCacheBytes int64
	// Legacy fetches the chunks of v3.1 archives kept outside a folder (in Discord); nil
	// reads only v3.1 archives imported from a folder.
	Legacy LegacyFetcher
}

// Vault is an unlocked vault.
type Vault struct {
	cfg   *Config
	paths Paths
	keys  Keys
	opts  Options
	store chunkstore.Store
	// remote says the store is not on a local disk: fetches from it can take long, and a
	// disk cache in front of it pays.
	remote  bool
	catalog Catalog
	idx     *index.DB
	data    *chunkstore.Codec
	meta    *chunkstore.Codec
	ids     *chunkstore.IDHasher
	// chunkers are Chunkers with this vault's gear table, kept between files: a new one
	// costs a 512 KiB buffer and the table, which a folder of small files pays per file.
	chunkers sync.Pool
	log      *slog.Logger
	reads    *readCache
	ahead    *readAhead
	frames   *frameCache // nil without a disk cache
	legacy   *legacyKeys // PBKDF2 keys of v3.1 chunks, by salt; shared by the process's vaults
	// life ends when the vault closes; shared fetches run on it, not on a caller's context.
	life context.Context
	stop context.CancelFunc

	// mu is held for reading by work that adds references to chunks (put, commit) and for
	// writing by gc, so gc never frees a chunk that a put has just deduplicated against.
	mu sync.RWMutex

	// rebuilds counts the rebuilds of the index since the vault was opened (see Rebuilds).
	rebuilds atomic.Uint64
	// staging holds the stage IDs of the puts running in this process, which Resume and
	// Interrupted leave alone.
	staging sync.Map
}

// Rebuilds counts the times the index was rebuilt since the vault was opened. A rebuild
// can give a file another content under the same inode number (a newer commit made on
// another machine), which a mount must not serve from pages it cached before.
func (v *Vault) Rebuilds() uint64 { return v.rebuilds.Load() }

func (o *Options) fill() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Uploaders <= 0 {
		o.Uploaders = 2
	}
	if o.Workers <= 0 {
		o.Workers = min(runtime.GOMAXPROCS(0), runtime.NumCPU())
	}
	if o.MemoryCacheBytes <= 0 {
		o.MemoryCacheBytes = defaultMemoryCache
	}
}

// Init creates a vault in paths on the given store, or joins the vault the store already
// holds after checking the passphrase. It returns the new config and whether it joined.
func Init(ctx context.Context, paths Paths, storeSpec string, storeOpts map[string]string, opts Options, passphrase string, kdf KDFParams) (*Config, bool, error) {
	if _, err := LoadConfig(paths); err == nil {
		return nil, false, fmt.Errorf("a vault is already set up in %s", paths.Config)
	}
	if passphrase == "" {
		return nil, false, errors.New("the passphrase is empty")
	}
	cfg := &Config{Version: ConfigVersion, Store: storeSpec, StoreOptions: storeOpts}
	opts.Catalog = withCatalogRetry(opts.Catalog)
	joined := false
	var hdr *Header
	var err error
	if opts.Catalog != nil {
		hdr, err = opts.Catalog.LoadHeader(ctx)
		if err != nil && !errors.Is(err, ErrNoHeader) {
			return nil, false, err
		}
	}
	if hdr != nil {
		if _, err := hdr.Key.Unwrap(passphrase, hdr.VaultID); err != nil {
			return nil, false, err
		}
		cfg.VaultID, cfg.Key, joined = hdr.VaultID, hdr.Key, true
	} else {
		cfg.VaultID = randomHex(8)
		master, err := NewMasterKey()
		if err != nil {
			return nil, false, err
		}
		if cfg.Key, err = Wrap(master, passphrase, cfg.VaultID, kdf); err != nil {
			return nil, false, err
		}
		if opts.Catalog != nil {
			h := &Header{Format: "discofs-vault", Version: HeaderVersion, VaultID: cfg.VaultID, Key: cfg.Key}
			if err := opts.Catalog.SaveHeader(ctx, h); err != nil {
				return nil, false, fmt.Errorf("write vault header: %w", err)
			}
		}
	}
	if err := SaveConfig(paths, cfg); err != nil {
		return nil, false, err
	}
	return cfg, joined, nil
}

// Unlock unwraps the master key of the vault cfg describes; ErrWrongPassphrase when the
// passphrase does not fit. Callers unlock before they open or touch anything else.
func Unlock(cfg *Config, passphrase string) ([]byte, error) {
	return cfg.Key.Unwrap(passphrase, cfg.VaultID)
}

// Open opens the vault cfg describes with its master key (see Unlock).
func Open(ctx context.Context, paths Paths, cfg *Config, master []byte, opts Options) (*Vault, error) {
	opts.fill()
	start := opts.Now()
	var err error
	keys := DeriveKeys(master)
	v := &Vault{cfg: cfg, paths: paths, keys: keys, opts: opts, store: opts.Store,
		catalog: withCatalogRetry(opts.Catalog), log: opts.Logger, reads: newReadCache(opts.MemoryCacheBytes), ahead: newReadAhead(!opts.Store.Limits().Local, opts.MemoryCacheBytes),
		legacy: &processLegacyKeys}
	v.life, v.stop = context.WithCancel(context.Background())
	v.chunkers.New = func() any { return chunkstore.NewChunker(keys.Chunker, nil) }
	if v.data, err = chunkstore.NewCodec(keys.Data); err != nil {
		return nil, err
	}
	if v.meta, err = chunkstore.NewCodec(keys.Manifest); err != nil {
		return nil, err
	}
	v.remote = !opts.Store.Limits().Local
	if opts.FrameCacheBytes > 0 && v.remote {
		if v.frames, err = openFrameCache(filepath.Join(paths.Cache, "frames"), opts.FrameCacheBytes); err != nil {
			return nil, err
		}
	}
	v.ids = chunkstore.NewIDKey(keys.ID)
	if err := os.MkdirAll(paths.IndexDir(), 0o700); err != nil {
		return nil, err
	}
	if v.idx, err = index.Open(paths.IndexDir(), keys.Index, opts.Logger); err != nil {
		return nil, err
	}
	// The store spec names a folder or a channel, never a secret.
	v.log.Info("vault opened", "vault", cfg.VaultID, "store", cfg.Store, "index", paths.IndexDir(),
		"took", opts.Now().Sub(start).Round(time.Millisecond))
	return v, nil
}

// Close ends shared fetches and closes the index. The store belongs to the caller.
func (v *Vault) Close() error {
	v.stop()
	if v.frames != nil {
		v.frames.close()
	}
	return v.idx.Close()
}

// Config is the vault's configuration.
func (v *Vault) Config() *Config { return v.cfg }

// Index is the vault's index, for the layers above that browse trees.
func (v *Vault) Index() *index.DB { return v.idx }

// ChangePassphrase re-wraps the master key under a new passphrase, in the store's header
// first and then in the local config. No data is touched.
func ChangePassphrase(ctx context.Context, paths Paths, cfg *Config, catalog Catalog, oldPass, newPass string, kdf KDFParams) error {
	if newPass == "" {
		return errors.New("the new passphrase is empty")
	}
	master, err := cfg.Key.Unwrap(oldPass, cfg.VaultID)
	if err != nil {
		return err
	}
	w, err := Wrap(master, newPass, cfg.VaultID, kdf)
	if err != nil {
		return err
	}
	if catalog != nil {
		h := &Header{Format: "discofs-vault", Version: HeaderVersion, VaultID: cfg.VaultID, Key: w}
		if err := catalog.SaveHeader(ctx, h); err != nil {
			return fmt.Errorf("write vault header: %w", err)
		}
	}
	next := *cfg
	next.Key = w
	if err := SaveConfig(paths, &next); err != nil {
		return err
	}
	*cfg = next
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}
