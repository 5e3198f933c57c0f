package vault

import (
	"errors"
	"fmt"
)

// DamagedCardError is a card a Catalog found but cannot read (edited by hand into invalid
// JSON, say). Catalog.Cards reports such cards, joined into its error, after it has passed
// every readable card to fn, so a caller may go on with the other archives and name the
// damaged one: errors.As(err, &*DamagedCardError) finds the first.
type DamagedCardError struct {
	ArchiveID string // "#DDMMYY-NN", or "" when even that cannot be read
	Where     string // where the card is (on Discord: the message ID)
	Err       error
}

func (e *DamagedCardError) Error() string {
	id := e.ArchiveID
	if id == "" {
		id = "(unknown)"
	}
	return fmt.Sprintf("archive %s: its card (%s) cannot be read: %v; the other archives are unaffected", id, e.Where, e.Err)
}

func (e *DamagedCardError) Unwrap() error { return e.Err }

// splitDamaged separates the damaged cards a Catalog.Cards error reports from any other
// failure, which it returns as rest.
func splitDamaged(err error) (damaged []*DamagedCardError, rest error) {
	if err == nil {
		return nil, nil
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	var others []error
	for _, e := range errs {
		if d, ok := e.(*DamagedCardError); ok {
			damaged = append(damaged, d)
		} else {
			others = append(others, e)
		}
	}
	return damaged, errors.Join(others...)
}
