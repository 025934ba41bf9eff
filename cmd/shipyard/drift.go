package main

import (
	"context"
	"errors"
	"fmt"

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
	p := pr.pulumi(osExec(e.stdout, e.stderr), e.getenv)
	out, err := p.run(ctx, cfg.Stack, false, "refresh", "--preview-only", "--json")
	if err != nil {
		return fmt.Errorf("refresh preview of stack %s: %w", cfg.Stack, err)
	}
	r, err := drift.Parse(out)
	if err != nil {
		return fmt.Errorf("stack %s: %w", cfg.Stack, err)
	}
	r.WriteText(e.stdout, cfg.Stack)
	if r.Drift() {
		return &exitError{code: ExitDrift, msg: fmt.Sprintf("stack %s drifted (exit %d)", cfg.Stack, ExitDrift)}
	}
	return nil
}
