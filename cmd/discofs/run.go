package main

import (
	"context"
	"flag"
)

// withVault parses a command's flags and its lo to hi positional arguments (as parseArgs),
// opens the vault and runs fn with the vault and those arguments, closing the vault after.
func (c *common) withVault(ctx context.Context, e *env, fs *flag.FlagSet, args []string, lo, hi int, fn func(v *opened, args []string) error) error {
	args, err := parseArgs(fs, args, lo, hi)
	if err != nil {
		return err
	}
	v, err := c.openVault(ctx, e, false)
	if err != nil {
		return err
	}
	defer v.Close()
	return fn(v, args)
}
