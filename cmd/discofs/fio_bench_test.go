package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/discofs/discofs/vault/vaulttest"
)

// BenchmarkFio runs fio through a discofs mount (local store), through gocryptfs and on
// the raw disk in the same run, and prints them side by side: sequential write of a file
// (with and without an fsync at the end), cp of a file into the folder, sequential read
// (warm, and cold after dropping caches and remounting), 4 KiB random reads, and ls -lR of
// a tree of 100,000 files. fio drops a file's cached pages before each job, so every read
// reaches the filesystem.
// fio and gocryptfs are Debian packages (make bench installs them when missing); the size
// is DISCOFS_FIO_SIZE (default 1G).
func BenchmarkFio(b *testing.B) {
	for _, tool := range []string{"fio", "gocryptfs"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("%s is not installed (apt-get install fio gocryptfs)", tool)
		}
	}
	size := os.Getenv("DISCOFS_FIO_SIZE")
	if size == "" {
		size = "1G"
	}
	bin := buildBench(b)
	type target struct {
		name          string
		dir           string
		mount, umount func() // nil for the raw disk
		readOnly      bool   // only the read steps, of what an earlier row wrote
	}
	raw := b.TempDir()

	// gocryptfs over a folder of its own.
	gcCipher, gcPlain := b.TempDir(), b.TempDir()
	pw := filepath.Join(b.TempDir(), "pw")
	os.WriteFile(pw, []byte("bench"), 0o600)
	if out, err := exec.Command("gocryptfs", "-init", "-quiet", "-passfile", pw, gcCipher).CombinedOutput(); err != nil {
		b.Fatalf("gocryptfs -init: %v\n%s", err, out)
	}
	gcMount := func() {
		if out, err := exec.Command("gocryptfs", "-quiet", "-passfile", pw, gcCipher, gcPlain).CombinedOutput(); err != nil {
			b.Fatalf("gocryptfs: %v\n%s", err, out)
		}
	}
	gcUmount := func() { syscall.Unmount(gcPlain, 0) }

	// discofs on the local store, with the default memory cache, with one that holds the
	// whole file (random reads of a file it holds open no segment twice), and the first
	// one's vault mounted read-only (where no writer is fenced against).
	// discofsTarget mounts the vault in h with mountFlags.
	discofsTarget := func(name string, h benchHome, mountFlags ...string) target {
		mount := func() { h.run(append(append([]string{"mount", "--daemon"}, mountFlags...), h.mnt)...) }
		return target{name: name, dir: filepath.Join(h.mnt, "bench"), mount: mount, umount: h.unmount}
	}
	// newDiscofs makes a vault in a new home with a folder "bench" to work in.
	newDiscofs := func(name string, mountFlags ...string) (target, benchHome) {
		h := newBenchHome(b, bin)
		h.run("init", "--kdf-memory", "8", "--kdf-time", "1")
		tg := discofsTarget(name, h, mountFlags...)
		tg.mount()
		os.Mkdir(tg.dir, 0o755)
		tg.umount()
		return tg, h
	}
	dTarget, dHome := newDiscofs("discofs")
	bigTarget, bigHome := newDiscofs("discofs, 1.5G memory cache", "--memory-cache", "1536M")
	roTarget := discofsTarget("discofs, read-only mount", dHome, "--read-only")
	roTarget.readOnly = true
	homes := map[string]benchHome{dTarget.name: dHome, bigTarget.name: bigHome, roTarget.name: dHome}

	targets := []target{
		{name: "raw disk", dir: raw},
		{name: "gocryptfs", dir: gcPlain, mount: gcMount, umount: gcUmount},
		dTarget,
		bigTarget,
		roTarget,
	}
	// The tree ls -lR walks: 100,000 empty files in 100 folders, made once on the raw disk
	// and copied or archived into the others.
	tree := filepath.Join(raw, "tree")
	vaulttest.ManyFiles(b, tree, 100, 1000)
	for _, h := range []benchHome{dHome, bigHome} {
		h.run("put", "--name", "tree", tree)
	}

	type row struct {
		write, writeSync, cp, readWarm, readCold, iops, p99, ls float64
	}
	rows := map[string]row{}
	src := filepath.Join(raw, "fio.dat")
	for range b.N {
		for _, tg := range targets {
			if tg.mount != nil {
				tg.mount()
			}
			file := filepath.Join(tg.dir, "fio.dat")
			var r row
			h, isDiscofs := homes[tg.name]
			if !tg.readOnly {
				r.writeSync = fio(b, "write", filepath.Join(tg.dir, "fsync.dat"), size, "1M", "--end_fsync=1").bw
				os.Remove(filepath.Join(tg.dir, "fsync.dat"))
				r.write = fio(b, "write", file, size, "1M").bw
				if isDiscofs {
					h.run("sync", "--timeout", "10m") // cp alone, as a user's would be
				}
				// Dirty pages left by the steps before would throttle the copy's writes
				// to the disk's speed, more for the rows that wrote more before it; and
				// every row copies the same file from the page cache, as the first does
				// (it has just written it), not from the disk after the last row's cold
				// read dropped it.
				syscall.Sync()
				if f, err := os.Open(src); err == nil {
					io.Copy(io.Discard, f)
					f.Close()
				}
				if tg.name != "raw disk" {
					r.cp = timed(b, "cp", src, filepath.Join(tg.dir, "cp.dat")).Seconds()
				} else {
					r.cp = timed(b, "cp", src, filepath.Join(raw, "cp.dat")).Seconds()
				}
				if isDiscofs {
					h.run("sync", "--timeout", "10m")
				}
				r.readWarm = fio(b, "read", file, size, "1M").bw
				if tg.name == "gocryptfs" {
					exec.Command("cp", "-r", tree, tg.dir).Run()
				}
			}
			if tg.umount != nil {
				tg.umount()
			}
			os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0o200)
			if tg.mount != nil {
				tg.mount()
			}
			r.readCold = fio(b, "read", file, size, "1M").bw
			res := fio(b, "randread", file, size, "4k", "--runtime=10", "--time_based")
			r.iops, r.p99 = res.iops, res.p99us
			treeDir := filepath.Join(tg.dir, "tree")
			if isDiscofs {
				treeDir = filepath.Join(h.mnt, "tree")
			}
			os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0o200)
			r.ls = timed(b, "ls", "-lR", treeDir).Seconds()
			if tg.umount != nil {
				tg.umount()
			}
			rows[tg.name] = r
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n%-28s %8s %12s %8s %11s %11s %10s %8s %9s\n", "", "write", "write+fsync", "cp 1 file",
		"read warm", "read cold", "4k rand", "p99", "ls -lR")
	fmt.Fprintf(&sb, "%-28s %8s %12s %8s %11s %11s %10s %8s %9s\n", "", "MB/s", "MB/s", "s", "MB/s", "MB/s", "IOPS", "µs", "s")
	// cell prints v, or "-" for a step the row does not run.
	cell := func(width int, format string, v float64) string {
		if v == 0 {
			return fmt.Sprintf("%*s", width, "-")
		}
		return fmt.Sprintf("%*"+format, width, v)
	}
	for _, tg := range targets {
		r := rows[tg.name]
		fmt.Fprintf(&sb, "%-28s %s %s %s %s %s %s %s %s\n", tg.name,
			cell(8, ".0f", r.write), cell(12, ".0f", r.writeSync), cell(8, ".2f", r.cp), cell(11, ".0f", r.readWarm),
			cell(11, ".0f", r.readCold), cell(10, ".0f", r.iops), cell(8, ".0f", r.p99), cell(9, ".2f", r.ls))
	}
	b.Log(sb.String())
}

