package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
	"github.com/shipyard-kit/shipyard/internal/preflight"
	"github.com/shipyard-kit/shipyard/internal/release"
)

// bootstrapDir is the bootstrap project (bootstrap/Pulumi.yaml).
const bootstrapDir = "bootstrap"

// bootstrapOutputs are the bootstrap program's stack outputs.
type bootstrapOutputs struct {
	StateBucket     string            `json:"stateBucket"`
	BackendURL      string            `json:"backendUrl"`
	SecretsProvider string            `json:"secretsProvider"`
	PreviewRoleArn  string            `json:"previewRoleArn"`
	DeployRoleArns  map[string]string `json:"deployRoleArns"`
}

// cmdBootstrap runs the bootstrap program for the account and region of
// an aws stack (its stack is named after the region), moves the
// bootstrap's own state into the bucket it created the first time, and
// writes the "bootstrap" section of every aws stack of the region.
func cmdBootstrap(ctx context.Context, e env) error {
	pr, cfg, err := loadStackArg(e, "bootstrap STACK")
	if err != nil {
		return err
	}
	if cfg.Target != stackconfig.TargetAWS {
		return fmt.Errorf("bootstrap is for aws stacks; stack %q has target %q", cfg.Stack, cfg.Target)
	}
	repo, err := githubRepository(ctx, osExec(io.Discard, e.stderr), e.getenv, pr.root)
	if err != nil {
		return err
	}
	b := bootstrapper{x: osExec(e.stdout, e.stderr), root: pr.root, configDir: pr.configDir, getenv: e.getenv, w: e.stdout}
	return b.run(ctx, cfg, repo)
}

type bootstrapper struct {
	x               execer
	root, configDir string
	getenv          func(string) string
	w               io.Writer
}

func (b bootstrapper) say(f string, a ...any) { fmt.Fprintf(b.w, "==> "+f+"\n", a...) }

// pulumi runs the pulumi CLI on the bootstrap stack of a backend.
func (b bootstrapper) pulumi(ctx context.Context, backend, repo string, stream bool, args ...string) ([]byte, error) {
	env := []string{"PULUMI_BACKEND_URL=" + backend, "SHIPYARD_GITHUB_REPOSITORY=" + repo}
	// The bootstrap holds no secret; its local stack (before the move)
	// uses an empty passphrase unless one is set.
	if b.getenv("PULUMI_CONFIG_PASSPHRASE") == "" && b.getenv("PULUMI_CONFIG_PASSPHRASE_FILE") == "" {
		env = append(env, "PULUMI_CONFIG_PASSPHRASE=")
	}
	return b.x(ctx, call{Name: "pulumi", Args: append(args, "--non-interactive", "--cwd", filepath.Join(b.root, bootstrapDir)), Stream: stream, Env: env})
}

func (b bootstrapper) exists(ctx context.Context, backend, repo, stack string) (bool, error) {
	out, err := b.pulumi(ctx, backend, repo, false, "stack", "ls", "--json")
	if err != nil {
		return false, err
	}
	var stacks []struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(out, &stacks); err != nil {
		return false, fmt.Errorf("pulumi stack ls: %w", err)
	}
	for _, s := range stacks {
		if s.Name == stack || strings.HasSuffix(s.Name, "/"+stack) {
			return true, nil
		}
	}
	return false, nil
}

func (b bootstrapper) run(ctx context.Context, cfg *stackconfig.Config, repo string) error {
	region := cfg.AWS.Region
	// Where the bootstrap's own state is: in the bucket it created once
	// it ran (the config says which), else a file backend in the
	// repository until the bucket exists.
	backend := cfg.Bootstrap.BackendURL
	if backend == "" {
		backend = "file://" + filepath.Join(b.root, preflight.StateDir)
		if err := os.MkdirAll(filepath.Join(b.root, preflight.StateDir), 0o755); err != nil {
			return fmt.Errorf("creating the local state directory: %w", err)
		}
	}
	b.say("bootstrap %s for GitHub repository %s (state: %s)", region, repo, backend)
	ok, err := b.exists(ctx, backend, repo, region)
	if err != nil {
		return err
	}
	if !ok {
		provider := "passphrase"
		if !strings.HasPrefix(backend, "file://") && cfg.Bootstrap.SecretsProvider != "" {
			provider = cfg.Bootstrap.SecretsProvider
		}
		if _, err := b.pulumi(ctx, backend, repo, true, "stack", "init", region, "--secrets-provider", provider); err != nil {
			return err
		}
	}
	if _, err := b.pulumi(ctx, backend, repo, true, "up", "--yes", "--diff", "--stack", region); err != nil {
		return err
	}
	data, err := b.pulumi(ctx, backend, repo, false, "stack", "output", "--json", "--stack", region)
	if err != nil {
		return err
	}
	var out bootstrapOutputs
	if err := json.Unmarshal(data, &out); err != nil {
		return fmt.Errorf("pulumi stack output: %w", err)
	}
	if out.BackendURL == "" || out.SecretsProvider == "" || len(out.DeployRoleArns) == 0 {
		return fmt.Errorf("the bootstrap stack %s has incomplete outputs: %s", region, data)
	}
	if backend != out.BackendURL {
		if err := b.move(ctx, backend, repo, region, out); err != nil {
			return err
		}
	}
	written, err := b.writeConfigs(out)
	if err != nil {
		return err
	}
	fmt.Fprintf(b.w, "\nPULUMI_BACKEND_URL=%s\nSHIPYARD_SECRETS_PROVIDER=%s\n\n", out.BackendURL, out.SecretsProvider)
	b.say("wrote the bootstrap section (backend, secrets provider, deploy and preview roles) into %s: commit them; make and the workflows read them from there", strings.Join(written, ", "))
	b.say("the bootstrap's own state is in %s (project shipyard-bootstrap, stack %s)", out.BackendURL, region)
	return nil
}

