package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
	"github.com/shipyard-kit/shipyard/internal/cliflag"
	"github.com/shipyard-kit/shipyard/internal/preflight"
	"github.com/shipyard-kit/shipyard/internal/release"
)

// migrationsPath is where the app's embedded goose migrations live.
const migrationsPath = "app/internal/db/migrations"

// newOps wires release.Ops to the real CLIs for the stacks in region.
func newOps(ctx context.Context, e env, pr project, x execer, region string) (*release.Ops, error) {
	commit, dirty, err := gitState(ctx, x, pr.root)
	if err != nil {
		return nil, err
	}
	threshold, err := migrationThreshold(e.getenv)
	if err != nil {
		return nil, err
	}
	return &release.Ops{
		ConfigDir:          pr.configDir,
		LedgerDir:          filepath.Join(pr.root, "releases"),
		MigrationsDir:      filepath.Join(pr.root, filepath.FromSlash(migrationsPath)),
		Pulumi:             guardedPulumi{pulumiCLI: pr.pulumi(x, e.getenv)},
		Registry:           &registry{x: x, region: region},
		Health:             newHTTPHealth(),
		Runtime:            ecsRuntime{aws: awsCLI{x: x, region: region}},
		Backups:            rdsBackups{aws: awsCLI{x: x, region: region}},
		CodeDeploy:         codeDeployCLI{aws: awsCLI{x: x, region: region}},
		CloudWatch:         gateAlarmsCLI{aws: awsCLI{x: x, region: region}, now: time.Now},
		Timer:              newAppTimer(x, pr.root, e.getenv),
		MigrationThreshold: threshold,
		ImageSupported:     imageSupported(x, pr.root, e.stderr),
		Commit:             commit,
		Dirty:              dirty,
		CommittedConfig:    committedConfig(x, pr.configDir),
		Actor:              actor(e.getenv),
		Out:                e.stdout,
	}, nil
}

// imageFiles are the files this checkout's infrastructure needs in the app
// image: the aws task definitions' DATABASE_URL names, as sslrootcert, the
// RDS CA bundle the Dockerfile copies from here
// (stackconfig.RDSCABundlePath).
var imageFiles = []string{"app/internal/db/rdsca/global-bundle.pem"}

// imageSupported tells from git whether an image built from commit has
// every file in imageFiles: an image built before they existed would fail
// at start with this checkout's task definitions. A shallow clone that
// lacks the commit cannot tell, and says how to fetch it
// (release.ErrImageUnchecked): a checkout without history is fixed by
// fetching it. A full clone without the commit (built from a commit never
// pushed, or not fetched yet) or a release that records none cannot tell
// either: that is allowed, with a warning on warn (the ECS circuit breaker
// still rolls a failing deployment back).
func imageSupported(x execer, root string, warn io.Writer) func(context.Context, string) error {
	return func(ctx context.Context, commit string) error {
		files := strings.Join(imageFiles, ", ")
		if commit == "" {
			fmt.Fprintf(warn, "warning: the release records no image commit, so whether its image has %s cannot be checked; deploying it anyway (the ECS circuit breaker rolls back tasks that fail to start)\n", files)
			return nil
		}
		if _, err := x(ctx, call{Name: "git", Args: []string{"-C", root, "cat-file", "-e", commit + "^{commit}"}}); err != nil {
			if out, err := x(ctx, call{Name: "git", Args: []string{"-C", root, "rev-parse", "--is-shallow-repository"}}); err == nil && strings.TrimSpace(string(out)) == "true" {
				return fmt.Errorf("%w: the image's commit %s is not in this clone, which is shallow, so whether the image has %s cannot be checked; fetch the history (`git fetch --unshallow`; in a workflow, actions/checkout with fetch-depth: 0) and retry", release.ErrImageUnchecked, commit, files)
			}
			fmt.Fprintf(warn, "warning: the image's commit %s is not in this clone (built from a commit never pushed, or not fetched: git fetch), so whether the image has %s cannot be checked; deploying it anyway (the ECS circuit breaker rolls back tasks that fail to start)\n", commit, files)
			return nil
		}
		for _, f := range imageFiles {
			if _, err := x(ctx, call{Name: "git", Args: []string{"-C", root, "cat-file", "-e", commit + ":" + f}}); err != nil {
				return fmt.Errorf("commit %s has no %s, which the task definitions of this checkout name in the image (DATABASE_URL sslrootcert); deploy a release built from a later commit", commit, f)
			}
		}
		return nil
	}
}

