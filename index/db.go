// Package index is discofs's local index: archives, their trees, where every chunk is stored,
// the packs, counters and the writeback queue, in one badger database encrypted at rest. It is
// the only package that imports badger. It also encodes and decodes manifests, the sealed
// copy of an archive's index entries that lives in the store.
package index

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// ErrNotFound is returned for a missing archive, node or chunk.
var ErrNotFound = errors.New("not found")

// Key prefixes. Node keys are 'N' archive 0 parent 0 name, so one directory's children are
// one prefix scan and a walk meets every directory before what it holds.
const (
	prefixArchive = 'A'
	prefixNode    = 'N'
	prefixChunk   = 'C'
	prefixPack    = 'P'
	prefixCounter = 'K'
	prefixQueue   = 'Q'
)

// DB is the index. Its methods are safe for concurrent use.
type DB struct {
	db        *badger.DB
	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Open opens or creates the index in dir, encrypted with key (16, 24 or 32 bytes).
// Only one process may have an index open; a second gets an error that says so.
func Open(dir string, key []byte, log *slog.Logger) (*DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts := badger.DefaultOptions(dir).
		WithLogger(badgerLogger{log}).
		WithEncryptionKey(key).
		WithIndexCacheSize(16 << 20).
		WithBlockCacheSize(16 << 20).
		WithMemTableSize(16 << 20).
		WithNumMemtables(2).
		WithValueLogFileSize(64 << 20).
		WithNumCompactors(2).
		WithNumGoroutines(4).
		WithMetricsEnabled(false)
	db, err := badger.Open(opts)
	if err != nil {
		if errors.Is(err, badger.ErrEncryptionKeyMismatch) {
			return nil, fmt.Errorf("index: %s was made with another key", dir)
		}
		return nil, fmt.Errorf("index: open %s: %w (is another discofs using this state directory?)", dir, err)
	}
	d := &DB{db: db, stop: make(chan struct{})}
	d.wg.Add(1)
	go d.gcLoop(5 * time.Minute)
	return d, nil
}

// Close flushes and closes the index. Closing twice is harmless.
func (d *DB) Close() error {
	d.closeOnce.Do(func() {
		close(d.stop)
		d.wg.Wait()
		d.closeErr = d.db.Close()
	})
	return d.closeErr
}

// gcLoop reclaims value-log space, which badger never does by itself.
func (d *DB) gcLoop(every time.Duration) {
	defer d.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
			for d.db.RunValueLogGC(0.5) == nil {
			}
		}
	}
}

// update runs fn in a read-write transaction, again when it conflicts with another.
func (d *DB) update(fn func(txn *badger.Txn) error) error {
	for {
		err := d.db.Update(fn)
		if !errors.Is(err, badger.ErrConflict) {
			return err
		}
	}
}

// get reads one value, copied out of the transaction.
func (d *DB) get(key []byte) ([]byte, error) {
	var v []byte
	err := d.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if err != nil {
			return err
		}
		v, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	return v, err
}

// scan calls fn for every key with prefix, in key order. The value is only valid during fn.
func (d *DB) scan(prefix []byte, fn func(key, val []byte) error) error {
	return d.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefix
		opts.PrefetchSize = 256
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
			item := it.Item()
			err := item.Value(func(val []byte) error { return fn(item.Key(), val) })
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// deletePrefix removes every key with prefix, in batches so no transaction grows too large.
func (d *DB) deletePrefix(prefix []byte) error {
	wb := d.db.NewWriteBatch()
	defer wb.Cancel()
	err := d.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefix
		opts.PrefetchValues = false
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
			if err := wb.Delete(it.Item().KeyCopy(nil)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return wb.Flush()
}

// badgerLogger routes badger's log lines into ours, its chatter at debug level.
type badgerLogger struct{ log *slog.Logger }

func (l badgerLogger) Errorf(f string, a ...any)   { l.log.Error("badger: " + fmt.Sprintf(f, a...)) }
func (l badgerLogger) Warningf(f string, a ...any) { l.log.Warn("badger: " + fmt.Sprintf(f, a...)) }
func (l badgerLogger) Infof(f string, a ...any)    { l.log.Debug("badger: " + fmt.Sprintf(f, a...)) }
func (l badgerLogger) Debugf(f string, a ...any)   { l.log.Debug("badger: " + fmt.Sprintf(f, a...)) }

// DropAll deletes everything in the index, to rebuild it from the store.
func (d *DB) DropAll() error { return d.db.DropAll() }
