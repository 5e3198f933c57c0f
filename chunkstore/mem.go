package chunkstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
)

// MemStore keeps objects and records in memory, for tests. It copies data in on Put and
// PutRecord and out on GetRecord and ListRecords, so callers may reuse their buffers. It
// implements Store and RecordStore, follows the same rules as DirStore (a repeated Put of
// the same name and size succeeds; Refs are "pack/<name>" and "manifest/<name>") and is
// safe for concurrent use.
type MemStore struct {
	limits Limits

	mu      sync.RWMutex
	objects map[Ref]memObject
	records map[string][]byte
}

type memObject struct {
	Object
	// data is never changed once stored, so readers may share it.
	data []byte
}

// NewMem makes an empty store. A zero limits.MaxObjectSize means DefaultMaxObjectSize;
// Ranged is always true.
func NewMem(limits Limits) *MemStore {
	if limits.MaxObjectSize <= 0 {
		limits.MaxObjectSize = DefaultMaxObjectSize
	}
	limits.Ranged = true
	return &MemStore{limits: limits, objects: map[Ref]memObject{}, records: map[string][]byte{}}
}

// Limits reports the store's limits.
func (m *MemStore) Limits() Limits { return m.limits }

// Close does nothing; the store stays usable.
func (m *MemStore) Close() error { return nil }

// Put copies the source's bytes into the store.
func (m *MemStore) Put(ctx context.Context, h Handle, src Source) (Object, error) {
	if err := ctx.Err(); err != nil {
		return Object{}, err
	}
	if err := CheckHandle(h); err != nil {
		return Object{}, err
	}
	n := src.Length()
	if n < 0 || n > m.limits.MaxObjectSize {
		return Object{}, Classify(Permanent, fmt.Errorf("chunkstore: mem store: %s %s is %d bytes; the limit is %d",
			h.Type, h.Name, n, m.limits.MaxObjectSize))
	}
	ref := Ref(h.Type.String() + "/" + h.Name)
	obj := Object{Ref: ref, Type: h.Type, Name: h.Name, Size: n}
	m.mu.RLock()
	old, ok := m.objects[ref]
	m.mu.RUnlock()
	if ok {
		return m.existing(old, n)
	}
	data := make([]byte, n)
	if got, err := io.ReadFull(ctxReader{ctx, src}, data); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return Object{}, Classify(Permanent, fmt.Errorf("chunkstore: mem store: put %s: source yielded %d bytes, said %d",
				ref, got, n))
		}
		return Object{}, err
	}
	// One byte more than promised shows a source that is longer than it said.
	if k, _ := io.ReadFull(src, make([]byte, 1)); k > 0 {
		return Object{}, Classify(Permanent, fmt.Errorf("chunkstore: mem store: put %s: source yields more than the %d bytes it said",
			ref, n))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.objects[ref]; ok {
		return m.existing(old, n)
	}
	m.objects[ref] = memObject{Object: obj, data: data}
	return obj, nil
}

// existing answers a Put of a name already stored: names are unique in the vault, so the
// same size means an earlier attempt of the same upload.
func (m *MemStore) existing(old memObject, n int64) (Object, error) {
	if old.Size != n {
		return Object{}, Classify(Permanent, fmt.Errorf("chunkstore: mem store: %s already exists with %d bytes, not %d",
			old.Ref, old.Size, n))
	}
	return old.Object, nil
}

func (m *MemStore) get(ref Ref) (memObject, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	o, ok := m.objects[ref]
	if !ok {
		return memObject{}, NotFoundError("chunkstore: mem store: " + string(ref))
	}
	return o, nil
}

// Load hands fn a reader of the range.
func (m *MemStore) Load(ctx context.Context, ref Ref, length int, offset int64, fn func(rd io.Reader) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o, err := m.get(ref)
	if err != nil {
		return err
	}
	n, err := CheckRange(o.Size, length, offset)
	if err != nil {
		return fmt.Errorf("chunkstore: mem store: load %s: %w", ref, err)
	}
	return fn(bytes.NewReader(o.data[offset : offset+n]))
}

// Stat describes the object at ref.
func (m *MemStore) Stat(ctx context.Context, ref Ref) (Object, error) {
	if err := ctx.Err(); err != nil {
		return Object{}, err
	}
	o, err := m.get(ref)
	return o.Object, err
}

// List calls fn for a snapshot of the objects of type t, without holding the store's lock,
// so fn may call the store.
func (m *MemStore) List(ctx context.Context, t Type, fn func(Object) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.RLock()
	var objs []Object
	for _, o := range m.objects {
		if o.Type == t {
			objs = append(objs, o.Object)
		}
	}
	m.mu.RUnlock()
	for _, o := range objs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}

// Delete removes the object.
func (m *MemStore) Delete(ctx context.Context, ref Ref) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objects[ref]; !ok {
		return NotFoundError("chunkstore: mem store: " + string(ref))
	}
	delete(m.objects, ref)
	return nil
}

// PutRecord stores a copy of data under name.
func (m *MemStore) PutRecord(ctx context.Context, name string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if name == "" {
		return Classify(Permanent, errors.New("chunkstore: mem store: empty record name"))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.records[name] = append([]byte{}, data...)
	return nil
}

// GetRecord returns a copy of the record.
func (m *MemStore) GetRecord(ctx context.Context, name string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	b, ok := m.records[name]
	if !ok {
		return nil, NotFoundError("chunkstore: mem store: record " + name)
	}
	return append([]byte{}, b...), nil
}

// ListRecords calls fn, in name order and without holding the store's lock, with a copy of
// every record whose name starts with prefix.
func (m *MemStore) ListRecords(ctx context.Context, prefix string, fn func(name string, data []byte) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.RLock()
	var names []string
	for name := range m.records {
		if strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
	}
	m.mu.RUnlock()
	slices.Sort(names)
	for _, name := range names {
		b, err := m.GetRecord(ctx, name)
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

// DeleteRecord removes the record.
func (m *MemStore) DeleteRecord(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.records[name]; !ok {
		return NotFoundError("chunkstore: mem store: record " + name)
	}
	delete(m.records, name)
	return nil
}
