package discord

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/discofs/discofs/chunkstore"
)

// Discord JSON error codes the store reacts to.
const (
	codeUnknownChannel     = 10003
	codeUnknownMessage     = 10008
	codeMissingAccess      = 50001
	codeMissingPermissions = 50013
	codeThreadArchived     = 50083
)

// shouldRetry classifies the outcome of one request to Discord, the way every call of the
// store must: 429 is Retryable after retry_after; 5xx, dropped connections and timeouts are
// Retryable; 404 is NotFound; 401 and 403 are Fatal; anything else is Permanent for this
// call. what names the request for the error message; it never contains the token.
//
// It also reports whether the answer counts as an invalid request (401, 403, 429), which
// Discord bans an IP for when there are too many.
func shouldRetry(ctx context.Context, what string, err error) (out error, invalid bool) {
	if err == nil {
		return nil, false
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		// The caller gave up; say so rather than blame Discord.
		return fmt.Errorf("discord: %s: %w", what, ctxErr), false
	}
	var rl *discordgo.RateLimitError
	if errors.As(err, &rl) {
		wait := time.Second
		if rl.TooManyRequests != nil && rl.RetryAfter > 0 {
			wait = rl.RetryAfter
		}
		return chunkstore.RetryAfterError(wait, fmt.Errorf("discord: %s: rate limited, retry after %v", what, wait)), true
	}
	var re *discordgo.RESTError
	if errors.As(err, &re) && re.Response != nil {
		return classifyStatus(what, re.Response.StatusCode, apiCode(re), apiMessage(re))
	}
	// discordgo answers a 502 it stopped retrying with a plain error.
	if isTransient(err) || strings.Contains(err.Error(), "Exceeded Max retries HTTP 5") {
		return chunkstore.Classify(chunkstore.Retryable, fmt.Errorf("discord: %s: %w", what, stripURL(err))), false
	}
	return chunkstore.Classify(chunkstore.Permanent, fmt.Errorf("discord: %s: %w", what, stripURL(err))), false
}

// classifyStatus turns an HTTP status and Discord error code into a classified error.
func classifyStatus(what string, status, code int, msg string) (error, bool) {
	detail := fmt.Sprintf("HTTP %d", status)
	if code != 0 || msg != "" {
		detail += fmt.Sprintf(", code %d: %s", code, msg)
	}
	e := fmt.Errorf("discord: %s: %s", what, detail)
	switch {
	case status == http.StatusTooManyRequests:
		return chunkstore.RetryAfterError(time.Second, e), true
	case status >= 500:
		return chunkstore.Classify(chunkstore.Retryable, e), false
	case status == http.StatusNotFound:
		return chunkstore.Classify(chunkstore.NotFound, e), false
	case status == http.StatusUnauthorized:
		return chunkstore.Classify(chunkstore.Fatal, fmt.Errorf(
			"discord: %s: Discord rejected the bot token (HTTP 401); check DISCORD_BOT_TOKEN or the token file", what)), true
	case status == http.StatusForbidden:
		need := "View Channel, Send Messages, Attach Files, Read Message History, Manage Messages, Create Public Threads and Send Messages in Threads"
		if code == codeMissingAccess {
			need = "View Channel and Read Message History"
		}
		return chunkstore.Classify(chunkstore.Fatal, fmt.Errorf(
			"discord: %s: the bot lacks a permission (%s); it needs %s in the vault channel", what, detail, need)), true
	}
	return chunkstore.Classify(chunkstore.Permanent, e), false
}

func apiCode(re *discordgo.RESTError) int {
	if re.Message != nil {
		return re.Message.Code
	}
	return 0
}

func apiMessage(re *discordgo.RESTError) string {
	if re.Message != nil {
		return re.Message.Message
	}
	return strings.TrimSpace(string(re.ResponseBody))
}

// isTransient reports failures of the connection rather than answers: resets, drops,
// timeouts and truncated bodies. They are worth retrying.
func isTransient(err error) bool {
	var ne net.Error
	switch {
	case errors.As(err, &ne):
		return true
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.EPIPE), errors.Is(err, context.DeadlineExceeded):
		return true
	}
	return false
}

// stripURL drops the URL from a transport error: a CDN URL carries a signature that has no
// place in a log.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
