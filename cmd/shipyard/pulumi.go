package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	dockerinfra "github.com/shipyard-kit/shipyard/infra/docker"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
	"github.com/shipyard-kit/shipyard/internal/cliflag"
	"github.com/shipyard-kit/shipyard/internal/preflight"
	"github.com/shipyard-kit/shipyard/internal/release"
)

// LocalPassphrase is the secrets passphrase of docker-target stacks when
// the user set none (internal/preflight.Passphrase, the one rule).
const LocalPassphrase = preflight.LocalPassphrase

// pulumiCLI drives the Pulumi CLI for the project at root.
type pulumiCLI struct {
	x      execer
	root   string
	getenv func(string) string
	// configDir locates config/<stack>.json (to know a stack's target).
	configDir string
	// extraEnv is added to every pulumi call (a local release's candidate).
	extraEnv []string
}

// env returns the variables a pulumi call for stack needs on top of the
// inherited environment: the stack's backend (internal/preflight.Backend:
// PULUMI_BACKEND_URL, else an aws stack's bootstrap.backendUrl, else the
// repository's file backend, which aws stacks refuse) and the local
// passphrase for docker stacks. An aws stack without a passphrase, whose
// secrets provider is not KMS, is an error naming the variable. Nothing is
// written before these checks.
func (p *pulumiCLI) env(stack string) ([]string, error) {
	cfg, err := stackconfig.Load(p.configDir, stack)
	if err != nil {
		return nil, err
	}
	var extra []string
	backend, err := preflight.Backend(p.getenv, p.root, preflightStack(cfg))
	if err != nil {
		return nil, err
	}
	if backend != p.getenv("PULUMI_BACKEND_URL") {
		extra = append(extra, "PULUMI_BACKEND_URL="+backend)
	}
	// The file backend opens its directory and does not create it: a
	// fresh clone has none (the Makefile names the repository's).
	if dir, ok := strings.CutPrefix(backend, "file://"); ok {
		dir, _, _ = strings.Cut(dir, "?")
		if strings.HasPrefix(dir, "~/") {
			if home, err := os.UserHomeDir(); err == nil {
				dir = filepath.Join(home, dir[2:])
			}
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("creating the state directory of PULUMI_BACKEND_URL=%s: %w", backend, err)
		}
	}
	pass, err := p.passphrase(cfg)
	if err != nil {
		return nil, err
	}
	return append(extra, pass...), nil
}

// preflightStack is what internal/preflight needs of a loaded config.
func preflightStack(cfg *stackconfig.Config) preflight.Stack {
	return preflight.Stack{Name: cfg.Stack, Target: string(cfg.Target), Bootstrap: preflight.Bootstrap(cfg.Bootstrap)}
}

// passphrase returns the passphrase variable a stack gets by default: the
// local one for docker stacks, none for aws stacks, which need the team's
// passphrase unless their secrets provider is KMS: the one in their
// Pulumi.<stack>.yaml, or for a stack not created yet the one it will be
// created with (SHIPYARD_SECRETS_PROVIDER, else bootstrap.secretsProvider).
func (p *pulumiCLI) passphrase(cfg *stackconfig.Config) ([]string, error) {
	if p.getenv(preflight.PassphraseEnv) != "" || p.getenv(preflight.PassphraseFileEnv) != "" {
		return nil, nil
	}
	if pass, ok := preflight.Passphrase(p.getenv, preflightStack(cfg)); ok {
		return []string{preflight.PassphraseEnv + "=" + pass}, nil
	}
	if provider := p.secretsProvider(cfg); provider != "passphrase" {
		return nil, nil
	}
	return nil, fmt.Errorf("stack %q: PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) is not set; aws stacks need the team's passphrase or a KMS secrets provider (`make bootstrap STACK=%s` sets one up: see docs/operations.md)", cfg.Stack, cfg.Stack)
}

