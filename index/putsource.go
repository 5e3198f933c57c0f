package index

import (
	"github.com/dgraph-io/badger/v4"
)

// prefixPutSource keys the sources of unfinished puts: 'U' stage ID.
const prefixPutSource = 'U'

// PutSource is what an unfinished put archives. It is kept beside the put's pending record
// (Stage) from the start of the put until its commit, so a put cut off midway can be run
// again into the same archive; DeleteArchive of the stage removes it too.
type PutSource struct {
	Stage  string   // the pending archive, or the staging overlay of a put that adds
	Target string   // the archive the put makes or adds to (Stage for a new archive)
	Paths  []string // absolute paths on the host that ran the put
}

func putSourceKey(stage string) []byte { return append([]byte{prefixPutSource}, stage...) }

func encodePutSource(w *writer, p *PutSource) {
	w.string(p.Stage)
	w.string(p.Target)
	w.uvarint(uint64(len(p.Paths)))
	for _, s := range p.Paths {
		w.string(s)
	}
}

func decodePutSource(r *reader) PutSource {
	var p PutSource
	p.Stage = r.string()
	p.Target = r.string()
	if n := r.count(1); n > 0 {
		p.Paths = make([]string, n)
		for i := range p.Paths {
			p.Paths[i] = r.string()
		}
	}
	return p
}

// SetPutSource records what an unfinished put archives.
func (d *DB) SetPutSource(p PutSource) error {
	return d.update(func(txn *badger.Txn) error {
		return txn.Set(putSourceKey(p.Stage), record(&p, encodePutSource))
	})
}

// GetPutSource reads the sources of the put staged as stage; ErrNotFound when it has none.
func (d *DB) GetPutSource(stage string) (PutSource, error) {
	v, err := d.get(putSourceKey(stage))
	if err != nil {
		return PutSource{}, err
	}
	return parse(v, decodePutSource)
}

// PutSources calls fn for the sources of every unfinished put, in stage ID order.
func (d *DB) PutSources(fn func(PutSource) error) error {
	return d.scan([]byte{prefixPutSource}, func(_, v []byte) error {
		p, err := parse(v, decodePutSource)
		if err != nil {
			return err
		}
		return fn(p)
	})
}

// DeletePutSource forgets the sources of a put, once it is committed.
func (d *DB) DeletePutSource(stage string) error {
	return d.update(func(txn *badger.Txn) error { return txn.Delete(putSourceKey(stage)) })
}
