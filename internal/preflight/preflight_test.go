package preflight

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

func TestBackend(t *testing.T) {
	aws := Stack{Name: "dev", Target: "aws"}
	bootstrapped := Stack{Name: "dev", Target: "aws", Bootstrap: Bootstrap{BackendURL: "s3://state?region=eu-west-1"}}
	docker := Stack{Name: "local", Target: "docker"}
	tests := []struct {
		name    string
		vars    map[string]string
		stack   Stack
		want    string
		wantErr string
	}{
		{"a docker stack keeps its state in the repository", nil, docker, "file:///repo/.pulumi-state", ""},
		{"an aws stack refuses the repository's file backend, naming make bootstrap", nil, aws, "", "run `make bootstrap STACK=dev`"},
		{"an aws stack refuses a file backend set in PULUMI_BACKEND_URL", map[string]string{BackendEnv: "file://~/state"}, aws, "", "PULUMI_BACKEND_URL"},
		{"an aws stack takes the backend its bootstrap section names", nil, bootstrapped, "s3://state?region=eu-west-1", ""},
		{"PULUMI_BACKEND_URL wins over the config", map[string]string{BackendEnv: "https://api.pulumi.com"}, bootstrapped, "https://api.pulumi.com", ""},
		{"SHIPYARD_ALLOW_LOCAL_STATE=1 allows local state on purpose", map[string]string{AllowLocalStateEnv: "1"}, aws, "file:///repo/.pulumi-state", ""},
		{"only 1 allows it", map[string]string{AllowLocalStateEnv: "yes"}, aws, "", "SHIPYARD_ALLOW_LOCAL_STATE=1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Backend(func(k string) string { return tc.vars[k] }, "/repo", tc.stack)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err = %v, want one line with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestSecretsProvider(t *testing.T) {
	kms := "awskms://alias/shipyard-pulumi?region=eu-west-1"
	tests := []struct {
		name  string
		env   string
		stack Stack
		want  string
	}{
		{"passphrase by default", "", Stack{Target: "aws"}, "passphrase"},
		{"the bootstrap's KMS key for an aws stack", "", Stack{Target: "aws", Bootstrap: Bootstrap{SecretsProvider: kms}}, kms},
		{"SHIPYARD_SECRETS_PROVIDER wins", "awskms://alias/other", Stack{Target: "aws", Bootstrap: Bootstrap{SecretsProvider: kms}}, "awskms://alias/other"},
		{"a docker stack ignores a bootstrap section", "", Stack{Target: "docker", Bootstrap: Bootstrap{SecretsProvider: kms}}, "passphrase"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SecretsProvider(func(k string) string {
				if k == SecretsProviderEnv {
					return tc.env
				}
				return ""
			}, tc.stack); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// The passphrase is chosen by target, not by name: every docker stack
// gets the local one, no aws stack any; one the user set wins.
func TestPassphrase(t *testing.T) {
	for _, tc := range []struct {
		name  string
		vars  map[string]string
		stack Stack
		want  string
		ok    bool
	}{
		{"the local stack", nil, Stack{Name: "local", Target: TargetDocker}, LocalPassphrase, true},
		{"any docker stack", nil, Stack{Name: "demo", Target: TargetDocker}, LocalPassphrase, true},
		{"no aws stack", nil, Stack{Name: "dev", Target: TargetAWS}, "", false},
		{"not one whose config is unreadable", nil, Stack{Name: "local"}, "", false},
		{"not when the user set one", map[string]string{PassphraseEnv: "mine"}, Stack{Name: "local", Target: TargetDocker}, "", false},
		{"not when the user set a file", map[string]string{PassphraseFileEnv: "/run/pass"}, Stack{Name: "local", Target: TargetDocker}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Passphrase(func(k string) string { return tc.vars[k] }, tc.stack)
			if got != tc.want || ok != tc.ok {
				t.Errorf("Passphrase = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestReadAndCheck(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"schema.json": "{}",
		"dev.json":    "\ufeff" + `{"target": "aws", "bootstrap": {"backendUrl": "s3://state"}}`,
		"local.json":  `{"target": "docker"}`,
		"broken.json": `{"target": `,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Read(dir, "dev")
	if err != nil || s.Target != "aws" || s.Bootstrap.BackendURL != "s3://state" {
		t.Errorf("Read(dev) = %+v, %v", s, err)
	}
	if _, err := Read(dir, "nope"); err == nil || !strings.Contains(err.Error(), `unknown stack "nope"`) || !strings.Contains(err.Error(), "known stacks: broken, dev, local") {
		t.Errorf("Read(nope): %v", err)
	}
	// A file the config loader will report in full is no preflight error.
	if _, err := Check(func(string) string { return "" }, "/repo", dir, "broken", "local", "dev"); err != nil {
		t.Errorf("Check: %v", err)
	}
}

// A stray config/dev.old.json is no stack: `make up STACK=dev.old` says
// it is not a stack name, as shipyard does, not "run make bootstrap
// STACK=dev.old".
func TestAFileWhoseNameIsNoStackNameIsNoStack(t *testing.T) {
	dir := stackDir(t)
	known, err := Stacks(dir)
	if err != nil || strings.Join(known, " ") != "dev local" {
		t.Errorf("Stacks = %v, %v; want dev local", known, err)
	}
	for _, stack := range []string{"dev.old", "Dev", "dev_2", "a-stack-name-of-21-ch"} {
		t.Run(stack, func(t *testing.T) {
			_, err := Check(func(string) string { return "" }, "/repo", dir, stack)
			if err == nil || !strings.Contains(err.Error(), `unknown stack "`+stack+`": not a stack name (stack names match `+StackNamePattern) ||
				!strings.Contains(err.Error(), "known stacks: dev, local") || strings.Contains(err.Error(), "bootstrap") {
				t.Errorf("Check(%s): %v", stack, err)
			}
		})
	}
}

// stackDir is a config directory with the real schema, an aws stack, a
// docker stack, and files whose names are no stack's, each an aws config
// without a bootstrap section.
func stackDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	schema, err := os.ReadFile(filepath.Join("..", "..", "config", "schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"schema.json":                string(schema),
		"dev.json":                   `{"target": "aws"}`,
		"local.json":                 `{"target": "docker"}`,
		"dev.old.json":               `{"target": "aws"}`,
		"Dev.json":                   `{"target": "aws"}`,
		"dev_2.json":                 `{"target": "aws"}`,
		"a-stack-name-of-21-ch.json": `{"target": "aws"}`,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A listing by target reads every stack: dev.old.json is none, and a file
// that is not JSON is an error (its target is unknown), not left out.
func TestReadAll(t *testing.T) {
	dir := stackDir(t)
	all, err := ReadAll(dir)
	if err != nil || len(all) != 2 || all[0].Name != "dev" || all[0].Target != TargetAWS || all[1].Name != "local" || all[1].Target != TargetDocker {
		t.Errorf("ReadAll = %+v, %v; want dev (aws) and local (docker)", all, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "staging.json"), []byte(`{"target": `), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadAll(dir); err == nil || !strings.Contains(err.Error(), `stack "staging": `+filepath.Join(dir, "staging.json")) {
		t.Errorf("ReadAll with a broken staging.json: %v", err)
	}
}

func TestForCI(t *testing.T) {
	full := Bootstrap{BackendURL: "s3://state", SecretsProvider: "awskms://alias/k", DeployRoleArn: "arn:deploy", PreviewRoleArn: "arn:preview"}
	aws := func(region string, b Bootstrap) Stack {
		return Stack{Name: "dev", Target: TargetAWS, Region: region, Bootstrap: b}
	}
	for _, tc := range []struct {
		name    string
		stack   Stack
		role    string
		want    CI
		wantErr string
	}{
		{"the deploy role", aws("eu-west-1", full), RoleDeploy, CI{"arn:deploy", "eu-west-1", "s3://state"}, ""},
		{"the preview role", aws("eu-west-1", full), RolePreview, CI{"arn:preview", "eu-west-1", "s3://state"}, ""},
		{"no bootstrap section", aws("eu-west-1", Bootstrap{}), RolePreview, CI{},
			`stack "dev" is not bootstrapped for CI's preview role: config/dev.json has no bootstrap.previewRoleArn, bootstrap.backendUrl; run make bootstrap STACK=dev and commit config/`},
		{"a section without the role", aws("eu-west-1", Bootstrap{BackendURL: "s3://state", PreviewRoleArn: "arn:preview"}), RoleDeploy, CI{}, "has no bootstrap.deployRoleArn; run make bootstrap"},
		{"no region", aws("", full), RoleDeploy, CI{}, "has no aws.region;"},
		{"a docker stack", Stack{Name: "local", Target: TargetDocker, Bootstrap: full}, RoleDeploy, CI{}, `stack "local" is not an aws stack`},
		{"an unknown role", aws("eu-west-1", full), "admin", CI{}, `unknown role "admin": allowed deploy, preview`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ForCI(tc.stack, tc.role)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err = %v, want one line with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// The stack-name rule is a copy of infra/stackconfig's (this package
// imports only the standard library): both must agree.
func TestTheStackNameRuleIsStackconfigs(t *testing.T) {
	if StackNamePattern != stackconfig.StackNamePattern {
		t.Errorf("StackNamePattern %q, infra/stackconfig's %q", StackNamePattern, stackconfig.StackNamePattern)
	}
	if TargetAWS != string(stackconfig.TargetAWS) || TargetDocker != string(stackconfig.TargetDocker) {
		t.Errorf("targets %q and %q, infra/stackconfig's %q and %q", TargetAWS, TargetDocker, stackconfig.TargetAWS, stackconfig.TargetDocker)
	}
	for _, name := range []string{"dev", "prod", "local", "dev-pr-12", "eu2", "a", "a-b-c", "abcdefghijklmnopqrst", "abcdefghijklmnopqrstu",
		"dev.old", "Dev", "dev_2", "2dev", "-dev", "dev-", "dev--x", "", "schema", "dév", "dev old"} {
		if got, want := ValidStackName(name), stackconfig.ValidStackName(name); got != want {
			t.Errorf("ValidStackName(%q) = %v, infra/stackconfig says %v", name, got, want)
		}
	}
	dir := stackDir(t)
	got, err := Stacks(dir)
	if err != nil {
		t.Fatal(err)
	}
	want, err := stackconfig.Stacks(dir)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Stacks = %v, infra/stackconfig lists %v", got, want)
	}
	for _, stack := range []string{"dev.old", "nope"} {
		_, err := Read(dir, stack)
		_, want := stackconfig.Load(dir, stack)
		if err == nil || want == nil || err.Error() != want.Error() {
			t.Errorf("Read(%s): %v\ninfra/stackconfig.Load: %v", stack, err, want)
		}
	}
}
