package index

import (
	"time"

	"github.com/discofs/discofs/chunkstore"
)

// Status is an archive's state, with v3.1's names so cards read the same.
type Status string

const (
	// StatusPending: being written; not shown and not yet in the store's catalogue.
	StatusPending Status = "pending"
	StatusSuccess Status = "success"
	StatusPartial Status = "partial"
	StatusFailed  Status = "failed"
	StatusDeleted Status = "deleted"
	StatusUnknown Status = "unknown"
)

// ManifestPart is one stored object holding frames of an archive's manifest.
type ManifestPart struct {
	Ref  chunkstore.Ref
	Size int64
}

// Archive is one archive's record.
type Archive struct {
	ID      string // "DDMMYY-NN", without '#'
	Lot     int
	Name    string
	Created time.Time
	Status  Status
	// Generation counts commits; the manifest of generation g is sealed with g in its AAD.
	Generation uint64
	Manifest   []ManifestPart
	Files      int64 // regular files
	Size       int64 // plaintext bytes of all files
	Stored     int64 // bytes of frames first stored for this archive
	Chunks     int64 // chunk references
	// Legacy marks an archive read from a v3.1 vault, read-only.
	Legacy bool
	// CardStale says the store's card does not yet show this record (a crash came between
	// the index commit and the card edit); it is written again at the next chance.
	CardStale bool
}

// NodeType is a node's kind.
type NodeType uint8

const (
	TypeDir NodeType = iota + 1
	TypeFile
	TypeSymlink
)

func (t NodeType) String() string {
	switch t {
	case TypeDir:
		return "dir"
	case TypeFile:
		return "file"
	case TypeSymlink:
		return "symlink"
	}
	return "unknown"
}

// FileState says where a file's content is.
type FileState uint8

const (
	StateCommitted FileState = iota // in the store and in the archive's newest manifest
	StateLocal                      // being written to the spool
	StateQueued                     // closed, waiting for upload
	StateUploading
	StateFailed
)

func (s FileState) String() string {
	return [...]string{"committed", "local", "queued", "uploading", "failed"}[min(int(s), 4)]
}

// ChunkRef is one chunk of a file, in file order.
type ChunkRef struct {
	ID  chunkstore.ID
	Len uint32 // plaintext bytes
}

// Node is one entry of an archive's tree. The root directory has Path "/".
type Node struct {
	Path   string // absolute within the archive: "/", "/photos", "/photos/a.jpg"
	Type   NodeType
	Mode   uint32 // permission bits plus setuid, setgid and sticky
	Size   int64
	Mtime  int64 // Unix nanoseconds
	Ino    uint64
	Target string // symlink target
	Chunks []ChunkRef
	State  FileState
}

// Location says where a chunk's frame is stored.
type Location struct {
	Pack   chunkstore.Ref
	Offset int64 // of the frame within the pack
	Length int64 // of the whole frame
	// Header is the frame's header, kept so a reader fetches only the segments it needs.
	Header []byte
}

// Pack is one stored object of frames.
type Pack struct {
	Ref   chunkstore.Ref
	Type  chunkstore.Type
	Name  string
	Group string
	Size  int64
}
