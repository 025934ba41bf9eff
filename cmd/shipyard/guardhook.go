package main

import (
	"bytes"
	"context"

	"github.com/shipyard-kit/shipyard/infra/policy"
)

// stackGuard returns the check `shipyard up` runs on an aws stack's
// `pulumi preview --json` plan before applying it: the refusal to delete or
// replace stateful resources (infra/policy, the same check as `shipyard
// guard`), unless allowStateful.
func stackGuard(_ env, allowStateful bool) func(plan []byte) error {
	return func(plan []byte) error {
		return policy.CheckPlan(bytes.NewReader(plan), allowStateful)
	}
}

// guardedPulumi is the Pulumi that releases, promotions and rollbacks
// use: its preview shows the diff, then refuses a plan that deletes or
// replaces a stateful resource (a release changes the image, never the
// data stores).
type guardedPulumi struct{ *pulumiCLI }

func (g guardedPulumi) Preview(ctx context.Context, stack string) error {
	// The diff shown is the refreshed one the guard checks.
	if err := g.pulumiCLI.Preview(ctx, stack, planFlags...); err != nil {
		return err
	}
	plan, err := g.previewJSON(ctx, stack)
	if err != nil {
		return err
	}
	return policy.CheckPlan(bytes.NewReader(plan), false)
}
