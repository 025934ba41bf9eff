package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"
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
	// Env holds extra NAME=value pairs on top of the inherited environment:
	// the program's own settings (pulumi's passphrase, the PR slot), never
	// what it is to pass on to a container (docker run's --env-file).
	Env []string
}

func (c call) String() string { return strings.Join(append([]string{c.Name}, c.Args...), " ") }

// execer runs a call and returns its captured standard output. It is the
// only way cmd/shipyard touches the outside world, so tests replace it.
type execer func(ctx context.Context, c call) ([]byte, error)

// childWaitDelay is how long a child may take to exit after ctx is done
// (Ctrl-C, SIGTERM) and it was interrupted, before it is killed. pulumi
// stops starting operations at the interrupt but finishes the ones in
// flight and writes its state; killed, it leaves them pending and the
// stack locked. In-flight AWS operations can take minutes (an RDS
// instance, an ElastiCache group), so the delay is long: it is a backstop
// for a hung child, not the way to stop sooner. That is a second Ctrl-C
// (or SIGTERM), forwarded to the child: pulumi then terminates at once,
// as it does in a terminal.
var childWaitDelay = 15 * time.Minute

// osExec runs calls as processes; streamed output goes to stdout/stderr.
//
// A cancelled ctx interrupts the child (SIGINT, as a Ctrl-C would), never
// kills it outright (exec.CommandContext's default): see childWaitDelay.
// The child runs in a process group of its own, so a Ctrl-C at the
// terminal reaches it through shipyard only, once: in shipyard's group it
// would get the terminal's SIGINT and then shipyard's, and pulumi takes a
// second SIGINT for "terminate now".
func osExec(stdout, stderr io.Writer) execer {
	return func(ctx context.Context, c call) ([]byte, error) {
		cmd := exec.CommandContext(ctx, c.Name, c.Args...)
		ownProcessGroup(cmd)
		exited := make(chan struct{})
		defer close(exited)
		cmd.Cancel = func() error { return interruptChild(cmd.Process, exited) }
		cmd.WaitDelay = childWaitDelay
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

// interruptChild interrupts p's process group, then forwards each further
// SIGINT or SIGTERM shipyard receives as another SIGINT until exited is
// closed. (One arriving between ctx's cancellation and this call is not
// forwarded: shipyard's own handler took it.)
func interruptChild(p *os.Process, exited <-chan struct{}) error {
	more := make(chan os.Signal, 1)
	signal.Notify(more, os.Interrupt, syscall.SIGTERM)
	go func() {
		defer signal.Stop(more)
		for {
			select {
			case <-more:
				_ = interruptGroup(p)
			case <-exited:
				return
			}
		}
	}()
	return interruptGroup(p)
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

// ownProcessGroup starts cmd as the leader of a new process group. Its
// standard input is never the terminal (call.Stdin is a reader or
// nothing), so it never needs to be in the terminal's foreground group.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// interruptGroup sends SIGINT to p's process group, as a Ctrl-C at the
// terminal would (p and the processes it started); to p alone if the
// group is gone.
func interruptGroup(p *os.Process) error {
	if err := syscall.Kill(-p.Pid, syscall.SIGINT); err == nil {
		return nil
	}
	return p.Signal(os.Interrupt)
}
