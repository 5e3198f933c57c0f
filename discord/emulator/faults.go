package emulator

import (
	"io"
	"math/rand"
	"net/http"
	"sync"
	"time"
)

// faultState holds the injected faults, their random source and the
// bandwidth throttles. Its lock is a leaf.
type faultState struct {
	mu   sync.Mutex
	f    Faults
	rng  *rand.Rand
	up   throttle
	down throttle
}

func newFaultState(f Faults, seed int64) *faultState {
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	return &faultState{f: f, rng: rand.New(rand.NewSource(seed))}
}

func (fs *faultState) get() Faults {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.f
}

func (fs *faultState) set(f Faults) {
	fs.mu.Lock()
	fs.f = f
	fs.mu.Unlock()
}

// verdict is what happens to one request.
type verdict struct {
	dropBefore, dropAfter, fail, storm bool
	failStatus                         int
}

func (fs *faultState) roll() (Faults, verdict) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f := fs.f
	var v verdict
	if f.DropRate > 0 && fs.rng.Float64() < f.DropRate {
		if fs.rng.Intn(2) == 0 {
			v.dropBefore = true
		} else {
			v.dropAfter = true
		}
		return f, v
	}
	if f.FailRate > 0 && fs.rng.Float64() < f.FailRate {
		v.fail = true
		v.failStatus = []int{500, 502, 503, 504}[fs.rng.Intn(4)]
		return f, v
	}
	if f.Storm429 > 0 && fs.rng.Float64() < f.Storm429 {
		v.storm = true
	}
	return f, v
}

// withFaults applies latency, drops, 5xx, 429 storms and the bandwidth cap
// around next.
func (s *Server) withFaults(w http.ResponseWriter, r *http.Request, next http.HandlerFunc) {
	f, v := s.faults.roll()
	if f.LatencyMS > 0 {
		select {
		case <-time.After(time.Duration(f.LatencyMS) * time.Millisecond):
		case <-r.Context().Done():
			return
		}
	}
	switch {
	case v.dropBefore:
		hangUp(w)
		return
	case v.fail:
		writeJSON(w, v.failStatus, map[string]any{"message": http.StatusText(v.failStatus), "code": 0})
		return
	case v.storm:
		rateLimited(w, 100*time.Millisecond, "shared", "")
		return
	}
	if f.Bandwidth > 0 {
		r.Body = &throttledReader{r: r.Body, t: &s.faults.up, rate: f.Bandwidth}
		w = &throttledWriter{ResponseWriter: w, t: &s.faults.down, rate: f.Bandwidth}
	}
	if v.dropAfter {
		next(&discardWriter{h: http.Header{}}, r)
		hangUp(w)
		return
	}
	next(w, r)
}

// hangUp closes the connection without an answer.
func hangUp(w http.ResponseWriter) {
	for {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
			}
			return
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			panic(http.ErrAbortHandler)
		}
		w = u.Unwrap()
	}
}

// discardWriter swallows the answer of a request whose connection drops
// after it took effect.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// throttle spaces bytes so that all users of it together stay under a rate.
type throttle struct {
	mu   sync.Mutex
	next time.Time
}

// wait blocks until n more bytes fit under rate bytes per second.
func (t *throttle) wait(n int, rate int64) {
	if n <= 0 || rate <= 0 {
		return
	}
	t.mu.Lock()
	now := time.Now()
	// Up to throttleBurst of unused time carries over, as in a token bucket: without it
	// every oversleep of the timer would be lost and the rate would fall well below the cap.
	if floor := now.Add(-throttleBurst); t.next.Before(floor) {
		t.next = floor
	}
	t.next = t.next.Add(time.Duration(float64(n) / float64(rate) * float64(time.Second)))
	until := t.next
	t.mu.Unlock()
	time.Sleep(time.Until(until))
}

const (
	throttleChunk = 16 << 10
	throttleBurst = 50 * time.Millisecond
)

type throttledReader struct {
	r    io.ReadCloser
	t    *throttle
	rate int64
}

func (tr *throttledReader) Read(p []byte) (int, error) {
	if len(p) > throttleChunk {
		p = p[:throttleChunk]
	}
	n, err := tr.r.Read(p)
	tr.t.wait(n, tr.rate)
	return n, err
}

func (tr *throttledReader) Close() error { return tr.r.Close() }

type throttledWriter struct {
	http.ResponseWriter
	t    *throttle
	rate int64
}

func (tw *throttledWriter) Write(p []byte) (int, error) {
	total := 0
	for len(p) > 0 {
		c := min(len(p), throttleChunk)
		tw.t.wait(c, tw.rate)
		n, err := tw.ResponseWriter.Write(p[:c])
		total += n
		if err != nil {
			return total, err
		}
		p = p[c:]
	}
	return total, nil
}

func (tw *throttledWriter) Unwrap() http.ResponseWriter { return tw.ResponseWriter }
