package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/shipyard-kit/shipyard/infra/drift"
)

// Exit codes of `shipyard drift` (and `make drift`): 0 clean, ExitDrift
// when something drifted, 1 for any error.
const ExitDrift = 2

// exitError ends shipyard with a code other than 1.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// exitCode is the process exit code for the error run returned.
func exitCode(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return 1
}

// cmdDrift compares a stack's deployed resources with its state: a
// refresh preview (`pulumi refresh --preview-only --json`, which writes
// nothing), one line per drifted resource and property, exit code 2 on
// drift. Controller-owned fields (infra/drift.ControllerOwned) are shown
// as expected.
func cmdDrift(ctx context.Context, e env) error {
	pr, cfg, err := loadStackArg(e, "drift STACK")
	if err != nil {
		return err
	}
	return checkDrift(ctx, pr.pulumi(osExec(e.stdout, e.stderr), e.getenv), cfg.Stack, e.stdout)
}

// checkDrift runs the refresh preview of stack and prints its report.
func checkDrift(ctx context.Context, p *pulumiCLI, stack string, w io.Writer) error {
	out, err := p.run(ctx, stack, false, "refresh", "--preview-only", "--json")
	if err != nil {
		return fmt.Errorf("refresh preview of stack %s: %w", stack, err)
	}
	r, err := drift.Parse(out)
	if err != nil {
		return fmt.Errorf("stack %s: %w", stack, err)
	}
	r.WriteText(w, stack)
	if r.Drift() {
		return &exitError{code: ExitDrift, msg: fmt.Sprintf("stack %s drifted (exit %d)", stack, ExitDrift)}
	}
	return nil
}
