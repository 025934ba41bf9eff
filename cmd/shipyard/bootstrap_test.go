package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shipyard-kit/shipyard/infra/aws/awsmock"
	"github.com/shipyard-kit/shipyard/infra/bootstrap"
	"github.com/shipyard-kit/shipyard/infra/pulumitest"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
	"github.com/shipyard-kit/shipyard/internal/release"
)

const bootstrapOutputsJSON = `{
  "stateBucket": "shipyard-pulumi-state-111122223333-eu-west-1",
  "backendUrl": "s3://shipyard-pulumi-state-111122223333-eu-west-1?region=eu-west-1&awssdk=v2",
  "secretsProvider": "awskms://alias/shipyard-pulumi?region=eu-west-1",
  "deployRoleArns": {"dev": "arn:aws:iam::111122223333:role/shipyard-deploy-dev", "staging": "arn:aws:iam::111122223333:role/shipyard-deploy-staging", "prod": "arn:aws:iam::111122223333:role/shipyard-deploy-prod"},
  "previewRoleArns": {"dev": "arn:aws:iam::111122223333:role/shipyard-preview", "staging": "arn:aws:iam::111122223333:role/shipyard-preview", "prod": "arn:aws:iam::111122223333:role/shipyard-preview-main"},
  "secretsProviders": {"dev": "awskms://alias/shipyard-pulumi?region=eu-west-1&context_stack=dev", "staging": "awskms://alias/shipyard-pulumi?region=eu-west-1&context_stack=staging", "prod": "awskms://alias/shipyard-pulumi?region=eu-west-1&context_stack=prod"}
}`

