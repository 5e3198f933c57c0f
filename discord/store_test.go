package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/chunkstore/chunkstoretest"
	"github.com/discofs/discofs/discord/emulator"
	"github.com/discofs/discofs/discord/emulator/emulatortest"
)

// testEnv is an emulator and a store on its vault channel.
type testEnv struct {
	srv   *emulator.Server
	sess  *discordgo.Session
	store *Store
}

func newEnv(t testing.TB, cfg emulator.Config, o Options) *testEnv {
	t.Helper()
	srv, sess := emulatortest.Start(t, cfg)
	o.Session, o.ChannelID = sess, srv.Info().ChannelID
	if o.MaxObjectSize == 0 {
		o.MaxObjectSize = 128 << 10
	}
	if o.RequestsPerSecond == 0 {
		o.RequestsPerSecond = 1000 // the emulator's FastConfig has no global limit to respect
	}
	s, err := Open(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	return &testEnv{srv: srv, sess: sess, store: s}
}

// control posts to the emulator's control API.
func (e *testEnv) control(t testing.TB, path string, body any) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(e.srv.URL()+"/_emulator/"+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("control %s: %s %s", path, resp.Status, msg)
	}
}

// retried wraps the store as cmd/discofs does, with short waits.
func retried(s chunkstore.Store) chunkstore.Store {
	return chunkstore.NewRetry(s, chunkstore.RetryOptions{MaxAttempts: 30, BaseDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond})
}

func TestConformance(t *testing.T) {
	chunkstoretest.Run(t, func(t *testing.T) chunkstore.Store {
		return newEnv(t, emulator.FastConfig(), Options{}).store
	})
}

func TestConformanceUnderFaults(t *testing.T) {
	chunkstoretest.Run(t, func(t *testing.T) chunkstore.Store {
		e := newEnv(t, emulator.FastConfig(), Options{})
		// Answered faults only: a dropped connection makes "was it deleted?" unknowable,
		// which the suite's exact Delete checks cannot allow for. Drops are exercised by
		// the vault round trips.
		e.control(t, "faults", emulator.Faults{FailRate: 0.1, Storm429: 0.1})
		return retried(e.store)
	})
}

func TestRefsAndFileNames(t *testing.T) {
	for _, bad := range []chunkstore.Ref{"", "1/2", "1/2/x", "a/b/c", "1/2/3/4", "https://cdn/x"} {
		if _, err := parseRef(bad); err == nil || chunkstore.IsRetryable(err) {
			t.Errorf("parseRef(%q) = %v, want a permanent error", bad, err)
		}
	}
	name := chunkstoretest.Name()
	typ, got, ok := parseFileName(fileName(chunkstore.TypeManifest, name))
	if !ok || typ != chunkstore.TypeManifest || got != name {
		t.Errorf("file name round trip: %v %q %v", typ, got, ok)
	}
	for _, fn := range []string{"x.bin", "pack-.bin", "pack-XYZ.bin", "0001-abc-0000.bin", "pack-" + name} {
		if _, _, ok := parseFileName(fn); ok {
			t.Errorf("parseFileName(%q) took it for an object", fn)
		}
	}
	if n := randomNonce(); len(n) > 25 {
		t.Errorf("nonce %q is over Discord's 25 characters", n)
	}
}

func TestExpiredURLMidRead(t *testing.T) {
	e := newEnv(t, emulator.FastConfig(), Options{})
	data := chunkstoretest.Data(100_000)
	obj := chunkstoretest.Put(t, e.store, chunkstore.TypePack, data)
	got, err := chunkstore.ReadAll(t.Context(), e.store, obj.Ref, 1000, 5000)
	if err != nil || !bytes.Equal(got, data[5000:6000]) {
		t.Fatalf("first read: %v", err)
	}
	// The read below starts with a URL that the store believes fresh and the CDN refuses.
	e.control(t, "expire-urls", nil)
	for i := range 3 {
		got, err = chunkstore.ReadAll(t.Context(), e.store, obj.Ref, 0, int64(i*7000))
		if err != nil || !bytes.Equal(got, data[i*7000:]) {
			t.Fatalf("read %d after the URLs expired: %v", i, err)
		}
	}
	// Once the message is gone, the refresh and the fallback both say so.
	e.control(t, "expire-urls", nil)
	if err := e.store.Delete(t.Context(), obj.Ref); err != nil {
		t.Fatal(err)
	}
	if _, err := chunkstore.ReadAll(t.Context(), e.store, obj.Ref, 0, 0); !chunkstore.IsNotFound(err) {
		t.Fatalf("read of a deleted object with an expired URL: %v, want NotFound", err)
	}
}

