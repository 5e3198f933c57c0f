package fs

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/discofs/discofs/index"
	"github.com/discofs/discofs/vault"
)

// MountOptions shape a mount.
type MountOptions struct {
	// ReadOnly mounts with the kernel's "ro" flag, so writes fail before they reach discofs.
	ReadOnly bool
	// AllowOther lets other users see the mount; the kernel then checks permissions
	// (default_permissions) against the modes discofs shows.
	AllowOther bool
	// Debug logs every FUSE request.
	Debug bool
	// Logger gets failed reads and lookups; nil discards them.
	Logger *slog.Logger
	// Writer takes the mount's changes; nil makes the mount read-only.
	Writer Writer
}

// VaultSource adapts a vault to Source.
type VaultSource struct{ V *vault.Vault }

// Archives returns the vault's visible archives.
func (s VaultSource) Archives() ([]index.Archive, error) { return s.V.Archives() }

// Node reads one node from the index.
func (s VaultSource) Node(archive, p string) (index.Node, error) {
	return s.V.Index().GetNode(archive, p)
}

// Children lists a directory from the index.
func (s VaultSource) Children(archive, dir string, fn func(index.Node) error) error {
	return s.V.Index().Children(archive, dir, fn)
}

// ReadAt reads a committed file through the vault.
func (s VaultSource) ReadAt(ctx context.Context, n index.Node, p []byte, off int64) (int, error) {
	return s.V.ReadAt(ctx, n, p, off)
}

// Mount shows v at mountpoint and returns once the kernel has the mount; the caller waits
// on the server (Wait) and unmounts it (Unmount). As root it mounts with mount(2) itself;
// otherwise through fusermount3.
func Mount(mountpoint string, v *vault.Vault, opts MountOptions) (*fuse.Server, error) {
	return MountSource(mountpoint, VaultSource{v}, opts)
}

// MountSource is Mount over any Source.
func MountSource(mountpoint string, src Source, opts MountOptions) (*fuse.Server, error) {
	fsys := newFilesys(src, opts.Logger)
	fsys.wr = opts.Writer
	if opts.ReadOnly {
		fsys.wr = nil
	}
	root := &rootNode{fsys: fsys}
	// Entry and attribute timeouts are set per reply; these are the fallbacks.
	entry, attr := rootTimeout, rootTimeout
	neg := time.Duration(0)
	fo := &fs.Options{
		EntryTimeout:    &entry,
		AttrTimeout:     &attr,
		NegativeTimeout: &neg,
		MountOptions: fuse.MountOptions{
			FsName:      "discofs",
			Name:        "discofs",
			MaxWrite:    1 << 20,
			AllowOther:  opts.AllowOther,
			Debug:       opts.Debug,
			DirectMount: os.Geteuid() == 0,
		},
	}
	if opts.AllowOther {
		fo.MountOptions.Options = append(fo.MountOptions.Options, "default_permissions")
	}
	if opts.ReadOnly {
		fo.MountOptions.Options = append(fo.MountOptions.Options, "ro")
	}
	return fs.Mount(mountpoint, root, fo)
}
