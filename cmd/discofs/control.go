package main

// The control socket lets `discofs sync` and `discofs status` reach a running mount,
// which holds the index (badger admits one process). It lives in the state directory,
// readable by its owner only; requests and answers are one JSON object each.

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/discofs/discofs/vault"
)

func controlPath(p vault.Paths) string { return filepath.Join(p.Data, "control.sock") }

type controlRequest struct {
	Op      string        `json:"op"` // "sync" or "status"
	Timeout time.Duration `json:"timeout,omitempty"`
}

type controlResponse struct {
	Error  string                 `json:"error,omitempty"`
	Status *vault.WritebackStatus `json:"status,omitempty"` // the queue; none on a read-only mount
	Vault  *vault.Status          `json:"vault,omitempty"`  // the vault's totals, for "status"
}

// errNoMount says no mount answers on the control socket.
var errNoMount = errors.New("no mount is running")

// serveControl answers requests about v and its queue wb (nil on a read-only mount) until
// the returned stop is called.
func serveControl(path string, v *vault.Vault, wb *vault.Writeback) (stop func(), err error) {
	os.Remove(path) // a socket left by a killed mount
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go answer(ctx, conn, v, wb)
		}
	}()
	return func() { cancel(); ln.Close(); os.Remove(path) }, nil
}

func answer(ctx context.Context, conn net.Conn, v *vault.Vault, wb *vault.Writeback) {
	defer conn.Close()
	var req controlRequest
	if err := json.NewDecoder(conn).Decode(&req); err != nil {
		return
	}
	var resp controlResponse
	switch req.Op {
	case "sync":
		if wb == nil {
			break // a read-only mount queues nothing
		}
		if req.Timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, req.Timeout)
			defer cancel()
		}
		if err := wb.Sync(ctx); err != nil {
			resp.Error = err.Error()
		}
		st := wb.Status()
		resp.Status = &st
	case "status":
		var err error
		if resp.Vault, err = v.Status(); err != nil {
			resp.Error = err.Error()
		}
		if wb != nil {
			st := wb.Status()
			resp.Status = &st
		}
	default:
		resp.Error = "unknown request " + req.Op
	}
	json.NewEncoder(conn).Encode(&resp)
}

// askControl sends one request to the running mount; errNoMount when there is none.
func askControl(ctx context.Context, path string, req controlRequest) (*controlResponse, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, errNoMount
	}
	defer conn.Close()
	go func() { <-ctx.Done(); conn.Close() }()
	if err := json.NewEncoder(conn).Encode(&req); err != nil {
		return nil, err
	}
	var resp controlResponse
	if err := json.NewDecoder(conn).Decode(&resp); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	return &resp, nil
}
