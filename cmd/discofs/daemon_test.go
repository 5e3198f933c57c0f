package main

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// daemon is a discofs process that serves until it is stopped, its stderr collected.
type daemon struct {
	*exec.Cmd
	mu      sync.Mutex
	log     strings.Builder
	drained chan struct{}
}

// startDaemon runs discofs with args in the CLI's home and returns once a line of its
// stderr contains ready; ok is false (and the process is gone) when it exits or 30 s
// pass first.
func (c *cli) startDaemon(ready string, args ...string) (d *daemon, ok bool) {
	c.t.Helper()
	d = &daemon{Cmd: exec.Command(binary, args...), drained: make(chan struct{})}
	d.Env = append(append(os.Environ(), "DISCOFS_HOME="+c.home, "DISCOFS_PASSPHRASE="+c.pass), c.env...)
	stderr, err := d.StderrPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	if err := d.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = d.Process.Kill() })
	seen := make(chan struct{})
	go func() {
		defer close(d.drained)
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			d.mu.Lock()
			d.log.WriteString(sc.Text() + "\n")
			d.mu.Unlock()
			if !once && strings.Contains(sc.Text(), ready) {
				once = true
				close(seen)
			}
		}
	}()
	select {
	case <-seen:
		return d, true
	case <-d.drained:
	case <-time.After(30 * time.Second):
	}
	d.Process.Kill()
	d.Wait()
	return d, false
}

// Log is what the process wrote to stderr so far.
func (d *daemon) Log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

// Wait waits for the process once all of its stderr is read, as os/exec requires.
func (d *daemon) Wait() error {
	<-d.drained
	return d.Cmd.Wait()
}
