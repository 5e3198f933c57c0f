package discord

import (
	"context"
	"io"
	"log/slog"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"
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
