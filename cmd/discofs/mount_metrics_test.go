package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestMountMetrics: --metrics-addr serves Prometheus counters of the store, the read cache
// and the writeback queue.
func TestMountMetrics(t *testing.T) {
	c := newCLI(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	mnt := t.TempDir()
	d := c.startMount(mnt, "--metrics-addr", addr)
	defer func() {
		d.Process.Signal(syscall.SIGINT)
		d.Wait()
	}()
	if err := os.Mkdir(filepath.Join(mnt, "m"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "m", "f.txt"), []byte("measured"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.ok("sync", "--timeout", "60s")
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`discofs_store_requests_total{op="put",outcome="ok"}`,
		"discofs_uploaded_files_total 1",
		"discofs_queue_files 0",
		"discofs_commits_total",
		"discofs_read_cache_hits_total",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}