func TestURLRefreshIsBatched(t *testing.T) {
	e := newEnv(t, emulator.FastConfig(), Options{})
	var objs []chunkstore.Object
	for range 5 {
		objs = append(objs, chunkstoretest.Put(t, e.store, chunkstore.TypePack, chunkstoretest.Data(1000)))
	}
	// Make every cached URL look about to expire; one refresh must renew them all.
	e.store.urls.mu.Lock()
	for id, c := range e.store.urls.m {
		c.expires = time.Now().Add(30 * time.Second)
		e.store.urls.m[id] = c
	}
	e.store.urls.mu.Unlock()
	if _, err := chunkstore.ReadAll(t.Context(), e.store, objs[0].Ref, 10, 0); err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		r, _ := parseRef(o.Ref)
		if _, fresh := e.store.urls.get(r.attachment); !fresh {
			t.Errorf("URL of %s was not refreshed with the others", o.Ref)
		}
	}
}

// countingTransport counts the requests that reach the API, by method and path pattern.
type countingTransport struct {
	next http.RoundTripper
	mu   sync.Mutex
	n    map[string]int
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n[req.Method+" "+messagePath(req.URL.Path)]++
	c.mu.Unlock()
	return c.next.RoundTrip(req)
}

// messagePath names a message request's path without its IDs: ".../messages" for a
// listing, ".../messages/ID" for one message, anything else as it is.
func messagePath(p string) string {
	i := strings.Index(p, "/messages")
	switch {
	case i < 0:
		return p
	case strings.HasSuffix(p, "/messages"):
		return "messages"
	default:
		return "messages/ID"
	}
}

// A store that knows no URL yet lists the messages of a thread once for a run of objects
// in it, rather than fetching each object's message, alone or with others at once.
func TestColdLoadsListMessages(t *testing.T) {
	e := newEnv(t, emulator.FastConfig(), Options{CoalesceWindow: time.Millisecond})
	var objs []chunkstore.Object
	var data [][]byte
	for i := range 30 {
		data = append(data, chunkstoretest.Data(1000+i))
		objs = append(objs, chunkstoretest.Put(t, e.store, chunkstore.TypePack, data[i]))
	}
	cold := func() (*Store, *countingTransport) {
		sess, err := e.srv.Session()
		if err != nil {
			t.Fatal(err)
		}
		ct := &countingTransport{next: sess.Client.Transport, n: map[string]int{}}
		sess.Client.Transport = ct
		s, err := Open(t.Context(), Options{Session: sess, ChannelID: e.srv.Info().ChannelID, RequestsPerSecond: 1000})
		if err != nil {
			t.Fatal(err)
		}
		clear(ct.n) // what Open asked
		return s, ct
	}
	load := func(s *Store, i int) {
		got, err := chunkstore.ReadAll(t.Context(), s, objs[i].Ref, 0, 0)
		if err != nil || !bytes.Equal(got, data[i]) {
			t.Errorf("load of object %d: %v", i, err)
		}
	}
	s, ct := cold()
	for i := range objs {
		load(s, i)
	}
	if ct.n["GET messages"] != 1 || ct.n["GET messages/ID"] != 0 {
		t.Errorf("30 loads in order made %d listings and %d message fetches, want one listing", ct.n["GET messages"], ct.n["GET messages/ID"])
	}
	s, ct = cold()
	var wg sync.WaitGroup
	for i := range objs {
		wg.Go(func() { load(s, i) })
	}
	wg.Wait()
	if ct.n["GET messages"]+ct.n["GET messages/ID"] >= len(objs)/2 {
		t.Errorf("30 loads at once made %d listings and %d message fetches", ct.n["GET messages"], ct.n["GET messages/ID"])
	}
}

func TestOpenErrors(t *testing.T) {
	srv, _ := emulatortest.Start(t, emulator.FastConfig())
	info := srv.Info()
	bad, _ := emulator.NewSession(info.API, "not-the-token")
	_, err := Open(t.Context(), Options{Session: bad, ChannelID: info.ChannelID})
	if !chunkstore.IsFatal(err) || !strings.Contains(err.Error(), "token") || strings.Contains(err.Error(), "not-the-token") {
		t.Errorf("bad token: %v, want a fatal error about the token that does not show it", err)
	}
	good, _ := srv.Session()
	_, err = Open(t.Context(), Options{Session: good, ChannelID: "123456789012345678"})
	if !chunkstore.IsFatal(err) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("unknown channel: %v", err)
	}
	if strings.Contains(err.Error(), info.Token) {
		t.Errorf("an error shows the token")
	}
}

func TestMissingPermission(t *testing.T) {
	e := newEnv(t, emulator.FastConfig(), Options{})
	e.control(t, "permissions", map[string]any{"deny": []string{"ATTACH_FILES"}})
	_, err := e.store.Put(t.Context(), chunkstore.Handle{Type: chunkstore.TypePack, Name: chunkstoretest.Name(), Group: "261126-01"},
		chunkstore.BytesSource([]byte("x")))
	if !chunkstore.IsFatal(err) || !strings.Contains(err.Error(), "permission") {
		t.Fatalf("put without Attach Files: %v, want a fatal error naming the permission", err)
	}
	if strings.Contains(err.Error(), e.srv.Info().Token) {
		t.Fatalf("an error shows the token")
	}
}

