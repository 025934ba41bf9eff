package release

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Redeploy deploys a stack's current release (config/<stack>.json's
// release.imageDigest) again, same image, right after `pulumi up` applied
// the stack, on a web service that CodeDeploy controls: for what its tasks
// only get from a new deployment, which neither up nor ECS gives such a
// service (a task definition up registered, a secret's new value). It is
// a release's path from `pulumi up` on: the CodeDeploy deployment of the
// task definition up registered, followed with its gates, the check that every service runs the digest, and a
// ledger record of kind redeploy with reason. Nothing is built, pushed or
// copied, and the config is not written.
func (o *Ops) Redeploy(ctx context.Context, stack, reason string) (Record, error) {
	cfg, err := o.loadAWS(stack, "target")
	if err != nil {
		return Record{}, err
	}
	digest := cfg.Release.ImageDigest
	if digest == "" {
		return Record{}, fmt.Errorf("%w: stack %q has no release to redeploy (config/%s.json release.imageDigest is empty)", ErrNoRelease, stack, stack)
	}
	out, err := o.deployedOutputs(ctx, stack)
	if err != nil {
		return Record{}, err
	}
	if got := out.String("imageDigest"); got != digest {
		return Record{}, fmt.Errorf("%w: stack %q's outputs say it runs %q but config/%s.json says %s; run `make up STACK=%s` first", ErrNotRunning, stack, got, stack, digest, stack)
	}
	if out.String("codeDeployApplication") == "" {
		return Record{}, fmt.Errorf("stack %q deploys every service with ECS rolling updates: `pulumi up` redeploys them itself (forceNewDeployment); nothing to redeploy", stack)
	}
	recs, err := o.ledger().Read(stack)
	if err != nil && !errors.Is(err, ErrNoLedger) {
		return Record{}, err
	}
	id, err := o.ledger().NextID(stack)
	if err != nil {
		return Record{}, err
	}
	rec := Record{ID: id, Stack: stack, Kind: KindRedeploy, Reason: reason, ImageRepository: out.String("imageRepositoryUrl")}
	// The image's provenance is its release's; a digest the ledger never
	// recorded (deployed by hand) is redeployed all the same, without.
	if src, ok := LatestSucceeded(recs, digest); ok {
		rec.ImageCommit, rec.MigrationVersion = src.ImageCommit, src.MigrationVersion
		rec.Source = &Source{Stack: stack, Release: src.ID}
		if src.Source != nil && src.Kind == KindRedeploy {
			rec.Source = src.Source
		}
	}
	path := filepath.Join(o.ConfigDir, stack+".json")
	data, err := os.ReadFile(path)
	if err != nil {
		return Record{}, fmt.Errorf("reading %s: %w", path, err)
	}
	rec.ConfigSHA256 = configSHA256(data)
	o.say("redeploying %s of stack %s (same image, the task definition up registered): %s", digest, stack, reason)
	return o.rollOut(ctx, cfg, digest, rec, o.now(), func(rec Record, cause error) (Record, error) {
		return o.failed(rec, digest, cause)
	})
}
