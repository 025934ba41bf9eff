package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

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
	// They reach the container through an env file only the operator can
	// read, never docker's arguments (visible to every user of the
	// machine) nor the docker client's own environment (app.env's
	// DOCKER_HOST, DOCKER_CONFIG, HOME or PATH would reconfigure the
	// client, and the secrets would sit in it).
	vars := append(r.PR.PreviewAdminEnv(stackconfig.LocalEndpoints),
		stackconfig.EnvVar{Name: stackconfig.SecretDatabasePassword, Value: str(base, dockerinfra.OutputDatabasePassword)},
		stackconfig.EnvVar{Name: stackconfig.SecretRedisPassword, Value: str(base, dockerinfra.OutputRedisPassword)})
	envFile, removeEnvFile, err := writeEnvFile(vars)
	if err != nil {
		return fmt.Errorf("app preview drop: %w", err)
	}
	defer removeEnvFile()
	args = append(args, "--env-file", envFile, image, "preview", "drop")
	r.say("dropping database and user %s and Redis database %d of %s", r.PR.Preview.Database(), r.PR.Preview.Slot, r.Base.Stack)
	_, err = r.x(ctx, call{Name: dockerClient(r.getenv), Args: args, Stream: true})
	if err != nil {
		return fmt.Errorf("app preview drop: %w", err)
	}
	return nil
}

// writeEnvFile writes vars to a file for `docker run --env-file`, 0600 in
// a 0700 directory of its own; remove deletes both. docker reads the file
// one NAME=value a line, the value as it is to the end of the line, and
// refuses a file that is not UTF-8: a value that is not one line of UTF-8
// text (a line break would start another variable, a carriage return at
// the end of a line is dropped) is refused, naming the variable and never
// showing the value, which may be a secret.
func writeEnvFile(vars []stackconfig.EnvVar) (path string, remove func(), err error) {
	var b strings.Builder
	for _, v := range vars {
		if !stackconfig.ValidEnvName(v.Name) {
			return "", nil, fmt.Errorf("env var name %q: allowed names match ^[A-Z_][A-Z0-9_]*$", v.Name)
		}
		problem := ""
		switch {
		case strings.Contains(v.Value, "\n"):
			problem = "has a line break"
		case strings.Contains(v.Value, "\r"):
			problem = "has a carriage return"
		case strings.Contains(v.Value, "\x00"):
			problem = "has a NUL byte"
		case !utf8.ValidString(v.Value):
			problem = "is not UTF-8"
		}
		if problem != "" {
			return "", nil, fmt.Errorf("env var %s: its value %s; allowed a single line of UTF-8 text without NUL bytes (docker's --env-file takes one NAME=value a line)", v.Name, problem)
		}
		b.WriteString(v.Name + "=" + v.Value + "\n")
	}
	dir, err := os.MkdirTemp("", "shipyard-env-")
	if err != nil {
		return "", nil, fmt.Errorf("env file for docker run: %w", err)
	}
	remove = func() { _ = os.RemoveAll(dir) }
	path = filepath.Join(dir, "env")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		remove()
		return "", nil, fmt.Errorf("env file for docker run: %w", err)
	}
	_, err = f.WriteString(b.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		remove()
		return "", nil, fmt.Errorf("env file for docker run: %w", err)
	}
	return path, remove, nil
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
