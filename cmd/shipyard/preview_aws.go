package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	awsinfra "github.com/shipyard-kit/shipyard/infra/aws"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
	"github.com/shipyard-kit/shipyard/internal/release"
)

// The aws target's PR steps (docs/operations.md, "PR environments"): the
// image is built once and pushed by digest to the base stack's repository
// as `make release` does; after `pulumi up` the PR's admin task creates its
// database and user (`app preview create`), the migrate task migrates it,
// and the PR's services start anew and are waited for; before the destroy
// the services stop and the admin task drops the database, the user and
// the Redis database (`app preview drop`). One-off tasks are waited for;
// a failed one reports its exit code, ECS's stopped reason and its last
// log lines.

func init() { previewTargets[stackconfig.TargetAWS] = awsPreviewOps }

func awsPreviewOps() previewOps {
	return previewOps{Image: awsPreviewImage, AfterUp: awsPreviewAfterUp, Drop: awsPreviewDrop}
}

func (r *previewRun) aws() awsCLI { return awsCLI{x: r.x, region: r.Base.AWS.Region} }

// previewImageTag is the tag of PR n's image id (a digest or image ID) in
// the base's repository. ECR tags are immutable: one tag per image.
func previewImageTag(n int, id string) string {
	hex := strings.TrimPrefix(id, "sha256:")
	return awsinfra.PreviewImageTagPrefix + strconv.Itoa(n) + "-" + hex[:min(12, len(hex))]
}

// awsPreviewImage returns the digest the PR runs, in the base stack's
// repository: ref "<repository>@sha256:…" as it is (copied by digest when
// it is in another repository), else the local image ref (default the
// base's AppImage, shipyard-app:local, which `make pr-up` builds) pushed
// once per image.
func awsPreviewImage(ctx context.Context, r *previewRun, ref string) (string, error) {
	base, err := r.pulumi.Outputs(ctx, r.Base.Stack)
	if err != nil {
		return "", err
	}
	repo := base.String(awsinfra.OutputImageRepositoryURL)
	if repo == "" {
		return "", fmt.Errorf("stack %s has no %s output: deploy it first (`make up STACK=%s`)", r.Base.Stack, awsinfra.OutputImageRepositoryURL, r.Base.Stack)
	}
	n := r.PR.Preview.Number
	reg := &registry{x: r.x, region: r.Base.AWS.Region}
	if src, digest, byDigest := strings.Cut(ref, "@"); byDigest {
		if !release.ValidDigest(digest) {
			return "", fmt.Errorf("--image=%s (IMAGE=): allowed a local image or <repository>@sha256:<64 hex digits>", ref)
		}
		if src == repo {
			r.say("running %s, already in %s's repository", ref, r.Base.Stack)
			return digest, reg.Has(ctx, repo, digest)
		}
		r.say("copying %s to %s by digest", ref, repo)
		got, err := reg.Copy(ctx, src, digest, repo, previewImageTag(n, digest))
		if err != nil {
			return "", err
		}
		if got != digest {
			return "", fmt.Errorf("copying %s to %s: the registry reports digest %s", ref, repo, got)
		}
		return digest, nil
	}
	local := ref
	if local == "" {
		local = r.Base.AppImage()
	}
	out, err := r.x(ctx, call{Name: dockerClient(r.getenv), Args: []string{"image", "inspect", "--format", "{{.Id}}", local}})
	if err != nil {
		return "", fmt.Errorf("--image=%s (IMAGE=): not a local image (`make image STACK=%s` builds %s): %w", local, r.Base.Stack, r.Base.AppImage(), err)
	}
	tag := previewImageTag(n, strings.TrimSpace(string(out)))
	if err := reg.login(ctx, repo); err != nil {
		return "", err
	}
	// A tag pushed before holds this very image: the build is pushed once.
	if d, err := reg.digest(ctx, repo+":"+tag); err == nil && release.ValidDigest(d) {
		r.say("%s is already pushed as %s:%s", local, repo, tag)
		return d, nil
	}
	r.say("pushing %s to %s:%s", local, repo, tag)
	digest, err := reg.Push(ctx, local, repo, tag)
	if err != nil {
		return "", fmt.Errorf("pushing %s: %w", local, err)
	}
	if !release.ValidDigest(digest) {
		return "", fmt.Errorf("pushing %s: the registry reported digest %q, want sha256:<64 hex>", local, digest)
	}
	return digest, nil
}

