package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
	"github.com/shipyard-kit/shipyard/internal/atomicfile"
)

// deploy writes digest into config/<stack>.json, previews, applies and
// verifies, and appends the outcome to the ledger. On failure the config
// file's release.imageDigest gets its previous value back, so it keeps
// describing what runs; edits made to the file meanwhile stay
// (restoreDigest).
func (o *Ops) deploy(ctx context.Context, cfg *stackconfig.Config, digest string, rec Record) (Record, error) {
	stack := cfg.Stack
	snap, err := o.snapshotBeforeMigration(ctx, cfg, rec)
	rec.SnapshotID = snap
	if err != nil {
		return o.failed(rec, digest, err)
	}
	path := filepath.Join(o.ConfigDir, stack+".json")
	orig, err := os.ReadFile(path)
	if err != nil {
		return o.failed(rec, digest, fmt.Errorf("reading %s: %w", path, err))
	}
	updated, err := SetImageDigest(orig, digest)
	if err != nil {
		return o.failed(rec, digest, fmt.Errorf("%s: %w", path, err))
	}
	restored := func(rec Record, cause error) (Record, error) {
		return o.failed(rec, digest, restoreDigest(path, orig, cause, digest))
	}
	restore := func(cause error) (Record, error) { return restored(rec, cause) }
	if err := atomicfile.Write(path, updated); err != nil {
		return o.failed(rec, digest, fmt.Errorf("writing %s: %w", path, err))
	}
	if _, err := stackconfig.Load(o.ConfigDir, stack); err != nil {
		return restore(fmt.Errorf("%w: %w", ErrInvalidConfig, err))
	}
	rec.ConfigSHA256 = configSHA256(updated)
	o.say("config/%s.json release.imageDigest = %s", stack, digest)

	o.say("pulumi preview --diff --stack %s", stack)
	if err := o.Pulumi.Preview(ctx, stack); err != nil {
		return restore(fmt.Errorf("pulumi preview of stack %q: %w", stack, err))
	}
	o.say("pulumi up --stack %s", stack)
	started := o.now()
	if err := o.Pulumi.Up(ctx, stack); err != nil {
		return restore(fmt.Errorf("pulumi up of stack %q: %w", stack, err))
	}
	return o.rollOut(ctx, cfg, digest, rec, started, restored)
}

// rollOut is what follows `pulumi up` in every deployment: the web
// service's CodeDeploy deployment (when CodeDeploy controls it, with its
// gates), the check that every service runs digest, and the ledger record.
// fail records a failure (and, for a deployment that wrote the config,
// restores it).
func (o *Ops) rollOut(ctx context.Context, cfg *stackconfig.Config, digest string, rec Record, started time.Time, fail func(Record, error) (Record, error)) (Record, error) {
	stack := cfg.Stack
	if err := o.codeDeploy(ctx, cfg, &rec); err != nil {
		return fail(rec, err)
	}
	o.say("verifying that the services of stack %s run %s", stack, digest)
	if alarms, err := o.verify(ctx, stack, digest, started); err != nil {
		rec.Alarms = alarms
		return fail(rec, err)
	}
	rec.ImageDigest = digest
	rec.Status = StatusSucceeded
	rec.Time = o.now()
	rec.DeployCommit, rec.Actor = o.Commit, o.Actor
	if err := o.ledger().Append(rec); err != nil {
		return rec, fmt.Errorf("stack %q runs %s but recording %s failed: %w", stack, digest, rec.ID, err)
	}
	o.say("%s %s: stack %s runs %s (recorded in %s)", rec.Kind, rec.ID, stack, digest, o.ledger().Path(stack))
	return rec, nil
}

