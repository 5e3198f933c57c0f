package index

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

func archiveKey(id string) []byte { return append([]byte{prefixArchive}, id...) }

// PutArchive creates or replaces an archive's record.
func (d *DB) PutArchive(a Archive) error {
	return d.update(func(txn *badger.Txn) error {
		return txn.Set(archiveKey(a.ID), record(&a, encodeArchive))
	})
}

// GetArchive reads an archive's record; ErrNotFound when there is none.
func (d *DB) GetArchive(id string) (Archive, error) {
	v, err := d.get(archiveKey(id))
	if err != nil {
		return Archive{}, err
	}
	return parse(v, decodeArchive)
}

// Archives calls fn for every archive, in ID order.
func (d *DB) Archives(fn func(Archive) error) error {
	return d.scan([]byte{prefixArchive}, func(_, v []byte) error {
		a, err := parse(v, decodeArchive)
		if err != nil {
			return err
		}
		return fn(a)
	})
}

// DeleteArchive removes an archive's record, its whole tree and the sources of the put
// that staged it, if any. Chunks and packs stay until a gc finds nothing references them.
func (d *DB) DeleteArchive(id string) error {
	if err := d.deletePrefix(nodePrefix(id)); err != nil {
		return err
	}
	return d.update(func(txn *badger.Txn) error {
		if err := txn.Delete(putSourceKey(id)); err != nil {
			return err
		}
		return txn.Delete(archiveKey(id))
	})
}

// NextLot takes the next lot number (1, 2, …), which rises across the whole vault and is
// never handed out twice. A lot below floor is skipped, so a rebuilt index never reuses a
// lot number the store already has.
func (d *DB) NextLot(floor int) (int, error) {
	var lot uint64
	err := d.update(func(txn *badger.Txn) error {
		var err error
		lot, err = d.bump(txn, "lot", 1, uint64(max(floor, 0)))
		return err
	})
	return int(lot), err
}

// NextInodes reserves n inode numbers and returns the first. Inode 1 is the mount's root,
// so numbers start at 2.
func (d *DB) NextInodes(n uint64) (uint64, error) {
	var first uint64
	err := d.update(func(txn *badger.Txn) error {
		last, err := d.bump(txn, "ino", n, 1)
		first = last - n + 1
		return err
	})
	return first, err
}

// bump adds n to a counter that is at least floor and returns the new value.
func (d *DB) bump(txn *badger.Txn, name string, n, floor uint64) (uint64, error) {
	key := append([]byte{prefixCounter}, name...)
	cur := uint64(0)
	item, err := txn.Get(key)
	switch {
	case err == nil:
		err = item.Value(func(v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("%w: counter %s", errCorrupt, name)
			}
			cur = binary.LittleEndian.Uint64(v)
			return nil
		})
		if err != nil {
			return 0, err
		}
	case !errors.Is(err, badger.ErrKeyNotFound):
		return 0, err
	}
	cur = max(cur, floor) + n
	return cur, txn.Set(key, binary.LittleEndian.AppendUint64(nil, cur))
}

// EnsureInodesAbove makes the inode counter hand out numbers above n, so a rebuilt index
// never reuses an inode number a manifest already holds.
func (d *DB) EnsureInodesAbove(n uint64) error { return d.ensureAbove("ino", n) }

// EnsureLotsAbove makes NextLot hand out lot numbers above n.
func (d *DB) EnsureLotsAbove(n int) error { return d.ensureAbove("lot", uint64(max(n, 0))) }

func (d *DB) ensureAbove(counter string, n uint64) error {
	return d.update(func(txn *badger.Txn) error {
		_, err := d.bump(txn, counter, 0, n)
		return err
	})
}
