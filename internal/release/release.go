package release

import (
	"context"
	"fmt"
)

// Release pushes a locally built image to the stack's repository and
// deploys it: the first deployment of an image. localImage is what
// `make image` built.
func (o *Ops) Release(ctx context.Context, stack, localImage string) (Record, error) {
	if err := o.clean("the image would match no commit"); err != nil {
		return Record{}, err
	}
	cfg, err := o.loadAWS(stack, "target")
	if err != nil {
		return Record{}, err
	}
	out, err := o.deployedOutputs(ctx, stack)
	if err != nil {
		return Record{}, err
	}
	migration, err := MigrationVersion(o.MigrationsDir)
	if err != nil {
		return Record{}, err
	}
	id, err := o.ledger().NextID(stack)
	if err != nil {
		return Record{}, err
	}
	repo := out.String("imageRepositoryUrl")
	rec := Record{
		ID: id, Stack: stack, Kind: KindRelease,
		ImageRepository: repo, ImageCommit: o.Commit, MigrationVersion: migration,
	}
	rec.MigrationTiming = o.measureMigrations(ctx, cfg, migration)
	o.say("pushing %s to %s:%s", localImage, repo, id)
	digest, err := o.Registry.Push(ctx, localImage, repo, id)
	if err != nil {
		// Recorded, so the next release gets a new tag (ECR tags are
		// immutable and the push may have created this one).
		return o.failed(rec, "", fmt.Errorf("pushing %s: %w", localImage, err))
	}
	if !ValidDigest(digest) {
		return o.failed(rec, "", fmt.Errorf("pushing %s: the registry reported digest %q, want sha256:<64 hex>", localImage, digest))
	}
	o.say("pushed %s@%s", repo, digest)
	return o.deploy(ctx, cfg, digest, rec)
}
