package index

import (
	"fmt"

	"github.com/discofs/discofs/chunkstore"
)

// manifestMagic and manifestVersion open every encoded manifest.
const (
	manifestMagic   = "DMAN"
	manifestVersion = 1
)

// Manifest is an archive's whole index entry: its record, its tree, where each chunk it
// uses is stored and the packs that hold them. Sealed and uploaded, it is what rebuilds the
// index from the store alone.
type Manifest struct {
	Archive Archive
	Nodes   []Node
	Chunks  []ChunkEntry
	Packs   []Pack
}

// ChunkEntry is one chunk's location.
type ChunkEntry struct {
	ID       chunkstore.ID
	Location Location
}

// EncodeManifest appends m's encoding to dst.
func EncodeManifest(dst []byte, m *Manifest) []byte {
	w := writer{b: append(dst, manifestMagic...)}
	w.byte(manifestVersion)
	encodeArchive(&w, &m.Archive)
	w.uvarint(uint64(len(m.Nodes)))
	for i := range m.Nodes {
		encodeNode(&w, &m.Nodes[i])
	}
	w.uvarint(uint64(len(m.Chunks)))
	for i := range m.Chunks {
		w.fixed(m.Chunks[i].ID[:])
		encodeLocation(&w, &m.Chunks[i].Location)
	}
	w.uvarint(uint64(len(m.Packs)))
	for i := range m.Packs {
		encodePack(&w, &m.Packs[i])
	}
	return w.b
}

// DecodeManifest decodes what EncodeManifest wrote. Any damage is an error; it never panics.
func DecodeManifest(b []byte) (*Manifest, error) {
	if len(b) < len(manifestMagic)+1 || string(b[:len(manifestMagic)]) != manifestMagic {
		return nil, fmt.Errorf("%w: not a manifest", errCorrupt)
	}
	r := reader{b: b[len(manifestMagic):]}
	if v := r.byte(); v != manifestVersion {
		return nil, fmt.Errorf("%w: manifest version %d is not supported", errCorrupt, v)
	}
	m := &Manifest{Archive: decodeArchive(&r)}
	m.Nodes = make([]Node, r.count(10))
	for i := range m.Nodes {
		m.Nodes[i] = decodeNode(&r)
	}
	m.Chunks = make([]ChunkEntry, r.count(36))
	for i := range m.Chunks {
		r.fixed(m.Chunks[i].ID[:])
		m.Chunks[i].Location = decodeLocation(&r)
	}
	m.Packs = make([]Pack, r.count(5))
	for i := range m.Packs {
		m.Packs[i] = decodePack(&r)
	}
	if err := r.done(); err != nil {
		return nil, err
	}
	return m, nil
}
