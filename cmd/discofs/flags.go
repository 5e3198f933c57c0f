package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
)

// common are the flags every command that opens a vault takes.
type common struct {
	home           string
	passphraseFile string
	// level counts the -v flags given (see logger).
	level int
	// frameCache bounds the on-disk cache of fetched segments (the mount's --cache-size).
	frameCache int64
	// memoryCache bounds the opened segments kept in memory (the mount's --memory-cache).
	memoryCache int64
}

// newFlags makes a command's flag set with the common flags on it. The flag package prints
// nothing: a mistake becomes a one-line usageError, and -h a helpRequest that run prints
// to stdout.
func newFlags(name string, e *env, c *common) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if c != nil {
		fs.StringVar(&c.home, "home", "", "state directory (default $DISCOFS_HOME, else the XDG directories)")
		fs.StringVar(&c.passphraseFile, "passphrase-file", "", "read the passphrase from this file (default $DISCOFS_PASSPHRASE, else a prompt)")
		fs.Var(verbosity{c}, "v", "log what discofs does to stderr; -v -v adds debug lines and the index's own")
	}
	return fs
}

// verbosity is the -v flag: each one given raises the log level (see common.logger).
type verbosity struct{ c *common }

func (v verbosity) IsBoolFlag() bool { return true }

func (v verbosity) String() string {
	if v.c == nil {
		return "0"
	}
	return strconv.Itoa(v.c.level)
}

// Set takes "true" for each -v, "false" for -v=false, or a level (-v=2).
func (v verbosity) Set(s string) error {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		v.c.level = n
	} else if b, err := strconv.ParseBool(s); err == nil {
		if !b {
			v.c.level = 0
		} else {
			v.c.level++
		}
	} else {
		return fmt.Errorf("%q is not a level", s)
	}
	return nil
}

// helpRequest is -h or --help: run prints the command's usage and flags to stdout.
type helpRequest struct{ fs *flag.FlagSet }

func (helpRequest) Error() string { return "help requested" }

// parse parses flags that may stand before, between or after the positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				return nil, helpRequest{fs}
			}
			return nil, usageError{oneLine(err.Error())}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// logger logs to w what -v asks for: nothing without it; with one -v, what discofs does
// (store opened, archives committed, restored, verified, deleted, with counts and
// durations) at info level and above; with two, debug lines too, among them badger's.
func (c *common) logger(w io.Writer) *slog.Logger {
	if c.level <= 0 {
		return slog.New(slog.DiscardHandler)
	}
	level := slog.LevelInfo
	if c.level > 1 {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// parseArgs parses flags and checks there are lo to hi positional arguments (hi < 0: no
// upper bound).
func parseArgs(fs *flag.FlagSet, args []string, lo, hi int) ([]string, error) {
	pos, err := parse(fs, args)
	if err != nil {
		return nil, err
	}
	return pos, needArgs(pos, lo, hi)
}

func needArgs(args []string, lo, hi int) error {
	switch {
	case len(args) < lo:
		return usagef("missing argument")
	case hi >= 0 && len(args) > hi:
		return usagef("too many arguments: %s", strings.Join(args[hi:], " "))
	}
	return nil
}

// parseSize reads a byte count such as 1073741824, 512M, 1G or 1GiB.
func parseSize(s string) (int64, error) {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(s)), "B"), "I")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult, t = 1<<10, t[:n-1]
		case 'M':
			mult, t = 1<<20, t[:n-1]
		case 'G':
			mult, t = 1<<30, t[:n-1]
		case 'T':
			mult, t = 1<<40, t[:n-1]
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v < 0 {
		return 0, usagef("%q is not a size (like 512M or 2G)", s)
	}
	return v * mult, nil
}
