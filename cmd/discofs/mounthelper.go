package main

import (
	"context"
	"path/filepath"
	"strings"
)

// mount(8) runs /sbin/mount.TYPE for a filesystem type it does not know, as
//
//	mount.discofs SOURCE MOUNTPOINT [-sfnv] [-o OPTIONS]
//
// so a symlink named mount.discofs to this binary lets fstab mount a vault at boot.
// SOURCE is the state directory ("discofs" for the default one); OPTIONS are the mount's
// flags, comma-separated, with '_' for '-'.

// isMountHelper says whether the binary was started as mount(8)'s helper.
func isMountHelper(argv0 string) bool {
	base := filepath.Base(argv0)
	return base == "mount.discofs" || base == "mount.fuse.discofs"
}

// helperOptions are the -o options that become flags of 'discofs mount'; the bool says
// whether the option takes a value.
var helperOptions = map[string]bool{
	"ro": false, "allow_other": false, "debug": false,
	"passphrase_file": true, "cache_size": true, "memory_cache": true, "metrics_addr": true,
}

// genericOptions are fstab options meant for mount(8) or systemd, not for discofs.
var genericOptions = map[string]bool{
	"rw": true, "defaults": true, "auto": true, "noauto": true, "user": true, "nouser": true,
	"users": true, "owner": true, "nofail": true, "_netdev": true, "exec": true, "noexec": true,
	"suid": true, "nosuid": true, "dev": true, "nodev": true, "atime": true, "noatime": true,
	"relatime": true, "async": true, "default_permissions": true,
}

// mountHelperArgs turns mount(8)'s helper call into the arguments of 'discofs mount'. The
// mount goes to the background once it serves (as mount(8) expects), unless -f is given.
func mountHelperArgs(args []string) ([]string, error) {
	var pos, opts []string
	foreground, sloppy := false, false
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-o" && i+1 < len(args):
			i++
			opts = append(opts, strings.Split(args[i], ",")...)
		case strings.HasPrefix(a, "-o"):
			opts = append(opts, strings.Split(a[2:], ",")...)
		case a == "-t" && i+1 < len(args):
			i++ // the type: discofs
		case strings.HasPrefix(a, "-") && len(a) > 1:
			for _, f := range a[1:] {
				switch f {
				case 'f':
					foreground = true
				case 's':
					sloppy = true
				case 'n', 'v':
				default:
					return nil, usagef("unknown flag -%c", f)
				}
			}
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) != 2 {
		return nil, usagef("want SOURCE MOUNTPOINT [-o OPTIONS], as mount(8) passes them")
	}
	var out []string
	if !foreground {
		out = append(out, "--daemon")
	}
	if pos[0] != "discofs" {
		out = append(out, "--home", pos[0])
	}
	for _, o := range opts {
		name, value, hasValue := strings.Cut(o, "=")
		takesValue, known := helperOptions[name]
		switch {
		case known && takesValue != hasValue:
			return nil, usagef("mount option %q: %s takes %s", o, name, map[bool]string{true: "a value", false: "no value"}[takesValue])
		case name == "ro":
			out = append(out, "--read-only")
		case known && hasValue:
			out = append(out, "--"+strings.ReplaceAll(name, "_", "-"), value)
		case known:
			out = append(out, "--"+strings.ReplaceAll(name, "_", "-"))
		case o == "" || genericOptions[name] || strings.HasPrefix(name, "x-") || name == "comment" || sloppy:
		default:
			return nil, usagef("unknown mount option %q", o)
		}
	}
	return append(out, pos[1]), nil
}

// runMountHelper mounts as mount(8)'s helper.
func runMountHelper(ctx context.Context, args []string, e *env) int {
	margs, err := mountHelperArgs(args)
	if err != nil {
		return report(e.stderr, "mount", command{usage: "SOURCE MOUNTPOINT [-o OPTIONS] (as mount.discofs)"}, err)
	}
	return run(ctx, append([]string{"mount"}, margs...), e)
}