// secretsProvider returns the kind of the stack's secrets provider
// ("passphrase", "awskms", …): secretsprovider in its settings file
// (none there means passphrase), or, before the stack exists, the one
// ensureStack creates it with.
func (p *pulumiCLI) secretsProvider(cfg *stackconfig.Config) string {
	kind := func(v string) string {
		if i := strings.Index(v, "://"); i >= 0 {
			return v[:i]
		}
		return v
	}
	v, err := settingsSecretsProvider(filepath.Join(p.root, stackSettingsDir, "Pulumi."+cfg.Stack+".yaml"))
	if err != nil {
		return kind(preflight.SecretsProvider(p.getenv, preflightStack(cfg)))
	}
	return kind(v)
}

// stackSettingsDir is Pulumi.yaml's stackConfigDir: where the
// Pulumi.<stack>.yaml files (encrypted secrets and salt only) live.
const stackSettingsDir = "stacks"

func (p *pulumiCLI) run(ctx context.Context, stack string, stream bool, args ...string) ([]byte, error) {
	extra, err := p.env(stack)
	if err != nil {
		return nil, err
	}
	// SHIPYARD_POLICY_PACK (e.g. "policypack") runs a Pulumi policy pack
	// on every preview and update.
	if pack := p.getenv("SHIPYARD_POLICY_PACK"); pack != "" && (args[0] == "preview" || args[0] == "up") {
		args = append(args, "--policy-pack", filepath.Join(p.root, pack))
	}
	return p.x(ctx, call{Name: "pulumi", Args: append(args, "--stack", stack, "--non-interactive", "--cwd", p.root), Stream: stream, Env: append(extra, p.extraEnv...)})
}

// ensureStack creates the stack in the backend when it does not exist,
// with the secrets provider of SHIPYARD_SECRETS_PROVIDER, else the
// bootstrap.secretsProvider of an aws stack's config, else passphrase.
func (p *pulumiCLI) ensureStack(ctx context.Context, stack string) error {
	extra, err := p.env(stack)
	if err != nil {
		return err
	}
	out, err := p.x(ctx, call{Name: "pulumi", Args: []string{"stack", "ls", "--json", "--non-interactive", "--cwd", p.root}, Env: extra})
	if err != nil {
		return err
	}
	var stacks []struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(out, &stacks); err != nil {
		return fmt.Errorf("pulumi stack ls: %w", err)
	}
	for _, s := range stacks {
		if s.Name == stack || strings.HasSuffix(s.Name, "/"+stack) {
			return nil
		}
	}
	cfg, err := stackconfig.Load(p.configDir, stack)
	if err != nil {
		return err
	}
	provider := preflight.SecretsProvider(p.getenv, preflightStack(cfg))
	_, err = p.x(ctx, call{Name: "pulumi", Args: []string{"stack", "init", stack, "--secrets-provider", provider, "--non-interactive", "--cwd", p.root}, Stream: true, Env: extra})
	return err
}

// Outputs implements release.Pulumi; a stack that does not exist yet has
// no outputs.
func (p *pulumiCLI) Outputs(ctx context.Context, stack string) (release.Outputs, error) {
	out, err := p.run(ctx, stack, false, "stack", "output", "--json")
	if err != nil {
		if strings.Contains(err.Error(), "no stack named") {
			return release.Outputs{}, nil
		}
		return nil, err
	}
	o := release.Outputs{}
	if len(bytes.TrimSpace(out)) == 0 {
		return o, nil
	}
	if err := json.Unmarshal(out, &o); err != nil {
		return nil, fmt.Errorf("pulumi stack output: %w", err)
	}
	return o, nil
}

// Preview implements release.Pulumi: the diff, on the operator's terminal.
func (p *pulumiCLI) Preview(ctx context.Context, stack string, extra ...string) error {
	if err := p.ensureStack(ctx, stack); err != nil {
		return err
	}
	_, err := p.run(ctx, stack, true, append([]string{"preview", "--diff"}, extra...)...)
	return err
}

