// Command stacks is the Pulumi program of the shipyard project (Pulumi.yaml
// points here). The stack name selects config/<stack>.json; its target
// selects the AWS or the local Docker topology.
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	awsinfra "github.com/shipyard-kit/shipyard/infra/aws"
	dockerinfra "github.com/shipyard-kit/shipyard/infra/docker"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		dir, err := stackconfig.FindDir(os.Getenv, ".")
		if err != nil {
			return err
		}
		outputs, err := program(dir, os.Getenv)(ctx)
		if err != nil {
			return err
		}
		for k, v := range outputs {
			ctx.Export(k, v)
		}
		return nil
	})
}

// program loads the stack's config from dir and builds its topology,
// returning the stack outputs. getenv gives a docker stack's release in
// progress (dockerinfra.CandidateEnv) and a PR stack's slot and image
// (stackconfig.PreviewSlotEnv, PreviewImageEnv), which `shipyard` sets.
func program(dir string, getenv func(string) string) func(ctx *pulumi.Context) (pulumi.Map, error) {
	return func(ctx *pulumi.Context) (pulumi.Map, error) {
		cfg, err := stackconfig.Load(dir, ctx.Stack())
		if err != nil {
			return nil, err
		}
		if cfg.IsPreview() {
			if err := cfg.SetPreviewSlot(getenv(stackconfig.PreviewSlotEnv)); err != nil {
				return nil, err
			}
			if err := cfg.SetPreviewImage(getenv(stackconfig.PreviewImageEnv)); err != nil {
				return nil, err
			}
		}
		switch {
		case cfg.Target == stackconfig.TargetDocker && cfg.IsPreview():
			return dockerinfra.NewPreviewStack(ctx, cfg)
		case cfg.Target == stackconfig.TargetAWS && cfg.IsPreview():
			return awsinfra.NewPreviewStack(ctx, cfg)
		case cfg.Target == stackconfig.TargetAWS:
			return awsinfra.NewStack(ctx, cfg)
		case cfg.Target == stackconfig.TargetDocker:
			return dockerinfra.NewStackWithCandidate(ctx, cfg, getenv(dockerinfra.CandidateEnv))
		default:
			return nil, fmt.Errorf("config/%s.json: target %q: allowed %q, %q", cfg.Stack, cfg.Target, stackconfig.TargetAWS, stackconfig.TargetDocker)
		}
	}
}
