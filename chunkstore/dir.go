package chunkstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

const (
	// DefaultMaxObjectSize is the largest object the dir and memory stores take when the
	// caller leaves Limits.MaxObjectSize zero: one Discord attachment.
	DefaultMaxObjectSize = 10 << 20

	packsDir     = "packs"
	manifestsDir = "manifests"
	recordsDir   = "records"
	// tempPrefix starts every file being written. Object and record file names never start
	// with '.', so a temp file can never be taken for one.
	tempPrefix = ".tmp-"
)

// DirStore keeps objects and records as files under one root directory: packs in
// packs/<first two name characters>/<name>, manifests in manifests/<name>, records in
// records/<escaped name>. A Ref is the object's slash-separated path relative to the root.
//
// Every write goes to a temp file in the destination directory and is synced, renamed into
// place and its directory synced, so a crash leaves either the whole file or none. One
// process owns a root: OpenDir removes leftover temp files, including any another process
// is writing at that moment.
//
// DirStore implements Store and RecordStore and is safe for concurrent use.
type DirStore struct {
	root   string
	limits Limits
	// write copies an object's bytes into its temp file; tests replace it to simulate a
	// failing disk.
	write func(w io.Writer, r io.Reader) (int64, error)
	open  openFiles
}

// OpenDir opens the store under root, creating the directory layout when it is missing and
// removing temp files left by a crash. A zero limits.MaxObjectSize means
// DefaultMaxObjectSize; Ranged is always true, since a file can be read at any offset.
func OpenDir(root string, limits Limits) (*DirStore, error) {
	if root == "" {
		return nil, Classify(Permanent, errors.New("chunkstore: dir store needs a root directory"))
	}
	if limits.MaxObjectSize <= 0 {
		limits.MaxObjectSize = DefaultMaxObjectSize
	}
	limits.Ranged, limits.Local = true, true
	for _, sub := range []string{packsDir, manifestsDir, recordsDir} {
		if err := os.MkdirAll(filepath.Join(root, sub), 0o700); err != nil {
			return nil, dirError("open", root, err)
		}
	}
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasPrefix(e.Name(), tempPrefix) {
			return err
		}
		return os.Remove(p)
	})
	if err != nil {
		return nil, dirError("clean temp files in", root, err)
	}
	return &DirStore{root: root, limits: limits, write: io.Copy}, nil
}

// Root is the directory the store keeps its files in.
func (d *DirStore) Root() string { return d.root }

// Limits reports the store's limits; Ranged and Local are always true.
func (d *DirStore) Limits() Limits { return d.limits }

// Close closes the files Load keeps open.
func (d *DirStore) Close() error {
	d.open.closeAll()
	return nil
}

// Put writes the source to the object's file. A file of the same name and size already in
// place is taken as an earlier attempt of the same upload and Put succeeds without writing;
// a different size is a Permanent error. A full disk is a Permanent error and leaves no
// temp file behind.
func (d *DirStore) Put(ctx context.Context, h Handle, src Source) (Object, error) {
	if err := ctx.Err(); err != nil {
		return Object{}, err
	}
	if err := CheckHandle(h); err != nil {
		return Object{}, err
	}
	n := src.Length()
	if n < 0 || n > d.limits.MaxObjectSize {
		return Object{}, Classify(Permanent, fmt.Errorf("chunkstore: dir store: %s %s is %d bytes; the limit is %d",
			h.Type, h.Name, n, d.limits.MaxObjectSize))
	}
	ref := dirRef(h.Type, h.Name)
	obj := Object{Ref: ref, Type: h.Type, Name: h.Name, Size: n}
	p := d.path(ref)
	if fi, err := os.Stat(p); err == nil {
		// Names are unique in the vault, so this is the same object, stored by an attempt
		// whose answer was lost.
		if fi.Size() == n {
			return obj, nil
		}
		return Object{}, Classify(Permanent, fmt.Errorf("chunkstore: dir store: %s already exists with %d bytes, not %d",
			ref, fi.Size(), n))
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return Object{}, dirError("put", string(ref), err)
	}
	if err := d.writeAtomic(ctx, p, src, n); err != nil {
		return Object{}, err
	}
	return obj, nil
}

