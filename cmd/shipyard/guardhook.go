package main

import (
	"bytes"
	"context"

	"github.com/shipyard-kit/shipyard/infra/policy"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// guardedPulumi is the Pulumi every `pulumi up` of a stack goes through:
// `shipyard up`, releases, promotions and rollbacks. Before the update it
// refuses, once, retiring the previous Redis AUTH token while the stack's
// tasks still use it (refuseEarlyRetire), and a plan that deletes or
// replaces a stateful resource (infra/policy, the same check as `shipyard
// guard`), unless allowStateful (`shipyard up --allow-stateful-changes`;
// never for a release, which changes the image, not the data stores).
type guardedPulumi struct {
	*pulumiCLI
	allowStateful bool
}

// Preview implements release.Pulumi, which applies with Up after it: the
// token check, the diff shown, then the plan's check.
func (g guardedPulumi) Preview(ctx context.Context, stack string) error {
	cfg, err := stackconfig.Load(g.configDir, stack)
	if err != nil {
		return err
	}
	if err := g.refuseEarlyRetire(ctx, cfg); err != nil {
		return err
	}
	// The diff shown is the refreshed one the guard checks.
	if err := g.pulumiCLI.Preview(ctx, stack, planFlags...); err != nil {
		return err
	}
	return g.checkPlan(ctx, stack)
}

// up is `shipyard up`'s update: the token check, then on aws stacks the
// plan's, then `pulumi up`, which shows the diff itself.
func (g guardedPulumi) up(ctx context.Context, cfg *stackconfig.Config) error {
	if err := g.refuseEarlyRetire(ctx, cfg); err != nil {
		return err
	}
	if cfg.Target == stackconfig.TargetAWS {
		if err := g.checkPlan(ctx, cfg.Stack); err != nil {
			return err
		}
	}
	return g.Up(ctx, cfg.Stack)
}

func (g guardedPulumi) refuseEarlyRetire(ctx context.Context, cfg *stackconfig.Config) error {
	return refuseEarlyRetire(ctx, g.pulumiCLI, awsCLI{x: g.x, region: cfg.AWS.Region}, cfg)
}

// checkPlan reads the machine-readable plan (`pulumi preview --json`,
// refreshed as up plans) and refuses one that deletes or replaces a
// stateful resource, unless allowStateful.
func (g guardedPulumi) checkPlan(ctx context.Context, stack string) error {
	plan, err := g.previewJSON(ctx, stack)
	if err != nil {
		return err
	}
	return policy.CheckPlan(bytes.NewReader(plan), g.allowStateful)
}
