package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// messageBody is the JSON of create/edit message and execute webhook; the
// pointers tell "absent" from "empty" for edits.
type messageBody struct {
	Content          *string          `json:"content"`
	Embeds           *[]embed         `json:"embeds"`
	Embed            *embed           `json:"embed"`
	Components       *[]component     `json:"components"`
	Nonce            json.RawMessage  `json:"nonce"`
	EnforceNonce     bool             `json:"enforce_nonce"`
	Flags            *int             `json:"flags"`
	Attachments      *[]attachmentRef `json:"attachments"`
	MessageReference *struct {
		MessageID string `json:"message_id"`
	} `json:"message_reference"`
	Username string `json:"username"`
}

// attachmentRef names an upload (id = its files[n] index) in a create, or
// an existing attachment to keep in an edit.
type attachmentRef struct {
	ID          json.RawMessage `json:"id"`
	Filename    string          `json:"filename"`
	Description string          `json:"description"`
}

func (a attachmentRef) id() string {
	var s string
	if json.Unmarshal(a.ID, &s) == nil {
		return s
	}
	return strings.TrimSpace(string(a.ID))
}

type upload struct {
	index       int
	filename    string
	contentType string
	data        []byte
}

// parseMessageBody reads a JSON body or a multipart body of payload_json and
// files[n], enforcing the attachment size and count limits. On error it
// drains the body so that the client reads the answer, not a reset.
func (s *Server) parseMessageBody(r *http.Request) (messageBody, []upload, error) {
	var body messageBody
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		err := decodeJSON(r, &body)
		return body, nil, err
	}
	files, err := s.readMultipart(r, &body)
	if err != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		return body, nil, err
	}
	return body, files, nil
}

var uploadBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readMultipart decodes payload_json into body and collects the files.
func (s *Server) readMultipart(r *http.Request, body any) ([]upload, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, errBadRequest("400: Bad Request")
	}
	var files []upload
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			if isTooLarge(err) {
				return nil, errTooLarge()
			}
			return nil, errBadRequest("400: Bad Request")
		}
		name := part.FormName()
		if name == "payload_json" {
			b, err := io.ReadAll(part)
			if err != nil {
				return nil, readErr(err)
			}
			if err := json.Unmarshal(b, body); err != nil {
				return nil, &apiError{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "The request body contains invalid JSON."}
			}
			continue
		}
		if part.FileName() == "" {
			continue
		}
		if len(files) >= s.cfg.MaxFiles {
			return nil, &apiError{Status: http.StatusBadRequest, Code: CodeMaxAttachments,
				Message: "Maximum number of attachments in a message reached (" + strconv.Itoa(s.cfg.MaxFiles) + ")"}
		}
		// Read through a pooled buffer, then keep an exact copy: a fresh buffer grown by
		// doubling for each 10 MiB upload would spend most of the emulator's time clearing
		// and copying memory.
		buf := uploadBufs.Get().(*bytes.Buffer)
		buf.Reset()
		n, err := io.Copy(buf, io.LimitReader(part, s.cfg.AttachmentLimit+1))
		data := bytes.Clone(buf.Bytes())
		uploadBufs.Put(buf)
		if err != nil {
			return nil, readErr(err)
		}
		if n > s.cfg.AttachmentLimit {
			return nil, errTooLarge()
		}
		idx := len(files)
		if v, ok := strings.CutPrefix(name, "files["); ok {
			if i, err := strconv.Atoi(strings.TrimSuffix(v, "]")); err == nil {
				idx = i
			}
		}
		ct := part.Header.Get("Content-Type")
		if ct == "" || ct == "application/octet-stream" {
			ct = ""
		}
		files = append(files, upload{index: idx, filename: part.FileName(), contentType: ct, data: data})
	}
	return files, nil
}

func readErr(err error) error {
	if isTooLarge(err) {
		return errTooLarge()
	}
	return errBadRequest("400: Bad Request")
}

// nonceString accepts Discord's nonce as a string or an integer, at most 25
// characters.
func nonceString(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", formError([]string{"nonce"}, "BASE_TYPE_BAD_TYPE", "Must be a string or integer.")
		}
		s = n.String()
	}
	if utf8.RuneCountInString(s) > 25 {
		return "", errMaxLength(25, "nonce")
	}
	return s, nil
}

// checkContent enforces the content length and embed limits of a body.
func (s *Server) checkContent(body *messageBody) error {
	if body.Content != nil && chars(*body.Content) > s.cfg.MaxContent {
		return errMaxLength(s.cfg.MaxContent, "content")
	}
	if body.Embed != nil && body.Embeds == nil {
		body.Embeds = &[]embed{*body.Embed}
	}
	if body.Components != nil {
		if err := validateComponents(*body.Components); err != nil {
			return err
		}
	}
	if body.Embeds != nil {
		return validateEmbeds(*body.Embeds)
	}
	return nil
}
