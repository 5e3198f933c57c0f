package discord

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/chunkstore/chunkstoretest"
	"github.com/discofs/discofs/discord/emulator"
)

// BenchmarkUploadLanes uploads 10 MiB packs against Discord's default rate limits (5
// messages per 5 s per thread) with 1, 2 and 4 lanes and UploadersPerLane uploaders per
// lane, as a vault on Discord has. Two 10 MiB packs fit a 25 MiB request, so the limits
// allow 2 packs per message; "per-msg=1" sends one per message, as a store without
// coalescing does. Each lane uploads 30 packs: 15 messages of 2, which the bucket lets
// through in 10 s at best (5 at once, 5 more each window). "of-limit" is that ideal time
// over the time taken; it leaves out the transfer of the last window's messages, so even a
// perfect store stays under 1. Run with -benchtime=1x.
func BenchmarkUploadLanes(b *testing.B) {
	const size, perLane, perMsg = 10 << 20, 30, 2
	data := chunkstoretest.Data(size)
	for _, files := range []int{perMsg, 1} {
		for _, lanes := range []int{1, 2, 4} {
			b.Run(fmt.Sprintf("per-msg=%d/lanes=%d", files, lanes), func(b *testing.B) {
				e := newEnv(b, emulator.DefaultConfig(), Options{MaxObjectSize: size, Lanes: lanes, MaxFiles: files, RequestsPerSecond: 45, Logger: benchLogger(), CoalesceWindow: coalesceForBench})
				s := retried(e.store)
				// The lanes' threads first, so the time counts messages into them only, as
				// the ideal does (making them costs requests on the channel's own limit).
				ls, err := e.store.laneSet(b.Context(), "261126-01")
				if err != nil {
					b.Fatal(err)
				}
				for i := range lanes {
					if _, err := ls.thread(b.Context(), e.store, i); err != nil {
						b.Fatal(err)
					}
				}
				b.SetBytes(int64(size * perLane * lanes))
				for b.Loop() {
					start := time.Now()
					// The uploaders take packs from one supply, as a vault's do from its packer.
					var left atomic.Int32
					left.Store(int32(perLane * lanes))
					var wg sync.WaitGroup
					for range UploadersPerLane * lanes {
						wg.Go(func() {
							for left.Add(-1) >= 0 {
								h := chunkstore.Handle{Type: chunkstore.TypePack, Name: chunkstoretest.Name(), Group: "261126-01"}
								if _, err := s.Put(b.Context(), h, chunkstore.BytesSource(data)); err != nil {
									b.Error(err)
									return
								}
							}
						})
					}
					wg.Wait()
					took := time.Since(start)
					msgs := 0
					for _, th := range e.store.lanes["261126-01"].threads {
						e.store.history(b.Context(), th, func(*discordgo.Message) error { msgs++; return nil })
					}
					ideal := time.Duration(perLane/perMsg/5-1) * 5 * time.Second
					b.ReportMetric(float64(size*perLane*lanes)/took.Seconds()/1e6, "MB/s")
					b.ReportMetric(float64(msgs)/took.Seconds(), "msgs/s")
					b.ReportMetric(float64(perLane*lanes)/float64(msgs), "packs/msg")
					b.ReportMetric(ideal.Seconds()/took.Seconds(), "of-limit")
				}
			})
		}
	}
}

// BenchmarkColdRead reads through a fresh store (no cached URL) with 50 ms of latency per
// request and a 12.5 MB/s (100 Mbit/s) cap: the time to the first byte of a random 4 KiB
// read, and sequential reads of a whole 8 MiB object.
func BenchmarkColdRead(b *testing.B) {
	const size = 8 << 20
	e := newEnv(b, emulator.FastConfig(), Options{MaxObjectSize: size})
	obj := chunkstoretest.Put(b, e.store, chunkstore.TypePack, chunkstoretest.Data(size))
	e.control(b, "faults", emulator.Faults{LatencyMS: 50, Bandwidth: 12_500_000})
	cold := func(b *testing.B) *Store {
		sess, _ := e.srv.Session()
		s, err := Open(b.Context(), Options{Session: sess, ChannelID: e.store.channel, RequestsPerSecond: 45})
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	b.Run("Random4KiB", func(b *testing.B) {
		var total time.Duration
		n := 0
		for b.Loop() {
			b.StopTimer()
			s := cold(b)
			off := rand.Int64N(size - 4096)
			b.StartTimer()
			start := time.Now()
			err := s.Load(b.Context(), obj.Ref, 4096, off, func(rd io.Reader) error {
				var one [1]byte
				if _, err := io.ReadFull(rd, one[:]); err != nil {
					return err
				}
				total += time.Since(start)
				n++
				_, err := io.Copy(io.Discard, rd)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(total.Milliseconds())/float64(n), "ms-to-first-byte")
	})
	b.Run("Sequential", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			b.StopTimer()
			s := cold(b)
			b.StartTimer()
			if _, err := chunkstore.ReadAll(b.Context(), s, obj.Ref, 0, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func benchLogger() *slog.Logger {
	if os.Getenv("DISCOFS_BENCH_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

var coalesceForBench = func() time.Duration {
	d, _ := time.ParseDuration(os.Getenv("DISCOFS_BENCH_COALESCE"))
	return d
}()
