package discord

import (
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/chunkstore/chunkstoretest"
	"github.com/discofs/discofs/discord/emulator"
)

// BenchmarkUploadLanes uploads against Discord's default rate limits (5 messages per 5 s
// per thread) with 1, 2 and 4 lanes, 15 objects of 2 MiB per lane. The bucket lets 5
// through at once and 5 more each window, so 15 messages per lane take at least 10 s:
// "of-limit" is that ideal time over the time taken. Run with -benchtime=1x.
func BenchmarkUploadLanes(b *testing.B) {
	const size, perLane = 2 << 20, 15
	data := chunkstoretest.Data(size)
	for _, lanes := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("lanes=%d", lanes), func(b *testing.B) {
			e := newEnv(b, emulator.DefaultConfig(), Options{MaxObjectSize: size, Lanes: lanes, RequestsPerSecond: 45})
			s := retried(e.store)
			b.SetBytes(int64(size * perLane * lanes))
			for b.Loop() {
				start := time.Now()
				var wg sync.WaitGroup
				for range lanes {
					wg.Go(func() {
						for range perLane {
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
				ideal := time.Duration(perLane/5-1) * 5 * time.Second
				b.ReportMetric(float64(size*perLane*lanes)/took.Seconds()/1e6, "MB/s")
				b.ReportMetric(float64(perLane*lanes)/took.Seconds(), "msgs/s")
				b.ReportMetric(ideal.Seconds()/took.Seconds(), "of-limit")
			}
		})
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
