// Package chunkstore holds everything about bytes: the Store contract that every backend
// implements (local directory, memory, Discord), the wrappers that add behaviour around a
// Store (retry, concurrency limit, fault injection), the content-defined chunker, the frame
// codec that compresses and seals one chunk, and the packer that gathers frames into packs.
//
// chunkstore imports neither index, vault, fs nor discord.
package chunkstore

import (
	"context"
	"io"
)

// Ref locates one stored object. The store assigns it in Put; callers keep it and hand it
// back, and never interpret it. A dir store's Ref is a relative path; a Discord store's Ref
// names a channel, message and attachment.
type Ref string

// Type says what an object holds, so a store may file packs and manifests apart.
type Type uint8

const (
	TypePack     Type = iota + 1 // frames of data chunks
	TypeManifest                 // frames of a sealed archive manifest
)

func (t Type) String() string {
	switch t {
	case TypePack:
		return "pack"
	case TypeManifest:
		return "manifest"
	}
	return "unknown"
}

// Handle names an object to Put.
type Handle struct {
	Type Type
	// Name is chosen by the caller, unique in the vault: lowercase hex, at most 64 characters.
	Name string
	// Group is the archive the object is uploaded for (its ID without '#', like "261126-07").
	// Stores that keep an archive's objects together (a Discord thread) use it; others may
	// ignore it. Objects are shared across archives by deduplication all the same.
	Group string
}

// Object describes a stored object.
type Object struct {
	Ref  Ref
	Type Type
	Name string
	Size int64
}

// Limits are what a store can take and do.
type Limits struct {
	// MaxObjectSize is the largest object Put accepts (Discord: one attachment).
	MaxObjectSize int64
	// Ranged says Load reads a byte range without transferring the whole object.
	Ranged bool
	// Local says the objects are on a local disk already, so a disk cache in front of
	// the store would only copy them.
	Local bool
}

// Source is what Put reads from. A retry rewinds it and starts again from byte 0.
type Source interface {
	io.Reader
	// Rewind starts reading again from the first byte.
	Rewind() error
	// Length is the number of bytes the source yields.
	Length() int64
}

// Store is the contract every backend keeps. All methods are safe for concurrent use.
//
// Errors are classified with the helpers in errors.go: a missing object gives an error for
// which IsNotFound is true; a transient failure one for which IsRetryable is true (and
// RetryAfter may say how long to wait); a failure that stops all work (bad credentials,
// missing permissions) one for which IsFatal is true. Anything else is permanent for that
// call and must not be retried.
type Store interface {
	// Put stores the source's bytes as a new object and returns its description once the
	// object is durable. src.Length() must not exceed Limits().MaxObjectSize.
	Put(ctx context.Context, h Handle, src Source) (Object, error)

	// Load calls fn with a reader of length bytes of the object starting at offset. length 0
	// means to the end of the object. fn's reader yields exactly the bytes asked for or an
	// error; a store that cannot read ranges reads the whole object and skips. Load returns
	// fn's error. A wrapper may call fn again after a retryable error, so fn must start over
	// on each call.
	Load(ctx context.Context, ref Ref, length int, offset int64, fn func(rd io.Reader) error) error

	// Stat describes an object.
	Stat(ctx context.Context, ref Ref) (Object, error)

	// List calls fn for every object of type t in the store, in no particular order.
	// It stops with fn's first error.
	List(ctx context.Context, t Type, fn func(Object) error) error

	// Delete removes an object. Deleting a missing object is an error for which IsNotFound
	// is true.
	Delete(ctx context.Context, ref Ref) error

	// Limits says what the store can take.
	Limits() Limits

	// Close releases the store's resources.
	Close() error
}

// RecordStore keeps small named records that are replaced whole: the vault header and one
// card per archive. It is how a vault's catalogue survives the loss of all local state. A
// store that keeps its catalogue another way (Discord's pinned header and archive cards)
// does not implement it.
type RecordStore interface {
	// PutRecord creates or replaces a record atomically.
	PutRecord(ctx context.Context, name string, data []byte) error
	// GetRecord reads a record; a missing one gives an error for which IsNotFound is true.
	GetRecord(ctx context.Context, name string) ([]byte, error)
	// ListRecords calls fn for every record whose name starts with prefix.
	ListRecords(ctx context.Context, prefix string, fn func(name string, data []byte) error) error
	// DeleteRecord removes a record; a missing one gives an error for which IsNotFound is true.
	DeleteRecord(ctx context.Context, name string) error
}
