package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// call is one external command: the CLIs Shipyard drives (pulumi, aws,
// docker, crane, git).
type call struct {
	Name string
	Args []string
	// Stdin, when set, is the command's standard input.
	Stdin io.Reader
	// Stream connects the command's output to the operator's terminal
	// instead of capturing it (previews, updates, logs).
	Stream bool
	// Out, when set, receives the streamed output instead of the
	// operator's stdout and stderr.
	Out io.Writer
	// Stdout, when set, receives the command's standard output as it is
	// written (a large dump, not held in memory); standard error is kept
	// for the error message.
	Stdout io.Writer
	// Env holds extra NAME=value pairs on top of the inherited environment.
	Env []string
}

func (c call) String() string { return strings.Join(append([]string{c.Name}, c.Args...), " ") }

// execer runs a call and returns its captured standard output. It is the
// only way cmd/shipyard touches the outside world, so tests replace it.
type execer func(ctx context.Context, c call) ([]byte, error)

// osExec runs calls as processes; streamed output goes to stdout/stderr.
func osExec(stdout, stderr io.Writer) execer {
	return func(ctx context.Context, c call) ([]byte, error) {
		cmd := exec.CommandContext(ctx, c.Name, c.Args...)
		cmd.Stdin = c.Stdin
		if len(c.Env) > 0 {
			cmd.Env = append(os.Environ(), c.Env...)
		}
		var out, errb bytes.Buffer
		if c.Stdout != nil {
			cmd.Stdout, cmd.Stderr = c.Stdout, &errb
		} else if c.Stream && c.Out != nil {
			cmd.Stdout, cmd.Stderr = c.Out, c.Out
		} else if c.Stream {
			cmd.Stdout, cmd.Stderr = stdout, stderr
		} else {
			cmd.Stdout, cmd.Stderr = &out, &errb
		}
		err := cmd.Run()
		if err == nil {
			return out.Bytes(), nil
		}
		var notFound *exec.Error
		if errors.As(err, &notFound) {
			return nil, fmt.Errorf("%s: not installed (%w): %s", c.Name, notFound.Err, installHint(c.Name))
		}
		msg := strings.TrimSpace(errb.String())
		if len(msg) > 2000 {
			msg = "…" + msg[len(msg)-2000:]
		}
		if msg != "" {
			return out.Bytes(), fmt.Errorf("%s: %w: %s", shortCall(c), err, msg)
		}
		return out.Bytes(), fmt.Errorf("%s: %w", shortCall(c), err)
	}
}

// shortCall names a call in errors: the program and its subcommands.
func shortCall(c call) string {
	parts := []string{c.Name}
	for _, a := range c.Args {
		if strings.HasPrefix(a, "-") || len(parts) == 3 {
			break
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// installHint says how to get a missing program.
func installHint(name string) string {
	switch name {
	case "pulumi":
		return "run `make tools` (offline: PULUMI_OFFLINE_DIR=<bundle> make tools)"
	case "crane", "actionlint", "gotestsum":
		return "run `make tools`"
	default:
		return "`make doctor` says how to install it"
	}
}
