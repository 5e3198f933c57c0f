package vault

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
)

// Damaged names a file that could not be read back, and why.
type Damaged struct {
	Archive string // ID
	Path    string
	Err     error
}

func (d Damaged) String() string { return FormatID(d.Archive) + d.Path + ": " + d.Err.Error() }

// ErrDestNotEmpty is returned when a restore would mix with what is already there.
var ErrDestNotEmpty = errors.New("destination is not empty")

// Get restores ref ("ARCHIVE" or "ARCHIVE/PATH") into dest. A directory's contents go into
// dest, which must be missing or empty; a file goes to dest, or into dest when dest is a
// directory. Files whose chunks cannot be read are left out and listed; no restored file
// ever holds wrong bytes.
func (v *Vault) Get(ctx context.Context, ref, dest string, prog *Progress) ([]Damaged, error) {
	start := v.opts.Now()
	aref, p := SplitRef(ref)
	a, err := v.Resolve(aref)
	if err != nil {
		return nil, err
	}
	top, err := v.idx.GetNode(a.ID, p)
	if errors.Is(err, index.ErrNotFound) {
		return nil, fmt.Errorf("%s%s: no such file or directory", FormatID(a.ID), p)
	}
	if err != nil {
		return nil, err
	}
	if top.Type != index.TypeDir {
		if st, err := os.Stat(dest); err == nil && st.IsDir() {
			dest = filepath.Join(dest, path.Base(p))
		}
		if _, err := os.Lstat(dest); err == nil {
			return nil, fmt.Errorf("%s: %w", dest, os.ErrExist)
		}
	} else if err := emptyDir(dest); err != nil {
		return nil, err
	}

	var nodes []index.Node
	err = v.idx.Walk(a.ID, func(n index.Node) error {
		if n.Path == p || p == "/" || strings.HasPrefix(n.Path, p+"/") {
			nodes = append(nodes, n)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var files, bytes int64
	for _, n := range nodes {
		if n.Type == index.TypeFile {
			files++
			bytes += n.Size
		}
	}
	if prog != nil {
		prog.Total.Add(bytes)
	}
	v.log.Info("restoring", "archive", FormatID(a.ID), "path", p, "dest", dest, "files", files, "bytes", bytes)
	local := func(n index.Node) string {
		if n.Path == p {
			return dest
		}
		return filepath.Join(dest, filepath.FromSlash(strings.TrimPrefix(n.Path, strings.TrimSuffix(p, "/")+"/")))
	}
	r := &restorer{v: v, archive: a.ID, prog: prog}
	var dirs []index.Node
	for _, n := range nodes {
		switch n.Type {
		case index.TypeDir:
			if err := os.MkdirAll(local(n), 0o700); err != nil {
				return nil, err
			}
			dirs = append(dirs, n)
		case index.TypeSymlink:
			if err := os.Symlink(n.Target, local(n)); err != nil {
				return nil, err
			}
			if err := setTimes(local(n), n.Mtime, true); err != nil {
				return nil, err
			}
		}
	}
	if err := r.files(ctx, nodes, local); err != nil {
		return r.damaged, err
	}
	// Directories last and deepest first, so creating their contents does not change them.
	for i := len(dirs) - 1; i >= 0; i-- {
		n := dirs[i]
		if err := os.Chmod(local(n), os.FileMode(n.Mode&0o777)|modeSpecial(n.Mode)); err != nil {
			return r.damaged, err
		}
		if err := setTimes(local(n), n.Mtime, false); err != nil {
			return r.damaged, err
		}
	}
	v.log.Info("restored", "archive", FormatID(a.ID), "path", p, "files", files-int64(len(r.damaged)),
		"damaged", len(r.damaged), "took", v.opts.Now().Sub(start).Round(time.Millisecond))
	return r.damaged, nil
}

func emptyDir(dest string) error {
	entries, err := os.ReadDir(dest)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s: %w", dest, ErrDestNotEmpty)
	}
	return nil
}

func setTimes(name string, mtime int64, link bool) error {
	ts := []unix.Timespec{unix.NsecToTimespec(mtime), unix.NsecToTimespec(mtime)}
	flags := 0
	if link {
		flags = unix.AT_SYMLINK_NOFOLLOW
	}
	return unix.UtimesNanoAt(unix.AT_FDCWD, name, ts, flags)
}

func modeSpecial(m uint32) os.FileMode {
	var fm os.FileMode
	if m&unix.S_ISUID != 0 {
		fm |= os.ModeSetuid
	}
	if m&unix.S_ISGID != 0 {
		fm |= os.ModeSetgid
	}
	if m&unix.S_ISVTX != 0 {
		fm |= os.ModeSticky
	}
	return fm
}

// restorer writes files back, fetching chunks ahead in parallel and writing them in order.
type restorer struct {
	v       *Vault
	archive string
	prog    *Progress
	damaged []Damaged
}

type fetched struct {
	id   chunkstore.ID
	buf  *[]byte
	data []byte
	err  error
	done chan struct{}
}

var plainBufs = sync.Pool{New: func() any { b := make([]byte, 0, chunkstore.MaxChunkSize); return &b }}

func (r *restorer) files(ctx context.Context, nodes []index.Node, local func(index.Node) string) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	workers := max(r.v.opts.Workers, 4)
	jobs := make(chan *fetched)
	ahead := make(chan *fetched, 2*workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range jobs {
				f.buf = plainBufs.Get().(*[]byte)
				f.data, f.err = r.v.loadChunk(ctx, f.id, (*f.buf)[:0])
				close(f.done)
			}
		}()
	}
	go func() {
		defer close(ahead)
		defer close(jobs)
		for _, n := range nodes {
			for _, c := range n.Chunks {
				f := &fetched{id: c.ID, done: make(chan struct{})}
				select {
				case ahead <- f:
				case <-ctx.Done():
					return
				}
				select {
				case jobs <- f:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	for _, n := range nodes {
		if n.Type != index.TypeFile {
			continue
		}
		if err := r.file(ctx, n, local(n), ahead); err != nil {
			return err
		}
	}
	return nil
}

// file writes one file from its chunks, which arrive in order on ahead. A damaged chunk
// removes the file and records it; a local write error stops the restore.
func (r *restorer) file(ctx context.Context, n index.Node, name string, ahead <-chan *fetched) error {
	fh, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	var bad error
	for i := range n.Chunks {
		var f *fetched
		select {
		case f = <-ahead:
		case <-ctx.Done():
			fh.Close()
			os.Remove(name)
			return ctx.Err()
		}
		<-f.done
		switch {
		case bad != nil:
		case f.err != nil:
			bad = f.err
		case len(f.data) != int(n.Chunks[i].Len):
			bad = fmt.Errorf("chunk %s has %d bytes, the index says %d", f.id, len(f.data), n.Chunks[i].Len)
		default:
			if _, err := fh.Write(f.data); err != nil {
				fh.Close()
				os.Remove(name)
				plainBufs.Put(f.buf)
				return fmt.Errorf("write %s: %w", name, err)
			}
			if r.prog != nil {
				r.prog.Bytes.Add(int64(len(f.data)))
			}
		}
		if f.buf != nil {
			plainBufs.Put(f.buf)
		}
	}
	if bad != nil {
		fh.Close()
		os.Remove(name)
		r.damaged = append(r.damaged, Damaged{Archive: r.archive, Path: n.Path, Err: bad})
		return nil
	}
	if err := fh.Chmod(os.FileMode(n.Mode&0o777) | modeSpecial(n.Mode)); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if r.prog != nil {
		r.prog.Files.Add(1)
	}
	return setTimes(name, n.Mtime, false)
}
