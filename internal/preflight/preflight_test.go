package preflight

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
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

// ReadStrict is Read for the commands whose answer is the stack's target
// (preflight ci, preflight passphrase): a file that is not JSON is an
// error naming the file and where its JSON breaks, not a stack of no
// target.
func TestReadStrict(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"schema.json":     "{}",
		"dev.json":        "\ufeff" + `{"target": "aws", "bootstrap": {"backendUrl": "s3://state"}}`,
		"comma.json":      "{\n  \"target\": \"aws\",\n}\n",
		"cut.json":        `{"target": `,
		"typed.json":      `{"target": 5}`,
		"misspelt.json":   `{"target": "dockr"}`,
		"dev.old.json":    `{"target": `,
		"targetless.json": `{}`,
		"twice.json":      "{\n  \"target\": \"aws\",\n  \"aws\": {\"region\": \"eu-west-1\"},\n  \"target\": \"docker\"\n}\n",
		"nested.json":     "{\"target\": \"aws\", \"bootstrap\": {\"backendUrl\": \"s3://a\",\n \"backendUrl\": \"s3://b\"}}",
		"escaped.json":    `{"target": "aws", "a\"b": 1, "a\"b": 2}`,
		"latin1.json":     "{\n  \"target\": \"docker\",\n  \"bootstrap\": {\"backendUrl\": \"s3://caf\xe9\"}\n}\n",
		"apart.json":      `{"target": "aws", "aws": {"region": "eu-west-1"}, "bootstrap": {"region": "x"}, "app": {"secrets": [{"a": 1}, {"a": 2}]}}`,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, stack string
		want        Stack
		wantErr     string
	}{
		{"a config with a BOM is read", "dev", Stack{Name: "dev", Path: filepath.Join(dir, "dev.json"), Target: TargetAWS, Bootstrap: Bootstrap{BackendURL: "s3://state"}, PullRequestPreviews: true}, ""},
		{"a trailing comma is an error naming the file, the line and the column", "comma",
			Stack{}, `stack "comma": ` + filepath.Join(dir, "comma.json") + `:3:1: invalid character '}' looking for beginning of object key string (shipyard validate comma says more)`},
		{"a file cut short is an error naming where it ends", "cut", Stack{}, filepath.Join(dir, "cut.json") + ":1:12: unexpected end of JSON input"},
		{"a target that is no string is an error naming the field", "typed", Stack{}, filepath.Join(dir, "typed.json") + ": json: cannot unmarshal number into Go struct field .target of type string"},
		{"a misspelt target is read as it is, for the caller to refuse", "misspelt", Stack{Name: "misspelt", Path: filepath.Join(dir, "misspelt.json"), Target: "dockr", PullRequestPreviews: true}, ""},
		{"a config without a target is read as it is", "targetless", Stack{Name: "targetless", Path: filepath.Join(dir, "targetless.json"), PullRequestPreviews: true}, ""},
		{"a key twice at the top level is an error naming the key, where it is again and where first", "twice", Stack{},
			`stack "twice": ` + filepath.Join(dir, "twice.json") + `:4:3: duplicate key "target" in the top level (first at line 2); each key may appear once`},
		{"a key twice in a section is an error naming the section", "nested", Stack{},
			filepath.Join(dir, "nested.json") + `:2:2: duplicate key "backendUrl" in bootstrap (first at line 1)`},
		{"a key with an escaped quote twice is found at its opening quote", "escaped", Stack{},
			filepath.Join(dir, "escaped.json") + `:1:30: duplicate key "a\"b" in the top level`},
		{"a byte that is not UTF-8 is an error naming the file, the line and the column", "latin1", Stack{},
			`stack "latin1": ` + filepath.Join(dir, "latin1.json") + `:3:40: byte 0xe9 is not UTF-8; allowed: UTF-8 text (save the file as UTF-8)`},
		{"one key in different objects is no duplicate", "apart", Stack{Name: "apart", Path: filepath.Join(dir, "apart.json"), Target: TargetAWS, Region: "eu-west-1", PullRequestPreviews: true}, ""},
		{"an unknown stack lists the known ones", "nope", Stack{}, `unknown stack "nope": there is no ` + filepath.Join(dir, "nope.json") + "; known stacks: apart, comma, cut, dev, escaped, latin1, misspelt, nested, targetless, twice, typed"},
		{"a file whose name is no stack name is no stack", "dev.old", Stack{}, `unknown stack "dev.old": not a stack name`},
		{"an empty name is an empty STACK, listing the stacks", "", Stack{}, "STACK is empty: allowed apart, comma, cut, dev, escaped, latin1, misspelt, nested, targetless, twice, typed (the stacks of " + dir + ")"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadStrict(dir, tc.stack)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("got %+v, err = %v; want one line with %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	// Read, before the config loader reports the file in full, still
	// takes it as a stack of no target.
	if s, err := Read(dir, "comma"); err != nil || s != (Stack{Name: "comma"}) {
		t.Errorf("Read(comma) = %+v, %v; want a stack of no target and no error", s, err)
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

// A config file named as a PR environment, <base>-pr-<n>, is refused by
// every command that lists or reads the stacks, naming the file, the PR
// and base it names and the reserved pattern: pr-up would load it as the
// PR's config, and pr-reap take a stack of that name for a PR environment.
func TestAFileNamedAsAPREnvironmentIsRefused(t *testing.T) {
	dir := stackDir(t)
	if err := os.WriteFile(filepath.Join(dir, "local-pr-1.json"), []byte(`{"target": "docker"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(dir, "local-pr-1.json") + `: "local-pr-1" is no stack name: it names PR 1's environment of stack local (make pr-up PR=1 STACK=local), which has no config file of its own; allowed: rename the file to a stack name (` + StackNamePattern + ")"
	for what, err := range map[string]error{
		"Stacks":                 func() error { _, err := Stacks(dir); return err }(),
		"Read(local)":            func() error { _, err := Read(dir, "local"); return err }(),
		"ReadStrict(local-pr-1)": func() error { _, err := ReadStrict(dir, "local-pr-1"); return err }(),
		"ReadAll":                func() error { _, err := ReadAll(dir); return err }(),
	} {
		if err == nil || err.Error() != want {
			t.Errorf("%s: %v\nwant %s", what, err, want)
		}
	}
	if !strings.Contains(StackNamePattern, "-pr-<n>") {
		t.Errorf("StackNamePattern %q does not name the reserved names", StackNamePattern)
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

// destroy's CONFIRM: an aws stack needs it naming the stack; a CONFIRM
// naming another stack is refused on every target, naming both variables
// and the values allowed (`make destroy CONFIRM=prod` with STACK at its
// default destroyed local and its data volumes).
func TestCheckConfirm(t *testing.T) {
	local := Stack{Name: "local", Target: TargetDocker}
	dev := Stack{Name: "dev", Target: TargetAWS}
	for _, tc := range []struct {
		name    string
		stack   Stack
		confirm string
		wantErr string
	}{
		{"a docker stack needs no CONFIRM", local, "", ""},
		{"a docker stack takes its own name", local, "local", ""},
		{"a docker stack refuses another stack's name, naming both and what is allowed", local, "prod",
			"CONFIRM=prod does not name STACK=local; allowed: local, or empty for a docker stack; nothing was destroyed"},
		{"a docker stack refuses a CONFIRM of another case", local, "Local", "CONFIRM=Local does not name STACK=local"},
		{"an aws stack needs CONFIRM, naming the command that confirms", dev, "",
			"destroying aws stack \"dev\" deletes its database and data: confirm with `make destroy STACK=dev CONFIRM=dev`"},
		{"an aws stack takes its own name", dev, "dev", ""},
		{"an aws stack refuses another stack's name, naming both and the one allowed", dev, "prod",
			"CONFIRM=prod does not name STACK=dev; allowed: dev (destroying aws stack \"dev\" deletes its database and data: confirm with `make destroy STACK=dev CONFIRM=dev`); nothing was destroyed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckConfirm(tc.stack, tc.confirm)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckConfirm: %v", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one starting %q", err, tc.wantErr)
			}
		})
	}
}

// A PR number is one from 1 to MaxPR; anything else is an error naming PR
// and the numbers allowed.
func TestParsePR(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        int
		wantErr     string
	}{
		{"a number", "12", 12, ""},
		{"spaces around it", " 7 ", 7, ""},
		{"the largest", "9999999", 9999999, ""},
		{"empty is missing", "", 0, "PR is missing: allowed a pull request number from 1 to 9999999"},
		{"a word", "abc", 0, `PR="abc": allowed a pull request number from 1 to 9999999`},
		{"zero", "0", 0, `PR="0": allowed`},
		{"negative", "-3", 0, `PR="-3": allowed`},
		{"too large", "10000000", 0, `PR="10000000": allowed`},
		{"a fraction", "1.5", 0, `PR="1.5": allowed`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := ParsePR(tc.value)
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("ParsePR(%q) = %d, %v; want an error starting %q", tc.value, n, err, tc.wantErr)
				}
				return
			}
			if err != nil || n != tc.want {
				t.Errorf("ParsePR(%q) = %d, %v; want %d", tc.value, n, err, tc.want)
			}
		})
	}
}

// promote's FROM and TO are two different aws stacks; every other pair
// is refused naming the variable and the aws stacks.
func TestCheckPromote(t *testing.T) {
	dir := stackDir(t)
	for name, data := range map[string]string{"staging.json": `{"target": "aws"}`, "broken.json": `{"target": `} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, from, to, wantErr string
	}{
		{"two aws stacks", "dev", "staging", ""},
		{"TO missing", "dev", "", "TO is missing: allowed the aws stacks dev, staging (make promote FROM=<stack> TO=<stack>"},
		{"FROM missing", "", "dev", "FROM is missing: allowed the aws stacks dev, staging"},
		{"both missing", "", "", "FROM and TO are missing: allowed the aws stacks dev, staging"},
		{"a docker FROM", "local", "local", `FROM=local: stack "local" has target "docker"; allowed the aws stacks dev, staging`},
		{"a docker TO", "dev", "local", `TO=local: stack "local" has target "docker"; allowed the aws stacks dev, staging`},
		{"an unknown FROM", "nope", "dev", "FROM=nope: unknown stack; allowed the aws stacks dev, staging"},
		{"a file that is no stack", "dev", "dev.old", "TO=dev.old: unknown stack; allowed the aws stacks dev, staging"},
		{"a config that is not JSON", "broken", "dev", `FROM=broken: stack "broken": ` + filepath.Join(dir, "broken.json") + ":1:12: unexpected end of JSON input"},
		{"one stack twice", "staging", "staging", "FROM=staging and TO=staging are the same stack; allowed two different aws stacks of dev, staging"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckPromote(dir, tc.from, tc.to)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckPromote(%s, %s): %v", tc.from, tc.to, err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("CheckPromote(%s, %s): %v; want one line starting %q", tc.from, tc.to, err, tc.wantErr)
			}
		})
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
		{"a docker stack is refused, naming its target and the one ci takes", Stack{Name: "local", Target: TargetDocker, Bootstrap: full}, RoleDeploy, CI{},
			`stack "local": target "docker": allowed "aws" (preflight ci is for aws stacks`},
		{"a misspelt target is refused, naming it and the one ci takes", Stack{Name: "dev", Target: "dockr", Bootstrap: full}, RoleDeploy, CI{},
			`stack "dev": target "dockr": allowed "aws" (preflight ci is for aws stacks`},
		{"a stack of no target is refused, naming the empty target", Stack{Name: "dev", Region: "eu-west-1", Bootstrap: full}, RoleDeploy, CI{},
			`stack "dev": target "": allowed "aws"`},
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

func TestAppImage(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"schema.json":  "{}",
		"local.json":   `{"target": "docker"}`,
		"mine.json":    "\ufeff" + `{"target": "docker", "release": {"imageRepository": "team/my-app"}}`,
		"dev.json":     `{"target": "aws", "release": {"imageRepository": "team-ecr"}}`,
		"upper.json":   `{"target": "docker", "release": {"imageRepository": "My-App"}}`,
		"long.json":    `{"target": "docker", "release": {"imageRepository": "` + strings.Repeat("a", 257) + `"}}`,
		"typed.json":   `{"target": "docker", "release": {"imageRepository": 5}}`,
		"nowhere.json": `{"release": {"imageRepository": "x"}}`,
		"comma.json":   "{\"target\": \"docker\",\n}",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, stack, tag string
		want, wantErr    string
	}{
		{"a docker stack without release.imageRepository: shipyard-app:local", "local", "", "shipyard-app:local", ""},
		{"a docker stack's release.imageRepository names its image", "mine", "", "team/my-app:local", ""},
		{"a tag replaces local", "mine", "v1.2-3-gabc-dirty", "team/my-app:v1.2-3-gabc-dirty", ""},
		{"an aws stack's release.imageRepository is its ECR repository, not the local build's", "dev", "", "shipyard-app:local", ""},
		{"an uppercase repository is refused, naming the field and what it allows", "upper", "", "", `release.imageRepository "My-App": allowed a lowercase repository name such as "shipyard-prod"`},
		{"a repository over 256 characters is refused", "long", "", "", "at most 256 characters"},
		{"a repository that is no string is refused, naming the field", "typed", "", "", "release.imageRepository of type string"},
		{"a file without a target is refused, naming the field and its values", "nowhere", "", "", `target "": allowed "docker" or "aws"`},
		{"a file that is not JSON is refused, naming it and where its JSON breaks", "comma", "", "", filepath.Join(dir, "comma.json") + `:2:1: invalid character '}'`},
		{"a tag Docker refuses is refused, naming VERSION", "local", "v1+build", "", `image tag "v1+build" (the Makefile's VERSION): allowed a Docker tag`},
		{"an unknown stack lists the known ones", "nope", "", "", `unknown stack "nope"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AppImage(dir, tc.stack, tc.tag)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("got %q, err = %v; want one line with %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// imageRepositoryRE and its hint are a copy of config/schema.json's
// release.imageRepository rule: both must agree.
func TestTheImageRepositoryRuleIsTheSchemas(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties struct {
			Release struct {
				Properties struct {
					ImageRepository struct {
						Pattern   string `json:"pattern"`
						Hint      string `json:"x-patternHint"`
						MaxLength int    `json:"maxLength"`
					} `json:"imageRepository"`
				} `json:"properties"`
			} `json:"release"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	rule := schema.Properties.Release.Properties.ImageRepository
	if rule.Pattern != imageRepositoryRE.String() || rule.Hint != imageRepositoryHint || rule.MaxLength != maxImageRepositoryLen {
		t.Errorf("schema: pattern %q, hint %q, maxLength %d; this package: %q, %q, %d",
			rule.Pattern, rule.Hint, rule.MaxLength, imageRepositoryRE, imageRepositoryHint, maxImageRepositoryLen)
	}
}
