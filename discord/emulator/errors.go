package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Discord JSON error codes the emulator answers with.
const (
	CodeGeneral             = 0
	CodeUnknownChannel      = 10003
	CodeUnknownGuild        = 10004
	CodeUnknownMessage      = 10008
	CodeUnknownWebhook      = 10015
	CodeUnknownInteraction  = 10062
	CodeUnknownCommand      = 10063
	CodeMaxAttachments      = 30015
	CodeRequestTooLarge     = 40005
	CodeAlreadyAcknowledged = 40060
	CodeMissingAccess       = 50001
	CodeCannotEditOthers    = 50005
	CodeEmptyMessage        = 50006
	CodeMissingPermissions  = 50013
	CodeInvalidFormBody     = 50035
	CodeInvalidAPIVersion   = 50041
	CodeThreadArchived      = 50083
)

// apiError is Discord's error body. Errors holds the nested form errors of
// 50035 Invalid Form Body.
type apiError struct {
	Status  int            `json:"-"`
	Code    int            `json:"code"`
	Message string         `json:"message"`
	Errors  map[string]any `json:"errors,omitempty"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("HTTP %d, code %d: %s", e.Status, e.Code, e.Message)
}

func errUnknownChannel() *apiError {
	return &apiError{Status: http.StatusNotFound, Code: CodeUnknownChannel, Message: "Unknown Channel"}
}

func errUnknownMessage() *apiError {
	return &apiError{Status: http.StatusNotFound, Code: CodeUnknownMessage, Message: "Unknown Message"}
}

func errUnknownWebhook() *apiError {
	return &apiError{Status: http.StatusNotFound, Code: CodeUnknownWebhook, Message: "Unknown Webhook"}
}

func errUnknownInteraction() *apiError {
	return &apiError{Status: http.StatusNotFound, Code: CodeUnknownInteraction, Message: "Unknown interaction"}
}

func errMissingPermissions() *apiError {
	return &apiError{Status: http.StatusForbidden, Code: CodeMissingPermissions, Message: "Missing Permissions"}
}

func errMissingAccess() *apiError {
	return &apiError{Status: http.StatusForbidden, Code: CodeMissingAccess, Message: "Missing Access"}
}

func errTooLarge() *apiError {
	return &apiError{Status: http.StatusRequestEntityTooLarge, Code: CodeRequestTooLarge, Message: "Request entity too large"}
}

func errThreadArchived() *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: CodeThreadArchived, Message: "Thread is archived"}
}

func errUnauthorized() *apiError {
	return &apiError{Status: http.StatusUnauthorized, Code: CodeGeneral, Message: "401: Unauthorized"}
}

func errNotFound() *apiError {
	return &apiError{Status: http.StatusNotFound, Code: CodeGeneral, Message: "404: Not Found"}
}

func errBadRequest(msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: CodeGeneral, Message: msg}
}

// formError builds 50035 Invalid Form Body with one error at a dotted path
// ("content", "embeds.0.fields.3.value"), nested the way Discord nests them.
func formError(path []string, code, msg string) *apiError {
	leaf := map[string]any{"_errors": []map[string]string{{"code": code, "message": msg}}}
	for i := len(path) - 1; i > 0; i-- {
		leaf = map[string]any{path[i]: leaf}
	}
	return &apiError{
		Status:  http.StatusBadRequest,
		Code:    CodeInvalidFormBody,
		Message: "Invalid Form Body",
		Errors:  map[string]any{path[0]: leaf},
	}
}

func errMaxLength(max int, path ...string) *apiError {
	return formError(path, "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", max))
}

// writeJSON answers with v as JSON and the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"message":"500: Internal Server Error","code":0}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeError answers with a Discord error body.
func writeError(w http.ResponseWriter, err error) {
	ae, ok := err.(*apiError)
	if !ok {
		ae = &apiError{Status: http.StatusInternalServerError, Code: CodeGeneral, Message: "500: Internal Server Error"}
	}
	writeJSON(w, ae.Status, ae)
}