// previewTask runs one of the PR's one-off tasks: the admin task with
// command, or the migrate task when command is "migrate".
func previewTask(ctx context.Context, r *previewRun, out release.Outputs, name string, command ...string) error {
	o := maps.Clone(out)
	if len(command) != 1 || command[0] != "migrate" {
		admin := out.String(awsinfra.OutputAdminTaskDefinitionArn)
		if admin == "" {
			return fmt.Errorf("stack %s has no %s output: deploy it with `make pr-up PR=%d STACK=%s`", r.PR.Stack, awsinfra.OutputAdminTaskDefinitionArn, r.PR.Preview.Number, r.Base.Stack)
		}
		o[awsinfra.OutputMigrateTaskDefinitionArn] = admin
	}
	return runTask(ctx, r.aws(), release.Outputs(o), oneOff{Name: name, Command: command, LogGroup: out.String(awsinfra.OutputAdminLogGroupName)}, r.say)
}

// previewServices returns the cluster and the PR's service names, sorted.
func previewServices(r *previewRun, out release.Outputs) (cluster string, services []string, err error) {
	cluster = out.String(awsinfra.OutputClusterName)
	services = slices.Sorted(maps.Values(out.Map(awsinfra.OutputServiceNames)))
	if cluster == "" || len(services) == 0 {
		return "", nil, fmt.Errorf("stack %s has no %s/%s outputs", r.PR.Stack, awsinfra.OutputClusterName, awsinfra.OutputServiceNames)
	}
	return cluster, services, nil
}

// awsPreviewAfterUp creates the PR's database and user, migrates it, then
// starts the PR's services anew (their first tasks found no database) and
// waits until they are stable.
func awsPreviewAfterUp(ctx context.Context, r *previewRun, out release.Outputs) error {
	since := time.Now()
	r.say("creating database and user %s of PR %d", r.PR.Preview.Database(), r.PR.Preview.Number)
	if err := previewTask(ctx, r, out, "preview-create", "preview", "create"); err != nil {
		return err
	}
	if err := previewTask(ctx, r, out, "migrate", "migrate"); err != nil {
		return err
	}
	cluster, services, err := previewServices(r, out)
	if err != nil {
		return err
	}
	a := r.aws()
	for _, s := range services {
		if err := a.json(ctx, nil, "ecs", "update-service", "--cluster", cluster, "--service", s, "--force-new-deployment"); err != nil {
			return err
		}
	}
	r.say("waiting for %s to be stable", strings.Join(services, ", "))
	got, err := ecsRuntime{aws: a}.Services(ctx, r.PR.Stack, out, since)
	if err != nil {
		return err
	}
	var failed []string
	for _, s := range got {
		if s.Failure != "" || s.RolloutState != "COMPLETED" {
			failed = append(failed, fmt.Sprintf("%s (%s): %s", s.Name, s.RolloutState, s.Failure))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("PR %d's services did not become stable: %s; see `make logs STACK=%s`", r.PR.Preview.Number, strings.Join(failed, "; "), r.PR.Stack)
	}
	return nil
}

// awsPreviewDrop stops the PR's services (so nothing writes to its Redis
// database or holds its database any more), then drops its database, user
// and Redis database with the admin task.
func awsPreviewDrop(ctx context.Context, r *previewRun, out release.Outputs) error {
	if out.String(awsinfra.OutputAdminTaskDefinitionArn) == "" {
		r.say("stack %s has no %s output (its first deploy failed before creating it): no database of PR %d was created", r.PR.Stack, awsinfra.OutputAdminTaskDefinitionArn, r.PR.Preview.Number)
		return nil
	}
	cluster, services, err := previewServices(r, out)
	if err != nil {
		return err
	}
	a := r.aws()
	r.say("stopping %s", strings.Join(services, ", "))
	for _, s := range services {
		if err := a.json(ctx, nil, "ecs", "update-service", "--cluster", cluster, "--service", s, "--desired-count", "0"); err != nil {
			return err
		}
	}
	if err := a.json(ctx, nil, append([]string{"ecs", "wait", "services-stable", "--cluster", cluster, "--services"}, services...)...); err != nil {
		return fmt.Errorf("waiting for the PR's services to stop: %w", err)
	}
	r.say("dropping database and user %s and Redis database %d of %s", r.PR.Preview.Database(), r.PR.Preview.Slot, r.Base.Stack)
	return previewTask(ctx, r, out, "preview-drop", "preview", "drop")
}
