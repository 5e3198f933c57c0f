package index

import (
	"github.com/dgraph-io/badger/v4"

	"github.com/discofs/discofs/chunkstore"
)

// Legacy records describe archives made by the v3.1 Python tool, which discofs reads in
// place without re-uploading them. Their files are ordinary nodes whose chunk IDs are derived
// from the v3.1 chunk names (see the vault's legacy reader); those IDs are never in the
// chunk table ('C'), so readers that miss there look here instead. Keys:
//
//	'L' 'a' archive ID -> LegacyArchive
//	'L' 'c' chunk ID   -> LegacyChunk
const prefixLegacy = 'L'

const (
	legacyArchiveTag = 'a'
	legacyChunkTag   = 'c'
)

// Legacy source kinds.
const (
	LegacyDir     = "dir"     // chunk files in a folder, named as v3.1 named them
	LegacyDiscord = "discord" // one attachment per message in the archive's thread
)

// LegacySource says where a v3.1 archive's stored chunks are.
type LegacySource struct {
	Kind string
	Dir  string // LegacyDir: the folder, absolute
	// LegacyDiscord: the API base URL ("" for discord.com) and the thread holding the chunks.
	API     string
	Channel string
}

// LegacyArchive is what reading one v3.1 archive needs beyond its nodes.
type LegacyArchive struct {
	ID     string
	Source LegacySource
	// Passphrase is the v3.1 passphrase: each chunk has its own PBKDF2 salt, so reads need
	// it, not a key. It is safe here only because the index is encrypted at rest.
	Passphrase   string
	ManifestName string
	ManifestSum  [32]byte // SHA-256 of the manifest's bytes, so a second import is recognised
	Encrypted    bool
	Gzip         bool
	WholeFile    bool   // encryption_scope other than "chunk": a file's chunks are sealed as one
	ChunkSize    int64  // plaintext bytes per chunk; 0 when no file has more than one
	Card         string // the v3.1 card's message ID, when imported from a channel
}

// LegacyPart is one stored v3.1 chunk.
type LegacyPart struct {
	Name string
	Size int64 // stored bytes; 0 when the manifest did not say
	// Discord only: the message carrying the chunk and its attachment.
	Message    string
	Attachment string
}

// LegacyChunk is where the stored bytes of one legacy chunk ID are: one part when each v3.1
// chunk was sealed on its own, all of a file's parts when the file was sealed whole.
type LegacyChunk struct {
	Archive string
	Parts   []LegacyPart
}

func legacyArchiveKey(id string) []byte {
	return append([]byte{prefixLegacy, legacyArchiveTag}, id...)
}

func legacyChunkKey(id chunkstore.ID) []byte {
	return append([]byte{prefixLegacy, legacyChunkTag}, id[:]...)
}

// PutLegacy records a v3.1 archive's reading data and its chunks. The chunks go first, so a
// crash leaves at most chunk records that nothing uses; callers write the archive's nodes and
// its Archive record after this returns.
func (d *DB) PutLegacy(a LegacyArchive, ids []chunkstore.ID, chunks []LegacyChunk) error {
	wb := d.db.NewWriteBatch()
	defer wb.Cancel()
	for i := range ids {
		if err := wb.Set(legacyChunkKey(ids[i]), record(&chunks[i], encodeLegacyChunk)); err != nil {
			return err
		}
	}
	if err := wb.Flush(); err != nil {
		return err
	}
	return d.update(func(txn *badger.Txn) error {
		return txn.Set(legacyArchiveKey(a.ID), record(&a, encodeLegacyArchive))
	})
}

// GetLegacy reads a v3.1 archive's reading data; ErrNotFound when there is none.
func (d *DB) GetLegacy(id string) (LegacyArchive, error) {
	v, err := d.get(legacyArchiveKey(id))
	if err != nil {
		return LegacyArchive{}, err
	}
	return parse(v, decodeLegacyArchive)
}

// LegacyArchives calls fn for every v3.1 archive's reading data, in ID order.
func (d *DB) LegacyArchives(fn func(LegacyArchive) error) error {
	return d.scan([]byte{prefixLegacy, legacyArchiveTag}, func(_, v []byte) error {
		a, err := parse(v, decodeLegacyArchive)
		if err != nil {
			return err
		}
		return fn(a)
	})
}

// GetLegacyChunk says where a legacy chunk's stored bytes are; ErrNotFound when the ID is
// not a legacy chunk.
func (d *DB) GetLegacyChunk(id chunkstore.ID) (LegacyChunk, error) {
	v, err := d.get(legacyChunkKey(id))
	if err != nil {
		return LegacyChunk{}, err
	}
	return parse(v, decodeLegacyChunk)
}

// DeleteLegacy forgets a v3.1 archive's reading data and chunk records. Its Archive record
// and nodes are the caller's (DeleteArchive).
func (d *DB) DeleteLegacy(id string) error {
	var stale [][]byte
	err := d.scan([]byte{prefixLegacy, legacyChunkTag}, func(k, v []byte) error {
		c, err := parse(v, decodeLegacyChunk)
		if err == nil && c.Archive == id {
			stale = append(stale, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	wb := d.db.NewWriteBatch()
	defer wb.Cancel()
	for _, k := range append(stale, legacyArchiveKey(id)) {
		if err := wb.Delete(k); err != nil {
			return err
		}
	}
	return wb.Flush()
}

func encodeLegacyArchive(w *writer, a *LegacyArchive) {
	w.string(a.ID)
	w.string(a.Source.Kind)
	w.string(a.Source.Dir)
	w.string(a.Source.API)
	w.string(a.Source.Channel)
	w.string(a.Passphrase)
	w.string(a.ManifestName)
	w.fixed(a.ManifestSum[:])
	w.byte(flag(a.Encrypted) | flag(a.Gzip)<<1 | flag(a.WholeFile)<<2)
	w.varint(a.ChunkSize)
	w.string(a.Card)
}

func decodeLegacyArchive(r *reader) LegacyArchive {
	var a LegacyArchive
	a.ID = r.string()
	a.Source = LegacySource{Kind: r.string(), Dir: r.string(), API: r.string(), Channel: r.string()}
	a.Passphrase = r.string()
	a.ManifestName = r.string()
	r.fixed(a.ManifestSum[:])
	f := r.byte()
	a.Encrypted, a.Gzip, a.WholeFile = f&1 != 0, f&2 != 0, f&4 != 0
	a.ChunkSize = r.varint()
	a.Card = r.string()
	return a
}

func encodeLegacyChunk(w *writer, c *LegacyChunk) {
	w.string(c.Archive)
	w.uvarint(uint64(len(c.Parts)))
	for _, p := range c.Parts {
		w.string(p.Name)
		w.varint(p.Size)
		w.string(p.Message)
		w.string(p.Attachment)
	}
}

func decodeLegacyChunk(r *reader) LegacyChunk {
	c := LegacyChunk{Archive: r.string()}
	if n := r.count(4); n > 0 {
		c.Parts = make([]LegacyPart, n)
		for i := range c.Parts {
			c.Parts[i] = LegacyPart{Name: r.string(), Size: r.varint(), Message: r.string(), Attachment: r.string()}
		}
	}
	return c
}
