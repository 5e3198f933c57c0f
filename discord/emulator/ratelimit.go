package emulator

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// limiter keeps per-route buckets, the per-token global window and the
// invalid-request counter. It is a leaf lock.
type limiter struct {
	mu          sync.Mutex
	buckets     map[string]*window // route + major parameter
	global      map[string]*window // bot token
	invalid     []time.Time        // 401/403/429 answers, oldest first
	bannedUntil time.Time
}

type window struct {
	count int
	reset time.Time
}

func newLimiter() *limiter {
	return &limiter{buckets: map[string]*window{}, global: map[string]*window{}}
}

// bucketHash is the opaque X-RateLimit-Bucket of a route.
func bucketHash(route string) string {
	sum := sha256.Sum256([]byte("discofs-emulator/" + route))
	return hex.EncodeToString(sum[:16])
}

// take spends one request of a bucket. It returns the requests left, when
// the bucket resets, and whether the request may go ahead.
func (l *limiter) take(key string, rl RouteLimit, now time.Time) (remaining int, reset time.Time, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.buckets[key]
	if w == nil {
		w = &window{}
		l.buckets[key] = w
	}
	if !now.Before(w.reset) {
		w.count, w.reset = 0, now.Add(rl.Per)
	}
	if w.count >= rl.Requests {
		return 0, w.reset, false
	}
	w.count++
	return rl.Requests - w.count, w.reset, true
}

// takeGlobal spends one request of a token's per-second budget.
func (l *limiter) takeGlobal(token string, rate int, now time.Time) (reset time.Time, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.global[token]
	if w == nil {
		w = &window{}
		l.global[token] = w
	}
	if !now.Before(w.reset) {
		w.count, w.reset = 0, now.Add(time.Second)
	}
	if w.count >= rate {
		return w.reset, false
	}
	w.count++
	return w.reset, true
}

// banned reports until when the client is banned.
func (l *limiter) banned(now time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bannedUntil, now.Before(l.bannedUntil)
}

// noteInvalid counts one 401/403/429 answer and bans the client once limit
// of them fall within window.
func (l *limiter) noteInvalid(now time.Time, limit int, win, ban time.Duration) {
	if limit <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	cut := 0
	for cut < len(l.invalid) && now.Sub(l.invalid[cut]) >= win {
		cut++
	}
	l.invalid = append(l.invalid[cut:], now)
	if len(l.invalid) >= limit {
		l.bannedUntil = now.Add(ban)
		l.invalid = nil
	}
}

func (l *limiter) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buckets = map[string]*window{}
	l.global = map[string]*window{}
	l.invalid = nil
	l.bannedUntil = time.Time{}
}

func secs(d time.Duration) float64 {
	return math.Ceil(d.Seconds()*1000) / 1000
}

func fmtSecs(v float64) string {
	return strconv.FormatFloat(v, 'f', 3, 64)
}

// setBucketHeaders writes Discord's X-RateLimit-* headers for one bucket.
func setBucketHeaders(h http.Header, route string, rl RouteLimit, remaining int, reset, now time.Time) {
	h.Set("X-RateLimit-Limit", strconv.Itoa(rl.Requests))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", fmtSecs(float64(reset.UnixMilli())/1000))
	h.Set("X-RateLimit-Reset-After", fmtSecs(secs(reset.Sub(now))))
	h.Set("X-RateLimit-Bucket", bucketHash(route))
}

// rateLimited answers 429 the way Discord does. scope is "user", "global"
// or "shared" (the fault storm's, which does not count as an invalid request).
func rateLimited(w http.ResponseWriter, retry time.Duration, scope, msg string) {
	if retry < time.Millisecond {
		retry = time.Millisecond
	}
	global := scope == "global"
	h := w.Header()
	h.Set("Retry-After", strconv.Itoa(int(math.Ceil(retry.Seconds()))))
	h.Set("X-RateLimit-Scope", scope)
	if global {
		h.Set("X-RateLimit-Global", "true")
	}
	if msg == "" {
		msg = "You are being rate limited."
	}
	writeJSON(w, http.StatusTooManyRequests, map[string]any{
		"message":     msg,
		"retry_after": secs(retry),
		"global":      global,
		"code":        0,
	})
}

// statusRecorder remembers the status a handler answered with.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