// timed runs a command with its output discarded and returns how long it took.
func timed(b *testing.B, name string, args ...string) time.Duration {
	t0 := time.Now()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		b.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return time.Since(t0)
}

type fioResult struct{ bw, iops, p99us float64 }

// fio runs one fio job and returns its bandwidth (MB/s), IOPS and p99 completion latency.
func fio(b *testing.B, rw, file, size, bs string, extra ...string) fioResult {
	args := append([]string{"--name=bench", "--rw=" + rw, "--bs=" + bs, "--size=" + size, "--filename=" + file,
		"--ioengine=psync", "--output-format=json"}, extra...)
	out, err := exec.Command("fio", args...).Output()
	if err != nil {
		b.Fatalf("fio %s on %s: %v", rw, file, err)
	}
	var res struct {
		Jobs []struct {
			Read, Write struct {
				BW    float64 `json:"bw_bytes"`
				IOPS  float64 `json:"iops"`
				ClatN struct {
					Percentile map[string]float64 `json:"percentile"`
				} `json:"clat_ns"`
			}
		}
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res.Jobs) == 0 {
		b.Fatalf("fio output: %v", err)
	}
	j := res.Jobs[0]
	side := j.Read
	if rw == "write" {
		side = j.Write
	}
	return fioResult{bw: side.BW / 1e6, iops: side.IOPS, p99us: side.ClatN.Percentile["99.000000"] / 1e3}
}

func mounted(dir string) bool {
	b, _ := os.ReadFile("/proc/mounts")
	return strings.Contains(string(b), " "+dir+" ")
}
