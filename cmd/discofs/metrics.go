package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/vault"
)

// serveMetrics serves Prometheus metrics of a running mount at http://addr/metrics, and Go's
// profiles at /debug/pprof/ to see where a slow mount spends its time, until the returned
// function is called.
func serveMetrics(addr string, o *opened, wb *vault.Writeback) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		writeMetrics(w, o, wb)
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	return func() { srv.Close() }, nil
}

func writeMetrics(w io.Writer, o *opened, wb *vault.Writeback) {
	if m := chunkstore.FindMetrics(o.store); m != nil {
		m.WritePrometheus(w)
	}
	hits, misses := o.ReadCacheStats()
	fmt.Fprintf(w, "# TYPE discofs_read_cache_hits_total counter\ndiscofs_read_cache_hits_total %d\n", hits)
	fmt.Fprintf(w, "# TYPE discofs_read_cache_misses_total counter\ndiscofs_read_cache_misses_total %d\n", misses)
	if wb == nil {
		return
	}
	s := wb.Status()
	for _, g := range []struct {
		name, kind string
		v          int64
	}{
		{"discofs_queue_files", "gauge", int64(s.Files)},
		{"discofs_queue_bytes", "gauge", s.Bytes},
		{"discofs_queue_uploading_files", "gauge", int64(s.Uploading)},
		{"discofs_queue_failed_files", "gauge", int64(s.Failed)},
		{"discofs_uploaded_files_total", "counter", s.UploadedFiles},
		{"discofs_uploaded_bytes_total", "counter", s.UploadedBytes},
		{"discofs_commits_total", "counter", s.Commits},
	} {
		fmt.Fprintf(w, "# TYPE %s %s\n%s %d\n", g.name, g.kind, g.name, g.v)
	}
}
