package vault

import "github.com/discofs/discofs/index"

// RetryFailed makes the files whose last upload failed due now instead of at the end of
// their backoff, and likewise the failed commits, for an archive ID or for every archive
// when archive is "". It returns how many files it re-queued. Their attempt counts stay, so
// a file that fails again backs off from where it was: a user's "try again" must not turn
// into a tight loop against a store that is down. Files still open for writing are not
// failed (they upload at their last close) and are not counted.
func (w *Writeback) RetryFailed(archive string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.clock.Now()
	n := 0
	for _, it := range w.items {
		if it.state != index.StateFailed || it.hidx < 0 || (archive != "" && it.Archive != archive) {
			continue
		}
		w._schedule(it, now)
		n++
	}
	for a, st := range w.dirty {
		if st.attempts > 0 && (archive == "" || a == archive) {
			st.due = now
		}
	}
	w.kick()
	return n
}
