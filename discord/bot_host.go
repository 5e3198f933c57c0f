package discord

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/discofs/discofs/index"
	"github.com/discofs/discofs/vault"
)

// host is what the bot does on the machine it runs on beyond the vault: desktop
// notifications and keeping the machine awake while uploads run, as v3.1 did on macOS.
// Both use whatever tool the host has and are skipped silently without one.
type host struct {
	log      *slog.Logger
	lookPath func(string) (string, error)
	goos     string

	mu      sync.Mutex
	uploads int            // uploads running
	stdin   io.WriteCloser // of the inhibitor; closing it ends the inhibitor and its lock
	proc    *exec.Cmd
}

func newHost(log *slog.Logger) *host {
	return &host{log: log, lookPath: exec.LookPath, goos: runtime.GOOS}
}

// inhibit keeps the host from sleeping until every returned release has been called. The
// inhibitor runs `cat` under systemd-inhibit (Linux) or caffeinate (macOS): the lock lasts
// as long as cat, which ends when its stdin closes, so no process is ever killed.
func (h *host) inhibit(on bool) (release func()) {
	if !on {
		return func() {}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.uploads++
	if h.uploads == 1 {
		h._start()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.uploads--
			if h.uploads == 0 {
				h._stop()
			}
		})
	}
}

// _start runs the inhibitor; h.mu is held.
func (h *host) _start() {
	var argv []string
	if p, err := h.lookPath("systemd-inhibit"); err == nil {
		argv = []string{p, "--what=sleep:idle", "--who=discofs", "--why=uploading archives", "--mode=block", "cat"}
	} else if p, err := h.lookPath("caffeinate"); err == nil {
		argv = []string{p, "-i", "cat"}
	} else {
		return
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	in, err := cmd.StdinPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		h.log.Debug("bot: cannot inhibit sleep", "tool", argv[0], "err", err)
		return
	}
	h.stdin, h.proc = in, cmd
	h.log.Debug("bot: inhibiting sleep while uploads run", "tool", argv[0])
}

// _stop ends the inhibitor; h.mu is held.
func (h *host) _stop() {
	if h.proc == nil {
		return
	}
	h.stdin.Close()
	proc := h.proc
	h.stdin, h.proc = nil, nil
	go func() {
		if err := proc.Wait(); err != nil {
			h.log.Debug("bot: sleep inhibitor ended", "err", err)
		}
	}()
}

// close ends the inhibitor if a release was missed.
func (h *host) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.uploads = 0
	h._stop()
}

// notify shows a desktop notification with notify-send (Linux) or osascript (macOS), and
// does nothing on a host with neither, such as a server.
func (h *host) notify(on bool, title, body string) {
	if !on {
		return
	}
	var argv []string
	if p, err := h.lookPath("notify-send"); err == nil && h.goos != "darwin" {
		argv = []string{p, "--app-name=discofs", title, body}
	} else if p, err := h.lookPath("osascript"); err == nil {
		argv = []string{p, "-e", "display notification " + appleString(body) + " with title " + appleString(title)}
	} else {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput(); err != nil {
		h.log.Debug("bot: desktop notification failed", "err", err, "output", strings.TrimSpace(string(out)))
	}
}

// appleString quotes s as an AppleScript string literal, so a file name cannot run code.
func appleString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// Host is the machine a bot or a mount runs on, for notifications and sleep inhibition; a
// bot and a mount in one process share one, so one inhibitor covers both.
type Host struct{ h *host }

// NewHost finds the host's tools when they are first needed.
func NewHost(log *slog.Logger) *Host {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Host{h: newHost(log)}
}

// Close ends the inhibitor, if one still runs.
func (h *Host) Close() { h.h.close() }

// QueueWatch says what WatchQueue watches and does.
type QueueWatch struct {
	Vault  *vault.Vault
	Status func() vault.WritebackStatus
	// Notify shows a notification for each archive the queue commits; InhibitSleep keeps
	// the host awake while the queue has files to upload or commit (failed ones, waiting
	// out their backoff, aside).
	Notify, InhibitSleep bool
	// Every is how often the queue is looked at (1 s when zero).
	Every time.Duration
}

// WatchQueue applies q to a mount's writeback queue until ctx ends. A commit shows one
// notification per archive, however many files it holds; the queue commits an archive
// once it has stayed unchanged a while, so a long copy notifies once at its end.
func (h *Host) WatchQueue(ctx context.Context, q QueueWatch) {
	if !q.Notify && !q.InhibitSleep {
		return
	}
	if q.Every <= 0 {
		q.Every = time.Second
	}
	gens := map[string]uint64{}
	seen := func() []index.Archive {
		list, err := q.Vault.Archives()
		if err != nil {
			h.h.log.Debug("queue watch: cannot list archives", "err", err)
			return nil
		}
		var changed []index.Archive
		for _, a := range list {
			if g, ok := gens[a.ID]; !ok || a.Generation > g {
				changed = append(changed, a)
			}
			gens[a.ID] = a.Generation
		}
		return changed
	}
	var commits int64
	if q.Notify {
		seen()
		commits = q.Status().Commits
	}
	release := func() {}
	defer func() { release() }()
	busy := false
	t := time.NewTicker(q.Every)
	defer t.Stop()
	for {
		s := q.Status()
		if q.Notify && s.Commits > commits {
			for _, a := range seen() {
				h.h.notify(true, "discofs: archive committed", fmt.Sprintf("%s %s: %d files, %s",
					vault.FormatID(a.ID), a.Name, a.Files, vault.HumanBytes(a.Size)))
			}
			commits = s.Commits
		}
		if q.InhibitSleep {
			if now := s.Files > s.Failed || s.Uploading > 0; now != busy {
				busy = now
				if busy {
					release = h.h.inhibit(true)
				} else {
					release()
					release = func() {}
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