// bootstrapRepo copies the repository's config into a temporary root.
func bootstrapRepo(t *testing.T) (root string) {
	t.Helper()
	root = t.TempDir()
	for _, d := range []string{"config", bootstrapDir} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(repoRoot, "config", "*.json"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "config", filepath.Base(f)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// backendOf returns the PULUMI_BACKEND_URL a call ran with.
func backendOf(c call) string {
	for _, e := range c.Env {
		if v, ok := strings.CutPrefix(e, "PULUMI_BACKEND_URL="); ok {
			return v
		}
	}
	return ""
}

func TestBootstrapMovesItsStateIntoItsBucketAndWritesTheConfigs(t *testing.T) {
	root := bootstrapRepo(t)
	configDir := filepath.Join(root, "config")
	localJSON, _ := os.ReadFile(filepath.Join(configDir, "local.json"))
	// The local bootstrap stack's settings file, as `stack init` wrote it.
	settings := filepath.Join(root, bootstrapDir, "Pulumi.eu-west-1.yaml")
	if err := os.WriteFile(settings, []byte("encryptionsalt: v1:abc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	x := newFakeExec(map[string]answer{
		"pulumi stack ls":     {out: `[]`},
		"pulumi stack init":   {},
		"pulumi up":           {},
		"pulumi stack output": {out: bootstrapOutputsJSON},
		"pulumi stack export": {},
		"pulumi stack import": {},
		"pulumi stack rm":     {},
	})
	var out bytes.Buffer
	b := bootstrapper{x: x.exec, root: root, configDir: configDir, getenv: func(string) string { return "" }, w: &out}
	cfg, err := stackconfig.Load(configDir, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.run(context.Background(), cfg, "acme/shop"); err != nil {
		t.Fatalf("%v\n%s", err, &out)
	}
	local := "file://" + filepath.Join(root, ".pulumi-state")
	s3 := "s3://shipyard-pulumi-state-111122223333-eu-west-1?region=eu-west-1&awssdk=v2"
	var got []string
	for _, c := range x.calls {
		where := "local"
		if backendOf(c) == s3 {
			where = "s3"
		}
		got = append(got, where+": "+shortCall(c))
		if !slices.Contains(c.Env, "SHIPYARD_GITHUB_REPOSITORY=acme/shop") {
			t.Errorf("%s runs without the repository", c)
		}
	}
	want := []string{
		"local: pulumi stack ls", "local: pulumi stack init", "local: pulumi up", "local: pulumi stack output",
		"local: pulumi stack export", "s3: pulumi stack ls", "s3: pulumi stack init", "s3: pulumi stack import", "local: pulumi stack rm",
	}
	if !slices.Equal(got, want) {
		t.Errorf("calls:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	for _, c := range x.calls {
		if strings.HasPrefix(c.String(), "pulumi stack init") && backendOf(c) == s3 && !strings.Contains(c.String(), "--secrets-provider awskms://alias/shipyard-pulumi?region=eu-west-1") {
			t.Errorf("the bucket's bootstrap stack is not created with the KMS key: %s", c)
		}
		if strings.HasPrefix(c.String(), "pulumi stack rm") && !strings.Contains(c.String(), "--preserve-config") {
			t.Errorf("removing the local copy would remove the new stack's settings: %s", c)
		}
	}
	if backendOf(x.calls[0]) != local {
		t.Errorf("the first run's state is %q, want %q", backendOf(x.calls[0]), local)
	}
	for _, stack := range []string{"dev", "staging", "prod"} {
		cfg, err := stackconfig.Load(configDir, stack)
		if err != nil {
			t.Fatal(err)
		}
		want := stackconfig.Bootstrap{BackendURL: s3, SecretsProvider: "awskms://alias/shipyard-pulumi?region=eu-west-1&context_stack=" + stack,
			DeployRoleArn: "arn:aws:iam::111122223333:role/shipyard-deploy-" + stack, PreviewRoleArn: previewRoleOf(stack)}
		if cfg.Bootstrap != want {
			t.Errorf("config/%s.json bootstrap = %+v, want %+v", stack, cfg.Bootstrap, want)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(configDir, "local.json")); !bytes.Equal(after, localJSON) {
		t.Error("config/local.json changed")
	}
	for _, line := range []string{"PULUMI_BACKEND_URL=" + s3, "secrets provider of stack <stack>: awskms://alias/shipyard-pulumi?region=eu-west-1&context_stack=<stack>", "warning: the PR environments of dev (previews.enabled) run each pull request's own code with that stack's deploy role", "that code can read prod's secrets", "config/dev.json, config/prod.json, config/staging.json"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("output does not say %q:\n%s", line, &out)
		}
	}

	// Run again: the state is in the bucket now, nothing moves.
	x2 := newFakeExec(map[string]answer{
		"pulumi stack ls":     {out: `[{"name": "organization/shipyard-bootstrap/eu-west-1"}]`},
		"pulumi up":           {},
		"pulumi stack output": {out: bootstrapOutputsJSON},
	})
	b.x = x2.exec
	cfg, _ = stackconfig.Load(configDir, "dev")
	if err := b.run(context.Background(), cfg, "acme/shop"); err != nil {
		t.Fatal(err)
	}
	for _, c := range x2.calls {
		if backendOf(c) != s3 {
			t.Errorf("the second run calls %s on %s, want the bucket", c, backendOf(c))
		}
	}
	if len(x2.calls) != 3 {
		t.Errorf("second run calls %v", x2.lines())
	}
}

func TestAFailedBootstrapMoveLeavesTheLocalStackAsItWas(t *testing.T) {
	root := bootstrapRepo(t)
	settings := filepath.Join(root, bootstrapDir, "Pulumi.eu-west-1.yaml")
	if err := os.WriteFile(settings, []byte("encryptionsalt: v1:abc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	x := newFakeExec(map[string]answer{
		"pulumi stack ls":     {out: `[]`},
		"pulumi stack init":   {},
		"pulumi up":           {},
		"pulumi stack output": {out: bootstrapOutputsJSON},
		"pulumi stack export": {},
		"pulumi stack import": {err: errors.New("AccessDenied")},
	})
	b := bootstrapper{x: x.exec, root: root, configDir: filepath.Join(root, "config"), getenv: func(string) string { return "" }, w: &bytes.Buffer{}}
	cfg, _ := stackconfig.Load(filepath.Join(root, "config"), "dev")
	err := b.run(context.Background(), cfg, "acme/shop")
	if err == nil || !strings.Contains(err.Error(), "the local stack is unchanged; its export is ") {
		t.Fatalf("err = %v", err)
	}
	if data, _ := os.ReadFile(settings); string(data) != "encryptionsalt: v1:abc\n" {
		t.Errorf("the local stack's settings file is %q", data)
	}
	for _, l := range x.lines() {
		if strings.HasPrefix(l, "pulumi stack rm") {
			t.Error("the local stack was removed after a failed import")
		}
	}
	if cfg, _ := stackconfig.Load(filepath.Join(root, "config"), "dev"); cfg.Bootstrap.BackendURL != "" {
		t.Error("the config names a backend the state did not reach")
	}
}

func TestBootstrapRefusesADockerStack(t *testing.T) {
	root := bootstrapRepo(t)
	var out bytes.Buffer
	err := run(context.Background(), []string{"bootstrap", "local"}, func(k string) string {
		return map[string]string{stackconfig.DirEnv: filepath.Join(root, "config")}[k]
	}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), `bootstrap is for aws stacks; stack "local" has target "docker"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestTheRolesTrustTheRepositoryOfTheOriginRemote(t *testing.T) {
	tests := []struct {
		name, env, remote, want, wantErr string
	}{
		{name: "an ssh remote", remote: "git@github.com:acme/shop.git\n", want: "acme/shop"},
		{name: "an https remote", remote: "https://github.com/acme/shop\n", want: "acme/shop"},
		{name: "GITHUB_REPOSITORY wins", env: "acme/other", remote: "git@github.com:acme/shop.git", want: "acme/other"},
		{name: "a remote elsewhere", remote: "https://gitlab.com/acme/shop.git", wantErr: "set GITHUB_REPOSITORY=<owner>/<name>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := newFakeExec(map[string]answer{"git -C": {out: tc.remote}})
			got, err := githubRepository(context.Background(), x.exec, func(k string) string {
				if k == "GITHUB_REPOSITORY" {
					return tc.env
				}
				return ""
			}, "/repo")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// The outputs the command reads are the program's (infra/bootstrap's Outputs).
func TestBootstrapReadsTheProgramsOutputs(t *testing.T) {
	var o bootstrapOutputs
	if err := json.Unmarshal([]byte(bootstrapOutputsJSON), &o); err != nil || !o.complete() {
		t.Fatalf("the test's outputs: %+v %v", o, err)
	}
	// The program's own outputs, under the SDK's mocks, read as the
	// command reads `pulumi stack output --json`.
	g, err := pulumitest.Run("eu-west-1", func(ctx *pulumi.Context) (pulumi.Map, error) {
		b, err := bootstrap.New(ctx, "shipyard", bootstrap.Args{Region: "eu-west-1", Repository: "acme/shop",
			Stacks: []string{"dev", "prod"}, PullRequestStacks: []string{"dev"}})
		if err != nil {
			return nil, err
		}
		return b.Outputs(), nil
	}, awsmock.Options()...)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(g.Outputs)
	if err != nil {
		t.Fatal(err)
	}
	var got bootstrapOutputs
	if err := json.Unmarshal(data, &got); err != nil || !got.complete() {
		t.Fatalf("the program's outputs %s read as %+v (%v): want every field, for dev and prod", data, got, err)
	}
	if got.SecretsProviders["prod"] != "awskms://alias/shipyard-pulumi?region=eu-west-1&context_stack=prod" || !strings.HasSuffix(got.PreviewRoleArns["prod"], "/shipyard-preview-main") {
		t.Errorf("prod's outputs: %+v", got)
	}
}

// The bootstrap outputs' values (bootstrapOutputsJSON) and the section it
// writes for a stack.
const (
	bootstrapS3  = "s3://shipyard-pulumi-state-111122223333-eu-west-1?region=eu-west-1&awssdk=v2"
	bootstrapKMS = "awskms://alias/shipyard-pulumi?region=eu-west-1"
	otherS3      = "s3://shipyard-pulumi-state-444455556666-eu-west-1?region=eu-west-1&awssdk=v2"
)

func bootstrapSection(stack string) string {
	return `{"backendUrl": "` + bootstrapS3 + `", "secretsProvider": "` + bootstrapKMS + `&context_stack=` + stack + `", "deployRoleArn": "arn:aws:iam::111122223333:role/shipyard-deploy-` + stack + `", "previewRoleArn": "` + previewRoleOf(stack) + `"}`
}

// previewRoleOf is the preview role the bootstrap gives a stack of
// config/: prod's ci.pullRequestPreviews is false.
func previewRoleOf(stack string) string {
	if stack == "prod" {
		return "arn:aws:iam::111122223333:role/shipyard-preview-main"
	}
	return "arn:aws:iam::111122223333:role/shipyard-preview"
}

// legacySection is a stack's section as a bootstrap before encryption
// contexts wrote it: the region's provider, one preview role.
func legacySection(stack string) string {
	return `{"backendUrl": "` + bootstrapS3 + `", "secretsProvider": "` + bootstrapKMS + `", "deployRoleArn": "arn:aws:iam::111122223333:role/shipyard-deploy-` + stack + `", "previewRoleArn": "arn:aws:iam::111122223333:role/shipyard-preview"}`
}

// setBootstrapSection gives config/<stack>.json a bootstrap section, as a
// person or an earlier bootstrap wrote it.
func setBootstrapSection(t *testing.T, configDir, stack, section string) {
	t.Helper()
	path := filepath.Join(configDir, stack+".json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if data, err = release.SetSection(data, "bootstrap", []byte(section)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// configFiles reads every file of config/.
func configFiles(t *testing.T, configDir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(configDir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(configDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = string(data)
	}
	return files
}

// Re-running make bootstrap never points a stack whose section names
// another backend, key or roles at this bootstrap's: the next make up
// would find no stack there and deploy an empty copy, orphaning the real
// state. It is refused, naming each stack, field, old and new value and
// FORCE=1, with nothing written for any stack; FORCE=1 overwrites; a
// section already the same, or lacking a field, is no conflict.
func TestBootstrapNeverPointsAStackAtAnotherBackendUnlessForced(t *testing.T) {
	firstRun := map[string]answer{ // dev has no section: the state is local, then moves
		"pulumi stack ls":     {out: `[]`},
		"pulumi stack init":   {},
		"pulumi up":           {},
		"pulumi stack output": {out: bootstrapOutputsJSON},
		"pulumi stack export": {},
		"pulumi stack import": {},
		"pulumi stack rm":     {},
	}
	reRun := map[string]answer{ // dev's section names the bucket
		"pulumi stack ls":     {out: `[{"name": "organization/shipyard-bootstrap/eu-west-1"}]`},
		"pulumi up":           {},
		"pulumi stack output": {out: bootstrapOutputsJSON},
	}
	prodElsewhere := strings.NewReplacer(bootstrapS3, otherS3, "111122223333", "444455556666").Replace(bootstrapSection("prod"))
	tests := []struct {
		name     string
		sections map[string]string // stack: its section before the run
		answers  map[string]answer
		force    bool
		wantErr  []string // "": the run succeeds
		wantOut  []string
		// wantCalls: on an error, the pulumi commands run, in order.
		wantCalls string
		// unchanged: the files left byte for byte as they were (all on an error).
		unchanged []string
	}{
		{
			name:     "another stack's backend in another account is refused after the bootstrap's own up, before its state moves",
			sections: map[string]string{"prod": prodElsewhere},
			answers:  firstRun,
			wantErr: []string{
				"the bootstrap of stack dev would overwrite",
				`config/prod.json: bootstrap.backendUrl is "` + otherS3 + `"; this bootstrap's is "` + bootstrapS3 + `"`,
				`config/prod.json: bootstrap.deployRoleArn is "arn:aws:iam::444455556666:role/shipyard-deploy-prod"; this bootstrap's is "arn:aws:iam::111122223333:role/shipyard-deploy-prod"`,
				`config/prod.json: bootstrap.previewRoleArn is "arn:aws:iam::444455556666:role/shipyard-preview-main"`,
				"no config was written",
				"make bootstrap STACK=dev FORCE=1", "shipyard bootstrap dev --force", "by hand",
			},
			wantCalls: "pulumi stack ls, pulumi stack init, pulumi up, pulumi stack output",
		},
		{
			name: "a deploy role in another account, on the same backend, is refused",
			sections: map[string]string{
				"dev":     bootstrapSection("dev"),
				"staging": strings.Replace(bootstrapSection("staging"), "111122223333:role/shipyard-deploy-staging", "444455556666:role/shipyard-deploy-staging", 1),
			},
			answers: reRun,
			wantErr: []string{
				`config/staging.json: bootstrap.deployRoleArn is "arn:aws:iam::444455556666:role/shipyard-deploy-staging"; this bootstrap's is "arn:aws:iam::111122223333:role/shipyard-deploy-staging"`,
				"FORCE=1",
			},
			wantCalls: "pulumi stack ls, pulumi up, pulumi stack output",
		},
		{
			name:     "the stack's own backend differs from another stack's of the region: refused before anything runs",
			sections: map[string]string{"dev": bootstrapSection("dev"), "prod": prodElsewhere},
			answers:  reRun,
			wantErr: []string{
				`config/prod.json: bootstrap.backendUrl is "` + otherS3 + `"; this bootstrap's is "` + bootstrapS3 + `"`,
				"nothing was run and no config was written", "make bootstrap STACK=dev FORCE=1",
			},
			wantCalls: "",
		},
		{
			name:      "FORCE=1 overwrites them and says which",
			sections:  map[string]string{"dev": bootstrapSection("dev"), "prod": prodElsewhere},
			answers:   reRun,
			force:     true,
			wantOut:   []string{`FORCE=1: overwriting config/prod.json's bootstrap.backendUrl "` + otherS3 + `" with "` + bootstrapS3 + `"`, "wrote the bootstrap section", "config/prod.json"},
			unchanged: []string{"dev.json", "staging.json", "local.json", "schema.json"},
		},
		{
			name: "an identical re-run leaves every file byte for byte, however it is laid out",
			sections: map[string]string{
				"dev":     bootstrapSection("dev"),
				"staging": strings.ReplaceAll(bootstrapSection("staging"), ", ", ",\n      "),
				"prod":    bootstrapSection("prod"),
			},
			answers:   reRun,
			wantOut:   []string{"the bootstrap section of config/dev.json, config/prod.json, config/staging.json was already this one: left as it is"},
			unchanged: []string{"dev.json", "staging.json", "prod.json", "local.json", "schema.json"},
		},
		{
			name:      "a section of a bootstrap before encryption contexts is upgraded without FORCE, and each stack is to be rekeyed",
			sections:  map[string]string{"dev": legacySection("dev"), "staging": legacySection("staging"), "prod": legacySection("prod")},
			answers:   reRun,
			wantOut:   []string{"wrote the bootstrap section", "config/dev.json's secrets provider now binds the stack's secrets to its name (KMS encryption context stack=dev)", "make rekey STACK=dev", "make rekey STACK=prod", "make rekey STACK=staging"},
			unchanged: []string{"local.json", "schema.json"},
		},
		{
			name: "a secrets provider of another key is refused",
			sections: map[string]string{
				"dev":     bootstrapSection("dev"),
				"staging": strings.Replace(bootstrapSection("staging"), "alias/shipyard-pulumi?", "alias/mine?", 1),
			},
			answers:   reRun,
			wantErr:   []string{`config/staging.json: bootstrap.secretsProvider is "awskms://alias/mine?region=eu-west-1&context_stack=staging"`, "FORCE=1"},
			wantCalls: "pulumi stack ls, pulumi up, pulumi stack output",
		},
		{
			name:      "a section lacking fields is filled in, not refused",
			sections:  map[string]string{"dev": bootstrapSection("dev"), "prod": `{"backendUrl": "` + bootstrapS3 + `"}`},
			answers:   reRun,
			wantOut:   []string{"wrote the bootstrap section", "config/prod.json"},
			unchanged: []string{"dev.json", "staging.json"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := bootstrapRepo(t)
			configDir := filepath.Join(root, "config")
			for stack, section := range tc.sections {
				setBootstrapSection(t, configDir, stack, section)
			}
			// staging has no section in some cases: give it the one the
			// bootstrap writes, so only the case's sections differ.
			if _, ok := tc.sections["staging"]; !ok {
				setBootstrapSection(t, configDir, "staging", bootstrapSection("staging"))
			}
			before := configFiles(t, configDir)
			x := newFakeExec(tc.answers)
			var out bytes.Buffer
			b := bootstrapper{x: x.exec, root: root, configDir: configDir, getenv: func(string) string { return "" }, w: &out, force: tc.force}
			cfg, err := stackconfig.Load(configDir, "dev")
			if err != nil {
				t.Fatal(err)
			}
			err = b.run(context.Background(), cfg, "acme/shop")
			after := configFiles(t, configDir)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("the run succeeded:\n%s", &out)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("the error does not say %q:\n%v", w, err)
					}
				}
				for name, data := range before {
					if after[name] != data {
						t.Errorf("config/%s was written", name)
					}
				}
				if len(after) != len(before) {
					t.Errorf("config/ has %d files, had %d (a temporary file left?)", len(after), len(before))
				}
				var calls []string
				for _, c := range x.calls {
					calls = append(calls, shortCall(c))
				}
				if got := strings.Join(calls, ", "); got != tc.wantCalls {
					t.Errorf("calls %q, want %q", got, tc.wantCalls)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, &out)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output does not say %q:\n%s", w, &out)
				}
			}
			for _, name := range tc.unchanged {
				if after[name] != before[name] {
					t.Errorf("config/%s changed:\n%s", name, after[name])
				}
			}
			if len(after) != len(before) {
				t.Errorf("config/ has %d files, had %d (a temporary file left?)", len(after), len(before))
			}
			for _, stack := range []string{"dev", "staging", "prod"} {
				cfg, err := stackconfig.Load(configDir, stack)
				if err != nil {
					t.Fatal(err)
				}
				var want stackconfig.Bootstrap
				if err := json.Unmarshal([]byte(bootstrapSection(stack)), &want); err != nil {
					t.Fatal(err)
				}
				if cfg.Bootstrap != want {
					t.Errorf("config/%s.json bootstrap = %+v, want %+v", stack, cfg.Bootstrap, want)
				}
			}
		})
	}
}