// planFlags decide what `pulumi up` plans from; the guard's preview
// passes the same, so it checks the plan up applies. --refresh: what
// changed outside Pulumi (`make drift`) is read first, so up puts back
// what the program declares; a preview without it would plan from the
// state before the refresh, and miss a replacement the drift causes.
// (Pulumi's update plans, `preview --save-plan` and `up --plan`, would
// bind up to the previewed plan, but `up --plan` is experimental in the
// pinned CLI: hidden behind PULUMI_EXPERIMENTAL.)
var planFlags = []string{"--refresh"}

// Up implements release.Pulumi.
func (p *pulumiCLI) Up(ctx context.Context, stack string) error {
	if err := p.ensureStack(ctx, stack); err != nil {
		return err
	}
	_, err := p.run(ctx, stack, true, append([]string{"up", "--yes", "--diff"}, planFlags...)...)
	return err
}

// previewJSON returns the machine-readable plan (`pulumi preview --json`)
// from the state as up plans from (planFlags), for the guard against
// replacing stateful resources.
func (p *pulumiCLI) previewJSON(ctx context.Context, stack string) ([]byte, error) {
	if err := p.ensureStack(ctx, stack); err != nil {
		return nil, err
	}
	return p.run(ctx, stack, false, append([]string{"preview", "--json"}, planFlags...)...)
}

func (p *pulumiCLI) destroy(ctx context.Context, stack string, extra ...string) error {
	// --refresh: a resource already deleted by hand is not deleted again.
	_, err := p.run(ctx, stack, true, append([]string{"destroy", "--yes", "--refresh"}, extra...)...)
	return err
}

// stackArg reads the single STACK argument of a command.
func stackArg(e env, usage string) (string, error) {
	if len(e.args) != 1 || strings.HasPrefix(e.args[0], "-") {
		return "", cliflag.UsageError("shipyard", usage, e.args)
	}
	return e.args[0], nil
}

// loadStackArg reads the one STACK argument, finds the project and loads
// (validates) the stack's config.
func loadStackArg(e env, usage string) (project, *stackconfig.Config, error) {
	stack, err := stackArg(e, usage)
	if err != nil {
		return project{}, nil, err
	}
	pr, err := findProject(e)
	if err != nil {
		return project{}, nil, err
	}
	cfg, err := stackconfig.Load(pr.configDir, stack)
	if err != nil {
		return project{}, nil, err
	}
	return pr, cfg, nil
}

// project is the repository as the operator commands see it.
type project struct {
	root, configDir string
}

func findProject(e env) (project, error) {
	dir, err := stackconfig.FindDir(e.getenv, ".")
	if err != nil {
		return project{}, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return project{}, err
	}
	return project{root: filepath.Dir(dir), configDir: dir}, nil
}

func (pr project) pulumi(x execer, getenv func(string) string) *pulumiCLI {
	return &pulumiCLI{x: x, root: pr.root, getenv: getenv, configDir: pr.configDir}
}

// deployable checks, before any pulumi call, what `make preview` and
// `make up` check first: the state backend (an aws stack's state is never a
// file on this machine: internal/preflight), then the documentation
// placeholders of the example configs. Both fail on one line.
func deployable(e env, pr project, cfg *stackconfig.Config) error {
	if _, err := preflight.Backend(e.getenv, pr.root, preflightStack(cfg)); err != nil {
		return err
	}
	return cfg.Placeholder()
}

