package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

// Main runs the `discofs emulator` subcommand: it parses args, starts a
// server, prints the Info JSON line to stdout once it serves, and serves
// until ctx is cancelled (the caller cancels on SIGINT/SIGTERM).
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "loopback `host:port` to serve on (port 0 picks one)")
	fs.StringVar(&cfg.DataDir, "data", "", "keep state in `DIR` across restarts (default: memory only)")
	fs.StringVar(&cfg.SeedFile, "seed", "", "load a v3.1 discord-state.json `FILE` into a new state")
	info := fs.String("info", "", "also write the JSON info line to `FILE`")
	fs.Int64Var(&cfg.AttachmentLimit, "attachment-limit", cfg.AttachmentLimit, "largest attachment in `BYTES`")
	fs.IntVar(&cfg.MaxFiles, "max-files", cfg.MaxFiles, "most attachments per message")
	fs.Int64Var(&cfg.MaxRequestBytes, "max-request", cfg.MaxRequestBytes, "largest request body in `BYTES`")
	fs.DurationVar(&cfg.URLTTL, "url-ttl", cfg.URLTTL, "how long signed CDN URLs stay valid")
	fs.IntVar(&cfg.GlobalRate, "global-rate", cfg.GlobalRate, "requests per second per bot token (0: off)")
	fs.BoolVar(&cfg.DisableRouteLimits, "no-route-limits", false, "turn per-route rate limits off")
	fs.IntVar(&cfg.InvalidRequestLimit, "invalid-limit", cfg.InvalidRequestLimit, "401/403/429 answers per window before a ban (0: off)")
	fs.DurationVar(&cfg.InvalidRequestWindow, "invalid-window", cfg.InvalidRequestWindow, "window of -invalid-limit")
	fs.DurationVar(&cfg.BanDuration, "ban", cfg.BanDuration, "how long an invalid-request ban lasts")
	fs.DurationVar(&cfg.HeartbeatInterval, "heartbeat", cfg.HeartbeatInterval, "gateway heartbeat interval")
	fs.DurationVar(&cfg.AutoArchiveMinute, "archive-minute", cfg.AutoArchiveMinute, "length of one minute of a thread's auto-archive duration")
	fs.BoolVar(&cfg.MessageContentIntent, "message-content", cfg.MessageContentIntent, "the application may use the MESSAGE_CONTENT intent")
	fs.StringVar(&cfg.Token, "token", "", "bot token (default: random, or the one kept in -data)")
	latency := fs.Duration("latency", 0, "latency added to every REST and CDN request")
	fs.Int64Var(&cfg.Faults.Bandwidth, "bandwidth", 0, "cap on uploads and downloads, each in `BYTES_PER_S` (0: off)")
	fs.Float64Var(&cfg.Faults.FailRate, "fail-rate", 0, "probability `P` of a 5xx answer")
	fs.Float64Var(&cfg.Faults.DropRate, "drop-rate", 0, "probability `P` of a dropped connection")
	fs.Float64Var(&cfg.Faults.Storm429, "storm-429", 0, "probability `P` of a 429")
	fs.Int64Var(&cfg.Seed, "fault-seed", 0, "seed of the fault dice (0: random)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("emulator: unexpected arguments %q", fs.Args())
	}
	cfg.Faults.LatencyMS = int(*latency / time.Millisecond)

	srv, err := New(cfg)
	if err != nil {
		return err
	}
	if err := srv.Start(*listen); err != nil {
		return errors.Join(err, srv.Close())
	}
	line, err := json.Marshal(srv.Info())
	if err != nil {
		return errors.Join(err, srv.Close())
	}
	line = append(line, '\n')
	if *info != "" {
		if err := writeFileAtomic(*info, line); err != nil {
			return errors.Join(err, srv.Close())
		}
	}
	if _, err := stdout.Write(line); err != nil {
		return errors.Join(err, srv.Close())
	}
	<-ctx.Done()
	return srv.Close()
}

// writeFileAtomic writes via a temporary file so a reader polling for the
// info file never sees half a line.
func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
