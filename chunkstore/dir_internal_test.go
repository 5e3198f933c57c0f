package chunkstore

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestDirDiskFull(t *testing.T) {
	root := t.TempDir()
	d, err := OpenDir(root, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	d.write = func(w io.Writer, r io.Reader) (int64, error) {
		n, _ := io.CopyN(w, r, 100)
		return n, &fs.PathError{Op: "write", Path: "temp", Err: syscall.ENOSPC}
	}
	h := Handle{Type: TypePack, Name: "abcd"}
	_, err = d.Put(t.Context(), h, BytesSource(make([]byte, 1000)))
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, syscall.ENOSPC) || ClassOf(err) != Permanent || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("%s on a full disk: %v (%s), want a permanent disk-full error", op, err, ClassOf(err))
		}
	}
	check("Put", err)
	check("PutRecord", d.PutRecord(t.Context(), "header", []byte("some header bytes")))
	if _, err := d.Stat(t.Context(), dirRef(h.Type, h.Name)); !IsNotFound(err) {
		t.Errorf("Stat after a failed Put: %v, want NotFound", err)
	}
	err = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			t.Errorf("a failed write left %s", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDirError(t *testing.T) {
	classified := Classify(Retryable, errors.New("from the source"))
	for _, c := range []struct {
		err  error
		want Class
	}{
		{&fs.PathError{Op: "open", Path: "p", Err: syscall.ENOENT}, NotFound},
		{&fs.PathError{Op: "open", Path: "p", Err: syscall.EACCES}, Fatal},
		{&fs.PathError{Op: "open", Path: "p", Err: syscall.EPERM}, Fatal},
		{&fs.PathError{Op: "write", Path: "p", Err: syscall.EROFS}, Fatal},
		{&fs.PathError{Op: "open", Path: "p", Err: syscall.EMFILE}, Retryable},
		{&fs.PathError{Op: "read", Path: "p", Err: syscall.EIO}, Permanent},
		{classified, Retryable},
	} {
		got := dirError("op", "what", c.err)
		if ClassOf(got) != c.want || !errors.Is(got, c.err) {
			t.Errorf("dirError(%v) = %v, class %s; want class %s", c.err, got, ClassOf(got), c.want)
		}
	}
	if got := dirError("op", "what", context.Canceled); got != context.Canceled {
		t.Errorf("dirError(context.Canceled) = %v", got)
	}
	if err := os.ErrNotExist; !IsNotFound(dirError("op", "what", err)) {
		t.Errorf("os.ErrNotExist is not NotFound")
	}
}

func FuzzRecordName(f *testing.F) {
	for _, s := range []string{"header", "cards/261126-07", "..", ".tmp-1", "%2F", "A", "ü", "a%2fb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if file, err := escapeRecord(s); err == nil {
			if !safeFileName(file) {
				t.Fatalf("escapeRecord(%q) = %q, not a safe file name", s, file)
			}
			if back, ok := unescapeRecord(file); !ok || back != s {
				t.Fatalf("unescapeRecord(escapeRecord(%q)) = %q, %v", s, back, ok)
			}
		}
		// A file name is a record only if escapeRecord would have made it.
		if name, ok := unescapeRecord(s); ok {
			if file, err := escapeRecord(name); err != nil || file != s {
				t.Fatalf("unescapeRecord accepted %q for %q, which escapes to %q", s, name, file)
			}
		}
	})
}

// safeFileName reports whether file has only lowercase letters, digits, '-', '_' and %XX
// escapes with uppercase hex digits: no separators, no leading dot, and no two such names
// differ only in case.
func safeFileName(file string) bool {
	for i := 0; i < len(file); i++ {
		c := file[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		case c == '%' && i+2 < len(file) && strings.Trim(file[i+1:i+3], "0123456789ABCDEF") == "":
			i += 2
		default:
			return false
		}
	}
	return file != ""
}
