package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/internal/preflight"
)

func TestRun(t *testing.T) {
	config, _ := filepath.Abs(filepath.Join("..", "..", "config"))
	root := filepath.Dir(config)
	tests := []struct {
		name    string
		args    []string
		vars    map[string]string
		want    string
		wantErr string
	}{
		{"prints a docker stack's file backend", []string{"backend", "local"}, nil, "file://" + filepath.Join(root, ".pulumi-state") + "\n", ""},
		{"prints the backend PULUMI_BACKEND_URL names", []string{"backend", "dev"}, map[string]string{"PULUMI_BACKEND_URL": "s3://state"}, "s3://state\n", ""},
		{"refuses an aws stack's file backend in one line", []string{"check", "local", "dev"}, nil, "", "run `make bootstrap STACK=dev`"},
		{"prints the target of a stack it would refuse", []string{"target", "dev"}, nil, "aws\n", ""},
		{"names an unknown stack", []string{"check", "nope"}, nil, "", `unknown stack "nope"`},
		{"prints its usage", []string{"backend"}, nil, "", "usage: preflight backend STACK"},
		{"prints a docker stack's passphrase", []string{"passphrase", "local"}, nil, "shipyard-local\n", ""},
		{"prints no passphrase for an aws stack", []string{"passphrase", "dev"}, nil, "", ""},
		{"prints none when the user set one", []string{"passphrase", "local"}, map[string]string{"PULUMI_CONFIG_PASSPHRASE": "mine"}, "", ""},
		{"prints none when the user set a passphrase file", []string{"passphrase", "local"}, map[string]string{"PULUMI_CONFIG_PASSPHRASE_FILE": "/run/pass"}, "", ""},
		{"names an unknown command", []string{"stack"}, nil, "", `unknown command "stack"; usage: preflight check STACK...`},
		{"lists the stacks", []string{"stacks"}, nil, "dev\nlocal\nprod\nstaging\n", ""},
		{"lists the aws stacks as a JSON list", []string{"stacks", "--target=aws", "--format=json"}, nil, `["dev","prod","staging"]` + "\n", ""},
		{"lists the docker stacks", []string{"stacks", "--target=docker"}, nil, "local\n", ""},
		{"lists the aws stacks pull requests preview: not prod (ci.pullRequestPreviews false), dev and staging by default", []string{"stacks", "--target=aws", "--pull-requests", "--format=json"}, nil, `["dev","staging"]` + "\n", ""},
		{"names the values --pull-requests takes", []string{"stacks", "--pull-requests=maybe"}, nil, "", "--pull-requests"},
		{"names the targets --target takes", []string{"stacks", "--target=gcp"}, nil, "", "--target=gcp: allowed aws, docker"},
		{"takes no bare --target", []string{"stacks", "--target"}, nil, "", "--target=: allowed aws, docker"},
		{"names the formats --format takes", []string{"stacks", "--format=yaml"}, nil, "", "--format=yaml: allowed text, json"},
		{"names a misspelt flag and the ones it takes", []string{"stacks", "--targt=aws"}, nil, "", "unknown flag --targt; allowed --target, --pull-requests, --format; usage: preflight stacks"},
		{"takes no stack", []string{"stacks", "dev"}, nil, "", "usage: preflight stacks [--target=aws|docker] [--pull-requests] [--format=text|json]"},
		{"names a dash argument it cannot take in its usage error", []string{"stacks", "-1"}, nil, "", "unknown flag -1; usage: preflight stacks [--target=aws|docker] [--pull-requests] [--format=text|json]"},
		{"needs --role", []string{"ci", "dev"}, nil, "", "--role is missing: allowed deploy, preview"},
		{"names the roles --role takes", []string{"ci", "dev", "--role=admin"}, nil, "", "--role=admin: allowed deploy, preview"},
		{"refuses a flag check does not take", []string{"check", "dev", "--role=deploy"}, nil, "", "unknown flag --role; preflight check takes no flags"},
		{"names make bootstrap for a stack without a bootstrap section", []string{"ci", "dev", "--role=deploy"}, nil, "", "config/dev.json has no bootstrap.deployRoleArn, bootstrap.backendUrl; run make bootstrap STACK=dev"},
		{"has no roles for a docker stack", []string{"ci", "local", "--role=preview"}, nil, "", `stack "local": target "docker": allowed "aws" (preflight ci is for aws stacks`},
		{"prints a docker stack's app image", []string{"image", "local"}, nil, "shipyard-app:local\n", ""},
		{"prints the app image tagged TAG", []string{"image", "local", "v1.2-dirty"}, nil, "shipyard-app:v1.2-dirty\n", ""},
		{"prints an aws stack's local build before make bootstrap", []string{"image", "dev"}, nil, "shipyard-app:local\n", ""},
		{"image takes one stack and one tag", []string{"image", "local", "v1", "v2"}, nil, "", "usage: preflight image STACK [TAG]"},
		{"destroy takes a docker stack without CONFIRM", []string{"destroy", "local", ""}, nil, "", ""},
		{"destroy takes a docker stack with its own name", []string{"destroy", "local", "local"}, nil, "", ""},
		{"destroy refuses a CONFIRM naming another stack", []string{"destroy", "local", "prod"}, nil, "", "CONFIRM=prod does not name STACK=local; allowed: local, or empty for a docker stack"},
		{"destroy refuses an aws stack without CONFIRM", []string{"destroy", "dev", ""}, nil, "", "confirm with `make destroy STACK=dev CONFIRM=dev`"},
		{"destroy takes an aws stack with its own name, before make bootstrap", []string{"destroy", "dev", "dev"}, nil, "", ""},
		{"destroy names an unknown stack", []string{"destroy", "nope", "nope"}, nil, "", `unknown stack "nope"`},
		{"pr takes a pull request number", []string{"pr", "12"}, nil, "", ""},
		{"pr refuses a word, naming PR and the numbers allowed", []string{"pr", "abc"}, nil, "", `PR="abc": allowed a pull request number from 1 to 9999999`},
		{"pr refuses an empty PR", []string{"pr", ""}, nil, "", "PR is missing: allowed a pull request number from 1 to 9999999"},
		{"promote takes two aws stacks", []string{"promote", "staging", "prod"}, nil, "", ""},
		{"promote names a missing TO and the aws stacks", []string{"promote", "staging", ""}, nil, "", "TO is missing: allowed the aws stacks dev, prod, staging"},
		{"promote names a docker FROM", []string{"promote", "local", "local"}, nil, "", `FROM=local: stack "local" has target "docker"; allowed the aws stacks dev, prod, staging`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vars := map[string]string{"SHIPYARD_CONFIG_DIR": config}
			for k, v := range tc.vars {
				vars[k] = v
			}
			var out bytes.Buffer
			err := run(tc.args, func(k string) string { return vars[k] }, &out)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err = %v, want one line with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || out.String() != tc.want {
				t.Errorf("got %q, %v; want %q", out.String(), err, tc.want)
			}
		})
	}
}

