package chunkstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Records live in root/records, one file per record, named by escapeRecord so that any
// record name, '/' included, is one safe file name.

// PutRecord replaces the record's file atomically.
func (d *DirStore) PutRecord(ctx context.Context, name string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := d.recordPath(name)
	if err != nil {
		return err
	}
	return d.writeAtomic(ctx, p, bytes.NewReader(data), int64(len(data)))
}

// GetRecord reads the record's file.
func (d *DirStore) GetRecord(ctx context.Context, name string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := d.recordPath(name)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, dirError("get record", name, err)
	}
	return b, nil
}

// ListRecords calls fn, in name order, for every record whose name starts with prefix.
func (d *DirStore) ListRecords(ctx context.Context, prefix string, fn func(name string, data []byte) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	entries, err := os.ReadDir(filepath.Join(d.root, recordsDir))
	if err != nil {
		return dirError("list records in", recordsDir, err)
	}
	var names []string
	for _, e := range entries {
		if name, ok := unescapeRecord(e.Name()); ok && e.Type().IsRegular() && strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		b, err := d.GetRecord(ctx, name)
		if IsNotFound(err) {
			continue // deleted while listing
		}
		if err != nil {
			return err
		}
		if err := fn(name, b); err != nil {
			return err
		}
	}
	return nil
}

// DeleteRecord removes the record's file.
func (d *DirStore) DeleteRecord(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := d.recordPath(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		return dirError("delete record", name, err)
	}
	return nil
}

func (d *DirStore) recordPath(name string) (string, error) {
	file, err := escapeRecord(name)
	if err != nil {
		return "", err
	}
	return filepath.Join(d.root, recordsDir, file), nil
}

// escapeRecord maps a record name to one file name: bytes other than lowercase letters,
// digits, '-' and '_' become %XX. The result has no '/', never starts with '.', and two
// names never map to files that differ only in case.
func escapeRecord(name string) (string, error) {
	if name == "" {
		return "", Classify(Permanent, errors.New("chunkstore: dir store: empty record name"))
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	if b.Len() > 255 {
		return "", Classify(Permanent, fmt.Errorf("chunkstore: dir store: record name %q is too long", name))
	}
	return b.String(), nil
}

// unescapeRecord inverts escapeRecord and rejects any file name escapeRecord would not make.
func unescapeRecord(file string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(file); i++ {
		if file[i] != '%' {
			b.WriteByte(file[i])
			continue
		}
		if i+2 >= len(file) {
			return "", false
		}
		c, err := strconv.ParseUint(file[i+1:i+3], 16, 8)
		if err != nil {
			return "", false
		}
		b.WriteByte(byte(c))
		i += 2
	}
	name := b.String()
	if again, err := escapeRecord(name); err != nil || again != file {
		return "", false
	}
	return name, true
}
