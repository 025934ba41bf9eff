package release

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Promote deploys the release that stack from runs to stack to, by digest:
// the image is copied between the stacks' repositories unchanged, never
// rebuilt.
func (o *Ops) Promote(ctx context.Context, from, to string) (Record, error) {
	if from == to {
		return Record{}, fmt.Errorf("promote: FROM and TO are both %q; name two different stacks", from)
	}
	if err := o.clean("the infrastructure code deployed with the image would match no commit"); err != nil {
		return Record{}, err
	}
	src, err := o.loadAWS(from, "source")
	if err != nil {
		return Record{}, err
	}
	digest := src.Release.ImageDigest
	if digest == "" {
		return Record{}, fmt.Errorf("%w: stack %q has no release (config/%s.json release.imageDigest is empty); run `make release STACK=%s` first", ErrNoRelease, from, from, from)
	}
	recs, err := o.ledger().Read(from)
	if err != nil {
		return Record{}, fmt.Errorf("%w: stack %q: %w", ErrNoRelease, from, err)
	}
	source, ok := LatestSucceeded(recs, digest)
	if !ok {
		return Record{}, fmt.Errorf("%w: stack %q runs %s per config/%s.json, but %s has no succeeded record of it; only audited releases are promoted",
			ErrNoRelease, from, digest, from, o.ledger().Path(from))
	}
	if err := o.imageSupported(ctx, source); err != nil {
		return Record{}, err
	}
	dst, err := o.loadAWS(to, "target")
	if err != nil {
		return Record{}, err
	}
	srcOut, err := o.deployedOutputs(ctx, from)
	if err != nil {
		return Record{}, err
	}
	if got := srcOut.String("imageDigest"); got != digest {
		return Record{}, fmt.Errorf("%w: stack %q's outputs say it runs %q but config/%s.json says %s; run `make up STACK=%s` (or promote into it) first",
			ErrUnhealthy, from, got, from, digest, from)
	}
	url := srcOut.String("url")
	if url == "" {
		return Record{}, fmt.Errorf("%w: stack %q has no url output to check", ErrUnhealthy, from)
	}
	ready := strings.TrimRight(url, "/") + "/readyz"
	o.say("checking %s", ready)
	if err := o.Health.Ready(ctx, ready); err != nil {
		return Record{}, fmt.Errorf("%w: refusing to promote from stack %q: %s: %w", ErrUnhealthy, from, ready, err)
	}
	dstOut, err := o.deployedOutputs(ctx, to)
	if err != nil {
		return Record{}, err
	}
	id, err := o.ledger().NextID(to)
	if err != nil {
		return Record{}, err
	}
	rec := Record{
		ID: id, Stack: to, Kind: KindPromote,
		ImageRepository: dstOut.String("imageRepositoryUrl"), ImageCommit: source.ImageCommit,
		MigrationVersion: source.MigrationVersion,
		Source:           &Source{Stack: from, Release: source.ID},
	}
	srcRepo := srcOut.String("imageRepositoryUrl")
	o.say("copying %s@%s to %s:%s", srcRepo, digest, rec.ImageRepository, id)
	got, err := o.Registry.Copy(ctx, srcRepo, digest, rec.ImageRepository, id)
	if err != nil {
		return o.failed(rec, digest, fmt.Errorf("copying %s@%s to %s: %w", srcRepo, digest, rec.ImageRepository, err))
	}
	if got != digest {
		return o.failed(rec, digest, fmt.Errorf("%w: %s:%s has digest %q after the copy, want %s; nothing was deployed",
			ErrDigestCopy, rec.ImageRepository, id, got, digest))
	}
	return o.deploy(ctx, dst, digest, rec)
}

// imageSupported applies ImageSupported to the image of release r.
func (o *Ops) imageSupported(ctx context.Context, r Record) error {
	if o.ImageSupported == nil {
		return nil
	}
	err := o.ImageSupported(ctx, r.ImageCommit)
	switch {
	case err == nil:
	case errors.Is(err, ErrImageUnchecked):
		return fmt.Errorf("release %s (image built from %s): %w", r.ID, orNone(r.ImageCommit), err)
	default:
		return fmt.Errorf("%w: release %s (image built from %s) cannot run with this checkout's infrastructure: %w",
			ErrImageUnsupported, r.ID, orNone(r.ImageCommit), err)
	}
	return nil
}