// writeAtomic puts exactly n bytes of r at path, or nothing at all.
func (d *DirStore) writeAtomic(ctx context.Context, path string, r io.Reader, n int64) (err error) {
	dir := filepath.Dir(path)
	defer func() {
		// A missing directory or temp file while writing is a failed write, not a missing
		// object.
		if IsNotFound(err) {
			err = Classify(Permanent, err)
		}
	}()
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return dirError("create temp file for", path, err)
	}
	done := false
	defer func() {
		if !done {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	// One byte more than promised shows a source that is longer than it said.
	written, err := d.write(f, io.LimitReader(ctxReader{ctx, r}, n+1))
	if err != nil {
		return dirError("write", path, err)
	}
	if written != n {
		return Classify(Permanent, fmt.Errorf("chunkstore: dir store: write %s: source yielded %d bytes, said %d", path, written, n))
	}
	if err := f.Sync(); err != nil {
		return dirError("sync", path, err)
	}
	if err := f.Close(); err != nil {
		return dirError("close", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return dirError("rename into", path, err)
	}
	done = true
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return dirError("open", dir, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return dirError("sync", dir, err)
	}
	return nil
}

// Load reads the range from the object's file without reading the rest of it.
func (d *DirStore) Load(ctx context.Context, ref Ref, length int, offset int64, fn func(rd io.Reader) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, _, err := parseDirRef(ref); err != nil {
		return err
	}
	f, size, err := d.open.get(d.path(ref))
	if err != nil {
		return dirError("load", string(ref), err)
	}
	defer d.open.put(f)
	n, err := CheckRange(size, length, offset)
	if err != nil {
		return fmt.Errorf("chunkstore: dir store: load %s: %w", ref, err)
	}
	return fn(ctxReader{ctx, exactly(io.NewSectionReader(f, offset, n), n)})
}

// Stat describes the object at ref.
func (d *DirStore) Stat(ctx context.Context, ref Ref) (Object, error) {
	if err := ctx.Err(); err != nil {
		return Object{}, err
	}
	t, name, err := parseDirRef(ref)
	if err != nil {
		return Object{}, err
	}
	fi, err := os.Stat(d.path(ref))
	if err != nil {
		return Object{}, dirError("stat", string(ref), err)
	}
	return Object{Ref: ref, Type: t, Name: name, Size: fi.Size()}, nil
}

// List calls fn for every object file of type t, skipping temp files and anything else
// that does not fit the layout.
func (d *DirStore) List(ctx context.Context, t Type, fn func(Object) error) error {
	switch t {
	case TypePack:
		shards, err := os.ReadDir(filepath.Join(d.root, packsDir))
		if err != nil {
			return dirError("list", packsDir, err)
		}
		for _, sh := range shards {
			if sh.IsDir() {
				if err := d.listDir(ctx, t, packsDir+"/"+sh.Name(), fn); err != nil {
					return err
				}
			}
		}
		return nil
	case TypeManifest:
		return d.listDir(ctx, t, manifestsDir, fn)
	}
	return Classify(Permanent, fmt.Errorf("chunkstore: dir store: list: unknown type %d", t))
}

func (d *DirStore) listDir(ctx context.Context, t Type, rel string, fn func(Object) error) error {
	entries, err := os.ReadDir(d.path(Ref(rel)))
	if err != nil {
		return dirError("list", rel, err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		ref := Ref(rel + "/" + e.Name())
		if _, _, err := parseDirRef(ref); err != nil || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted while listing
		}
		if err != nil {
			return dirError("list", string(ref), err)
		}
		if err := fn(Object{Ref: ref, Type: t, Name: e.Name(), Size: fi.Size()}); err != nil {
			return err
		}
	}
	return nil
}

// Delete removes the object's file.
func (d *DirStore) Delete(ctx context.Context, ref Ref) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, _, err := parseDirRef(ref); err != nil {
		return err
	}
	// The directory is not synced: a delete undone by a crash leaves only garbage, which
	// the next garbage collection finds again.
	d.open.forget(d.path(ref))
	if err := os.Remove(d.path(ref)); err != nil {
		return dirError("delete", string(ref), err)
	}
	return nil
}

func (d *DirStore) path(ref Ref) string {
	return filepath.Join(d.root, filepath.FromSlash(string(ref)))
}

func shardOf(name string) string { return name[:min(2, len(name))] }

func dirRef(t Type, name string) Ref {
	if t == TypePack {
		return Ref(packsDir + "/" + shardOf(name) + "/" + name)
	}
	return Ref(manifestsDir + "/" + name)
}

// parseDirRef accepts only Refs that dirRef makes. Names are hex, so a Ref that passes
// cannot climb out of the root or name a record or a temp file.
func parseDirRef(ref Ref) (Type, string, error) {
	parts := strings.Split(string(ref), "/")
	switch {
	case len(parts) == 3 && parts[0] == packsDir && validName(parts[2]) && parts[1] == shardOf(parts[2]):
		return TypePack, parts[2], nil
	case len(parts) == 2 && parts[0] == manifestsDir && validName(parts[1]):
		return TypeManifest, parts[1], nil
	}
	return 0, "", Classify(Permanent, fmt.Errorf("chunkstore: dir store: bad ref %q", ref))
}

// dirError classifies a file system error: a missing file is NotFound, a full disk
// Permanent, a permission problem Fatal (nothing else will work either), running out of
// file descriptors Retryable. Errors already classified and context errors pass unchanged.
func dirError(op, what string, err error) error {
	var ce *Error
	if errors.As(err, &ce) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	wrapped := fmt.Errorf("chunkstore: dir store: %s %s: %w", op, what, err)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Classify(NotFound, wrapped)
	case errors.Is(err, syscall.ENOSPC):
		return Classify(Permanent, fmt.Errorf("chunkstore: dir store: disk full: %s %s: %w", op, what, err))
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		return Classify(Fatal, wrapped)
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return Classify(Retryable, wrapped)
	}
	return Classify(Permanent, wrapped)
}
