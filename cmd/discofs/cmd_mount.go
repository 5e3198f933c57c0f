package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/discofs/discofs/discord"
	dfs "github.com/discofs/discofs/fs"
	"github.com/discofs/discofs/vault"
)

func init() {
	register("mount", command{
		summary: "show the vault as a filesystem until unmounted or interrupted",
		usage:   "[--daemon] [--read-only] [--allow-other] [--no-passthrough] [--debug] [--cache-size SIZE] [--memory-cache SIZE] [--metrics-addr HOST:PORT] [--notify] [--inhibit-sleep] [--bot [bot flags]] MOUNTPOINT",
		run:     runMount,
	})
	register("unmount", command{
		summary: "unmount a discofs mount",
		usage:   "MOUNTPOINT",
		run:     runUnmount,
	})
}

// mountProcs is how many goroutines a mount runs at once (Go's GOMAXPROCS) on cpus CPUs.
// The FUSE server's goroutines wait for requests in read(2), and a thread that comes back
// from a blocking call with a request runs on at once only if it finds a free P; with
// twice as many as CPUs it does far more often (on 2 CPUs, 4 KiB random reads served
// from memory: about 20% more per second, p99 210 → 160 µs).
func mountProcs(cpus int) int { return max(4, 2*cpus) }

// unmountTries is how often a busy mount is tried again, a second apart, after a signal.
const unmountTries = 10

