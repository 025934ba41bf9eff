package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
	"github.com/shipyard-kit/shipyard/internal/release"
)

// The Redis AUTH token rotation on aws stacks (docs/aws.md, "Rotating the
// Redis AUTH token"). Tasks read REDIS_PASSWORD when they start, so what
// tells whether a task holds the current token is when ECS created it,
// compared with when the secret got its current value: both are AWS's
// own records, right whatever ran in between (a redeploy from another
// checkout, an interrupted `make up`, tasks ECS replaced by itself).

// awsTime reads an AWS CLI timestamp: ISO 8601 (the CLI v2's default) or
// seconds since the epoch (cli_timestamp_format none).
type awsTime struct{ time.Time }

func (t *awsTime) UnmarshalJSON(b []byte) error {
	if s, err := strconv.Unquote(string(b)); err == nil {
		v, err := time.Parse(time.RFC3339Nano, s)
		t.Time = v
		return err
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("timestamp %s: %w", b, err)
	}
	t.Time = time.Unix(0, int64(f*1e9)).UTC()
	return nil
}

// secretCurrentSince returns when a Secrets Manager secret got its current
// value: the creation time of its AWSCURRENT version.
func secretCurrentSince(ctx context.Context, a awsCLI, secret string) (time.Time, error) {
	var list struct {
		Versions []struct {
			VersionStages []string `json:"VersionStages"`
			CreatedDate   awsTime  `json:"CreatedDate"`
		} `json:"Versions"`
	}
	if err := a.json(ctx, &list, "secretsmanager", "list-secret-version-ids", "--secret-id", secret); err != nil {
		return time.Time{}, fmt.Errorf("reading the versions of secret %s: %w", secret, err)
	}
	for _, v := range list.Versions {
		if slices.Contains(v.VersionStages, "AWSCURRENT") {
			return v.CreatedDate.Time, nil
		}
	}
	return time.Time{}, fmt.Errorf("secret %s has no AWSCURRENT version", secret)
}

// staleTasks are the running tasks of one service that ECS created before
// a secret got its current value: they hold the previous one.
type staleTasks struct {
	process, service string
	tasks            int
}

// tasksCreatedBefore counts, for each process type's service, the running
// tasks ECS created before t.
func tasksCreatedBefore(ctx context.Context, a awsCLI, out release.Outputs, processes []string, t time.Time) ([]staleTasks, error) {
	cluster, names := out.String("clusterName"), out.Map("serviceNames")
	var stale []staleTasks
	for _, p := range processes {
		name := names[p]
		if name == "" {
			continue
		}
		var list struct {
			TaskArns []string `json:"taskArns"`
		}
		if err := a.json(ctx, &list, "ecs", "list-tasks", "--cluster", cluster, "--service-name", name, "--desired-status", "RUNNING"); err != nil {
			return nil, fmt.Errorf("listing the tasks of service %s: %w", name, err)
		}
		n := 0
		for chunk := range slices.Chunk(list.TaskArns, 100) {
			var desc struct {
				Tasks []struct {
					CreatedAt awsTime `json:"createdAt"`
				} `json:"tasks"`
			}
			if err := a.json(ctx, &desc, append([]string{"ecs", "describe-tasks", "--cluster", cluster, "--tasks"}, chunk...)...); err != nil {
				return nil, fmt.Errorf("describing the tasks of service %s: %w", name, err)
			}
			for _, task := range desc.Tasks {
				if task.CreatedAt.Before(t) {
					n++
				}
			}
		}
		if n > 0 {
			stale = append(stale, staleTasks{process: p, service: name, tasks: n})
		}
	}
	return stale, nil
}

// outputInt reads a number output (JSON numbers decode as float64).
func outputInt(out release.Outputs, key string) (int, bool) {
	switch v := out[key].(type) {
	case float64:
		return int(v), true
	case int:
		return v, true
	}
	return 0, false
}

// processNames are the process types, as the serviceNames output keys them.
func processNames() []string {
	var ps []string
	for _, p := range stackconfig.Processes {
		ps = append(ps, string(p))
	}
	return ps
}

