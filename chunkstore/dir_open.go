package chunkstore

import (
	"container/list"
	"os"
	"sync"
	"syscall"
)

// maxOpenFiles bounds the object files a DirStore keeps open.
const maxOpenFiles = 128

// openFiles keeps recently loaded object files open. A stored object never changes, and a
// ranged read of 64 KiB costs less than opening and closing its file, so Load reuses the
// descriptor. Each use checks with fstat that the file still has a name: a file deleted
// or replaced behind the store's back is opened again (and then not found), never read
// from the old copy.
type openFiles struct {
	mu    sync.Mutex
	files map[string]*list.Element // path → element of lru
	lru   list.List                // of *openFile, most recently used first
}

type openFile struct {
	path string
	f    *os.File
	uses int  // Loads reading from it now
	gone bool // dropped from the cache: closed once uses reach zero
}

// get returns the open file at path and its size; put ends the use.
func (o *openFiles) get(path string) (*openFile, int64, error) {
	o.mu.Lock()
	var of *openFile
	if el, ok := o.files[path]; ok {
		o.lru.MoveToFront(el)
		of = el.Value.(*openFile)
		of.uses++
	}
	o.mu.Unlock()
	if of != nil {
		var st syscall.Stat_t
		if err := syscall.Fstat(int(of.f.Fd()), &st); err == nil && st.Nlink > 0 {
			return of, st.Size, nil
		}
		o.put(of)
		o.forget(path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	of = &openFile{path: path, f: f, uses: 1}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.files == nil {
		o.files = map[string]*list.Element{}
	}
	if _, ok := o.files[path]; ok {
		of.gone = true // another Load opened it meanwhile; this one is closed after use
	} else {
		o.files[path] = o.lru.PushFront(of)
		for o.lru.Len() > maxOpenFiles {
			o._drop(o.lru.Back().Value.(*openFile))
		}
	}
	return of, fi.Size(), nil
}

// ReadAt reads from the file, so an *openFile serves as an io.ReaderAt.
func (of *openFile) ReadAt(p []byte, off int64) (int, error) { return of.f.ReadAt(p, off) }

func (o *openFiles) put(of *openFile) {
	o.mu.Lock()
	defer o.mu.Unlock()
	of.uses--
	if of.gone && of.uses == 0 {
		of.f.Close()
	}
}

// forget drops path from the cache, as its file is about to go.
func (o *openFiles) forget(path string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if el, ok := o.files[path]; ok {
		o._drop(el.Value.(*openFile))
	}
}

func (o *openFiles) _drop(of *openFile) {
	o.lru.Remove(o.files[of.path])
	delete(o.files, of.path)
	of.gone = true
	if of.uses == 0 {
		of.f.Close()
	}
}

func (o *openFiles) closeAll() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for o.lru.Len() > 0 {
		o._drop(o.lru.Back().Value.(*openFile))
	}
}