func runMount(ctx context.Context, e *env, args []string) error {
	var c common
	var readOnly, allowOther, debug, withBot, daemon, noPassthrough bool
	var metricsAddr, cacheSize, memCache string
	var bf botFlags
	cmdline := args
	fl := newFlags("mount", e, &c)
	fl.BoolVar(&daemon, "daemon", false, "serve in the background; return once the mount is ready")
	fl.StringVar(&metricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://HOST:PORT/metrics")
	fl.StringVar(&cacheSize, "cache-size", "1G", "bound of the on-disk cache of fetched segments (kept encrypted; 0: none)")
	fl.StringVar(&memCache, "memory-cache", "64M", "bound of the opened (plaintext) segments kept in memory for reads")
	fl.BoolVar(&withBot, "bot", false, "also run the Discord bot on this vault (see 'discofs bot -h' for its flags)")
	addBotFlags(fl, &bf)
	fl.BoolVar(&readOnly, "read-only", false, "refuse every change")
	fl.BoolVar(&allowOther, "allow-other", false, "let other users see the mount (the kernel checks file modes)")
	fl.BoolVar(&debug, "debug", false, "log every FUSE request")
	fl.BoolVar(&noPassthrough, "no-passthrough", false, "send every write through discofs, never straight to the spool file")
	args, err := parse(fl, args)
	if err != nil {
		return err
	}
	if err := needArgs(args, 1, 1); err != nil {
		return err
	}
	if bf.save && !withBot {
		return usagef("--save keeps the bot's settings: it goes with --bot")
	}
	if readOnly && !withBot && (bf.notify || bf.inhibitSleep) {
		return usagef("--notify and --inhibit-sleep follow uploads, which a --read-only mount makes none of")
	}
	bf.home = c.home
	mnt, err := filepath.Abs(args[0])
	if err != nil {
		return err
	}
	if c.frameCache, err = parseSize(cacheSize); err != nil {
		return err
	}
	if c.memoryCache, err = parseSize(memCache); err != nil {
		return err
	}
	if c.memoryCache < 1<<20 {
		return usagef("--memory-cache %s is too small: it must hold at least 1M", memCache)
	}
	if daemon {
		return daemonize(e, &c, mnt, withoutFlag(cmdline, "daemon"))
	}
	if e.getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(mountProcs(runtime.NumCPU()))
	}
	v, err := c.openVault(ctx, e, false)
	if err != nil {
		return err
	}
	defer v.Close()
	log := c.logger(e.stderr)
	if c.level == 0 {
		// Failed reads are worth a line even when nothing else is.
		log = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	opts := dfs.MountOptions{ReadOnly: readOnly, AllowOther: allowOther, Debug: debug, Logger: log, NoPassthrough: noPassthrough}
	var wb *vault.Writeback
	if !readOnly {
		// The queue resumes first: files a killed mount left in the spool go on uploading.
		if wb, err = v.StartWriteback(vault.WritebackOptions{}); err != nil {
			return err
		}
		for _, msg := range wb.Recovered() {
			fmt.Fprintf(e.stderr, "discofs mount: %s\n", msg)
		}
		defer closeQueue(e, wb)
		opts.Writer = wb
		bf.queue = wb.Status
		bf.retry = wb.RetryFailed
		if bf.notify || bf.inhibitSleep {
			bf.host = discord.NewHost(log)
			defer bf.host.Close()
			wctx, stopWatch := context.WithCancel(ctx)
			watched := make(chan struct{})
			go func() {
				defer close(watched)
				bf.host.WatchQueue(wctx, discord.QueueWatch{Vault: v.Vault, Status: wb.Status, Notify: bf.notify, InhibitSleep: bf.inhibitSleep})
			}()
			defer func() { stopWatch(); <-watched }()
		}
	}
	// The mount holds the index: `discofs status` and `sync` ask it.
	paths, err := c.paths(e)
	if err != nil {
		return err
	}
	stopControl, err := serveControl(controlPath(paths), v.Vault, wb)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	defer stopControl()
	if metricsAddr != "" {
		stopMetrics, err := serveMetrics(metricsAddr, v, wb)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}
	srv, err := dfs.Mount(mnt, v.Vault, opts)
	if err != nil {
		return fmt.Errorf("mount %s: %w", mnt, err)
	}
	if withBot {
		// The bot shares the vault; wait runs before the deferred v.Close.
		bf.health = storeHealth(v)
		wait, err := startBot(ctx, e, v.Vault, &bf, log)
		if err != nil {
			srv.Unmount()
			return err
		}
		defer wait()
	}
	fmt.Fprintf(e.stderr, "mounted at %s\n", mnt)
	signalReady(e)
	done := make(chan struct{})
	go func() { srv.Wait(); close(done) }()
	select {
	case <-done:
		fmt.Fprintf(e.stderr, "unmounted %s\n", mnt)
		return nil
	case <-ctx.Done():
	}
	for i := 0; ; i++ {
		err := srv.Unmount()
		if err == nil {
			break
		}
		if i == unmountTries-1 {
			return fmt.Errorf("unmount %s: %w (close what is open there, then run 'discofs unmount %s')", mnt, err, mnt)
		}
		if i == 0 {
			fmt.Fprintf(e.stderr, "discofs mount: %s is busy (%v); trying again\n", mnt, err)
		}
		time.Sleep(time.Second)
	}
	<-done
	fmt.Fprintf(e.stderr, "unmounted %s\n", mnt)
	return nil
}

// closeQueue stops the worker; what it has not committed stays queued in the index.
func closeQueue(e *env, wb *vault.Writeback) {
	wb.Close()
	if s := wb.Status(); s.Files > 0 || len(s.Dirty) > 0 {
		fmt.Fprintf(e.stderr, "discofs mount: %d files wait in the queue; the next mount or 'discofs sync' uploads them\n", s.Files)
	}
}

func runUnmount(ctx context.Context, e *env, args []string) error {
	fl := newFlags("unmount", e, nil)
	args, err := parse(fl, args)
	if err != nil {
		return err
	}
	if err := needArgs(args, 1, 1); err != nil {
		return err
	}
	mnt, err := filepath.Abs(args[0])
	if err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		if err := syscall.Unmount(mnt, 0); err != nil {
			return fmt.Errorf("unmount %s: %w", mnt, err)
		}
		return nil
	}
	for _, prog := range []string{"fusermount3", "fusermount"} {
		path, err := exec.LookPath(prog)
		if err != nil {
			continue
		}
		out, err := exec.CommandContext(ctx, path, "-u", mnt).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s -u %s: %w: %s", prog, mnt, err, oneLine(string(out)))
		}
		return nil
	}
	return errors.New("neither fusermount3 nor fusermount is installed")
}
