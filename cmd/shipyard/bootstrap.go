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

	"github.com/shipyard-kit/shipyard/infra/bootstrap"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
	"github.com/shipyard-kit/shipyard/internal/atomicfile"
	"github.com/shipyard-kit/shipyard/internal/cliflag"
	"github.com/shipyard-kit/shipyard/internal/preflight"
	"github.com/shipyard-kit/shipyard/internal/release"
)

// bootstrapDir is the bootstrap project (bootstrap/Pulumi.yaml).
const bootstrapDir = "bootstrap"

const bootstrapUsage = "bootstrap STACK [--force]  once per account and region: the state bucket, the secrets key and the CI roles of STACK's region (bootstrap/), written into the config of its aws stacks (--force: also over a section that names another backend or other roles)"

// bootstrapOutputs are the bootstrap program's stack outputs.
type bootstrapOutputs struct {
	StateBucket string `json:"stateBucket"`
	BackendURL  string `json:"backendUrl"`
	// SecretsProvider is the region's, without an encryption context: the
	// bootstrap stack's own.
	SecretsProvider string `json:"secretsProvider"`
	// By stack name.
	DeployRoleArns   map[string]string `json:"deployRoleArns"`
	PreviewRoleArns  map[string]string `json:"previewRoleArns"`
	SecretsProviders map[string]string `json:"secretsProviders"`
}

// complete says whether every stack that got a deploy role got a preview
// role and a secrets provider too.
func (o bootstrapOutputs) complete() bool {
	if o.BackendURL == "" || o.SecretsProvider == "" || len(o.DeployRoleArns) == 0 {
		return false
	}
	for s := range o.DeployRoleArns {
		if o.PreviewRoleArns[s] == "" || o.SecretsProviders[s] == "" {
			return false
		}
	}
	return true
}

// cmdBootstrap runs the bootstrap program for the account and region of
// an aws stack (its stack is named after the region), moves the
// bootstrap's own state into the bucket it created the first time, and
// writes the "bootstrap" section of every aws stack of the region: over a
// section that names another backend or other roles only with --force
// (FORCE=1), else nothing is written for any stack.
func cmdBootstrap(ctx context.Context, e env) error {
	force, args, err := cliflag.BoolVar(e.args, "force", "FORCE")
	if err != nil {
		return err
	}
	e.args = args
	pr, cfg, err := loadStackArg(e, bootstrapUsage)
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
	b := bootstrapper{x: osExec(e.stdout, e.stderr), root: pr.root, configDir: pr.configDir, getenv: e.getenv, w: e.stdout, force: force}
	return b.run(ctx, cfg, repo)
}

