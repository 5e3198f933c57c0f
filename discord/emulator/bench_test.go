package emulator

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
)

// benchLanes gives each parallel worker its own channel and session, as
// discofs' upload lanes do (discordgo serializes requests per route).
type lane struct {
	sess *discordgo.Session
	ch   string
}

func benchLanes(b *testing.B, srv *Server, n int) []lane {
	b.Helper()
	info := srv.Info()
	var out []lane
	for i := range n {
		sess, err := srv.Session()
		if err != nil {
			b.Fatal(err)
		}
		c, err := sess.GuildChannelCreate(info.GuildID, fmt.Sprint("lane-", i), discordgo.ChannelTypeGuildText)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, lane{sess, c.ID})
	}
	return out
}

func runLanes(b *testing.B, lanes []lane, op func(sess *discordgo.Session, ch string) error) {
	var next atomic.Int64
	b.SetParallelism(1)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		l := lanes[int(next.Add(1)-1)%len(lanes)]
		for pb.Next() {
			if err := op(l.sess, l.ch); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

func BenchmarkMessageCreate(b *testing.B) {
	srv, _ := start(b, nil)
	lanes := benchLanes(b, srv, 8)
	runLanes(b, lanes, func(sess *discordgo.Session, ch string) error {
		_, err := sess.ChannelMessageSend(ch, "a card-sized message with some JSON in it")
		return err
	})
}

func BenchmarkUpload1MiB(b *testing.B) {
	srv, _ := start(b, nil)
	lanes := benchLanes(b, srv, 8)
	data := pattern(1<<20, 1)
	b.SetBytes(int64(len(data)))
	runLanes(b, lanes, func(sess *discordgo.Session, ch string) error {
		_, err := sess.ChannelFileSend(ch, "pack.bin", bytes.NewReader(data))
		return err
	})
}

func BenchmarkDownload1MiB(b *testing.B) {
	srv, sess := start(b, nil)
	m, err := sess.ChannelFileSend(srv.Info().ChannelID, "pack.bin", bytes.NewReader(pattern(1<<20, 2)))
	if err != nil {
		b.Fatal(err)
	}
	u := m.Attachments[0].URL
	b.SetBytes(1 << 20)
	b.SetParallelism(1)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := sess.Client.Get(u)
			if err != nil {
				b.Error(err)
				return
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || n != 1<<20 {
				b.Errorf("status %d, %d bytes", resp.StatusCode, n)
				return
			}
		}
	})
}