func TestBootstrapTakesForceAsAFlagOrFromFORCE(t *testing.T) {
	root := bootstrapRepo(t)
	getenv := func(k string) string {
		return map[string]string{stackconfig.DirEnv: filepath.Join(root, "config"), "GITHUB_REPOSITORY": "acme/shop"}[k]
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"bootstrap", "dev", "--force=maybe"}, getenv, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "FORCE=maybe (--force=maybe): allowed 1, 0, true, false") {
		t.Fatalf("--force=maybe: %v", err)
	}
}

// Without PR environments in the region, or without a stack pull
// requests do not preview, the bootstrap has nothing to warn of.
func TestBootstrapWarnsOfPREnvironmentsOnlyBesideAGuardedStack(t *testing.T) {
	for _, c := range []struct {
		name     string
		sections map[string]map[string]string // stack: section: JSON
		warn     bool
	}{
		{"dev's PR environments beside prod", nil, true},
		{"no PR environments", map[string]map[string]string{"dev": {"previews": `{"enabled": false}`}}, false},
		{"every stack previewed by pull requests (prod in another region)", map[string]map[string]string{"prod": {"aws": `{"region": "eu-central-1"}`}}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			configDir := filepath.Join(bootstrapRepo(t), "config")
			for stack, sections := range c.sections {
				path := filepath.Join(configDir, stack+".json")
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				for name, section := range sections {
					if data, err = release.SetSection(data, name, []byte(section)); err != nil {
						t.Fatal(err)
					}
				}
				if err := os.WriteFile(path, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var out bytes.Buffer
			b := bootstrapper{configDir: configDir, w: &out}
			if err := b.warnPREnvironments("eu-west-1"); err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(out.String(), "warning: the PR environments of dev"); got != c.warn {
				t.Errorf("warned %v, want %v:\n%s", got, c.warn, &out)
			}
		})
	}
}
