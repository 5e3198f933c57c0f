package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/bwmarrin/discordgo"
)

// testConfig is FastConfig; the tests of rate limits turn them back on.
func testConfig() Config { return FastConfig() }

// start runs a server for one test and returns it with a bot session.
func start(t testing.TB, mod func(*Config)) (*Server, *discordgo.Session) {
	t.Helper()
	cfg := testConfig()
	if mod != nil {
		mod(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	sess, err := srv.Session()
	if err != nil {
		t.Fatal(err)
	}
	return srv, sess
}

// wantAPIError checks that err is a Discord error with status and code.
func wantAPIError(t testing.TB, err error, status, code int) *discordgo.RESTError {
	t.Helper()
	var re *discordgo.RESTError
	if !errors.As(err, &re) {
		t.Fatalf("got error %v, want HTTP %d code %d", err, status, code)
	}
	if re.Response.StatusCode != status {
		t.Fatalf("status %d, want %d (%s)", re.Response.StatusCode, status, re.ResponseBody)
	}
	if re.Message == nil || re.Message.Code != code {
		t.Fatalf("body %s, want code %d", re.ResponseBody, code)
	}
	return re
}

// wantAPIMessage checks that err is a Discord error with status, code and
// Discord's message.
func wantAPIMessage(t testing.TB, err error, status, code int, message string) *discordgo.RESTError {
	t.Helper()
	re := wantAPIError(t, err, status, code)
	if re.Message.Message != message {
		t.Fatalf("message %q, want %q (HTTP %d, code %d)", re.Message.Message, message, status, code)
	}
	return re
}

// control calls the /_emulator/ API and decodes the answer into out.
func control(t testing.TB, srv *Server, method, path string, in, out any) int {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, srv.URL()+path, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

// fetch GETs url through the session's client, with an optional Range.
func fetch(t testing.TB, sess *discordgo.Session, url, rng string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	resp, err := sess.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

func sendFiles(sess *discordgo.Session, channelID, content string, files map[string][]byte, names ...string) (*discordgo.Message, error) {
	ms := &discordgo.MessageSend{Content: content}
	for _, n := range names {
		ms.Files = append(ms.Files, &discordgo.File{Name: n, Reader: bytes.NewReader(files[n])})
	}
	return sess.ChannelMessageSendComplex(channelID, ms)
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31) ^ seed
	}
	return b
}