// move moves the bootstrap stack from the local file backend into the
// bucket it created, encrypted with the secrets key: export, init there,
// import, and only then remove the local copy (its export stays in
// .pulumi-state/ until the import succeeded).
func (b bootstrapper) move(ctx context.Context, from, repo, stack string, out bootstrapOutputs) error {
	b.say("moving the bootstrap's state from %s into %s", from, out.BackendURL)
	export := filepath.Join(b.root, preflight.StateDir, "bootstrap-"+stack+".export.json")
	if _, err := b.pulumi(ctx, from, repo, false, "stack", "export", "--file", export, "--stack", stack); err != nil {
		return err
	}
	// The local stack's settings file (its passphrase salt) makes way for
	// the new stack's (its KMS key); it comes back if the move fails.
	settings := filepath.Join(b.root, bootstrapDir, "Pulumi."+stack+".yaml")
	aside := filepath.Join(b.root, preflight.StateDir, "bootstrap-Pulumi."+stack+".yaml")
	moved := os.Rename(settings, aside) == nil
	restore := func(err error) error {
		if moved {
			os.Rename(aside, settings)
		}
		return fmt.Errorf("moving the bootstrap state (the local stack is unchanged; its export is %s): %w", export, err)
	}
	exists, err := b.exists(ctx, out.BackendURL, repo, stack)
	if err != nil {
		return restore(err)
	}
	if exists {
		return restore(fmt.Errorf("%s already has a bootstrap stack %s: set bootstrap.backendUrl in config/ to it, or remove one of them", out.BackendURL, stack))
	}
	if _, err := b.pulumi(ctx, out.BackendURL, repo, true, "stack", "init", stack, "--secrets-provider", out.SecretsProvider); err != nil {
		return restore(err)
	}
	if _, err := b.pulumi(ctx, out.BackendURL, repo, true, "stack", "import", "--file", export, "--stack", stack); err != nil {
		return restore(err)
	}
	// The local record goes; the resources stay (they are in the bucket's
	// state now). --preserve-config keeps the new settings file.
	if _, err := b.pulumi(ctx, from, repo, true, "stack", "rm", stack, "--force", "--yes", "--preserve-config"); err != nil {
		return fmt.Errorf("the bootstrap state is in %s, but removing the local copy failed (remove it with `PULUMI_BACKEND_URL=%s pulumi stack rm %s --force --preserve-config --cwd bootstrap`): %w", out.BackendURL, from, stack, err)
	}
	os.Remove(export)
	os.Remove(aside)
	return nil
}

// writeConfigs writes the bootstrap section of every stack that got a
// deploy role, changing nothing else in the files.
func (b bootstrapper) writeConfigs(out bootstrapOutputs) ([]string, error) {
	stacks := make([]string, 0, len(out.DeployRoleArns))
	for s := range out.DeployRoleArns {
		stacks = append(stacks, s)
	}
	sort.Strings(stacks)
	schema, err := os.ReadFile(filepath.Join(b.configDir, stackconfig.SchemaFile))
	if err != nil {
		return nil, err
	}
	var written []string
	for _, s := range stacks {
		section, err := json.Marshal(stackconfig.Bootstrap{
			BackendURL: out.BackendURL, SecretsProvider: out.SecretsProvider,
			DeployRoleArn: out.DeployRoleArns[s], PreviewRoleArn: out.PreviewRoleArn,
		})
		if err != nil {
			return nil, err
		}
		path := filepath.Join(b.configDir, s+".json")
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		updated, err := release.SetSection(data, "bootstrap", section)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if _, err := stackconfig.Parse(s, updated, schema); err != nil {
			return nil, fmt.Errorf("%s with the bootstrap section: %w", path, err)
		}
		if err := os.WriteFile(path, updated, 0o644); err != nil {
			return nil, err
		}
		written = append(written, "config/"+s+".json")
	}
	return written, nil
}

// githubURL matches the owner/name of a GitHub remote URL.
var githubURL = regexp.MustCompile(`github\.com[:/]([A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+?)(\.git)?/?$`)

// githubRepository is the repository whose workflows assume the roles:
// GITHUB_REPOSITORY when set (as in GitHub Actions), else the origin
// remote's.
func githubRepository(ctx context.Context, x execer, getenv func(string) string, root string) (string, error) {
	if r := getenv("GITHUB_REPOSITORY"); r != "" {
		return r, nil
	}
	out, err := x(ctx, call{Name: "git", Args: []string{"-C", root, "remote", "get-url", "origin"}})
	if err != nil {
		return "", errors.New("the roles trust one GitHub repository, and this checkout has no origin remote: set GITHUB_REPOSITORY=<owner>/<name>")
	}
	m := githubURL.FindStringSubmatch(strings.TrimSpace(string(out)))
	if m == nil {
		return "", fmt.Errorf("origin %s is not a GitHub repository: set GITHUB_REPOSITORY=<owner>/<name> (the repository whose workflows deploy)", strings.TrimSpace(string(out)))
	}
	return m[1], nil
}
