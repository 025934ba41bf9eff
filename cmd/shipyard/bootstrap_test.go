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

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

const bootstrapOutputsJSON = `{
  "stateBucket": "shipyard-pulumi-state-111122223333-eu-west-1",
  "backendUrl": "s3://shipyard-pulumi-state-111122223333-eu-west-1?region=eu-west-1&awssdk=v2",
  "secretsProvider": "awskms://alias/shipyard-pulumi?region=eu-west-1",
  "previewRoleArn": "arn:aws:iam::111122223333:role/shipyard-preview",
  "deployRoleArns": {"dev": "arn:aws:iam::111122223333:role/shipyard-deploy-dev", "staging": "arn:aws:iam::111122223333:role/shipyard-deploy-staging", "prod": "arn:aws:iam::111122223333:role/shipyard-deploy-prod"}
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
		want := stackconfig.Bootstrap{BackendURL: s3, SecretsProvider: "awskms://alias/shipyard-pulumi?region=eu-west-1",
			DeployRoleArn: "arn:aws:iam::111122223333:role/shipyard-deploy-" + stack, PreviewRoleArn: "arn:aws:iam::111122223333:role/shipyard-preview"}
		if cfg.Bootstrap != want {
			t.Errorf("config/%s.json bootstrap = %+v, want %+v", stack, cfg.Bootstrap, want)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(configDir, "local.json")); !bytes.Equal(after, localJSON) {
		t.Error("config/local.json changed")
	}
	for _, line := range []string{"PULUMI_BACKEND_URL=" + s3, "SHIPYARD_SECRETS_PROVIDER=awskms://alias/shipyard-pulumi?region=eu-west-1", "config/dev.json, config/prod.json, config/staging.json"} {
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
	if err := json.Unmarshal([]byte(bootstrapOutputsJSON), &o); err != nil || o.DeployRoleArns["prod"] == "" || o.PreviewRoleArn == "" {
		t.Fatalf("%+v %v", o, err)
	}
	src, err := os.ReadFile(filepath.Join(repoRoot, "infra", "bootstrap", "bootstrap.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"stateBucket", "backendUrl", "secretsProvider", "previewRoleArn", "deployRoleArns"} {
		if !strings.Contains(string(src), `"`+key+`":`) {
			t.Errorf("infra/bootstrap's outputs have no %q", key)
		}
	}
}
