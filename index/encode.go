package index

import (
	"fmt"
	"time"

	"github.com/discofs/discofs/chunkstore"
)

// Every record starts with a version byte so later formats can read older ones.
const recordVersion = 1

func encodeArchive(w *writer, a *Archive) {
	w.string(a.ID)
	w.uvarint(uint64(a.Lot))
	w.string(a.Name)
	w.varint(a.Created.UnixNano())
	w.string(string(a.Status))
	w.uvarint(a.Generation)
	w.uvarint(uint64(len(a.Manifest)))
	for _, p := range a.Manifest {
		w.string(string(p.Ref))
		w.varint(p.Size)
	}
	w.varint(a.Files)
	w.varint(a.Size)
	w.varint(a.Stored)
	w.varint(a.Chunks)
	w.byte(flag(a.Legacy) | flag(a.CardStale)<<1)
}

func flag(b bool) byte {
	if b {
		return 1
	}
	return 0
}

func decodeArchive(r *reader) Archive {
	var a Archive
	a.ID = r.string()
	a.Lot = int(r.uvarint())
	a.Name = r.string()
	a.Created = time.Unix(0, r.varint())
	a.Status = Status(r.string())
	a.Generation = r.uvarint()
	if n := r.count(2); n > 0 {
		a.Manifest = make([]ManifestPart, n)
		for i := range a.Manifest {
			a.Manifest[i] = ManifestPart{Ref: chunkstore.Ref(r.string()), Size: r.varint()}
		}
	}
	a.Files = r.varint()
	a.Size = r.varint()
	a.Stored = r.varint()
	a.Chunks = r.varint()
	flags := r.byte()
	a.Legacy, a.CardStale = flags&1 != 0, flags&2 != 0
	return a
}

func encodeNode(w *writer, n *Node) {
	w.string(n.Path)
	w.byte(byte(n.Type))
	w.uvarint(uint64(n.Mode))
	w.varint(n.Size)
	w.varint(n.Mtime)
	w.uvarint(n.Ino)
	w.string(n.Target)
	w.byte(byte(n.State))
	w.uvarint(uint64(len(n.Chunks)))
	for _, c := range n.Chunks {
		w.fixed(c.ID[:])
		w.uvarint(uint64(c.Len))
	}
}

func decodeNode(r *reader) Node {
	var n Node
	n.Path = r.string()
	n.Type = NodeType(r.byte())
	n.Mode = uint32(r.uvarint())
	n.Size = r.varint()
	n.Mtime = r.varint()
	n.Ino = r.uvarint()
	n.Target = r.string()
	n.State = FileState(r.byte())
	if c := r.count(33); c > 0 {
		n.Chunks = make([]ChunkRef, c)
		for i := range n.Chunks {
			r.fixed(n.Chunks[i].ID[:])
			n.Chunks[i].Len = uint32(r.uvarint())
		}
	}
	if r.err == nil && (n.Type < TypeDir || n.Type > TypeSymlink) {
		r.fail(fmt.Sprintf("node type %d", n.Type))
	}
	return n
}

func encodeLocation(w *writer, l *Location) {
	w.string(string(l.Pack))
	w.varint(l.Offset)
	w.varint(l.Length)
	w.bytes(l.Header)
}

func decodeLocation(r *reader) Location {
	return Location{
		Pack:   chunkstore.Ref(r.string()),
		Offset: r.varint(),
		Length: r.varint(),
		Header: r.bytes(),
	}
}

func encodePack(w *writer, p *Pack) {
	w.string(string(p.Ref))
	w.byte(byte(p.Type))
	w.string(p.Name)
	w.string(p.Group)
	w.varint(p.Size)
}

func decodePack(r *reader) Pack {
	return Pack{
		Ref:   chunkstore.Ref(r.string()),
		Type:  chunkstore.Type(r.byte()),
		Name:  r.string(),
		Group: r.string(),
		Size:  r.varint(),
	}
}

// record encodes one value with the record version in front.
func record[T any](v *T, enc func(*writer, *T)) []byte {
	w := writer{b: make([]byte, 0, 64)}
	w.byte(recordVersion)
	enc(&w, v)
	return w.b
}

// parse decodes one value written by record.
func parse[T any](b []byte, dec func(*reader) T) (T, error) {
	r := reader{b: b}
	if v := r.byte(); r.err == nil && v != recordVersion {
		var zero T
		return zero, fmt.Errorf("%w: record version %d", errCorrupt, v)
	}
	v := dec(&r)
	return v, r.done()
}
