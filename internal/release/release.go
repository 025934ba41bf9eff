// Package release builds once, promotes and rolls back: it deploys an image
// to a stack by digest, writes that digest into config/<stack>.json (the
// single source of truth), checks that the running services really use it,
// and records every deployment in an append-only ledger (releases/).
//
// Every external effect (the Pulumi CLI, the image registry, the health
// endpoint, the ECS API) sits behind a small interface; cmd/shipyard wires
// real implementations and the tests use fakes.
package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// Refusals and failures, for errors.Is. Each error also says, in words,
// what was wrong and what to do.
var (
	ErrNoRelease     = errors.New("no release")
	ErrUnhealthy     = errors.New("unhealthy")
	ErrInvalidConfig = errors.New("invalid stack config")
	ErrWrongTarget   = errors.New("wrong target")
	ErrNotDeployed   = errors.New("stack not deployed")
	ErrDigestCopy    = errors.New("digest copy mismatch")
	ErrNotRunning    = errors.New("services do not run the release")
	// ErrAlarmRollback: deployment alarms went into ALARM during the
	// update's ECS deployment, which ECS then failed (and rolled back).
	ErrAlarmRollback = errors.New("deployment alarms failed the deployment")
	ErrNoPrevious    = errors.New("no previous release")
	ErrDirtyTree     = errors.New("uncommitted changes")
)

// Outputs are a stack's Pulumi outputs (`pulumi stack output --json`).
type Outputs map[string]any

// String returns a string output, or "".
func (o Outputs) String(key string) string {
	s, _ := o[key].(string)
	return s
}