type bootstrapper struct {
	x               execer
	root, configDir string
	getenv          func(string) string
	w               io.Writer
	// force overwrites bootstrap sections that name another backend or
	// other roles (--force, FORCE=1).
	force bool
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
	// A stack of the region whose section names another backend than
	// this one would be pointed here: refused before anything runs.
	if cfg.Bootstrap.BackendURL != "" && !b.force {
		changes, err := b.backendChanges(region, cfg.Bootstrap.BackendURL)
		if err != nil {
			return err
		}
		if len(changes) > 0 {
			return refuseSectionChanges(cfg.Stack, "nothing was run and no config was written", changes)
		}
	}
	b.say("bootstrap %s for GitHub repository %s (state: %s)", region, repo, backend)
	ok, err := b.exists(ctx, backend, repo, region)
	if err != nil {
		return err
	}
	if !ok {
		// The bootstrap stack's own provider is the region's, without a
		// stack's encryption context (it holds no secret).
		provider := "passphrase"
		if !strings.HasPrefix(backend, "file://") && cfg.Bootstrap.SecretsProvider != "" {
			provider = bootstrap.SecretsProvider(region)
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
	if !out.complete() {
		return fmt.Errorf("the bootstrap stack %s has incomplete outputs (a stack without its deploy role, preview role or secrets provider): %s", region, data)
	}
	// Every config is read, rewritten and checked before the state moves
	// or any file is written: a section naming another backend or other
	// roles stops the run with nothing written.
	plan, err := b.planConfigs(out)
	if err != nil {
		return err
	}
	var changes []sectionChange
	var rekey []string
	for _, w := range plan {
		changes = append(changes, w.changes...)
		if w.rekey {
			rekey = append(rekey, w.stack)
		}
	}
	if len(changes) > 0 {
		if !b.force {
			return refuseSectionChanges(cfg.Stack, fmt.Sprintf("the bootstrap stack %s is up to date (its state: %s), but no config was written", region, backend), changes)
		}
		for _, c := range changes {
			b.say("FORCE=1: overwriting config/%s.json's bootstrap.%s %q with %q", c.stack, c.field, c.old, c.new)
		}
	}
	if backend != out.BackendURL {
		if err := b.move(ctx, backend, repo, region, out); err != nil {
			return err
		}
	}
	written, unchanged, err := writeConfigs(plan)
	if err != nil {
		return err
	}
	// Each stack's provider is the region's with the stack's encryption
	// context: one line names the pattern, as no one value is every
	// stack's (SHIPYARD_SECRETS_PROVIDER would give them all one).
	fmt.Fprintf(b.w, "\nPULUMI_BACKEND_URL=%s\nsecrets provider of stack <stack>: %s&context_%s=<stack>\n\n", out.BackendURL, out.SecretsProvider, bootstrap.EncryptionContextKey)
	if len(written) > 0 {
		b.say("wrote the bootstrap section (backend, secrets provider, deploy and preview roles) into %s: commit them; make and the workflows read them from there", strings.Join(written, ", "))
	}
	if len(unchanged) > 0 {
		b.say("the bootstrap section of %s was already this one: left as it is", strings.Join(unchanged, ", "))
	}
	if err := b.warnPREnvironments(region); err != nil {
		return err
	}
	for _, s := range rekey {
		b.say("config/%s.json's secrets provider now binds the stack's secrets to its name (KMS encryption context %s=%s), which the preview roles' access to the secrets key requires; "+
			"if stack %s exists, re-encrypt its secrets with it once: make rekey STACK=%s (until then its previews cannot decrypt them)", s, bootstrap.EncryptionContextKey, s, s, s)
	}
	b.say("the bootstrap's own state is in %s (project shipyard-bootstrap, stack %s)", out.BackendURL, region)
	return nil
}

// warnPREnvironments warns when a stack of the region has PR environments
// (previews.enabled) and another is not previewed by pull requests
// (ci.pullRequestPreviews false: prod): a PR environment runs the pull
// request's code with its base stack's deploy role, which has
// AdministratorAccess in the account, prod's secrets included.
func (b bootstrapper) warnPREnvironments(region string) error {
	all, err := stackconfig.LoadAll(b.configDir)
	if err != nil {
		return err
	}
	var withPRs, guarded []string
	for name, c := range all {
		if c.Target != stackconfig.TargetAWS || c.AWS.Region != region {
			continue
		}
		if c.Previews.Enabled {
			withPRs = append(withPRs, name)
		}
		if !c.CI.PullRequestPreviews {
			guarded = append(guarded, name)
		}
	}
	if len(withPRs) == 0 || len(guarded) == 0 {
		return nil
	}
	sort.Strings(withPRs)
	sort.Strings(guarded)
	b.say("warning: the PR environments of %s (previews.enabled) run each pull request's own code with that stack's deploy role, which has AdministratorAccess in this account: "+
		"that code can read %s's secrets, whatever ci.pullRequestPreviews says. Keep %s in an account of its own (bootstrap it there), or turn PR environments off (docs/operations.md#pull-requests-and-secrets)",
		strings.Join(withPRs, ", "), strings.Join(guarded, ", "), strings.Join(guarded, ", "))
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

// configWrite is one stack's config with its new bootstrap section.
type configWrite struct {
	stack, path string
	// data is the file with the new section; unchanged is true when its
	// section already was the new one (the file is left as it is).
	data      []byte
	unchanged bool
	// changes are the fields of the existing section the new one
	// replaces with another value.
	changes []sectionChange
	// rekey: the section's secrets provider was the region's without the
	// stack's encryption context (written by a bootstrap before contexts),
	// and is now the stack's: an existing stack is to be re-encrypted.
	rekey bool
}

// sectionChange is a field of a stack's bootstrap section that make
// bootstrap would replace with another value.
type sectionChange struct {
	stack, field, old, new string
}

func (c sectionChange) String() string {
	return fmt.Sprintf("config/%s.json: bootstrap.%s is %q; this bootstrap's is %q", c.stack, c.field, c.old, c.new)
}

// sectionChanges lists the fields of a stack's existing bootstrap section
// that next gives another value. All four are compared: backendUrl is
// where the stack's state is (another one orphans it: the next make up
// finds no stack there and deploys an empty copy), the role ARNs name the
// account CI deploys it into, secretsProvider the key its secrets are
// encrypted with; a value that differs was written by a bootstrap of
// another account or bucket, or by hand. A field the section lacks is
// filled in, which changes nothing. Two changes are this bootstrap's own
// and not listed: the preview role turning into the bootstrap's other one
// of the same account (the stack's ci.pullRequestPreviews changed), and
// the region's secrets provider gaining the stack's encryption context
// (upgrade; the caller asks for a rekey).
func sectionChanges(stack string, old, next stackconfig.Bootstrap, regionProvider string) (changes []sectionChange, upgrade bool) {
	upgrade = old.SecretsProvider == regionProvider && next.SecretsProvider != regionProvider &&
		strings.HasPrefix(next.SecretsProvider, regionProvider+"&")
	for _, f := range []struct{ name, old, next string }{
		{"backendUrl", old.BackendURL, next.BackendURL},
		{"secretsProvider", old.SecretsProvider, next.SecretsProvider},
		{"deployRoleArn", old.DeployRoleArn, next.DeployRoleArn},
		{"previewRoleArn", old.PreviewRoleArn, next.PreviewRoleArn},
	} {
		if f.old == "" || f.old == f.next {
			continue
		}
		if f.name == "secretsProvider" && upgrade {
			continue
		}
		if f.name == "previewRoleArn" && samePreviewRoles(f.old, f.next) {
			continue
		}
		changes = append(changes, sectionChange{stack, f.name, f.old, f.next})
	}
	return changes, upgrade
}

// samePreviewRoles says whether two role ARNs are both a bootstrap
// preview role (bootstrap.PreviewRoleName, MainPreviewRoleName) of the
// same account.
func samePreviewRoles(a, b string) bool {
	account := func(arn string) (string, bool) {
		prefix, name, ok := strings.Cut(arn, ":role/")
		if !ok || (name != bootstrap.PreviewRoleName && name != bootstrap.MainPreviewRoleName) {
			return "", false
		}
		return prefix, true
	}
	pa, oka := account(a)
	pb, okb := account(b)
	return oka && okb && pa == pb
}

// refuseSectionChanges is the error for sections make bootstrap would
// overwrite without --force: each stack, field, old and new value, and the
// ways on.
func refuseSectionChanges(stack, done string, changes []sectionChange) error {
	lines := make([]string, len(changes))
	for i, c := range changes {
		lines[i] = "  " + c.String()
	}
	return fmt.Errorf("the bootstrap of stack %s would overwrite bootstrap sections that name another backend or other roles (another account or bucket); %s:\n%s\n"+
		"a stack pointed at a backend without its state would get a new, empty copy on its next make up. "+
		"If these stacks are to move to this backend (their state moved with them), re-run with FORCE=1 (make bootstrap STACK=%s FORCE=1; shipyard bootstrap %s --force); "+
		"else bootstrap them with their own account's credentials, or edit their bootstrap section in config/ by hand",
		stack, done, strings.Join(lines, "\n"), stack, stack)
}

// readSection reads the bootstrap section of a stack's config file.
func readSection(path string, data []byte) (stackconfig.Bootstrap, error) {
	var f struct {
		Bootstrap stackconfig.Bootstrap `json:"bootstrap"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return stackconfig.Bootstrap{}, fmt.Errorf("%s: %w", path, err)
	}
	return f.Bootstrap, nil
}

// backendChanges lists the aws stacks of region whose bootstrap section
// names another backend than backend.
func (b bootstrapper) backendChanges(region, backend string) ([]sectionChange, error) {
	all, err := stackconfig.LoadAll(b.configDir)
	if err != nil {
		return nil, err
	}
	var stacks []string
	for name, cfg := range all {
		if cfg.Target == stackconfig.TargetAWS && cfg.AWS.Region == region {
			stacks = append(stacks, name)
		}
	}
	sort.Strings(stacks)
	var out []sectionChange
	for _, s := range stacks {
		if old := all[s].Bootstrap.BackendURL; old != "" && old != backend {
			out = append(out, sectionChange{s, "backendUrl", old, backend})
		}
	}
	return out, nil
}

// planConfigs reads the config of every stack that got a deploy role and
// sets its bootstrap section, changing nothing else in the file, and
// checks the result; nothing is written.
func (b bootstrapper) planConfigs(out bootstrapOutputs) ([]configWrite, error) {
	stacks := make([]string, 0, len(out.DeployRoleArns))
	for s := range out.DeployRoleArns {
		stacks = append(stacks, s)
	}
	sort.Strings(stacks)
	schema, err := os.ReadFile(filepath.Join(b.configDir, stackconfig.SchemaFile))
	if err != nil {
		return nil, err
	}
	var plan []configWrite
	for _, s := range stacks {
		next := stackconfig.Bootstrap{
			BackendURL: out.BackendURL, SecretsProvider: out.SecretsProviders[s],
			DeployRoleArn: out.DeployRoleArns[s], PreviewRoleArn: out.PreviewRoleArns[s],
		}
		section, err := json.Marshal(next)
		if err != nil {
			return nil, err
		}
		path := filepath.Join(b.configDir, s+".json")
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		old, err := readSection(path, data)
		if err != nil {
			return nil, err
		}
		w := configWrite{stack: s, path: path, data: data, unchanged: old == next}
		w.changes, w.rekey = sectionChanges(s, old, next, out.SecretsProvider)
		if !w.unchanged {
			if w.data, err = release.SetSection(data, "bootstrap", section); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			if _, err := stackconfig.Parse(s, w.data, schema); err != nil {
				return nil, fmt.Errorf("%s with the bootstrap section: %w", path, err)
			}
		}
		plan = append(plan, w)
	}
	return plan, nil
}

// writeConfigs writes the planned configs, each atomically, and says
// which it wrote and which already had the section.
func writeConfigs(plan []configWrite) (written, unchanged []string, err error) {
	for _, w := range plan {
		name := "config/" + w.stack + ".json"
		if w.unchanged {
			unchanged = append(unchanged, name)
			continue
		}
		if err := atomicfile.Write(w.path, w.data); err != nil {
			return written, unchanged, err
		}
		written = append(written, name)
	}
	return written, unchanged, nil
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