// cmdPreview shows what `up` would change; with --expect-no-changes it
// fails when anything would (an idempotency check).
func cmdPreview(ctx context.Context, e env) error {
	expectNoChanges, args, err := cliflag.Bool(e.args, "expect-no-changes")
	if err != nil {
		return err
	}
	e.args = args
	pr, cfg, err := loadStackArg(e, "preview STACK [--expect-no-changes]")
	if err != nil {
		return err
	}
	if err := deployable(e, pr, cfg); err != nil {
		return err
	}
	var extra []string
	if expectNoChanges {
		extra = append(extra, "--expect-no-changes")
	}
	x := osExec(e.stdout, e.stderr)
	p := pr.pulumi(x, e.getenv)
	if err := refuseEarlyRetire(ctx, p, awsCLI{x: x, region: cfg.AWS.Region}, cfg); err != nil {
		return err
	}
	if err := p.Preview(ctx, cfg.Stack, extra...); err != nil {
		return err
	}
	return previewNote(ctx, p, cfg, e.stdout)
}

// cmdUp creates or updates a stack through guardedPulumi: retiring the
// previous Redis AUTH token is refused while tasks still use it, and on
// aws stacks the plan goes through the stateful-resource guard first. A
// web service that CodeDeploy controls is redeployed afterwards through
// CodeDeploy when it does not run the task definition the update
// registered, or its tasks started before the token's secret changed
// (upredeploy.go).
//
// --release-follows (what the deploy workflow passes, a `make release`
// coming next) leaves that redeploy to the release, which deploys web
// through CodeDeploy with the task definition up registered anyway: up
// says why web would have been redeployed and deploys nothing.
func cmdUp(ctx context.Context, e env) error {
	allowStateful, args, err := cliflag.Bool(e.args, "allow-stateful-changes")
	if err != nil {
		return err
	}
	releaseFollows, args, err := cliflag.BoolVar(args, "release-follows", "RELEASE_FOLLOWS")
	if err != nil {
		return err
	}
	e.args = args
	pr, cfg, err := loadStackArg(e, "up STACK [--allow-stateful-changes] [--release-follows]")
	if err != nil {
		return err
	}
	if err := deployable(e, pr, cfg); err != nil {
		return err
	}
	if releaseFollows && cfg.Target != stackconfig.TargetAWS {
		return fmt.Errorf("--release-follows: stack %s has target %q; only aws stacks redeploy web after up (RELEASE_FOLLOWS=1 applies to them alone)", cfg.Stack, cfg.Target)
	}
	x := osExec(e.stdout, e.stderr)
	p := pr.pulumi(x, e.getenv)
	g := guardedPulumi{pulumiCLI: p, allowStateful: allowStateful}
	if cfg.Target != stackconfig.TargetAWS {
		return g.up(ctx, cfg)
	}
	before, err := p.Outputs(ctx, cfg.Stack)
	if err != nil {
		return err
	}
	if err := g.up(ctx, cfg); err != nil {
		return err
	}
	return redeployWebAfterUp(ctx, e, pr, p, cfg, before, releaseFollows)
}

// cmdDestroy deletes every resource of a stack. aws stacks need
// --confirm=<stack>, and a --confirm naming another stack is refused on
// every target (preflight.CheckConfirm, which `make destroy` runs first). On docker stacks the data volumes outlive the stack's
// resources (Pulumi retains them): destroy removes them too, unless
// --keep-data (`make down`), which leaves them, and the generated
// passwords they were initialised with, for the next `make up`.
func cmdDestroy(ctx context.Context, e env) error {
	confirm, _, args := cliflag.Cut(e.args, "confirm")
	keepData, args, err := cliflag.Bool(args, "keep-data")
	if err != nil {
		return err
	}
	e.args = args
	pr, cfg, err := loadStackArg(e, "destroy STACK [--confirm=STACK] [--keep-data]")
	if err != nil {
		return err
	}
	stack := cfg.Stack
	// `make down` (--keep-data) on an aws stack is answered first: it
	// asked to keep the data, so it is not pointed at the command that
	// deletes it.
	if cfg.Target == stackconfig.TargetAWS && keepData {
		return fmt.Errorf("make down (--keep-data) is for docker stacks: aws stack %q has no down that keeps its data, so nothing was done (docs/aws.md; `make destroy STACK=%s CONFIRM=%s` deletes the stack and its data)", stack, stack, stack)
	}
	if err := preflight.CheckConfirm(preflightStack(cfg), confirm); err != nil {
		return err
	}
	x := osExec(e.stdout, e.stderr)
	if err := refuseWithPreviews(ctx, pr.pulumi(x, e.getenv), cfg); err != nil {
		return err
	}
	var extra []string
	if keepData {
		for _, urn := range dockerinfra.KeptByDown {
			extra = append(extra, "--exclude", urn)
		}
	}
	if err := pr.pulumi(x, e.getenv).destroy(ctx, stack, extra...); err != nil {
		return err
	}
	if cfg.Target != stackconfig.TargetDocker {
		return nil
	}
	return removeVolumes(ctx, x, dockerClient(e.getenv), stack, keepData, e.stdout)
}

