package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// `discofs mount --daemon` starts the same command again without --daemon, in a session of
// its own with its output in mount.log in the state directory, and returns once the child
// says the mount is ready. The passphrase goes to the child through a pipe, never its
// environment or arguments, so a passphrase typed at the prompt works too.
const (
	envReadyFD      = "DISCOFS_READY_FD"      // the child writes "ready" here once mounted
	envPassphraseFD = "DISCOFS_PASSPHRASE_FD" // the child reads its passphrase here
)

// daemonize runs the mount in the background; args are the command line without --daemon.
func daemonize(e *env, c *common, mnt string, args []string) error {
	u, err := c.unlock(e, "Passphrase: ")
	if err != nil {
		return err // a wrong passphrase is said here, not in a log file
	}
	paths, pass := u.paths, u.pass
	logName := filepath.Join(paths.Data, "mount.log")
	logFile, err := os.OpenFile(logName, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer readyR.Close()
	passR, passW, err := os.Pipe()
	if err != nil {
		readyW.Close()
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, append([]string{"mount"}, args...)...)
	cmd.Env = append(os.Environ(), envReadyFD+"=3", envPassphraseFD+"=4")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.ExtraFiles = []*os.File{readyW, passR}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	readyW.Close()
	passR.Close()
	if err != nil {
		passW.Close()
		return err
	}
	io.WriteString(passW, pass)
	passW.Close()
	line, _ := bufio.NewReader(readyR).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		cmd.Wait()
		return fmt.Errorf("the mount did not start: %s (see %s)", lastLine(logName), logName)
	}
	pid := cmd.Process.Pid
	cmd.Process.Release()
	fmt.Fprintf(e.stderr, "mounted at %s (pid %d, log %s; 'discofs unmount %s' ends it)\n", mnt, pid, logName, mnt)
	return nil
}

// signalReady tells a waiting `mount --daemon` that the mount is up.
func signalReady(e *env) {
	fd, err := strconv.Atoi(e.getenv(envReadyFD))
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(fd), "ready")
	io.WriteString(f, "ready\n")
	f.Close()
}

// passphraseFromFD reads a passphrase handed over by `mount --daemon`, once.
func passphraseFromFD(e *env) (string, bool, error) {
	fd, err := strconv.Atoi(e.getenv(envPassphraseFD))
	if err != nil {
		return "", false, nil
	}
	f := os.NewFile(uintptr(fd), "passphrase")
	if f == nil {
		return "", false, errors.New("no passphrase pipe")
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	return string(b), true, err
}

func lastLine(name string) string {
	b, _ := os.ReadFile(name)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// withoutFlag drops a boolean flag from a command line.
func withoutFlag(args []string, name string) []string {
	out := make([]string, 0, len(args))
	for _, a := range args {
		if a != "-"+name && a != "--"+name && a != "--"+name+"=true" && a != "-"+name+"=true" {
			out = append(out, a)
		}
	}
	return out
}