// refuseEarlyRetire refuses, before `pulumi preview` or `up`, a config that
// retires the previous Redis AUTH token (cache.retiredAuthTokenVersion =
// authTokenVersion − 1, ElastiCache's SET) while the deployed stack still
// needs it: when the stack was not deployed with the current generation
// yet, or while a service still runs tasks created before the secret got
// it. Config validation cannot tell: it needs the stack's state.
func refuseEarlyRetire(ctx context.Context, p *pulumiCLI, a awsCLI, cfg *stackconfig.Config) error {
	v, r := cfg.Cache.AuthTokenVersion, cfg.Cache.RetiredAuthTokenVersion
	if cfg.Target != stackconfig.TargetAWS || v <= 1 || v-r != 1 {
		return nil // no previous token to retire
	}
	out, err := p.Outputs(ctx, cfg.Stack)
	if err != nil {
		return err
	}
	if len(out) == 0 {
		return nil // a new stack has one token
	}
	field := fmt.Sprintf("cache.retiredAuthTokenVersion %d", r)
	if dr, ok := outputInt(out, "redisRetiredAuthTokenVersion"); ok && dr >= r {
		return nil // retired already: this update drops nothing
	}
	if dv, ok := outputInt(out, "redisAuthTokenVersion"); ok && dv < v {
		return fmt.Errorf("%s retires the Redis AUTH token that stack %s's tasks use (it runs generation %d; config/%s.json asks for %d): first deploy cache.authTokenVersion %d with cache.retiredAuthTokenVersion %d, then retire (docs/aws.md, \"Rotating the Redis AUTH token\")",
			field, cfg.Stack, dv, cfg.Stack, v, v, v-2)
	}
	if len(out.Map("serviceNames")) == 0 {
		return nil // no release: no task holds a token
	}
	secret := out.String("redisAuthSecretArn")
	if secret == "" {
		return fmt.Errorf("%s: stack %s has no redisAuthSecretArn output yet (deployed by an older Shipyard), so whether its tasks still use the previous Redis AUTH token cannot be read; set it back to %d, run `make up STACK=%s`, then retire", field, cfg.Stack, v-2, cfg.Stack)
	}
	since, err := secretCurrentSince(ctx, a, secret)
	if err != nil {
		return err
	}
	stale, err := tasksCreatedBefore(ctx, a, out, processNames(), since)
	if err != nil {
		return err
	}
	if len(stale) == 0 {
		return nil
	}
	var held []string
	for _, s := range stale {
		held = append(held, fmt.Sprintf("%d %s task(s)", s.tasks, s.process))
	}
	codeDeploy := out.String("codeDeployApplication") != ""
	fix := fmt.Sprintf("set it back to %d and run `make up STACK=%s`, which redeploys web through CodeDeploy, then retire", v-2, cfg.Stack)
	if !codeDeploy || slices.ContainsFunc(stale, func(s staleTasks) bool { return s.process != "web" }) {
		var svcs []string
		for _, s := range stale {
			if !codeDeploy || s.process != "web" {
				svcs = append(svcs, s.service)
			}
		}
		fix = fmt.Sprintf("redeploy %s first (`aws ecs update-service --cluster %s --force-new-deployment --service <name>`)", strings.Join(svcs, ", "), out.String("clusterName"))
		if codeDeploy && stale[0].process == "web" {
			fix += fmt.Sprintf(", and web with cache.retiredAuthTokenVersion back at %d and `make up STACK=%s`", v-2, cfg.Stack)
		}
		fix += ", then retire"
	}
	return fmt.Errorf("%s would drop the previous Redis AUTH token while stack %s still runs %s started before the secret got generation %d (%s): %s",
		field, cfg.Stack, strings.Join(held, ", "), v, since.UTC().Format(time.RFC3339), fix)
}

// staleTokenReason says why web must be redeployed after `pulumi up` for
// the Redis AUTH token, "" when it need not: its tasks read
// REDIS_PASSWORD when they start, and the ones ECS created before the
// token's secret got its current value still hold the previous token.
// The worker and the clock were redeployed by `pulumi up`
// (forceNewDeployment), which a CODE_DEPLOY service does not allow.
func staleTokenReason(ctx context.Context, a awsCLI, cfg *stackconfig.Config, out release.Outputs) (string, error) {
	secret := out.String("redisAuthSecretArn")
	if secret == "" {
		return "", fmt.Errorf("stack %s has no redisAuthSecretArn output after the update, so whether its web tasks hold the current Redis AUTH token cannot be read", cfg.Stack)
	}
	since, err := secretCurrentSince(ctx, a, secret)
	if err != nil {
		return "", err
	}
	stale, err := tasksCreatedBefore(ctx, a, out, []string{"web"}, since)
	if err != nil || len(stale) == 0 {
		return "", err
	}
	return fmt.Sprintf("the Redis AUTH token secret got generation %d (cache.authTokenVersion) at %s; %d web task(s) started before it hold the previous token, and ECS cannot force a new deployment of a CODE_DEPLOY service",
		cfg.Cache.AuthTokenVersion, since.UTC().Format(time.RFC3339), stale[0].tasks), nil
}
