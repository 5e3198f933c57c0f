package emulator

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
)

// rawREST sends one bot request without discordgo's rate limiter.
func rawREST(t *testing.T, srv *Server, token, method, path, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL()+"/api/v10"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bot "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return resp, out
}

func TestRouteBucketHeadersAnd429(t *testing.T) {
	t.Parallel()
	srv, sess := start(t, func(c *Config) {
		c.DisableRouteLimits = false
		c.RouteLimits = map[string]RouteLimit{RouteMessageCreate: {Requests: 2, Per: 400 * time.Millisecond}}
	})
	info := srv.Info()
	path := "/channels/" + info.ChannelID + "/messages"
	resp, _ := rawREST(t, srv, info.Token, "POST", path, `{"content":"1"}`)
	h := resp.Header
	if resp.StatusCode != 200 || h.Get("X-RateLimit-Limit") != "2" || h.Get("X-RateLimit-Remaining") != "1" || h.Get("X-RateLimit-Bucket") == "" {
		t.Fatalf("first: %d %v", resp.StatusCode, h)
	}
	after, err := strconv.ParseFloat(h.Get("X-RateLimit-Reset-After"), 64)
	if err != nil || after <= 0 || after > 0.4 {
		t.Fatalf("Reset-After %q", h.Get("X-RateLimit-Reset-After"))
	}
	reset, err := strconv.ParseFloat(h.Get("X-RateLimit-Reset"), 64)
	if err != nil || reset < float64(time.Now().Unix()) {
		t.Fatalf("Reset %q", h.Get("X-RateLimit-Reset"))
	}
	rawREST(t, srv, info.Token, "POST", path, `{"content":"2"}`)
	resp, body := rawREST(t, srv, info.Token, "POST", path, `{"content":"3"}`)
	// discordgo sees the same 429 when told not to wait it out.
	_, err = sess.ChannelMessageSend(info.ChannelID, "4", discordgo.WithRetryOnRatelimit(false))
	var rle *discordgo.RateLimitError
	if !errors.As(err, &rle) || rle.RetryAfter <= 0 || rle.RetryAfter > 400*time.Millisecond || rle.Message != "You are being rate limited." {
		t.Fatalf("discordgo without retries: %v", err)
	}
	if resp.StatusCode != 429 || resp.Header.Get("X-RateLimit-Scope") != "user" || body["global"] != false {
		t.Fatalf("third: %d %v %v", resp.StatusCode, resp.Header, body)
	}
	if ra, ok := body["retry_after"].(float64); !ok || ra <= 0 || ra > 0.4 {
		t.Fatalf("retry_after %v", body["retry_after"])
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After header")
	}
	// Another channel has its own bucket.
	other, _ := rawREST(t, srv, info.Token, "POST", "/guilds/"+info.GuildID+"/channels", `{"name":"lane"}`)
	if other.StatusCode != 201 {
		t.Fatalf("create channel: %d", other.StatusCode)
	}

	// discordgo recovers: two sessions (two rate limiters) share the bucket,
	// so one of them meets 429s, waits retry_after and succeeds.
	var limited atomic.Int32
	var wg sync.WaitGroup
	for range 2 {
		sess, err := srv.Session()
		if err != nil {
			t.Fatal(err)
		}
		sess.AddHandler(func(_ *discordgo.Session, _ *discordgo.RateLimit) { limited.Add(1) })
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 4 {
				if _, err := sess.ChannelMessageSend(info.ChannelID, "x"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := srv.State(info.ChannelID).Totals.Messages; n != 10 {
		t.Fatalf("%d messages, want 10", n)
	}
	if limited.Load() == 0 {
		t.Fatal("no 429 was met")
	}

	// discordgo's own bucket reads the headers: after one message in a
	// fresh window of a 2-request bucket, one is left.
	time.Sleep(450 * time.Millisecond)
	fresh, err := srv.Session()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.ChannelMessageSend(info.ChannelID, "y"); err != nil {
		t.Fatal(err)
	}
	if b := fresh.Ratelimiter.GetBucket(discordgo.EndpointChannelMessages(info.ChannelID)); b.Remaining != 1 {
		t.Fatalf("discordgo's bucket has %d left, want 1", b.Remaining)
	}
}

func TestGlobalLimit(t *testing.T) {
	t.Parallel()
	srv, sess := start(t, func(c *Config) { c.GlobalRate = 5 })
	info := srv.Info()
	var global *http.Response
	var body map[string]any
	for range 8 {
		resp, b := rawREST(t, srv, info.Token, "GET", "/users/@me", "")
		if resp.StatusCode == 429 {
			global, body = resp, b
			break
		}
	}
	if global == nil {
		t.Fatal("8 requests at once were not limited at 5/s")
	}
	if global.Header.Get("X-RateLimit-Global") != "true" || global.Header.Get("X-RateLimit-Scope") != "global" || body["global"] != true {
		t.Fatalf("global 429: %v %v", global.Header, body)
	}
	// The bucket is the token's, whatever the route: discordgo meets it on
	// another endpoint when told not to wait.
	var rle *discordgo.RateLimitError
	if _, err := sess.Channel(info.ChannelID, discordgo.WithRetryOnRatelimit(false)); !errors.As(err, &rle) || rle.RetryAfter <= 0 || rle.RetryAfter > time.Second {
		t.Fatalf("discordgo under the global limit: %v", err)
	}
	// discordgo waits out the global limit.
	for range 7 {
		if _, err := sess.User("@me"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestInvalidRequestBan(t *testing.T) {
	t.Parallel()
	srv, sess := start(t, func(c *Config) {
		c.InvalidRequestLimit = 5
		c.InvalidRequestWindow = time.Minute
		c.BanDuration = 600 * time.Millisecond
	})
	info := srv.Info()
	for range 5 {
		if resp, _ := rawREST(t, srv, "wrong", "GET", "/users/@me", ""); resp.StatusCode != 401 {
			t.Fatalf("bad token: %d", resp.StatusCode)
		}
	}
	resp, body := rawREST(t, srv, info.Token, "GET", "/users/@me", "")
	if resp.StatusCode != 429 || body["global"] != true {
		t.Fatalf("banned client got %d %v", resp.StatusCode, body)
	}
	// Told not to wait, discordgo gets the ban's 429.
	_, err := sess.User("@me", discordgo.WithRetryOnRatelimit(false))
	var rle *discordgo.RateLimitError
	if !errors.As(err, &rle) || rle.Message != banMessage || rle.RetryAfter <= 0 {
		t.Fatalf("discordgo during the ban: %v", err)
	}
	// discordgo waits out the ban and gets through.
	start := time.Now()
	if _, err := sess.User("@me"); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 100*time.Millisecond {
		t.Fatal("the ban did not hold the request back")
	}
}

// banned reports whether a good request meets the invalid-request ban.
func banned(t *testing.T, srv *Server) bool {
	t.Helper()
	resp, body := rawREST(t, srv, srv.Info().Token, "GET", "/users/@me", "")
	return resp.StatusCode == 429 && body["message"] == banMessage
}

// TestBanCounts403And429 checks that 403s and route 429s count towards the
// invalid-request ban as 401s do, and that 429 storms (scope "shared", answered
// before a request reaches the count) do not.
func TestBanCounts403And429(t *testing.T) {
	t.Parallel()
	limited := func(c *Config) {
		c.InvalidRequestLimit = 4
		c.InvalidRequestWindow = time.Minute
		c.BanDuration = time.Minute
	}
	oneAnHour := func(c *Config) {
		limited(c)
		c.DisableRouteLimits = false
		c.RouteLimits = map[string]RouteLimit{RouteMessageCreate: {Requests: 1, Per: time.Hour}}
	}

	srv, sess := start(t, limited)
	ch := srv.Info().ChannelID
	srv.SetBotPermissions(DefaultBotPermissions &^ PermSendMessages)
	for i := range 4 {
		if banned(t, srv) {
			t.Fatalf("banned after %d 403s", i)
		}
		_, err := sess.ChannelMessageSend(ch, "x")
		wantAPIMessage(t, err, 403, CodeMissingPermissions, "Missing Permissions")
	}
	if !banned(t, srv) {
		t.Fatal("4 403s with a limit of 4 did not ban")
	}

	srv, sess = start(t, oneAnHour)
	ch = srv.Info().ChannelID
	if _, err := sess.ChannelMessageSend(ch, "the bucket's one"); err != nil {
		t.Fatal(err)
	}
	// Each try is a new session: the first one's rate limiter knows the
	// bucket is spent and would wait the hour out instead of asking.
	for i := range 4 {
		if banned(t, srv) {
			t.Fatalf("banned after %d 429s", i)
		}
		other, err := srv.Session()
		if err != nil {
			t.Fatal(err)
		}
		_, err = other.ChannelMessageSend(ch, "x", discordgo.WithRetryOnRatelimit(false))
		var rle *discordgo.RateLimitError
		if !errors.As(err, &rle) {
			t.Fatalf("spent bucket: %v", err)
		}
	}
	if !banned(t, srv) {
		t.Fatal("4 429s with a limit of 4 did not ban")
	}

	srv, sess = start(t, limited)
	if err := srv.SetFaults(Faults{Storm429: 1}); err != nil {
		t.Fatal(err)
	}
	for range 6 {
		resp, body := rawREST(t, srv, srv.Info().Token, "GET", "/users/@me", "")
		if resp.StatusCode != 429 || resp.Header.Get("X-RateLimit-Scope") != "shared" || body["global"] != false {
			t.Fatalf("storm: %d %v %v", resp.StatusCode, resp.Header, body)
		}
		if ra, ok := body["retry_after"].(float64); !ok || ra <= 0 {
			t.Fatalf("storm retry_after %v", body["retry_after"])
		}
	}
	_, err := sess.User("@me", discordgo.WithRetryOnRatelimit(false))
	var rle *discordgo.RateLimitError
	if !errors.As(err, &rle) || rle.RetryAfter <= 0 {
		t.Fatalf("discordgo in a storm: %v", err)
	}
	srv.SetFaults(Faults{})
	if banned(t, srv) {
		t.Fatal("7 storm 429s banned the client")
	}
}