// removeVolumes removes a docker stack's data volumes (the ones labelled
// with the stack), or says where they stay when keep is set.
func removeVolumes(ctx context.Context, x execer, docker, stack string, keep bool, w io.Writer) error {
	out, err := x(ctx, call{Name: docker, Args: []string{"volume", "ls", "--quiet", "--filter", "label=" + dockerinfra.StackLabel + "=" + stack}})
	if err != nil {
		return fmt.Errorf("listing the data volumes of stack %q: %w", stack, err)
	}
	vols := strings.Fields(string(out))
	if len(vols) == 0 {
		return nil
	}
	if keep {
		fmt.Fprintf(w, "==> kept the data volumes %s: the next `make up STACK=%s` uses them again; `make destroy STACK=%s` removes them\n", strings.Join(vols, ", "), stack, stack)
		return nil
	}
	if _, err := x(ctx, call{Name: docker, Args: append([]string{"volume", "rm"}, vols...)}); err != nil {
		return fmt.Errorf("removing the data volumes of stack %q: %w", stack, err)
	}
	fmt.Fprintf(w, "==> removed the data volumes %s\n", strings.Join(vols, ", "))
	return nil
}

// cmdOutputs prints a stack's outputs as JSON, or one output: a string as
// is, anything else as JSON.
func cmdOutputs(ctx context.Context, e env) error {
	if len(e.args) < 1 || len(e.args) > 2 {
		return errors.New("usage: shipyard outputs STACK [KEY]")
	}
	pr, err := findProject(e)
	if err != nil {
		return err
	}
	out, err := pr.pulumi(osExec(e.stdout, e.stderr), e.getenv).Outputs(ctx, e.args[0])
	if err != nil {
		return err
	}
	return printOutputs(e, out, e.args[0], e.args[1:])
}

func printOutputs(e env, out release.Outputs, stack string, key []string) error {
	if len(key) == 0 {
		data, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, string(data))
		return nil
	}
	v, ok := out[key[0]]
	if !ok {
		keys := make([]string, 0, len(out))
		for k := range out {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if len(keys) == 0 {
			return fmt.Errorf("stack %q has no outputs: run `make up STACK=%s` first", stack, stack)
		}
		return fmt.Errorf("stack %q has no output %q; it has: %s", stack, key[0], strings.Join(keys, ", "))
	}
	if s, ok := v.(string); ok {
		fmt.Fprintln(e.stdout, s)
		return nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, string(data))
	return nil
}

// cmdTarget prints a stack's target, for the Makefile: docker stacks build
// the app image (make image) before `up`, since their program builds the
// Dockerfile from bin/.
func cmdTarget(_ context.Context, e env) error {
	stack, err := stackArg(e, "target STACK")
	if err != nil {
		return err
	}
	pr, err := findProject(e)
	if err != nil {
		return err
	}
	cfg, err := stackconfig.Load(pr.configDir, stack)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, cfg.Target)
	return nil
}
