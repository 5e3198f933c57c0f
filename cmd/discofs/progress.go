package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/discofs/discofs/vault"
)

// showProgress draws a progress bar for p on w while it is a terminal, until the returned
// function is called.
func showProgress(w io.Writer, verb string, p *vault.Progress) func() {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-t.C:
				fmt.Fprint(w, "\r\033[K"+progressLine(verb, p, time.Since(start)))
			}
		}
	}()
	return func() { close(done); <-finished }
}

func progressLine(verb string, p *vault.Progress, elapsed time.Duration) string {
	bytes, total := p.Bytes.Load(), p.Total.Load()
	rate := float64(bytes) / max(elapsed.Seconds(), 0.001)
	line := fmt.Sprintf("%s %d files, %s", verb, p.Files.Load(), vault.HumanBytes(bytes))
	if total > 0 {
		frac := min(float64(bytes)/float64(total), 1)
		const width = 24
		fill := int(frac * width)
		line = fmt.Sprintf("%s [%s%s] %3.0f%% %s of %s", verb, strings.Repeat("=", fill), strings.Repeat(" ", width-fill),
			frac*100, vault.HumanBytes(bytes), vault.HumanBytes(total))
	}
	return fmt.Sprintf("%s, %s/s", line, vault.HumanBytes(int64(rate)))
}
