// Command bootstrap is the Pulumi program of the shipyard-bootstrap project
// (bootstrap/Pulumi.yaml): the state bucket, the secrets key, GitHub's OIDC
// provider and the deploy and preview roles of one region of an account
// (infra/bootstrap). The stack name is the region; every aws stack of
// config/ in that region gets a deploy role, and the preview role its
// ci.pullRequestPreviews calls for. `make bootstrap` runs it.
package main

import (
	"fmt"
	"os"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shipyard-kit/shipyard/infra/bootstrap"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// The variables `shipyard bootstrap` sets for the program.
const (
	// RepositoryEnv is the GitHub repository, owner/name.
	RepositoryEnv = "SHIPYARD_GITHUB_REPOSITORY"
	// OIDCProviderEnv is an existing GitHub OIDC provider's ARN.
	OIDCProviderEnv = "SHIPYARD_GITHUB_OIDC_PROVIDER_ARN"
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

// program bootstraps the region the stack is named after for the aws
// stacks of dir in that region.
func program(dir string, getenv func(string) string) func(ctx *pulumi.Context) (pulumi.Map, error) {
	return func(ctx *pulumi.Context) (pulumi.Map, error) {
		region := ctx.Stack()
		stacks, pullRequest, err := regionStacks(dir, region)
		if err != nil {
			return nil, err
		}
		repo := getenv(RepositoryEnv)
		if repo == "" {
			return nil, fmt.Errorf("%s is not set: run `make bootstrap STACK=<aws stack>`, which sets it from the git remote (or GITHUB_REPOSITORY)", RepositoryEnv)
		}
		b, err := bootstrap.New(ctx, "shipyard", bootstrap.Args{
			Region: region, Repository: repo, Stacks: stacks, PullRequestStacks: pullRequest, OIDCProviderArn: getenv(OIDCProviderEnv),
		})
		if err != nil {
			return nil, err
		}
		return b.Outputs(), nil
	}
}

// regionStacks lists the aws stacks of dir whose region is region, and
// those of them pull requests preview (ci.pullRequestPreviews).
func regionStacks(dir, region string) (stacks, pullRequest []string, err error) {
	all, err := stackconfig.LoadAll(dir)
	if err != nil {
		return nil, nil, err
	}
	var regions []string
	for name, cfg := range all {
		if cfg.Target != stackconfig.TargetAWS {
			continue
		}
		regions = append(regions, cfg.AWS.Region)
		if cfg.AWS.Region == region {
			stacks = append(stacks, name)
			if cfg.CI.PullRequestPreviews {
				pullRequest = append(pullRequest, name)
			}
		}
	}
	sort.Strings(stacks)
	sort.Strings(pullRequest)
	if len(stacks) == 0 {
		sort.Strings(regions)
		return nil, nil, fmt.Errorf("bootstrap stack %q: no aws stack of %s is in region %q (their regions: %v); the bootstrap stack is named after the region", region, dir, region, regions)
	}
	return stacks, pullRequest, nil
}
