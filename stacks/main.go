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
		outputs, err := program(dir, os.Getenv(dockerinfra.CandidateEnv))(ctx)
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
// returning the stack outputs. candidate is a docker stack's release in
// progress (dockerinfra.CandidateEnv), or "".
func program(dir, candidate string) func(ctx *pulumi.Context) (pulumi.Map, error) {
	return func(ctx *pulumi.Context) (pulumi.Map, error) {
		cfg, err := stackconfig.Load(dir, ctx.Stack())
		if err != nil {
			return nil, err
		}
		switch cfg.Target {
		case stackconfig.TargetAWS:
			return awsinfra.NewStack(ctx, cfg)
		case stackconfig.TargetDocker:
			return dockerinfra.NewStackWithCandidate(ctx, cfg, candidate)
		default:
			return nil, fmt.Errorf("config/%s.json: target %q: allowed %q, %q", cfg.Stack, cfg.Target, stackconfig.TargetAWS, stackconfig.TargetDocker)
		}
	}
}
