package index

import (
	"bytes"
	"path"

	"github.com/dgraph-io/badger/v4"
)

func nodePrefix(archive string) []byte {
	k := append([]byte{prefixNode}, archive...)
	return append(k, 0)
}

// nodeKey is 'N' archive 0 parent 0 name; the root "/" has an empty parent and name.
func nodeKey(archive, p string) []byte {
	k := nodePrefix(archive)
	if p == "/" {
		return append(k, 0)
	}
	k = append(k, path.Dir(p)...)
	k = append(k, 0)
	return append(k, path.Base(p)...)
}

func childPrefix(archive, dir string) []byte {
	k := nodePrefix(archive)
	k = append(k, dir...)
	return append(k, 0)
}

// GetNode reads one node; ErrNotFound when there is none.
func (d *DB) GetNode(archive, p string) (Node, error) {
	v, err := d.get(nodeKey(archive, p))
	if err != nil {
		return Node{}, err
	}
	return parse(v, decodeNode)
}

// PutNode creates or replaces one node.
func (d *DB) PutNode(archive string, n Node) error {
	return d.update(func(txn *badger.Txn) error {
		return txn.Set(nodeKey(archive, n.Path), record(&n, encodeNode))
	})
}

// DeleteNode removes one node (not what is below it).
func (d *DB) DeleteNode(archive, p string) error {
	return d.update(func(txn *badger.Txn) error { return txn.Delete(nodeKey(archive, p)) })
}

// Children calls fn for the nodes directly inside dir, in name order.
func (d *DB) Children(archive, dir string, fn func(Node) error) error {
	prefix := childPrefix(archive, dir)
	return d.scan(prefix, func(k, v []byte) error {
		if bytes.IndexByte(k[len(prefix):], 0) >= 0 {
			return nil // the root's key ('N' archive 0 0) under dir ""
		}
		n, err := parse(v, decodeNode)
		if err != nil {
			return err
		}
		return fn(n)
	})
}

// Walk calls fn for every node of an archive; a directory comes before what it holds.
func (d *DB) Walk(archive string, fn func(Node) error) error {
	return d.scan(nodePrefix(archive), func(_, v []byte) error {
		n, err := parse(v, decodeNode)
		if err != nil {
			return err
		}
		return fn(n)
	})
}

// DeleteTree removes a node and everything below it.
func (d *DB) DeleteTree(archive, p string) error {
	if p == "/" {
		return d.deletePrefix(nodePrefix(archive))
	}
	if err := d.deletePrefix(childPrefix(archive, p)); err != nil {
		return err
	}
	deeper := append(nodePrefix(archive), p+"/"...)
	if err := d.deletePrefix(deeper); err != nil {
		return err
	}
	return d.DeleteNode(archive, p)
}
