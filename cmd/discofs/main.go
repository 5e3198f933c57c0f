// Command discofs is an encrypted, deduplicating archive store whose bytes live in Discord
// or in a local directory. This package is the only place that wires concrete types
// together: it opens the store named in the config, stacks the wrappers around it and
// hands it to the vault.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/discofs/discofs/vault"
)

// Exit codes, the one place they are defined.
const (
	exitOK         = 0
	exitFailure    = 1  // the command failed, or verify found damage
	exitPassphrase = 2  // wrong passphrase
	exitUsage      = 64 // bad command line
)

// usageError is a mistake on the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// command is one subcommand.
type command struct {
	summary string
	usage   string
	run     func(ctx context.Context, env *env, args []string) error
}

var commands = map[string]command{}

func register(name string, c command) { commands[name] = c }

// env is what every command gets: where it writes and the process environment.
type env struct {
	stdout, stderr io.Writer
	stdin          io.Reader
	getenv         func(string) string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	e := &env{stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin, getenv: os.Getenv}
	var code int
	if isMountHelper(os.Args[0]) {
		code = runMountHelper(ctx, os.Args[1:], e)
	} else {
		code = run(ctx, os.Args[1:], e)
	}
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, e *env) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printHelp(e.stdout)
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "discofs: unknown command %q (see 'discofs help')\n", args[0])
		return exitUsage
	}
	err := c.run(ctx, e, args[1:])
	var help helpRequest
	if errors.As(err, &help) {
		printCommandHelp(e.stdout, args[0], c, help)
		return exitOK
	}
	return report(e.stderr, args[0], c, err)
}

// printCommandHelp is a command's -h: its usage, what it does and its flags.
func printCommandHelp(w io.Writer, name string, c command, h helpRequest) {
	fmt.Fprintf(w, "usage: discofs %s %s\n\n%s\n\nflags:\n", name, c.usage, c.summary)
	h.fs.SetOutput(w)
	h.fs.PrintDefaults()
}

// report prints err as one line and picks the exit code.
func report(w io.Writer, name string, c command, err error) int {
	var ue usageError
	var ee exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		fmt.Fprintf(w, "discofs %s: %s (usage: discofs %s %s)\n", name, ue.msg, name, c.usage)
		return exitUsage
	case errors.Is(err, vault.ErrWrongPassphrase):
		// "wrong passphrase", after what the passphrase was for when the error says.
		fmt.Fprintf(w, "discofs %s: %s\n", name, oneLine(err.Error()))
		return exitPassphrase
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(w, "discofs %s: interrupted\n", name)
		return exitFailure
	}
	fmt.Fprintf(w, "discofs %s: %s\n", name, oneLine(err.Error()))
	return exitFailure
}

// exitError ends a command with a code after it has said what it had to.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func printHelp(w io.Writer) {
	fmt.Fprint(w, "discofs: an encrypted, deduplicating archive store in Discord or a local folder\n\nCommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprint(w, "\nRun 'discofs COMMAND -h' for a command's flags. State lives in --home DIR or $DISCOFS_HOME.\n")
}
