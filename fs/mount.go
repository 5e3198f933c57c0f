package fs

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

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
	// NoPassthrough sends every write through discofs, even where the kernel could pass
	// it through to the spool file (see passthrough.go).
	NoPassthrough bool
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

// Rebuilds counts the vault's index rebuilds.
func (s VaultSource) Rebuilds() uint64 { return s.V.Rebuilds() }

// ReadAround reads a committed file through the vault, widened to whole segments.
func (s VaultSource) ReadAround(ctx context.Context, n index.Node, off int64, size int) (int64, [][]byte, func(), error) {
	return s.V.ReadAround(ctx, n, off, size)
}

// ChunkOf finds a committed file's chunk through the vault.
func (s VaultSource) ChunkOf(n index.Node, off int64) (int, int64, int64) { return s.V.ChunkOf(n, off) }

// ReadAside reads a committed file through the vault, starting no read-ahead.
func (s VaultSource) ReadAside(ctx context.Context, n index.Node, off int64, size int) ([][]byte, func(), error) {
	return s.V.ReadAside(ctx, n, off, size)
}

// ReadSlices reads a committed file through the vault.
func (s VaultSource) ReadSlices(ctx context.Context, n index.Node, off int64, size int) ([][]byte, func(), error) {
	return s.V.ReadSlices(ctx, n, off, size)
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
	// Only root may give the kernel a file to pass through to.
	fsys.passthrough = os.Geteuid() == 0 && !opts.NoPassthrough
	root := &rootNode{fsys: fsys}
	// Entry and attribute timeouts are set per reply; these are the fallbacks. A name
	// found missing stays missing for as long as the root's names are kept.
	entry, attr, neg := rootTimeout, rootTimeout, rootTimeout
	fo := &fs.Options{
		EntryTimeout:    &entry,
		AttrTimeout:     &attr,
		NegativeTimeout: &neg,
		MountOptions: fuse.MountOptions{
			FsName:   "discofs",
			Name:     "discofs",
			MaxWrite: 1 << 20,
			// Every change to a file's bytes goes through this mount, so what the kernel
			// caches stays true; it is not to drop a file's pages when its time changes.
			ExplicitDataCacheControl: true,
			// Reads answer with slices the kernel takes by writev; splicing would copy
			// them into a pipe first.
			DisableSplice: true,
			// The kernel passes O_TRUNC with the open instead of opening, then truncating:
			// an open for writing without it copies a committed file up, fetching every
			// byte of it only to have it truncated.
			ExtraCapabilities: fuse.CAP_ATOMIC_O_TRUNC,
			AllowOther:        opts.AllowOther,
			Debug:             opts.Debug,
			DirectMount:       os.Geteuid() == 0,
		},
	}
	if opts.AllowOther {
		fo.MountOptions.Options = append(fo.MountOptions.Options, "default_permissions")
	}
	if opts.ReadOnly {
		fo.MountOptions.Options = append(fo.MountOptions.Options, "ro")
	}
	fsys.releases.on = true
	srv, err := fuse.NewServer(rawFS{fs.NewNodeFS(root, fo), fsys}, mountpoint, &fo.MountOptions)
	if err != nil {
		return nil, err
	}
	go srv.Serve()
	if err := srv.WaitMount(); err != nil {
		return nil, err
	}
	raiseReadAhead(mountpoint, fsys.log)
	return srv, nil
}

// readAheadKB is the kernel read-ahead asked for: with MaxWrite at 1 MiB, a sequential
// reader then gets 1 MiB requests, several in flight, instead of 128 KiB ones.
const readAheadKB = 1024

// raiseReadAhead sets the mount's read-ahead in /sys/class/bdi, the only knob that can
// raise it above the kernel's 128 KiB default (the INIT reply can only lower it). Only
// root may; for others the default stays, which costs speed, not correctness.
func raiseReadAhead(mountpoint string, log *slog.Logger) {
	var st unix.Stat_t
	if err := unix.Stat(mountpoint, &st); err != nil {
		return
	}
	p := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev))
	if err := os.WriteFile(p, []byte(strconv.Itoa(readAheadKB)), 0); err != nil {
		log.Debug("kernel read-ahead stays at its default", "err", err)
	}
}
