package chunkstore

import (
	"errors"
	"fmt"
	"time"
)

// Class says what a caller should do about a store error.
type Class uint8

const (
	// Permanent: this call failed and will fail again; do not retry.
	Permanent Class = iota
	// NotFound: the object does not exist.
	NotFound
	// Retryable: a transient failure; try again, after RetryAfter when it is set.
	Retryable
	// Fatal: nothing more will work (bad credentials, missing permissions); stop and say so.
	Fatal
)

func (c Class) String() string {
	switch c {
	case NotFound:
		return "not found"
	case Retryable:
		return "retryable"
	case Fatal:
		return "fatal"
	}
	return "permanent"
}

// Error is a classified store error.
type Error struct {
	Class Class
	// RetryAfter is how long the store asked to wait before a retry (0: unknown).
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Classify wraps err with a class. A nil err stays nil.
func Classify(class Class, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Class: class, Err: err}
}

// RetryAfterError is a retryable error that asks the caller to wait d first.
func RetryAfterError(d time.Duration, err error) error {
	return &Error{Class: Retryable, RetryAfter: d, Err: err}
}

// NotFoundError says which object is missing.
func NotFoundError(what string) error {
	return &Error{Class: NotFound, Err: fmt.Errorf("%s: not found", what)}
}

// ClassOf reports the class of err: the outermost classified error wins; an unclassified
// context cancellation or deadline, and anything else unclassified, is Permanent. (A
// classified error wins over a context error inside it: net/http's client timeout matches
// context.DeadlineExceeded, yet a store may rightly call it retryable.)
func ClassOf(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return Permanent
}

// IsNotFound reports whether err says an object does not exist.
func IsNotFound(err error) bool { return err != nil && ClassOf(err) == NotFound }

// IsRetryable reports whether err is transient.
func IsRetryable(err error) bool { return err != nil && ClassOf(err) == Retryable }

// IsFatal reports whether err means no further call can succeed.
func IsFatal(err error) bool { return err != nil && ClassOf(err) == Fatal }

// RetryAfter reports how long the store asked to wait before retrying (0 when it did not).
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}
