package chunkstore_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/chunkstore/chunkstoretest"
)

func TestMetricsConformance(t *testing.T) {
	chunkstoretest.Run(t, func(t *testing.T) chunkstore.Store {
		return chunkstore.NewMetrics(chunkstore.NewMem(chunkstore.Limits{MaxObjectSize: 1 << 20}))
	})
}

func TestMetricsCount(t *testing.T) {
	ctx := context.Background()
	f := chunkstore.NewFault(chunkstore.NewMem(chunkstore.Limits{}))
	m := chunkstore.NewMetrics(f)
	s := chunkstore.NewRetry(m, chunkstore.RetryOptions{Sleep: func(context.Context, time.Duration) error { return nil }})
	if chunkstore.FindMetrics(s) != m {
		t.Fatal("FindMetrics does not find the wrapper under retry")
	}
	f.Add(chunkstore.Fault{Op: chunkstore.OpPut, Err: chunkstore.RetryAfterError(time.Second, errors.New("429"))})
	o, err := s.Put(ctx, chunkstore.Handle{Type: chunkstore.TypePack, Name: "ab"}, chunkstore.BytesSource(make([]byte, 1000)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chunkstore.ReadAll(ctx, s, o.Ref, 100, 10); err != nil {
		t.Fatal(err)
	}
	s.Stat(ctx, "pack/ff")
	var out bytes.Buffer
	m.WritePrometheus(&out)
	for _, want := range []string{
		`discofs_store_requests_total{op="put",outcome="ok"} 1`,
		`discofs_store_requests_total{op="put",outcome="retryable"} 1`,
		`discofs_store_requests_total{op="load",outcome="ok"} 1`,
		`discofs_store_requests_total{op="stat",outcome="not found"} 1`,
		"discofs_store_bytes_put_total 1000",
		"discofs_store_bytes_loaded_total 100",
		"discofs_store_rate_limited_total 1",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in\n%s", want, out.String())
		}
	}
}
