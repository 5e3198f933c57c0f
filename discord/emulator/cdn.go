package emulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// _signURL is an attachment's CDN URL, signed like Discord's: ex (expiry)
// and is (issue) are hex Unix seconds, hm an HMAC over both and the IDs.
func (s *Server) _signURL(cid string, a attachment, now time.Time) string {
	exp := now.Add(s.cfg.URLTTL)
	ex := exp.Unix()
	if exp.Nanosecond() > 0 {
		ex++
	}
	is := now.Unix()
	path := "/attachments/" + cid + "/" + a.ID + "/" + url.PathEscape(a.Filename)
	return s.base + path + "?ex=" + strconv.FormatInt(ex, 16) + "&is=" + strconv.FormatInt(is, 16) +
		"&hm=" + s._urlMAC(cid, a.ID, ex, is) + "&"
}

func (s *Server) _urlMAC(cid, aid string, ex, is int64) string {
	h := hmac.New(sha256.New, s.st.URLSecret)
	h.Write([]byte(cid + "/" + aid + "/" + strconv.FormatInt(ex, 16) + "/" + strconv.FormatInt(is, 16)))
	return hex.EncodeToString(h.Sum(nil))
}

// parseCDNPath splits /attachments/{channel}/{attachment}/{filename}.
func parseCDNPath(p string) (cid, aid, name string, ok bool) {
	rest, ok := strings.CutPrefix(p, "/attachments/")
	if !ok {
		return "", "", "", false
	}
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) != 3 {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// _verifyURL checks a signed URL's query against the current secret and the
// clock.
func (s *Server) _verifyURL(cid, aid string, q url.Values, now time.Time) bool {
	ex, err1 := strconv.ParseInt(q.Get("ex"), 16, 64)
	is, err2 := strconv.ParseInt(q.Get("is"), 16, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	want := s._urlMAC(cid, aid, ex, is)
	if !hmac.Equal([]byte(want), []byte(q.Get("hm"))) {
		return false
	}
	return now.Unix() < ex
}

// _attachment finds a stored attachment by its IDs.
func (s *Server) _attachment(cid, aid string) (attachment, bool) {
	m := s.st.Messages[s.st.atts[aid]]
	if m == nil || m.ChannelID != cid {
		return attachment{}, false
	}
	for _, a := range m.Attachments {
		if a.ID == aid {
			return a, true
		}
	}
	return attachment{}, false
}

// serveCDN serves attachment bytes at signed URLs, with Range support. An
// expired, unsigned or unknown URL is a 404, as on Discord's CDN.
func (s *Server) serveCDN(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "405: Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	gone := func() { http.Error(w, "This content is no longer available.", http.StatusNotFound) }
	cid, aid, name, ok := parseCDNPath(r.URL.Path)
	if !ok {
		gone()
		return
	}
	s.mu.Lock()
	a, found := s._attachment(cid, aid)
	valid := found && a.Filename == name && s._verifyURL(cid, aid, r.URL.Query(), time.Now())
	s.mu.Unlock()
	if !valid {
		gone()
		return
	}
	f, err := s.blobs.open(aid)
	if err != nil {
		gone()
		return
	}
	defer f.Close()
	ct := a.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "public, max-age=31536000")
	http.ServeContent(w, r, "", time.Time{}, f)
}

// refreshURLs is POST /attachments/refresh-urls. URLs of attachments that
// no longer exist come back unchanged.
func (s *Server) refreshURLs(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		URLs []string `json:"attachment_urls"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if body.URLs == nil {
		return formError([]string{"attachment_urls"}, "BASE_TYPE_REQUIRED", "This field is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	out := []map[string]string{}
	for _, orig := range body.URLs {
		refreshed := orig
		if u, err := url.Parse(orig); err == nil {
			if cid, aid, _, ok := parseCDNPath(u.Path); ok {
				if a, found := s._attachment(cid, aid); found {
					refreshed = s._signURL(cid, a, now)
				}
			}
		}
		out = append(out, map[string]string{"original": orig, "refreshed": refreshed})
	}
	writeJSON(w, http.StatusOK, map[string]any{"refreshed_urls": out})
	return nil
}
