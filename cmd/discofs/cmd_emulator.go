package main

import (
	"context"

	"github.com/discofs/discofs/discord/emulator"
)

func init() {
	register("emulator", command{
		summary: "run a Discord API emulator on loopback, for tests and trying discofs without an account",
		usage:   "[--listen 127.0.0.1:0] [--data DIR] [--seed FILE] [--info FILE] [limits…]",
		run: func(ctx context.Context, e *env, args []string) error {
			return emulator.Main(ctx, args, e.stdout, e.stderr)
		},
	})
}
