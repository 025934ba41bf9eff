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
	"errors"
	"fmt"
	"io"
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
	// ErrStaleConfig: config/<stack>.json's release.imageDigest is not
	// the digest the stack runs (its imageDigest output).
	ErrStaleConfig = errors.New("config does not match the deployed stack")
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
	// StoppedTask says why a task of taskDefinition in the process type's
	// service stopped: for one stopped task, ECS's stopped reason, its
	// containers' exit codes and reasons, and the last 20 log lines of its
	// failed container; "" when none stopped.
	StoppedTask(ctx context.Context, out Outputs, process, taskDefinition string) (string, error)
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

// ErrImageUnchecked is returned, before anything is deployed, when
// whether the image of the release to promote or roll back to can run with
// this checkout cannot be checked for a reason the operator can fix (a
// shallow clone without the image's commit): Ops.ImageSupported says how.
var ErrImageUnchecked = errors.New("image support unchecked")

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
	// Local drives a docker stack's release (ReleaseLocal).
	Local LocalStack
	// CodeDeploy deploys a CODE_DEPLOY-controlled web service, and
	// CloudWatch reads its gates meanwhile.
	CodeDeploy CodeDeploy
	CloudWatch GateAlarms
	// Timer measures a release's migrations (nil: not measured); a
	// migration slower than MigrationThreshold (default
	// DefaultMigrationThreshold) is a warning.
	Timer              MigrationTimer
	MigrationThreshold time.Duration

	// ImageSupported, when set, says why an image built from commit
	// cannot run with this checkout's infrastructure code (for example a
	// file the task definitions name that the image lacks), or, wrapping
	// ErrImageUnchecked, why that cannot be checked until the operator
	// fixes the checkout; nil when it can run or cannot be told at all
	// (it warns then). Promote and Rollback refuse a release it returns an
	// error for before they deploy anything.
	ImageSupported func(ctx context.Context, commit string) error

	// Commit is the checkout's git HEAD and Dirty whether it has
	// uncommitted changes outside config/ and releases/.
	Commit string
	Dirty  bool
	// CommittedConfig, when set, returns config/<stack>.json as the HEAD
	// commit has it: a rollback refuses uncommitted changes of the file
	// other than release.imageDigest (which deployments write), since it
	// would deploy them with the old image.
	CommittedConfig func(ctx context.Context, stack string) ([]byte, error)
	// Actor is who runs this (recorded).
	Actor string
	Now   func() time.Time
	// Sleep waits between gate readings (nil: the real clock).
	Sleep func(ctx context.Context, d time.Duration) error
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

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
