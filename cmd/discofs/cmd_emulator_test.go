package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/discofs/discofs/discord/emulator"
)

// TestEmulatorStopsOnSignal runs `discofs emulator` as a user would and
// stops it with SIGINT, then with SIGTERM: each time it exits 0 and keeps
// the state written to --data.
func TestEmulatorStopsOnSignal(t *testing.T) {
	data := filepath.Join(t.TempDir(), "state")
	var first emulator.Info
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		cmd := exec.Command(binary, "emulator", "--listen", "127.0.0.1:0", "--data", data)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		line, err := bufio.NewReader(stdout).ReadBytes('\n')
		go func() { exited <- cmd.Wait() }()
		if err != nil {
			_ = cmd.Process.Kill()
			t.Fatalf("no info line: %v (%v)", err, <-exited)
		}
		var info emulator.Info
		if err := json.Unmarshal(line, &info); err != nil {
			_ = cmd.Process.Kill()
			t.Fatalf("%v in %q", err, line)
		}
		resp, err := http.Get(info.API + "/_emulator/info")
		if err != nil || resp.StatusCode != 200 {
			_ = cmd.Process.Kill()
			t.Fatalf("the emulator does not answer: %v", err)
		}
		resp.Body.Close()
		if first.Token == "" {
			first = info
		} else if info.Token != first.Token || info.ChannelID != first.ChannelID {
			t.Fatal("the second run did not keep the first one's --data")
		}

		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("after %v: %v", sig, err)
			}
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("still running 20 s after %v", sig)
		}
		if _, err := http.Get(info.API + "/_emulator/info"); err == nil {
			t.Fatalf("still serving after %v", sig)
		}
	}
}