// Map returns a map-of-strings output (e.g. serviceNames), or nil.
func (o Outputs) Map(key string) map[string]string {
	m, ok := o[key].(map[string]any)
	if !ok {
		if sm, ok := o[key].(map[string]string); ok {
			return sm
		}
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// Pulumi runs the Pulumi CLI against a stack of the project.
type Pulumi interface {
	// Outputs returns the stack's outputs; a stack never deployed has none.
	Outputs(ctx context.Context, stack string) (Outputs, error)
	// Preview shows the operator the diff an update would apply.
	Preview(ctx context.Context, stack string) error
	// Up applies the stack.
	Up(ctx context.Context, stack string) error
}

// Registry moves images between repositories by digest.
type Registry interface {
	// Push pushes a local image to repo:tag and returns the digest the
	// registry stored it under.
	Push(ctx context.Context, localImage, repo, tag string) (string, error)
	// Copy copies srcRepo@digest to dstRepo:tag as is (same manifest, no
	// rebuild) and returns the digest the destination registry reports
	// for dstRepo:tag.
	Copy(ctx context.Context, srcRepo, digest, dstRepo, tag string) (string, error)
	// Has returns nil when repo holds an image with that digest.
	Has(ctx context.Context, repo, digest string) error
}

// Health probes a deployed stack.
type Health interface {
	// Ready returns nil when GET url answers 200.
	Ready(ctx context.Context, url string) error
}

// Service is what the runtime reports about one ECS service.
type Service struct {
	// Process is the process type (web, worker, clock).
	Process string
	Name    string
	// TaskDefinition is the task definition ARN of the PRIMARY deployment.
	TaskDefinition string
	// RolloutState is the PRIMARY deployment's ECS rollout state
	// (COMPLETED, IN_PROGRESS, FAILED).
	RolloutState string
	// Deployments is how many deployments the service has (1 when stable).
	Deployments int
	// Images are the container images of the PRIMARY task definition.
	Images []string
	// Failure is what ECS says about a deployment of this update that
	// failed or was rolled back (rolloutStateReason, the service
	// deployment's status and rollback reason); empty when none did.
	Failure string
	// Alarms are the deployment alarms whose ALARM state failed this
	// update's deployment (and, with rollback on, rolled it back), sorted.
	Alarms []string
}

// Runtime reports what a deployed stack's services run.
type Runtime interface {
	// Services waits for the stack's services to settle and describes
	// each one named in outputs["serviceNames"]; since is when the update
	// started, for finding the deployments it created.
	Services(ctx context.Context, stack string, out Outputs, since time.Time) ([]Service, error)
}

// Backups takes manual snapshots of a stack's database.
type Backups interface {
	// Snapshot creates snapshot id of RDS instance and waits until it is
	// available.
	Snapshot(ctx context.Context, instance, id string) error
}

// MigrationTimer measures the migrations a release applies on a
// throwaway database with realistic data (`app migrate --report`).
type MigrationTimer interface {
	// Measure applies the migrations up to from unmeasured, loads the
	// data, and measures each later one. skipped, when non-empty, says
	// why nothing was measured (no timing database configured).
	Measure(ctx context.Context, from int64) (report *MigrationTiming, skipped string, err error)
}

// DefaultMigrationThreshold is the duration above which a migration's
// measured time is a warning.
const DefaultMigrationThreshold = 5 * time.Second

// ErrSnapshot is a failed pre-migration snapshot: nothing was deployed.
var ErrSnapshot = errors.New("pre-migration snapshot failed")

// ErrImageUnsupported is returned, before anything is deployed, when the
// image of the release to promote or roll back to cannot run with this
// checkout's infrastructure code (Ops.ImageSupported).
var ErrImageUnsupported = errors.New("image unsupported by this checkout")

// Ops deploys releases. Its fields are the repository's layout and the
// external effects.
type Ops struct {
	// ConfigDir holds config/<stack>.json; LedgerDir the ledgers;
	// MigrationsDir the app's embedded SQL migrations.
	ConfigDir, LedgerDir, MigrationsDir string

	Pulumi   Pulumi
	Registry Registry
	Health   Health
	Runtime  Runtime
	// Backups snapshots the database before a deployment that changes
	// the migration version.
	Backups Backups
	// Timer measures a release's migrations (nil: not measured); a
	// migration slower than MigrationThreshold (default
	// DefaultMigrationThreshold) is a warning.
	Timer              MigrationTimer
	MigrationThreshold time.Duration

	// ImageSupported, when set, says why an image built from commit
	// cannot run with this checkout's infrastructure code (for example a
	// file the task definitions name that the image lacks), or nil when it
	// can or cannot be told. Promote and Rollback refuse such a release
	// before they deploy anything.
	ImageSupported func(ctx context.Context, commit string) error

	// Commit is the checkout's git HEAD and Dirty whether it has
	// uncommitted changes outside config/ and releases/.
	Commit string
	Dirty  bool
	// Actor is who runs this (recorded).
	Actor string
	Now   func() time.Time
	// Out receives progress for the operator.
	Out io.Writer
}

func (o *Ops) ledger() Ledger { return Ledger{Dir: o.LedgerDir} }

func (o *Ops) say(format string, args ...any) {
	if o.Out != nil {
		fmt.Fprintf(o.Out, "==> "+format+"\n", args...)
	}
}

func (o *Ops) now() time.Time {
	if o.Now != nil {
		return o.Now().UTC()
	}
	return time.Now().UTC()
}

// loadAWS loads and validates a stack's config and requires target aws.
func (o *Ops) loadAWS(stack, role string) (*stackconfig.Config, error) {
	cfg, err := stackconfig.Load(o.ConfigDir, stack)
	if err != nil {
		return nil, fmt.Errorf("%w: %s stack %q: %w (fix it, then run `make validate`)", ErrInvalidConfig, role, stack, err)
	}
	if cfg.Target != stackconfig.TargetAWS {
		return nil, fmt.Errorf("%w: %s stack %q has target %q; releases, promotions and rollbacks need target %q (the docker stack runs the locally built image: `make up`)",
			ErrWrongTarget, role, stack, cfg.Target, stackconfig.TargetAWS)
	}
	return cfg, nil
}

// deployedOutputs returns a stack's outputs, requiring the ones a
// deployment needs (its repository, at least).
func (o *Ops) deployedOutputs(ctx context.Context, stack string) (Outputs, error) {
	out, err := o.Pulumi.Outputs(ctx, stack)
	if err != nil {
		return nil, fmt.Errorf("reading outputs of stack %q: %w", stack, err)
	}
	if out.String("imageRepositoryUrl") == "" {
		return nil, fmt.Errorf("%w: stack %q has no imageRepositoryUrl output: it was never deployed; run `make up STACK=%s` first to create its ECR repository", ErrNotDeployed, stack, stack)
	}
	return out, nil
}

// clean refuses a checkout with uncommitted changes (outside config/ and
// releases/, which deployments write): what is deployed must be a commit.
func (o *Ops) clean(why string) error {
	if o.Dirty {
		return fmt.Errorf("%w: the checkout has uncommitted changes (%s); commit or stash them first", ErrDirtyTree, why)
	}
	if o.Commit == "" {
		return errors.New("the git commit is unknown; run from a git checkout")
	}
	return nil
}

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

// imageSupported applies ImageSupported to the image of release r.
func (o *Ops) imageSupported(ctx context.Context, r Record) error {
	if o.ImageSupported == nil {
		return nil
	}
	if err := o.ImageSupported(ctx, r.ImageCommit); err != nil {
		return fmt.Errorf("%w: release %s (image built from %s) cannot run with this checkout's infrastructure: %w",
			ErrImageUnsupported, r.ID, orNone(r.ImageCommit), err)
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// deploy writes digest into config/<stack>.json, previews, applies and
// verifies, and appends the outcome to the ledger. On failure the config
// file gets its previous contents back, so it keeps describing what runs.
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
	restore := func(cause error) (Record, error) {
		if werr := writeFile(path, orig); werr != nil {
			cause = errors.Join(cause, fmt.Errorf("restoring %s: %w", path, werr))
		} else {
			cause = fmt.Errorf("%w (%s restored to its previous digest %s)", cause, path, orNone(cfg.Release.ImageDigest))
		}
		return o.failed(rec, digest, cause)
	}
	if err := writeFile(path, updated); err != nil {
		return o.failed(rec, digest, fmt.Errorf("writing %s: %w", path, err))
	}
	if _, err := stackconfig.Load(o.ConfigDir, stack); err != nil {
		return restore(fmt.Errorf("%w: %w", ErrInvalidConfig, err))
	}
	sum := sha256.Sum256(updated)
	rec.ConfigSHA256 = hex.EncodeToString(sum[:])
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
	o.say("verifying that the services of stack %s run %s", stack, digest)
	if alarms, err := o.verify(ctx, stack, digest, started); err != nil {
		rec.Alarms = alarms
		return restore(err)
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

// measureMigrations times the migrations newer than the stack's current
// version. It never fails the release: what went wrong is in the record's
// migrationTiming.skipped and said to the operator.
func (o *Ops) measureMigrations(ctx context.Context, cfg *stackconfig.Config, version int64) *MigrationTiming {
	threshold := o.MigrationThreshold
	if threshold <= 0 {
		threshold = DefaultMigrationThreshold
	}
	t := &MigrationTiming{ThresholdMillis: threshold.Milliseconds()}
	var from int64
	if cfg.Release.ImageDigest != "" {
		recs, _ := o.ledger().Read(cfg.Stack)
		if r, ok := LatestSucceeded(recs, cfg.Release.ImageDigest); ok {
			from = r.MigrationVersion
		}
	}
	if from >= version {
		t.Skipped = fmt.Sprintf("no migration newer than version %d, which the stack runs", from)
		return t
	}
	if o.Timer == nil {
		t.Skipped = "no migration timer configured"
		o.say("WARNING: migrations not timed: %s", t.Skipped)
		return t
	}
	o.say("timing migrations %d..%d on a throwaway database with the large seed", from+1, version)
	report, skipped, err := o.Timer.Measure(ctx, from)
	switch {
	case err != nil:
		t.Skipped = "measurement failed: " + err.Error()
	case skipped != "":
		t.Skipped = skipped
	case report == nil:
		t.Skipped = "the measurement returned no report"
	}
	if t.Skipped != "" {
		o.say("WARNING: migrations not timed: %s", t.Skipped)
		return t
	}
	t.SeedNotes, t.Migrations = report.SeedNotes, report.Migrations
	for _, m := range t.Migrations {
		d := time.Duration(m.DurationMS) * time.Millisecond
		o.say("migration %d (%s): %s, locks: %s", m.Version, m.Source, d, orNone(strings.Join(m.Locks, ", ")))
		if d > threshold {
			w := fmt.Sprintf("migration %d (%s) took %s on %d notes, above the %s threshold; locks: %s", m.Version, m.Source, d, t.SeedNotes, threshold, orNone(strings.Join(m.Locks, ", ")))
			t.Warnings = append(t.Warnings, w)
			o.say("WARNING: %s: the previous release's requests wait on these locks during the deploy (docs/operations.md, writing a safe migration)", w)
		}
	}
	return t
}

// snapshotBeforeMigration takes a manual snapshot of the stack's database
// when the deployment changes its migration version: the version of the
// release the stack runs now (the ledger's newest succeeded record of the
// digest in config/<stack>.json) differs from rec's. A stack that runs no
// release yet has no data to keep; one that runs a digest the ledger does
// not know gets a snapshot (its version is unknown). It returns the
// snapshot id ("" when none was needed).
func (o *Ops) snapshotBeforeMigration(ctx context.Context, cfg *stackconfig.Config, rec Record) (string, error) {
	current := cfg.Release.ImageDigest
	if current == "" {
		return "", nil
	}
	recs, err := o.ledger().Read(cfg.Stack)
	if err != nil && !errors.Is(err, ErrNoLedger) {
		return "", err
	}
	was := "unknown"
	if r, ok := LatestSucceeded(recs, current); ok {
		if r.MigrationVersion == rec.MigrationVersion {
			return "", nil
		}
		was = strconv.FormatInt(r.MigrationVersion, 10)
	}
	out, err := o.Pulumi.Outputs(ctx, cfg.Stack)
	if err != nil {
		return "", fmt.Errorf("%w: reading outputs of stack %q: %w", ErrSnapshot, cfg.Stack, err)
	}
	instance := out.String("databaseInstanceId")
	if instance == "" {
		return "", fmt.Errorf("%w: stack %q has no databaseInstanceId output; run `make up STACK=%s` first (the migration version changes from %s to %d, so the database is snapshotted first)",
			ErrSnapshot, cfg.Stack, cfg.Stack, was, rec.MigrationVersion)
	}
	if o.Backups == nil {
		return "", fmt.Errorf("%w: no snapshot client configured", ErrSnapshot)
	}
	id := SnapshotID(instance, rec.ID, rec.MigrationVersion)
	o.say("migration version %s -> %d: snapshotting %s as %s (aws rds create-db-snapshot; waits until available)", was, rec.MigrationVersion, instance, id)
	if err := o.Backups.Snapshot(ctx, instance, id); err != nil {
		return id, fmt.Errorf("%w: %s of %s: %w; nothing was deployed", ErrSnapshot, id, instance, err)
	}
	o.say("snapshot %s available", id)
	return id, nil
}

// SnapshotID names the pre-migration snapshot of a deployment:
// "<instance>-<record id>-m<version>", reduced to what RDS accepts
// (letters, digits and single hyphens, starting with a letter).
func SnapshotID(instance, recordID string, version int64) string {
	raw := fmt.Sprintf("%s-%s-m%d", instance, recordID, version)
	var b strings.Builder
	for _, r := range strings.ToLower(raw) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
			b.WriteByte('-')
		}
	}
	id := strings.Trim(b.String(), "-")
	if id == "" || id[0] < 'a' || id[0] > 'z' {
		id = "s-" + id
	}
	if len(id) > 255 {
		id = strings.TrimRight(id[:255], "-")
	}
	return id
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
	for _, s := range services {
		seen[s.Process] = true
		want := taskDefs[s.Process]
		alarms = append(alarms, s.Alarms...)
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
		return nil, fmt.Errorf("%w: stack %q:\n  %s", ErrNotRunning, stack, strings.Join(problems, "\n  "))
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

// writeFile replaces path's contents atomically, keeping its mode.
func writeFile(path string, data []byte) error {
	mode := os.FileMode(0o644)
	if info, err := os.Stat(path); err == nil {
		mode = info.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), mode); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// MigrationVersion returns the highest version among the goose migration
// files in dir ("00042_add_index.sql" is 42).
func MigrationVersion(dir string) (int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("reading migrations: %w", err)
	}
	var max int64 = -1
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || filepath.Ext(name) != ".sql" {
			continue
		}
		digits := name
		if i := strings.IndexFunc(name, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
			digits = name[:i]
		}
		v, err := strconv.ParseInt(digits, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("migration %s: the name must start with its version number (goose: 00001_init.sql)", filepath.Join(dir, name))
		}
		if v > max {
			max = v
		}
	}
	if max < 0 {
		return 0, fmt.Errorf("no *.sql migrations in %s", dir)
	}
	return max, nil
}