// The Makefile builds preflight before anything else because it builds in
// seconds: it imports the standard library, internal/cliflag and
// internal/preflight only (which import the standard library only).
func TestPreflightImportsOnlyTheStandardLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	got := strings.Fields(string(out))
	want := []string{"github.com/shipyard-kit/shipyard/internal/cliflag", "github.com/shipyard-kit/shipyard/internal/preflight", "github.com/shipyard-kit/shipyard/cmd/preflight"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("cmd/preflight depends on %v, want only %v", got, want)
	}
}

// ci prints the GITHUB_OUTPUT lines of a bootstrapped stack's role.
func TestCIPrintsTheRoleRegionAndBackend(t *testing.T) {
	dir := t.TempDir()
	cfg := `{"target": "aws", "aws": {"region": "eu-west-1"}, "bootstrap": {"backendUrl": "s3://state?region=eu-west-1",
		"secretsProvider": "awskms://alias/k", "deployRoleArn": "arn:deploy", "previewRoleArn": "arn:preview"}}`
	for name, data := range map[string]string{"schema.json": "{}", "dev.json": cfg} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for role, arn := range map[string]string{"deploy": "arn:deploy", "preview": "arn:preview"} {
		var out bytes.Buffer
		err := run([]string{"ci", "dev", "--role=" + role}, func(k string) string {
			if k == "SHIPYARD_CONFIG_DIR" {
				return dir
			}
			return ""
		}, &out)
		if want := "role=" + arn + "\nregion=eu-west-1\nbackend=s3://state?region=eu-west-1\n"; err != nil || out.String() != want {
			t.Errorf("ci dev --role=%s: %q, %v; want %q", role, out.String(), err, want)
		}
	}
}

// ci, passphrase and target answer by the stack's target, so a config
// they cannot read is an error naming the file and where its JSON breaks
// (a workflow's error annotation, make e2e's failure), not an answer for a
// stack of no target: "not an aws stack (target \"\")", no passphrase, or
// an empty target (the Makefile's `case` would skip the work), and exit 0.
func TestCIPassphraseAndTargetNameAConfigTheyCannotRead(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{
		"schema.json": "{}",
		"dev.json":    "{\n  \"target\": \"aws\",\n}\n",
		"local.json":  `{"target": "docker",}`,
		"typo.json":   `{"target": "dockr"}`,
		"none.json":   `{}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, args, wantErr string
	}{
		{"ci names the file and where a trailing comma breaks its JSON", "ci dev --role=deploy",
			`stack "dev": ` + filepath.Join(dir, "dev.json") + `:3:1: invalid character '}' looking for beginning of object key string (shipyard validate dev says more)`},
		{"ci names a misspelt target and the one it takes", "ci typo --role=preview", `stack "typo": target "dockr": allowed "aws" (preflight ci is for aws stacks`},
		{"passphrase names the file and where a trailing comma breaks its JSON", "passphrase local",
			`stack "local": ` + filepath.Join(dir, "local.json") + `:1:21: invalid character '}'`},
		{"passphrase names a misspelt target and the ones a stack takes", "passphrase typo", filepath.Join(dir, "typo.json") + `: target "dockr": allowed "docker" or "aws"`},
		{"target names the file and where a trailing comma breaks its JSON", "target local",
			`stack "local": ` + filepath.Join(dir, "local.json") + `:1:21: invalid character '}'`},
		{"target names a misspelt target and the ones a stack takes", "target typo", filepath.Join(dir, "typo.json") + `: target "dockr": allowed "docker" or "aws"`},
		{"target names a config without one", "target none", filepath.Join(dir, "none.json") + `: target "": allowed "docker" or "aws"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(strings.Fields(tc.args), func(k string) string { return map[string]string{"SHIPYARD_CONFIG_DIR": dir}[k] }, &out)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "\n") || out.Len() != 0 {
				t.Errorf("preflight %s: printed %q, err = %v; want nothing printed and one line with %q", tc.args, out.String(), err, tc.wantErr)
			}
		})
	}
}

