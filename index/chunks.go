package index

import (
	"github.com/dgraph-io/badger/v4"

	"github.com/discofs/discofs/chunkstore"
)

func chunkKey(id chunkstore.ID) []byte { return append([]byte{prefixChunk}, id[:]...) }

func packKey(ref chunkstore.Ref) []byte { return append([]byte{prefixPack}, ref...) }

// HasChunk reports whether a chunk is stored.
func (d *DB) HasChunk(id chunkstore.ID) (bool, error) {
	found := false
	err := d.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(chunkKey(id))
		if err == badger.ErrKeyNotFound {
			return nil
		}
		found = err == nil
		return err
	})
	return found, err
}

// GetChunk says where a chunk is stored; ErrNotFound when it is not.
func (d *DB) GetChunk(id chunkstore.ID) (Location, error) {
	v, err := d.get(chunkKey(id))
	if err != nil {
		return Location{}, err
	}
	return parse(v, decodeLocation)
}

// Chunks calls fn for every stored chunk.
func (d *DB) Chunks(fn func(chunkstore.ID, Location) error) error {
	return d.scan([]byte{prefixChunk}, func(k, v []byte) error {
		var id chunkstore.ID
		copy(id[:], k[1:])
		l, err := parse(v, decodeLocation)
		if err != nil {
			return err
		}
		return fn(id, l)
	})
}

// GetPack describes a pack; ErrNotFound when it is unknown.
func (d *DB) GetPack(ref chunkstore.Ref) (Pack, error) {
	v, err := d.get(packKey(ref))
	if err != nil {
		return Pack{}, err
	}
	return parse(v, decodePack)
}

// Packs calls fn for every pack.
func (d *DB) Packs(fn func(Pack) error) error {
	return d.scan([]byte{prefixPack}, func(_, v []byte) error {
		p, err := parse(v, decodePack)
		if err != nil {
			return err
		}
		return fn(p)
	})
}

// PutPack records a stored pack and then where each of its chunks is. A pack holds up to
// hundreds of thousands of tiny frames, too many for one transaction, so the chunks go in
// a batch after the pack: a crash in between leaves a pack whose chunks are partly known,
// which gc collects like any other pack no archive uses.
func (d *DB) PutPack(p Pack, ids []chunkstore.ID, locs []Location) error {
	err := d.update(func(txn *badger.Txn) error {
		return txn.Set(packKey(p.Ref), record(&p, encodePack))
	})
	if err != nil {
		return err
	}
	wb := d.db.NewWriteBatch()
	defer wb.Cancel()
	for i := range ids {
		if err := wb.Set(chunkKey(ids[i]), record(&locs[i], encodeLocation)); err != nil {
			return err
		}
	}
	return wb.Flush()
}

// DeletePack forgets a pack and the chunks stored in it.
func (d *DB) DeletePack(ref chunkstore.Ref, ids []chunkstore.ID) error {
	wb := d.db.NewWriteBatch()
	defer wb.Cancel()
	for _, id := range ids {
		if err := wb.Delete(chunkKey(id)); err != nil {
			return err
		}
	}
	if err := wb.Delete(packKey(ref)); err != nil {
		return err
	}
	return wb.Flush()
}
