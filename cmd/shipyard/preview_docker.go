package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	dockerinfra "github.com/shipyard-kit/shipyard/infra/docker"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
	"github.com/shipyard-kit/shipyard/internal/release"
)

// dockerPreviewOps are the docker target's PR steps: the program itself
// runs `preview create` and the migration before the PR's processes, so
// only the image and the drop are the CLI's.
func dockerPreviewOps() previewOps {
	return previewOps{Image: dockerPreviewImage, Drop: dockerPreviewDrop}
}

// dockerPreviewImage resolves --image (a local image's name or ID) to its
// image ID; without it the program runs what `make image` built.
func dockerPreviewImage(ctx context.Context, r *previewRun, ref string) (string, error) {
	if ref == "" {
		return "", nil
	}
	out, err := r.x(ctx, call{Name: dockerClient(r.getenv), Args: []string{"image", "inspect", "--format", "{{.Id}}", ref}})
	if err != nil {
		return "", fmt.Errorf("--image=%s (IMAGE=): not a local image: %w", ref, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// dockerPreviewDrop runs `app preview drop` as a one-off container on the
// base stack's network, as the base's database admin, with the PR's Redis
// database: the same env the program gives `preview create`.
func dockerPreviewDrop(ctx context.Context, r *previewRun, prOut release.Outputs) error {
	base, err := r.secretOutputs(ctx, r.Base.Stack)
	if err != nil {
		return err
	}
	if len(base) == 0 {
		r.say("base stack %s is not up: its Postgres and Redis, and the PR's data in them, are not running; nothing to drop", r.Base.Stack)
		return nil
	}
	if r.PR.Preview.Slot == 0 {
		return fmt.Errorf("stack %s has no slot (no %s output or %s config): its Redis database is unknown", r.PR.Stack, OutputPreviewSlot, previewSlotConfigKey)
	}
	str := func(o release.Outputs, k string) string { s, _ := o[k].(string); return s }
	image := str(prOut, "imageDigest")
	if image == "" {
		image = str(base, "imageDigest")
	}
	network, caVolume := str(base, dockerinfra.OutputNetworkName), str(base, dockerinfra.OutputDatabaseCAVolume)
	if image == "" || network == "" || caVolume == "" {
		return fmt.Errorf("base stack %s lacks the outputs imageDigest, %s or %s: run `make up STACK=%s` first", r.Base.Stack, dockerinfra.OutputNetworkName, dockerinfra.OutputDatabaseCAVolume, r.Base.Stack)
	}
	args := []string{"run", "--rm", "--name", dockerinfra.NamesFor(r.PR.Stack).Container("preview-drop"),
		"--network", network, "--user", dockerinfra.AppUser, "--read-only", "--tmpfs", "/tmp",
		"--volume", caVolume + ":" + dockerinfra.DatabaseCADir + ":ro",
		"--label", dockerinfra.StackLabel + "=" + r.PR.Stack}
	// The env of the program's `preview create` and of aws's admin task
	// (stackconfig's PreviewAdminEnv), with the secrets drop needs as plain
	// env: the base admin's password and Redis's, from the base's outputs.
	var vars []string
	for _, v := range r.PR.PreviewAdminEnv(stackconfig.LocalEndpoints) {
		vars = append(vars, v.Name+"="+v.Value)
	}
	vars = append(vars, stackconfig.SecretDatabasePassword+"="+str(base, dockerinfra.OutputDatabasePassword), stackconfig.SecretRedisPassword+"="+str(base, dockerinfra.OutputRedisPassword))
	for _, v := range vars {
		// The values reach docker through its environment, never its
		// arguments (visible to every user of the machine).
		name, _, _ := strings.Cut(v, "=")
		args = append(args, "--env", name)
	}
	args = append(args, image, "preview", "drop")
	r.say("dropping database and user %s and Redis database %d of %s", r.PR.Preview.Database(), r.PR.Preview.Slot, r.Base.Stack)
	_, err = r.x(ctx, call{Name: dockerClient(r.getenv), Args: args, Env: vars, Stream: true})
	if err != nil {
		return fmt.Errorf("app preview drop: %w", err)
	}
	return nil
}

// secretOutputs returns a stack's outputs with their secret values (none
// when it does not exist).
func (r *previewRun) secretOutputs(ctx context.Context, stack string) (release.Outputs, error) {
	out, err := r.pulumi.run(ctx, stack, false, "stack", "output", "--json", "--show-secrets")
	if err != nil {
		if strings.Contains(err.Error(), "no stack named") {
			return release.Outputs{}, nil
		}
		return nil, err
	}
	o := release.Outputs{}
	if s := strings.TrimSpace(string(out)); s != "" {
		if err := json.Unmarshal(out, &o); err != nil {
			return nil, fmt.Errorf("pulumi stack output %s: %w", stack, err)
		}
	}
	return o, nil
}