func TestAFailureIsAnAnnotationInsideGitHubActionsAndAPlainLineElsewhere(t *testing.T) {
	err := errors.New("config/dev.json: no bootstrap section (missing backend)\nrun make bootstrap STACK=dev: 100% needed")
	// Errors about a config file, as preflight makes them: a checkout with
	// a config that is not JSON, and one whose file name needs escaping
	// in an annotation's property.
	checkout := t.TempDir()
	writeConfig := func(dir, name, data string) {
		t.Helper()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".json"), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig(filepath.Join(checkout, "config"), "dev", "{\n  \"target\": \"aws\",\n}\n")
	_, notJSON := preflight.ReadStrict(filepath.Join(checkout, "config"), "dev")
	odd := filepath.Join(checkout, "conf,ig:s")
	writeConfig(odd, "dev", `{"target": "aws"}`)
	s, rerr := preflight.ReadStrict(odd, "dev")
	if notJSON == nil || rerr != nil {
		t.Fatalf("setting up: %v, %v", notJSON, rerr)
	}
	_, notBootstrapped := preflight.ForCI(s, preflight.RoleDeploy)
	for _, c := range []struct {
		name, actions, workspace string
		err                      error
		want                     string
	}{
		{"outside GitHub Actions the message is printed as it is", "", "", err, err.Error() + "\n"},
		{"inside a job it is an error annotation, newlines and percent signs escaped", "true", "", err,
			"::error::config/dev.json: no bootstrap section (missing backend)%0Arun make bootstrap STACK=dev: 100%25 needed\n"},
		{"a config that is not JSON is annotated on its file, line and column, relative to the checkout", "true", checkout, notJSON,
			"::error file=config/dev.json,line=3,col=1::" + notJSON.Error() + "\n"},
		{"a file outside the checkout keeps its path", "true", filepath.Join(checkout, "config"), notBootstrapped,
			"::error file=" + filepath.ToSlash(checkout) + "/conf%2Cig%3As/dev.json::" + notBootstrapped.Error() + "\n"},
		{"a stack its file lacks something for is annotated on the whole file, its name's commas and colons escaped", "true", checkout, notBootstrapped,
			"::error file=conf%2Cig%3As/dev.json::" + notBootstrapped.Error() + "\n"},
		{"outside GitHub Actions a located error is its message alone", "", checkout, notJSON, notJSON.Error() + "\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out strings.Builder
			report(&out, c.err, func(k string) string {
				return map[string]string{"GITHUB_ACTIONS": c.actions, "GITHUB_WORKSPACE": c.workspace}[k]
			})
			if out.String() != c.want {
				t.Errorf("got  %q\nwant %q", out.String(), c.want)
			}
		})
	}
}

func TestImageNamesTheRepositoryOfTheStacksConfig(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{
		"schema.json": "{}",
		"mine.json":   `{"target": "docker", "release": {"imageRepository": "foo"}}`,
		"bad.json":    `{"target": "docker", "release": {"imageRepository": "Foo"}}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	getenv := func(k string) string { return map[string]string{"SHIPYARD_CONFIG_DIR": dir}[k] }
	for _, tc := range []struct{ args, want string }{{"image mine", "foo:local\n"}, {"image mine v3", "foo:v3\n"}} {
		var out bytes.Buffer
		if err := run(strings.Fields(tc.args), getenv, &out); err != nil || out.String() != tc.want {
			t.Errorf("preflight %s: %q, %v; want %q", tc.args, out.String(), err, tc.want)
		}
	}
	var out bytes.Buffer
	if err := run([]string{"image", "bad"}, getenv, &out); err == nil || !strings.Contains(err.Error(), `release.imageRepository "Foo": allowed a lowercase repository name`) || out.Len() != 0 {
		t.Errorf("preflight image bad: %q, %v", out.String(), err)
	}
}