// gitState returns HEAD and whether the tree has changes outside config/
// and releases/ (which releases themselves write).
func gitState(ctx context.Context, x execer, root string) (string, bool, error) {
	out, err := x(ctx, call{Name: "git", Args: []string{"-C", root, "rev-parse", "HEAD"}})
	if err != nil {
		return "", false, fmt.Errorf("reading the git commit: %w", err)
	}
	status, err := x(ctx, call{Name: "git", Args: []string{"-C", root, "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)config", ":(exclude)releases"}})
	if err != nil {
		return "", false, fmt.Errorf("reading the git status: %w", err)
	}
	return strings.TrimSpace(string(out)), strings.TrimSpace(string(status)) != "", nil
}

// committedConfig reads config/<stack>.json as the HEAD commit has it
// (`git show HEAD:./<stack>.json` in the config directory).
func committedConfig(x execer, configDir string) func(context.Context, string) ([]byte, error) {
	return func(ctx context.Context, stack string) ([]byte, error) {
		return x(ctx, call{Name: "git", Args: []string{"-C", configDir, "show", "HEAD:./" + stack + ".json"}})
	}
}

// actor names who runs a deployment: the GitHub Actions run, or user@host.
func actor(getenv func(string) string) string {
	if a := getenv("GITHUB_ACTOR"); a != "" {
		return fmt.Sprintf("github:%s %s/%s/actions/runs/%s", a, getenv("GITHUB_SERVER_URL"), getenv("GITHUB_REPOSITORY"), getenv("GITHUB_RUN_ID"))
	}
	user := getenv("USER")
	if user == "" {
		user = "unknown"
	}
	h, err := os.Hostname()
	if err != nil {
		h = "unknown-host"
	}
	return user + "@" + h
}

// regionOf returns the AWS region of an aws stack.
func regionOf(pr project, stack string) (string, error) {
	cfg, err := stackconfig.Load(pr.configDir, stack)
	if err != nil {
		return "", err
	}
	if cfg.Target != stackconfig.TargetAWS {
		return "", fmt.Errorf("stack %q has target %q; this command needs target %q", stack, cfg.Target, stackconfig.TargetAWS)
	}
	return cfg.AWS.Region, nil
}

// opsFor builds the release operations of the project around the working
// directory, for an aws stack (its region comes from config/<stack>.json).
func opsFor(ctx context.Context, e env, stack string) (*release.Ops, error) {
	pr, err := findProject(e)
	if err != nil {
		return nil, err
	}
	region, err := regionOf(pr, stack)
	if err != nil {
		return nil, err
	}
	return newOps(ctx, e, pr, osExec(e.stdout, e.stderr), region)
}

// cmdRelease pushes the locally built image (--image, default the one
// `make image` builds for the stack: stackconfig's AppImage) to the stack's
// repository and deploys it by digest; on a docker stack it releases that
// local image by deploy.strategy.
func cmdRelease(ctx context.Context, e env) error {
	image, set, args := cliflag.Cut(e.args, "image")
	e.args = args
	stack, err := stackArg(e, "release STACK [--image=REF]")
	if err != nil {
		return err
	}
	pr, err := findProject(e)
	if err != nil {
		return err
	}
	cfg, err := stackconfig.Load(pr.configDir, stack)
	if !set {
		if err != nil {
			return err
		}
		image = cfg.AppImage()
	}
	if err == nil && cfg.Target == stackconfig.TargetDocker {
		// Any local image, by the stack's deploy.strategy; the image need
		// not be built from this checkout, so its migrations are not linted
		// here (the N-1 gate and `make lint` are for the checkout's).
		_, err := newLocalOps(ctx, e, pr, osExec(e.stdout, e.stderr)).ReleaseLocal(ctx, stack, image)
		return err
	}
	if err := lintBeforeDeploy(e, "release"); err != nil {
		return err
	}
	ops, err := opsFor(ctx, e, stack)
	if err != nil {
		return err
	}
	_, err = ops.Release(ctx, stack, image)
	return err
}

