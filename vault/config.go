package vault

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ConfigVersion is the version of config.json this code writes.
const ConfigVersion = 1

// Config is a vault's local configuration, kept in config.json in the config directory.
type Config struct {
	Version int    `json:"version"`
	VaultID string `json:"vault_id"`
	// Store says where the bytes live: "dir:PATH" or "discord:CHANNEL_ID".
	Store string `json:"store"`
	// StoreOptions holds settings of the store kind (API URL, token file, lanes, …); never
	// a secret.
	StoreOptions map[string]string `json:"store_options,omitempty"`
	Key          WrappedKey        `json:"key"`
	// Bot holds the Discord bot's settings; its command-line flags override them.
	Bot *BotSettings `json:"bot,omitempty"`
}

// BotSettings are the bot's settings kept in config.json (`discofs bot --save`).
type BotSettings struct {
	// Allow lists the user and role IDs that may use the bot; empty means the guild owner
	// and administrators.
	Allow []string `json:"allow,omitempty"`
	// DownloadDir is where `download` restores archives; empty turns downloads off.
	DownloadDir string `json:"download_dir,omitempty"`
}

// Paths are the local directories of one vault.
type Paths struct {
	Config string // config.json
	Data   string // index/ and spool/
	Cache  string // frames/
}

// HomePaths puts everything in one directory.
func HomePaths(home string) Paths {
	return Paths{Config: home, Data: home, Cache: filepath.Join(home, "cache")}
}

// DefaultPaths follows the XDG base directories.
func DefaultPaths() (Paths, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return Paths{}, fmt.Errorf("no state directory: set DISCOFS_HOME or --home (%w)", err)
	}
	xdg := func(env, def string) string {
		if d := os.Getenv(env); filepath.IsAbs(d) {
			return filepath.Join(d, "discofs")
		}
		return filepath.Join(home, def, "discofs")
	}
	return Paths{
		Config: xdg("XDG_CONFIG_HOME", ".config"),
		Data:   xdg("XDG_DATA_HOME", ".local/share"),
		Cache:  xdg("XDG_CACHE_HOME", ".cache"),
	}, nil
}

func (p Paths) configFile() string { return filepath.Join(p.Config, "config.json") }

// IndexDir is where the badger index lives.
func (p Paths) IndexDir() string { return filepath.Join(p.Data, "index") }

// SpoolDir is where files wait for upload.
func (p Paths) SpoolDir() string { return filepath.Join(p.Data, "spool") }

// DefaultStoreDir is the local store's folder when init is given none.
func (p Paths) DefaultStoreDir() string { return filepath.Join(p.Data, "store") }

// ErrNoVault is returned when the state directory holds no vault yet.
var ErrNoVault = errors.New("no vault here: run 'discofs init' first")

// LoadConfig reads config.json.
func LoadConfig(p Paths) (*Config, error) {
	b, err := os.ReadFile(p.configFile())
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoVault
	}
	if err != nil {
		return nil, err
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", p.configFile(), err)
	}
	if c.Version != ConfigVersion {
		return nil, fmt.Errorf("%s: config version %d is not supported", p.configFile(), c.Version)
	}
	return &c, nil
}

// SaveConfig writes config.json atomically, readable by its owner only.
func SaveConfig(p Paths, c *Config) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(p.configFile(), append(b, '\n'), 0o600)
}

// writeFileAtomic writes name so that a crash leaves the old or the new content, never a mix.
func writeFileAtomic(name string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(name), ".tmp-"+filepath.Base(name)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), name)
}