// verify checks that the stack's outputs and its running ECS services use
// digest, through the task definitions this update registered (which the
// update started registering at started). An ECS deployment circuit
// breaker or deployment alarm that rolled back makes `pulumi up` succeed
// while the PRIMARY deployment runs the previous task definition: caught
// here. It returns the deployment alarms that failed a deployment, sorted.
func (o *Ops) verify(ctx context.Context, stack, digest string, started time.Time) (alarms []string, err error) {
	out, err := o.Pulumi.Outputs(ctx, stack)
	if err != nil {
		return nil, fmt.Errorf("reading outputs of stack %q after the update: %w", stack, err)
	}
	if got := out.String("imageDigest"); got != digest {
		return nil, fmt.Errorf("%w: stack %q's imageDigest output is %q after the update, want %s", ErrNotRunning, stack, got, digest)
	}
	names, taskDefs := out.Map("serviceNames"), out.Map("taskDefinitionArns")
	repo := out.String("imageRepositoryUrl")
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: stack %q has no serviceNames output to verify", ErrNotRunning, stack)
	}
	services, err := o.Runtime.Services(ctx, stack, out, started)
	if err != nil {
		return nil, fmt.Errorf("describing the services of stack %q: %w", stack, err)
	}
	seen := map[string]bool{}
	var problems []string
	// failed is the first service whose new tasks did not take over
	// without an alarm: why its tasks stopped is printed.
	var failed *Service
	for _, s := range services {
		seen[s.Process] = true
		want := taskDefs[s.Process]
		alarms = append(alarms, s.Alarms...)
		if failed == nil && len(s.Alarms) == 0 && want != "" && (s.RolloutState != "COMPLETED" || s.TaskDefinition != want) {
			failed = &s
		}
		switch {
		case len(s.Alarms) > 0:
			problems = append(problems, fmt.Sprintf("service %s: deployment alarm(s) %s went into ALARM and ECS failed the deployment (rolled back when the service's alarms have rollback on; ECS: %s)",
				s.Name, strings.Join(s.Alarms, ", "), orNone(s.Failure)))
		case s.RolloutState != "COMPLETED" && s.Failure != "":
			problems = append(problems, fmt.Sprintf("service %s: rollout %s (ECS: %s)", s.Name, orNone(s.RolloutState), s.Failure))
		case s.RolloutState != "COMPLETED":
			problems = append(problems, fmt.Sprintf("service %s: rollout %s (the ECS deployment circuit breaker rolls back failed deployments)", s.Name, orNone(s.RolloutState)))
		case want == "":
			problems = append(problems, fmt.Sprintf("service %s: no taskDefinitionArns[%q] output to compare with", s.Name, s.Process))
		case s.TaskDefinition != want && s.Failure != "":
			problems = append(problems, fmt.Sprintf("service %s: the PRIMARY deployment runs %s, not %s that pulumi up registered: ECS rolled back (ECS: %s)", s.Name, s.TaskDefinition, want, s.Failure))
		case s.TaskDefinition != want:
			problems = append(problems, fmt.Sprintf("service %s: the PRIMARY deployment runs %s, not %s that pulumi up registered: ECS rolled back", s.Name, s.TaskDefinition, want))
		}
		if s.Deployments > 1 {
			problems = append(problems, fmt.Sprintf("service %s: %d deployments still active", s.Name, s.Deployments))
		}
		// The app's containers (the process and its migrate init
		// container) come from the stack's repository; sidecars such as
		// the log router come from elsewhere and are not the release.
		app := 0
		for _, img := range s.Images {
			if repo != "" && !strings.HasPrefix(img, repo+"@") && !strings.HasPrefix(img, repo+":") {
				continue
			}
			app++
			if img != repo+"@"+digest && !(repo == "" && strings.HasSuffix(img, "@"+digest)) {
				problems = append(problems, fmt.Sprintf("service %s: runs image %s, not %s@%s", s.Name, img, repo, digest))
			}
		}
		if app == 0 {
			problems = append(problems, fmt.Sprintf("service %s: no container runs an image of %s (images: %s)", s.Name, repo, strings.Join(s.Images, ", ")))
		}
	}
	procs := make([]string, 0, len(names))
	for p := range names {
		procs = append(procs, p)
	}
	sort.Strings(procs)
	for _, p := range procs {
		if !seen[p] {
			problems = append(problems, fmt.Sprintf("service %s (%s): not reported by ECS", names[p], p))
		}
	}
	alarms = uniqSorted(alarms)
	if len(alarms) > 0 {
		return alarms, fmt.Errorf("%w: %w: stack %q:\n  %s", ErrNotRunning, ErrAlarmRollback, stack, strings.Join(problems, "\n  "))
	}
	if len(problems) > 0 {
		err := fmt.Errorf("%w: stack %q:\n  %s", ErrNotRunning, stack, strings.Join(problems, "\n  "))
		if failed != nil {
			if why := o.stoppedTask(ctx, out, failed.Process, taskDefs[failed.Process]); why != "" {
				err = fmt.Errorf("%w\n%s", err, why)
			}
		}
		return nil, err
	}
	return nil, nil
}

// uniqSorted returns the distinct strings of s, sorted.
func uniqSorted(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// failed appends a failed record and returns it with the error.
func (o *Ops) failed(rec Record, digest string, cause error) (Record, error) {
	rec.ImageDigest = digest
	rec.Status = StatusFailed
	rec.Error = cause.Error()
	rec.Time = o.now()
	rec.DeployCommit, rec.Actor = o.Commit, o.Actor
	if err := o.ledger().Append(rec); err != nil {
		return rec, errors.Join(cause, fmt.Errorf("recording the failure: %w", err))
	}
	return rec, fmt.Errorf("%s %s failed (recorded in %s): %w", rec.Kind, rec.ID, o.ledger().Path(rec.Stack), cause)
}

// configSHA256 is what a ledger record's configSha256 holds: the hex
// SHA-256 of config/<stack>.json as the deployment used it.
func configSHA256(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
