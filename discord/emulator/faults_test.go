package emulator

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
)

func TestFailAndStorm(t *testing.T) {
	t.Parallel()
	srv, sess := start(t, func(c *Config) {
		c.InvalidRequestLimit = 3
		c.InvalidRequestWindow = time.Minute
		c.Seed = 1
	})
	ch := srv.Info().ChannelID
	var f Faults
	control(t, srv, "POST", "/_emulator/faults", Faults{FailRate: 1}, &f)
	if f.FailRate != 1 {
		t.Fatalf("faults %+v", f)
	}
	_, err := sess.ChannelMessageSend(ch, "x")
	var re *discordgo.RESTError
	if err == nil || (errors.As(err, &re) && re.Response.StatusCode < 500) {
		t.Fatalf("fail_rate 1 gave %v", err)
	}
	if code := control(t, srv, "POST", "/_emulator/faults", map[string]any{"fail_rate": 2}, nil); code != 400 {
		t.Fatalf("fail_rate 2 accepted: %d", code)
	}
	// 429 storms are retried by discordgo and never lead to a ban.
	control(t, srv, "POST", "/_emulator/faults", Faults{Storm429: 0.5}, nil)
	for i := range 10 {
		if _, err := sess.ChannelMessageSend(ch, fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	control(t, srv, "POST", "/_emulator/faults", Faults{}, nil)
	if n := srv.State(ch).Totals.Messages; n != 10 {
		t.Fatalf("%d messages, want 10", n)
	}
}

func TestDropsWithNonce(t *testing.T) {
	srv, sess := start(t, func(c *Config) { c.Seed = 7 })
	ch := srv.Info().ChannelID
	if err := srv.SetFaults(Faults{DropRate: 0.5}); err != nil {
		t.Fatal(err)
	}
	drops := 0
	for i := range 10 {
		for try := 0; ; try++ {
			if try > 50 {
				t.Fatal("no request got through in 50 tries")
			}
			_, err := rawSend(sess, ch, map[string]any{"content": fmt.Sprint(i), "nonce": fmt.Sprint("pack-", i), "enforce_nonce": true})
			if err == nil {
				break
			}
			drops++
		}
	}
	srv.SetFaults(Faults{})
	if drops == 0 {
		t.Fatal("drop_rate 0.5 dropped nothing")
	}
	if n := srv.State(ch).Totals.Messages; n != 10 {
		t.Fatalf("%d messages after %d drops, want 10: nonces must dedupe retries", n, drops)
	}
}

func TestLatencyAndBandwidth(t *testing.T) {
	t.Parallel()
	srv, sess := start(t, nil)
	ch := srv.Info().ChannelID
	m, err := sendFiles(sess, ch, "", map[string][]byte{"p.bin": pattern(100000, 1)}, "p.bin")
	if err != nil {
		t.Fatal(err)
	}
	srv.SetFaults(Faults{LatencyMS: 80})
	t0 := time.Now()
	if _, err := sess.User("@me"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d < 80*time.Millisecond {
		t.Fatalf("request took %v under 80 ms latency", d)
	}
	srv.SetFaults(Faults{Bandwidth: 250000})
	t0 = time.Now()
	status, body, _ := fetch(t, sess, m.Attachments[0].URL, "")
	if status != 200 || len(body) != 100000 {
		t.Fatalf("download %d %d", status, len(body))
	}
	if d := time.Since(t0); d < 300*time.Millisecond {
		t.Fatalf("100 kB at 250 kB/s took %v", d)
	}
	t0 = time.Now()
	if _, err := sendFiles(sess, ch, "", map[string][]byte{"q.bin": pattern(100000, 2)}, "q.bin"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d < 300*time.Millisecond {
		t.Fatalf("100 kB upload at 250 kB/s took %v", d)
	}
}
