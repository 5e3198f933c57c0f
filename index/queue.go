package index

import (
	"encoding/binary"
	"errors"

	"github.com/dgraph-io/badger/v4"
)

// The writeback queue, persisted so a restart resumes it. Two kinds of record live under
// prefixQueue: 'Q' 'f' ino for a file whose content waits in the spool, and 'Q' 'a' archive
// for an archive whose tree changed since its last commit.
const (
	queueFile    = 'f'
	queueArchive = 'a'
)

// QueueItem is one file waiting in the spool. Its node is found by inode number, so a
// rename never has to touch the queue.
type QueueItem struct {
	Ino     uint64
	Archive string
	// HasBase says the node's Chunks are an earlier committed version (a copy-up), which
	// the archive keeps showing in its manifests until the new content is committed.
	HasBase  bool
	Attempts int
	LastErr  string
}

func queueFileKey(ino uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixQueue, queueFile}, ino)
}

func queueArchiveKey(id string) []byte { return append([]byte{prefixQueue, queueArchive}, id...) }

func encodeQueueItem(w *writer, q *QueueItem) {
	w.uvarint(q.Ino)
	w.string(q.Archive)
	w.byte(flag(q.HasBase))
	w.uvarint(uint64(q.Attempts))
	w.string(q.LastErr)
}

func decodeQueueItem(r *reader) QueueItem {
	var q QueueItem
	q.Ino = r.uvarint()
	q.Archive = r.string()
	q.HasBase = r.byte()&1 != 0
	q.Attempts = int(r.uvarint())
	q.LastErr = r.string()
	return q
}

// PutQueueItem creates or replaces a queue item.
func (d *DB) PutQueueItem(q QueueItem) error {
	return d.update(func(txn *badger.Txn) error {
		return txn.Set(queueFileKey(q.Ino), record(&q, encodeQueueItem))
	})
}

// PutQueuedNode creates or replaces a node and its file's queue item in one transaction,
// so a node that is not committed is never found without its item.
func (d *DB) PutQueuedNode(archive string, n Node, q QueueItem) error {
	return d.update(func(txn *badger.Txn) error {
		if err := txn.Set(queueFileKey(q.Ino), record(&q, encodeQueueItem)); err != nil {
			return err
		}
		return txn.Set(nodeKey(archive, n.Path), record(&n, encodeNode))
	})
}

// DeleteQueueItem removes a queue item; a missing one is no error.
func (d *DB) DeleteQueueItem(ino uint64) error {
	return d.update(func(txn *badger.Txn) error { return txn.Delete(queueFileKey(ino)) })
}

// QueueItems calls fn for every queue item, by inode number.
func (d *DB) QueueItems(fn func(QueueItem) error) error {
	return d.scan([]byte{prefixQueue, queueFile}, func(_, v []byte) error {
		q, err := parse(v, decodeQueueItem)
		if err != nil {
			return err
		}
		return fn(q)
	})
}

// MarkDirty records that an archive's tree changed and needs a commit.
func (d *DB) MarkDirty(archive string) error {
	return d.update(func(txn *badger.Txn) error { return txn.Set(queueArchiveKey(archive), nil) })
}

// ClearDirty records that an archive's last commit holds every change.
func (d *DB) ClearDirty(archive string) error {
	return d.update(func(txn *badger.Txn) error { return txn.Delete(queueArchiveKey(archive)) })
}

// DirtyArchives calls fn for every archive marked dirty.
func (d *DB) DirtyArchives(fn func(archive string) error) error {
	prefix := []byte{prefixQueue, queueArchive}
	return d.scan(prefix, func(k, _ []byte) error { return fn(string(k[len(prefix):])) })
}

// MoveTree renames node from to to and everything below it, in one transaction, so a
// crash leaves either the old tree or the new one. A node already at to is replaced.
func (d *DB) MoveTree(archive, from, to string) error {
	var nodes []Node
	n, err := d.GetNode(archive, from)
	if err != nil {
		return err
	}
	nodes = append(nodes, n)
	if n.Type == TypeDir {
		var walk func(dir string) error
		walk = func(dir string) error {
			var kids []Node
			if err := d.Children(archive, dir, func(c Node) error { kids = append(kids, c); return nil }); err != nil {
				return err
			}
			for _, c := range kids {
				nodes = append(nodes, c)
				if c.Type == TypeDir {
					if err := walk(c.Path); err != nil {
						return err
					}
				}
			}
			return nil
		}
		if err := walk(from); err != nil {
			return err
		}
	}
	err = d.update(func(txn *badger.Txn) error {
		for i := range nodes {
			old := nodes[i].Path
			m := nodes[i]
			m.Path = to + old[len(from):]
			if err := txn.Delete(nodeKey(archive, old)); err != nil {
				return err
			}
			if err := txn.Set(nodeKey(archive, m.Path), record(&m, encodeNode)); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, badger.ErrTxnTooBig) {
		return errors.New("index: directory too large to rename at once")
	}
	return err
}
