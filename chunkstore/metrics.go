package chunkstore

import (
	"context"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// MetricsStore counts what passes through it: requests by operation and outcome, bytes
// stored and loaded, rate-limited answers and time spent. Wrapped innermost, it sees every
// request the backend gets, retries included.
type MetricsStore struct {
	next Store

	mu       sync.Mutex
	requests map[[2]string]int64 // {op, outcome} → count
	seconds  map[string]float64  // op → time spent

	bytesPut, bytesLoaded, rateLimited atomic.Int64
}

// NewMetrics wraps s with counters.
func NewMetrics(s Store) *MetricsStore {
	return &MetricsStore{next: s, requests: map[[2]string]int64{}, seconds: map[string]float64{}}
}

// FindMetrics finds the MetricsStore in a stack of wrappers, or nil.
func FindMetrics(s Store) *MetricsStore {
	for s != nil {
		if m, ok := s.(*MetricsStore); ok {
			return m
		}
		u, ok := s.(interface{ Unwrap() Store })
		if !ok {
			return nil
		}
		s = u.Unwrap()
	}
	return nil
}

// Unwrap returns the wrapped store.
func (m *MetricsStore) Unwrap() Store { return m.next }

func (m *MetricsStore) count(op string, start time.Time, err error) {
	outcome := "ok"
	if err != nil {
		outcome = ClassOf(err).String()
		if RetryAfter(err) > 0 {
			m.rateLimited.Add(1)
		}
	}
	m.mu.Lock()
	m.requests[[2]string{op, outcome}]++
	m.seconds[op] += time.Since(start).Seconds()
	m.mu.Unlock()
}

func (m *MetricsStore) Put(ctx context.Context, h Handle, src Source) (Object, error) {
	start := time.Now()
	o, err := m.next.Put(ctx, h, src)
	m.count("put", start, err)
	if err == nil {
		m.bytesPut.Add(o.Size)
	}
	return o, err
}

func (m *MetricsStore) Load(ctx context.Context, ref Ref, length int, offset int64, fn func(io.Reader) error) error {
	start := time.Now()
	var n int64
	err := m.next.Load(ctx, ref, length, offset, func(rd io.Reader) error {
		cr := &countingReader{r: rd}
		err := fn(cr)
		n = cr.n
		return err
	})
	m.count("load", start, err)
	m.bytesLoaded.Add(n)
	return err
}

func (m *MetricsStore) Stat(ctx context.Context, ref Ref) (Object, error) {
	start := time.Now()
	o, err := m.next.Stat(ctx, ref)
	m.count("stat", start, err)
	return o, err
}

func (m *MetricsStore) List(ctx context.Context, t Type, fn func(Object) error) error {
	start := time.Now()
	err := m.next.List(ctx, t, fn)
	m.count("list", start, err)
	return err
}

func (m *MetricsStore) Delete(ctx context.Context, ref Ref) error {
	start := time.Now()
	err := m.next.Delete(ctx, ref)
	m.count("delete", start, err)
	return err
}

func (m *MetricsStore) Limits() Limits { return m.next.Limits() }
func (m *MetricsStore) Close() error   { return m.next.Close() }

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// WritePrometheus writes the counters in Prometheus's text format.
func (m *MetricsStore) WritePrometheus(w io.Writer) {
	m.mu.Lock()
	keys := make([][2]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+keys[i][1] < keys[j][0]+keys[j][1] })
	fmt.Fprintln(w, "# TYPE discofs_store_requests_total counter")
	for _, k := range keys {
		fmt.Fprintf(w, "discofs_store_requests_total{op=%q,outcome=%q} %d\n", k[0], k[1], m.requests[k])
	}
	ops := make([]string, 0, len(m.seconds))
	for op := range m.seconds {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	fmt.Fprintln(w, "# TYPE discofs_store_request_seconds_total counter")
	for _, op := range ops {
		fmt.Fprintf(w, "discofs_store_request_seconds_total{op=%q} %g\n", op, m.seconds[op])
	}
	m.mu.Unlock()
	fmt.Fprintf(w, "# TYPE discofs_store_bytes_put_total counter\ndiscofs_store_bytes_put_total %d\n", m.bytesPut.Load())
	fmt.Fprintf(w, "# TYPE discofs_store_bytes_loaded_total counter\ndiscofs_store_bytes_loaded_total %d\n", m.bytesLoaded.Load())
	fmt.Fprintf(w, "# TYPE discofs_store_rate_limited_total counter\ndiscofs_store_rate_limited_total %d\n", m.rateLimited.Load())
}

// Outcomes sums the requests so far by outcome ("ok", "retryable", "not found", …) and
// counts the rate-limited ones.
func (m *MetricsStore) Outcomes() (byOutcome map[string]int64, rateLimited int64) {
	byOutcome = map[string]int64{}
	m.mu.Lock()
	for k, n := range m.requests {
		byOutcome[k[1]] += n
	}
	m.mu.Unlock()
	return byOutcome, m.rateLimited.Load()
}
