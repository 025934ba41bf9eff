package release

import (
	"context"
	"fmt"
)

// Rollback deploys an earlier release of a stack again: the one named by
// releaseID, or the newest succeeded release before the current one.
func (o *Ops) Rollback(ctx context.Context, stack, releaseID string) (Record, error) {
	if err := o.clean("the infrastructure code deployed with the image would match no commit"); err != nil {
		return Record{}, err
	}
	cfg, err := o.loadAWS(stack, "target")
	if err != nil {
		return Record{}, err
	}
	recs, err := o.ledger().Read(stack)
	if err != nil {
		return Record{}, fmt.Errorf("%w: cannot roll back stack %q: %w", ErrNoPrevious, stack, err)
	}
	current := cfg.Release.ImageDigest
	var target Record
	if releaseID != "" {
		r, ok := Find(recs, releaseID)
		if !ok {
			return Record{}, fmt.Errorf("%w: release %q is not in %s; `make ledger STACK=%s` lists them", ErrNoPrevious, releaseID, o.ledger().Path(stack), stack)
		}
		if r.Status != StatusSucceeded {
			return Record{}, fmt.Errorf("%w: release %q %s; only a release that succeeded can be rolled back to", ErrNoPrevious, releaseID, r.Status)
		}
		if r.ImageDigest == current {
			return Record{}, fmt.Errorf("%w: stack %q already runs %s (release %s)", ErrNoPrevious, stack, current, releaseID)
		}
		target = r
	} else {
		r, ok := Previous(recs, current)
		if !ok {
			return Record{}, fmt.Errorf("%w: %s has no succeeded release of stack %q other than the current one (%s)", ErrNoPrevious, o.ledger().Path(stack), stack, orNone(current))
		}
		target = r
	}
	if err := o.imageSupported(ctx, target); err != nil {
		return Record{}, err
	}
	out, err := o.deployedOutputs(ctx, stack)
	if err != nil {
		return Record{}, err
	}
	repo := out.String("imageRepositoryUrl")
	if err := o.Registry.Has(ctx, repo, target.ImageDigest); err != nil {
		return Record{}, fmt.Errorf("%w: %s@%s is gone from the registry (lifecycle policy?): %w", ErrNoPrevious, repo, target.ImageDigest, err)
	}
	id, err := o.ledger().NextID(stack)
	if err != nil {
		return Record{}, err
	}
	rec := Record{
		ID: id, Stack: stack, Kind: KindRollback,
		ImageRepository: repo, ImageCommit: target.ImageCommit, MigrationVersion: target.MigrationVersion,
		Source: &Source{Stack: stack, Release: target.ID},
	}
	o.say("rolling stack %s back to release %s (%s)", stack, target.ID, target.ImageDigest)
	return o.deploy(ctx, cfg, target.ImageDigest, rec)
}