// cmdPromote deploys FROM's release to TO by digest.
func cmdPromote(ctx context.Context, e env) error {
	if len(e.args) != 2 {
		return errors.New("usage: shipyard promote FROM TO")
	}
	from, to := e.args[0], e.args[1]
	pr, err := findProject(e)
	if err != nil {
		return err
	}
	if err := preflight.CheckPromote(pr.configDir, from, to); err != nil {
		return err
	}
	// The checkout's migrations: promote requires a clean checkout, and
	// the image it promotes was built from an earlier commit of it.
	if err := lintBeforeDeploy(e, "promote"); err != nil {
		return err
	}
	ops, err := opsFor(ctx, e, to)
	if err != nil {
		return err
	}
	_, err = ops.Promote(ctx, from, to)
	return err
}

// cmdRollback re-deploys the previous (or the named) release of a stack.
func cmdRollback(ctx context.Context, e env) error {
	if len(e.args) < 1 || len(e.args) > 2 || e.args[0] == "" {
		return errors.New("usage: shipyard rollback STACK [RELEASE]")
	}
	stack, id := e.args[0], ""
	if len(e.args) == 2 {
		id = e.args[1]
	}
	ops, err := opsFor(ctx, e, stack)
	if err != nil {
		return err
	}
	_, err = ops.Rollback(ctx, stack, id)
	return err
}

// cmdLedger prints a stack's release ledger, or checks every ledger.
func cmdLedger(_ context.Context, e env) error {
	verify, args, err := cliflag.Bool(e.args, "verify")
	if err != nil {
		return err
	}
	if verify && len(args) != 0 || !verify && len(args) != 1 {
		return errors.New("usage: shipyard ledger STACK|--verify")
	}
	e.args = args
	pr, err := findProject(e)
	if err != nil {
		return err
	}
	l := release.Ledger{Dir: filepath.Join(pr.root, "releases")}
	if verify {
		return verifyLedgers(e, l)
	}
	recs, err := l.Read(e.args[0])
	if errors.Is(err, release.ErrNoLedger) {
		// A stack that exists but was never released has an empty ledger.
		if _, err := stackconfig.Load(pr.configDir, e.args[0]); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "stack %s has no releases yet: its first `make release STACK=%s` (or `make promote … TO=%s`) starts releases/%s.jsonl\n", e.args[0], e.args[0], e.args[0], e.args[0])
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprint(e.stdout, release.Table(recs))
	return nil
}

// verifyLedgers checks that every ledger parses, that its ids count up
// from 1 and that each record names its own stack.
func verifyLedgers(e env, l release.Ledger) error {
	files, err := filepath.Glob(filepath.Join(l.Dir, "*.jsonl"))
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range files {
		stack := strings.TrimSuffix(filepath.Base(f), ".jsonl")
		recs, err := l.Read(stack)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for i, r := range recs {
			want := fmt.Sprintf("%s-%04d", stack, i+1)
			if r.ID != want || r.Stack != stack {
				errs = append(errs, fmt.Errorf("%s line %d: id %q stack %q, want id %q stack %q", f, i+1, r.ID, r.Stack, want, stack))
			}
		}
		fmt.Fprintf(e.stdout, "%s: %d records\n", f, len(recs))
	}
	return errors.Join(errs...)
}
