// Command app is the Shipyard service: one binary whose subcommands are the
// process types (serve, worker, clock) and admin tasks (migrate, seed,
// healthcheck). See docs/app.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		os.Exit(1) // run has logged it
	}
}
