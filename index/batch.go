package index

import "github.com/dgraph-io/badger/v4"

// Batch writes many nodes fast. It is not atomic: after a crash some of its writes may be
// there and others not, so callers use it for trees that are not visible yet.
type Batch struct {
	wb      *badger.WriteBatch
	archive string
}

// NewBatch starts a batch of writes into one archive's tree.
func (d *DB) NewBatch(archive string) *Batch {
	return &Batch{wb: d.db.NewWriteBatch(), archive: archive}
}

// SetNode queues a node write.
func (b *Batch) SetNode(n *Node) error {
	return b.wb.Set(nodeKey(b.archive, n.Path), record(n, encodeNode))
}

// Flush writes everything queued and ends the batch.
func (b *Batch) Flush() error { return b.wb.Flush() }

// Cancel drops what is queued and ends the batch.
func (b *Batch) Cancel() { b.wb.Cancel() }
