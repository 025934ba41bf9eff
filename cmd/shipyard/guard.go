package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/shipyard-kit/shipyard/infra/policy"
	"github.com/shipyard-kit/shipyard/internal/cliflag"
)

// guardInput is where `shipyard guard` reads the plan when no file is
// named; tests replace it.
var guardInput io.Reader = os.Stdin

// cmdGuard reads `pulumi preview --json` output (a file argument or stdin)
// and fails when the plan deletes or replaces a stateful resource (the
// types policy.Classification marks stateful: RDS, ElastiCache, buckets,
// log groups, ECR, KMS keys, secrets, Elastic IPs, random passwords; a
// random password's renewal by new keepers passes) or of a type it does not
// classify, unless
// --allow-stateful-changes. Allowed changes are still listed on stderr.
func cmdGuard(_ context.Context, e env) error {
	allow, args, err := cliflag.Bool(e.args, "allow-stateful-changes")
	if err != nil {
		return err
	}
	file := ""
	for _, a := range args {
		switch {
		case file == "" && len(a) > 0 && a[0] != '-':
			file = a
		default:
			return cliflag.UsageError("shipyard", "guard [--allow-stateful-changes] [PREVIEW.json] < preview.json", args)
		}
	}
	in := guardInput
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("guard: %w", err)
		}
		defer f.Close()
		in = f
	}
	changes, err := policy.StatefulChanges(in)
	if err != nil {
		return err
	}
	if len(changes) == 0 {
		fmt.Fprintln(e.stdout, "guard: the plan deletes or replaces no stateful resource")
		return nil
	}
	if !allow {
		return &policy.PlanError{Changes: changes}
	}
	fmt.Fprintf(e.stderr, "guard: allowed (--allow-stateful-changes): the plan deletes or replaces %d %s:\n", len(changes), policy.Noun(changes))
	for _, c := range changes {
		fmt.Fprintln(e.stderr, "  "+c.String())
	}
	return nil
}
