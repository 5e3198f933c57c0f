package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

const (
	stateVersion  = 1
	stateFile     = "state.json"
	blobDir       = "attachments"
	flushInterval = 100 * time.Millisecond
)

// openState loads dir's state, or starts an empty one (fresh) when dir is
// empty or has none yet. Attachment bytes live in dir/attachments, or in
// memory without a dir.
func openState(dir string) (*state, blobStore, bool, error) {
	st := &state{}
	st.rebuildIndexes()
	if dir == "" {
		return st, newMemBlobs(), true, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, false, fmt.Errorf("emulator data dir: %w", err)
	}
	blobs, err := newDirBlobs(filepath.Join(dir, blobDir))
	if err != nil {
		return nil, nil, false, fmt.Errorf("emulator data dir: %w", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return st, blobs, true, nil
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("emulator state: %w", err)
	}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, nil, false, fmt.Errorf("emulator state %s: %w", filepath.Join(dir, stateFile), err)
	}
	if st.Version != stateVersion {
		return nil, nil, false, fmt.Errorf("emulator state version %d, want %d", st.Version, stateVersion)
	}
	st.rebuildIndexes()
	return st, blobs, false, nil
}

// persister writes the state to disk shortly after it changes and on
// Close. Attachment bytes are on disk before their message exists, so a
// crash loses at most flushInterval of messages, never half an attachment.
type persister struct {
	s     *Server
	path  string
	kick  chan struct{}
	write sync.Mutex // one writer of the file at a time
}

func newPersister(s *Server, dir string) *persister {
	return &persister{s: s, path: filepath.Join(dir, stateFile), kick: make(chan struct{}, 1)}
}

// mark notes a change; it never blocks and takes no lock.
func (p *persister) mark() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *persister) run(done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case <-p.kick:
		}
		select {
		case <-done:
			return
		case <-time.After(flushInterval):
		}
		_ = p.flush()
	}
}

func (p *persister) flush() error {
	p.write.Lock()
	defer p.write.Unlock()
	p.s.mu.Lock()
	b, err := json.Marshal(p.s.st)
	p.s.mu.Unlock()
	if err != nil {
		return err
	}
	tmp := p.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p.path)
	}
	if err != nil {
		return fmt.Errorf("emulator state: %w", err)
	}
	return nil
}
