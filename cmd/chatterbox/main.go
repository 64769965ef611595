// Command chatterbox runs a ChatterBox personal node: group chat without a
// central server. `chatterbox run` (the default) starts the node; `chatterbox
// help` lists the subcommands and `chatterbox run --help` every flag.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err))
}

// exitCode maps Run's error to the process exit code: 0 success (or
// --help), 2 usage errors, 1 everything else. The error is printed here,
// once.
func exitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	}
	fmt.Fprintln(os.Stderr, "chatterbox:", err)
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}