func TestInvalidRequestCap(t *testing.T) {
	e := newEnv(t, emulator.FastConfig(), Options{MaxInvalid: 5})
	e.control(t, "faults", emulator.Faults{Storm429: 1})
	var err error
	for range 10 {
		if _, err = e.store.Stat(t.Context(), "1/2/3"); chunkstore.IsFatal(err) {
			break
		}
		if !chunkstore.IsRetryable(err) || chunkstore.RetryAfter(err) <= 0 {
			t.Fatalf("Stat during a 429 storm: %v, want Retryable with a RetryAfter", err)
		}
	}
	if !errors.Is(err, errTooManyInvalid) {
		t.Fatalf("after many 429s: %v, want the store to stop", err)
	}
}

func TestLimiterSpacesRequests(t *testing.T) {
	l := newRequestLimiter(100, 0, time.Minute)
	start := time.Now()
	for range 21 {
		if err := l.wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 190*time.Millisecond {
		t.Errorf("21 requests at 100/s took %v", d)
	}
}

// putAll puts n objects of size bytes at once into one archive and returns them by index.
func putAll(t *testing.T, s chunkstore.Store, n, size int) ([]chunkstore.Object, [][]byte) {
	t.Helper()
	objs, datas := make([]chunkstore.Object, n), make([][]byte, n)
	errs := make(chan error, n)
	for i := range n {
		datas[i] = chunkstoretest.Data(size + i)
		go func() {
			h := chunkstore.Handle{Type: chunkstore.TypePack, Name: chunkstoretest.Name(), Group: "261126-01"}
			var err error
			objs[i], err = s.Put(t.Context(), h, chunkstore.BytesSource(datas[i]))
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	return objs, datas
}

func TestPutsShareMessages(t *testing.T) {
	e := newEnv(t, emulator.FastConfig(), Options{Lanes: 1, MaxFiles: 3, MaxRequestBytes: requestOverhead + 2500, CoalesceWindow: 50 * time.Millisecond})
	objs, datas := putAll(t, e.store, 7, 1000)
	perMsg := map[string]int{}
	for i, o := range objs {
		r, _ := parseRef(o.Ref)
		perMsg[r.message]++
		if got, err := chunkstore.ReadAll(t.Context(), e.store, o.Ref, 0, 0); err != nil || !bytes.Equal(got, datas[i]) {
			t.Fatalf("object %d reads back wrong: %v", i, err)
		}
	}
	// 3 × 1000 bytes are over the 2500-byte budget: 2 objects a message at most, and the 7
	// waiting puts fill 4 messages.
	for m, n := range perMsg {
		if n > 2 {
			t.Errorf("message %s holds %d objects; the request budget allows 2", m, n)
		}
	}
	if len(perMsg) != 4 {
		t.Errorf("7 puts went out in %d messages, want 4", len(perMsg))
	}
	// Deleting one object of a shared message leaves its neighbour readable.
	var a, b int = -1, -1
	for i := range objs {
		for j := i + 1; j < len(objs); j++ {
			ri, _ := parseRef(objs[i].Ref)
			rj, _ := parseRef(objs[j].Ref)
			if ri.message == rj.message {
				a, b = i, j
			}
		}
	}
	if a < 0 {
		t.Fatal("no two objects share a message")
	}
	if err := e.store.Delete(t.Context(), objs[a].Ref); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Stat(t.Context(), objs[a].Ref); !chunkstore.IsNotFound(err) {
		t.Errorf("Stat of a deleted object: %v, want NotFound", err)
	}
	if got, err := chunkstore.ReadAll(t.Context(), e.store, objs[b].Ref, 0, 0); err != nil || !bytes.Equal(got, datas[b]) {
		t.Fatalf("the neighbour of a deleted object: %v", err)
	}
	if err := e.store.Delete(t.Context(), objs[b].Ref); err != nil {
		t.Fatal(err)
	}
	r, _ := parseRef(objs[b].Ref)
	if _, err := e.store.message(t.Context(), r.channel, r.message); !chunkstore.IsNotFound(err) {
		t.Errorf("the message of two deleted objects: %v, want it gone", err)
	}
}

func TestSharedMessagesUnderDrops(t *testing.T) {
	e := newEnv(t, emulator.FastConfig(), Options{Lanes: 2, CoalesceWindow: 10 * time.Millisecond})
	e.control(t, "faults", emulator.Faults{DropRate: 0.3, FailRate: 0.1})
	objs, datas := putAll(t, retried(e.store), 12, 3000)
	e.control(t, "faults", emulator.Faults{})
	for i, o := range objs {
		if got, err := chunkstore.ReadAll(t.Context(), e.store, o.Ref, 0, 0); err != nil || !bytes.Equal(got, datas[i]) {
			t.Fatalf("object %d reads back wrong: %v", i, err)
		}
	}
	// A retried message never posts an object twice.
	n := 0
	if err := e.store.List(t.Context(), chunkstore.TypePack, func(chunkstore.Object) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != len(objs) {
		t.Errorf("%d objects stored for %d puts", n, len(objs))
	}
}
