package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
	"github.com/shipyard-kit/shipyard/internal/release"
)

// After `pulumi up` of an aws stack whose web service CodeDeploy controls
// (docs/aws.md, "Who owns what"): the service's task definition is
// CodeDeploy's (the program ignores changes to it, infra/drift), so a new
// revision that up registers for web (a change of its env, cpu, memory,
// log routing, tracing sidecar, secrets list, …) reaches no task until a
// CodeDeploy deployment of it, and ECS cannot force a new deployment of
// such a service either (a new Redis AUTH token, rotation.go). `shipyard
// up` then redeploys web itself, once, through CodeDeploy with the current
// release (release.Ops.Redeploy: the release path from `pulumi up` on, its
// gates followed, a ledger record of kind redeploy with the reasons).
// Releases, promotions and rollbacks run `pulumi up` and their own
// CodeDeploy deployment, without this hook.

// redeployWebAfterUp redeploys a CodeDeploy web service after `pulumi up`
// when its running task definition is not the one the stack registered
// (taskDefinitionArns.web), or when its tasks hold the previous Redis AUTH
// token. before are the stack's outputs before the update. With
// releaseFollows it only says why web needs deploying: the release that
// follows does it.
func redeployWebAfterUp(ctx context.Context, e env, pr project, p *pulumiCLI, cfg *stackconfig.Config, before release.Outputs, releaseFollows bool) error {
	out, err := p.Outputs(ctx, cfg.Stack)
	if err != nil {
		return err
	}
	web := out.Map("serviceNames")["web"]
	if out.String("codeDeployApplication") == "" || web == "" {
		return nil
	}
	x := osExec(e.stdout, e.stderr)
	a := awsCLI{x: x, region: cfg.AWS.Region}
	var reasons []string
	running, err := runningTaskDefinition(ctx, a, out.String("clusterName"), web)
	if err != nil {
		return err
	}
	if why := taskDefinitionReason(running, before.Map("taskDefinitionArns")["web"], out.Map("taskDefinitionArns")["web"]); why != "" {
		reasons = append(reasons, why)
	}
	token, err := staleTokenReason(ctx, a, cfg, out)
	if err != nil {
		return err
	}
	if token != "" {
		reasons = append(reasons, token)
	}
	if len(reasons) == 0 {
		return nil
	}
	if releaseFollows {
		_, err := fmt.Fprintf(e.stdout, "web not redeployed (%s): the release that follows (--release-follows) deploys it through CodeDeploy\n", strings.Join(reasons, "; "))
		return err
	}
	ops, err := newOps(ctx, e, pr, x, cfg.AWS.Region)
	if err != nil {
		return err
	}
	if _, err := ops.Redeploy(ctx, cfg.Stack, strings.Join(reasons, "; ")); err != nil {
		also := ""
		if token != "" {
			also = ", and retiring the previous Redis AUTH token waits until it succeeds"
		}
		return fmt.Errorf("stack %s is up, but web still runs what it ran before (%s): %w; `make up STACK=%s` tries again%s", cfg.Stack, strings.Join(reasons, "; "), err, cfg.Stack, also)
	}
	return nil
}

// taskDefinitionReason says why web must be redeployed for its task
// definition, "" when it runs the one the stack registered (registered)
// or the stack registered none; was is the one registered before up.
func taskDefinitionReason(running, was, registered string) string {
	if registered == "" || running == registered {
		return ""
	}
	from, to := taskDefinitionName(running), taskDefinitionName(registered)
	if f, fr, ok := strings.Cut(from, ":"); ok {
		if t, tr, ok := strings.Cut(to, ":"); ok && f == t {
			from, to = fmt.Sprintf("%s revision %s", f, fr), tr
		}
	}
	if was != registered {
		return fmt.Sprintf("task definition changed by make up (%s -> %s)", from, to)
	}
	return fmt.Sprintf("web runs task definition %s, not %s that the stack registered (an earlier deployment of it did not complete)", from, to)
}

// taskDefinitionName is a task definition ARN's family:revision.
func taskDefinitionName(arn string) string {
	if i := strings.LastIndex(arn, "/"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

// runningTaskDefinition is the task definition a CODE_DEPLOY service's
// tasks run: its PRIMARY task set's (the one that takes production
// traffic), else its PRIMARY deployment's, else the service's own.
func runningTaskDefinition(ctx context.Context, a awsCLI, cluster, service string) (string, error) {
	var ds describeServices
	if err := a.json(ctx, &ds, "ecs", "describe-services", "--cluster", cluster, "--services", service); err != nil {
		return "", fmt.Errorf("reading the task definition service %s runs: %w", service, err)
	}
	for _, s := range ds.Services {
		if s.ServiceName != service {
			continue
		}
		for _, ts := range s.TaskSets {
			if ts.Status == "PRIMARY" && ts.TaskDefinition != "" {
				return ts.TaskDefinition, nil
			}
		}
		for _, d := range s.Deployments {
			if d.Status == "PRIMARY" && d.TaskDefinition != "" {
				return d.TaskDefinition, nil
			}
		}
		if s.TaskDefinition != "" {
			return s.TaskDefinition, nil
		}
	}
	return "", fmt.Errorf("ecs describe-services names no task definition that service %s runs (%d service(s) described)", service, len(ds.Services))
}

// previewNote says, after `make preview` of an aws stack whose web service
// CodeDeploy controls, in one line, what `make up` does beyond the diff:
// a new web task definition in it is deployed through CodeDeploy after
// the update. Whether the diff replaces it is not read from the preview's
// human-readable output, whose format is Pulumi's to change.
func previewNote(ctx context.Context, p *pulumiCLI, cfg *stackconfig.Config, w io.Writer) error {
	if cfg.Target != stackconfig.TargetAWS {
		return nil
	}
	out, err := p.Outputs(ctx, cfg.Stack)
	if err != nil {
		return err
	}
	if out.String("codeDeployApplication") == "" || out.Map("serviceNames")["web"] == "" {
		return nil
	}
	_, err = fmt.Fprintf(w, "note: web is deployed by CodeDeploy (deploy.strategy %s): when this diff replaces its task definition, `make up STACK=%s` then redeploys web through CodeDeploy with %s, its gates followed (docs/aws.md, \"Who owns what\")\n",
		cfg.Deploy.Strategy, cfg.Stack, orNone(cfg.Release.ImageDigest))
	return err
}
