package main

import (
	"time"

	"github.com/discofs/discofs/index"
	"github.com/discofs/discofs/vault"
)

// What --json prints. Every command's output is one of these shapes, in snake_case, with
// archive IDs as the CLI shows them ("#DDMMYY-NN"); the README documents them. The vault's
// own types stay free of them: what a script may rely on is decided here.

// archiveJSON is an archive: ls --json prints one a line, put --json one, status --json
// the newest as last_archive.
type archiveJSON struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Status  string    `json:"status"`
	Created time.Time `json:"created"`
	Files   int64     `json:"files"`
	Size    int64     `json:"size_bytes"`   // plaintext bytes of its files
	Stored  int64     `json:"stored_bytes"` // bytes first stored for it (what others share is not counted again)
	Legacy  bool      `json:"legacy,omitempty"`
}

func archiveOut(a index.Archive) archiveJSON {
	return archiveJSON{ID: vault.FormatID(a.ID), Name: a.Name, Status: string(a.Status), Created: a.Created,
		Files: a.Files, Size: a.Size, Stored: a.Stored, Legacy: a.Legacy}
}

// putJSON is put --json: the archive, and what this put stored that the store did not
// hold yet.
type putJSON struct {
	archiveJSON
	NewBytes int64 `json:"new_bytes"`
}

// statusJSON is status --json.
type statusJSON struct {
	VaultID  string                 `json:"vault_id"`
	Store    string                 `json:"store"`
	Archives int                    `json:"archives"`
	Files    int64                  `json:"files"`
	Size     int64                  `json:"size_bytes"`
	Packs    int                    `json:"packs"`
	Stored   int64                  `json:"stored_bytes"`
	Last     *archiveJSON           `json:"last_archive,omitempty"`
	Mounted  bool                   `json:"mounted"`
	Queue    *vault.WritebackStatus `json:"queue,omitempty"`
}

func statusOut(s *vault.Status, mounted bool, queue *vault.WritebackStatus) statusJSON {
	out := statusJSON{VaultID: s.VaultID, Store: s.Store, Archives: s.Archives, Files: s.Files, Size: s.Size,
		Packs: s.Packs, Stored: s.Stored, Mounted: mounted}
	if queue != nil {
		q := *queue
		q.Dirty = make([]string, len(queue.Dirty))
		for i, a := range queue.Dirty {
			q.Dirty[i] = vault.FormatID(a)
		}
		out.Queue = &q
	}
	if s.Last != nil {
		last := archiveOut(*s.Last)
		out.Last = &last
	}
	return out
}

// verifyJSON is verify --json. Damaged is [] when all is well.
type verifyJSON struct {
	Full      bool          `json:"full"`
	Archives  int           `json:"archives"`
	Packs     int           `json:"packs"`
	PackBytes int64         `json:"pack_bytes"`
	Chunks    int           `json:"chunks"` // chunks authenticated (with full)
	Damaged   []damagedJSON `json:"damaged"`
}

// damagedJSON is a file that cannot be read back, and why.
type damagedJSON struct {
	Archive string `json:"archive"`
	Path    string `json:"path"`
	Error   string `json:"error"`
}

func verifyOut(rep *vault.VerifyReport, full bool) verifyJSON {
	out := verifyJSON{Full: full, Archives: rep.Archives, Packs: rep.Packs, PackBytes: rep.Bytes, Chunks: rep.Chunks,
		Damaged: []damagedJSON{}}
	for _, d := range rep.Damaged {
		out.Damaged = append(out.Damaged, damagedJSON{vault.FormatID(d.Archive), d.Path, oneLine(d.Err.Error())})
	}
	return out
}
