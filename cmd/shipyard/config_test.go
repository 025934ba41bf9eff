package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// runStackCmd runs the shipyard command line with a fake environment and
// returns stdout, stderr and the error (non-nil means exit status 1).
func runStackCmd(t *testing.T, vars map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return vars[k] }, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

// stackConfigDir writes a config directory with the repository's schema and the
// given stack files.
func stackConfigDir(t *testing.T, files map[string]string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	schema, err := os.ReadFile("../../config/schema.json")
	if err != nil {
		t.Fatal(err)
	}
	files[stackconfig.SchemaFile[:len(stackconfig.SchemaFile)-len(".json")]] = string(schema)
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name+".json"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return map[string]string{stackconfig.DirEnv: dir}
}

func TestValidateEveryRepositoryStack(t *testing.T) {
	out, errOut, err := runStackCmd(t, nil, "validate")
	if err != nil {
		t.Fatalf("validate: %v\n%s", err, errOut)
	}
	for _, s := range []string{"dev", "local", "prod", "staging"} {
		if !strings.Contains(out, s+": ok\n") {
			t.Errorf("output lacks %q:\n%s", s+": ok", out)
		}
	}
	if errOut != "" {
		t.Errorf("stderr: %s", errOut)
	}
}

func TestValidateNamedStacks(t *testing.T) {
	out, _, err := runStackCmd(t, nil, "validate", "prod", "local")
	if err != nil || out != "prod: ok\nlocal: ok\n" {
		t.Errorf("validate prod local = %q, %v", out, err)
	}
}

func TestValidateFailsListingEveryProblemOfEveryFile(t *testing.T) {
	vars := stackConfigDir(t, map[string]string{
		"dev":   `{"target": "aws", "services": {"web": {"cpu": 300}}}`,
		"local": `{"target": "docker"}`,
		"qa":    "{\n  \"target\": \"docker\",,\n}",
	})
	out, _, err := runStackCmd(t, vars, "validate")
	if err == nil {
		t.Fatal("validate succeeded")
	}
	if out != "local: ok\n" {
		t.Errorf("stdout = %q", out)
	}
	for _, w := range []string{
		"dev.json: 3 problem(s):",
		"services.web.cpu: 300 is not a Fargate size; allowed 256, 512, 1024, 2048, 4096",
		"aws.region: required",
		"loadBalancer: neither loadBalancer.hostedZone nor loadBalancer.certificateArn is set",
		"qa.json: invalid JSON at line 2, column 22",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}

// The alarm overrides pass the schema but not the alarm table: validate
// says so before `make up` would.
func TestValidateChecksAlarmOverridesAgainstTheAlarmTable(t *testing.T) {
	vars := stackConfigDir(t, map[string]string{
		"local": `{"target": "docker", "alarms": {"overrides": {"cpuHigh": {"threshold": 120}, "targetErrorRate": {"disabled": true}}}}`,
		"qa":    `{"target": "docker", "alarms": {"overrides": {"cpuHigh": {"threshold": 95}}}}`,
	})
	for _, args := range [][]string{{"validate"}, {"validate", "local", "qa"}} {
		out, _, err := runStackCmd(t, vars, args...)
		if err == nil {
			t.Fatalf("%v succeeded", args)
		}
		if out != "qa: ok\n" {
			t.Errorf("%v: stdout = %q", args, out)
		}
		for _, w := range []string{
			"local.json:",
			"alarms.overrides.cpuHigh.threshold: 120 is out of range; allowed 0 to 100 (%)",
			"alarms.overrides.targetErrorRate.disabled: is true, but targetErrorRate rolls back deployments of web, worker",
		} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error lacks %q:\n%v", args, w, err)
			}
		}
	}
}

func TestValidateSkipsStrayFilesSayingWhy(t *testing.T) {
	vars := stackConfigDir(t, map[string]string{"local": `{"target": "docker"}`, "local.old": `{"target": "nope"}`})
	out, errOut, err := runStackCmd(t, vars, "validate")
	if err != nil || out != "local: ok\n" {
		t.Errorf("validate = %q, %v; want only local validated", out, err)
	}
	if !strings.Contains(errOut, "note: local.old.json is not a stack (stack names match ^[a-z]") {
		t.Errorf("stderr %q does not say why local.old.json was skipped", errOut)
	}
}

func TestValidateUnknownStackListsKnownOnes(t *testing.T) {
	_, _, err := runStackCmd(t, nil, "validate", "qa")
	if err == nil || !strings.Contains(err.Error(), `unknown stack "qa"`) || !strings.Contains(err.Error(), "known stacks: dev, local, prod, staging") {
		t.Errorf("err = %v", err)
	}
}

func TestValidateWithoutSchemaFails(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dev.json"), []byte(`{"target": "docker"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := runStackCmd(t, map[string]string{stackconfig.DirEnv: dir}, "validate")
	if err == nil || !strings.Contains(err.Error(), "no schema.json there") {
		t.Errorf("err = %v", err)
	}
}

func TestValidateWarnsAboutRestatedDefaults(t *testing.T) {
	vars := stackConfigDir(t, map[string]string{"local": `{"target": "docker", "local": {"webReplicas": 2}}`})
	out, errOut, err := runStackCmd(t, vars, "validate")
	if err != nil || out != "local: ok\n" {
		t.Fatalf("validate = %q, %v", out, err)
	}
	if !strings.Contains(errOut, "warning: local.json restates default values") || !strings.Contains(errOut, "local.webReplicas") {
		t.Errorf("stderr = %q", errOut)
	}
}

// parseDotenvText reads .env text as docker --env-file does: NAME=value lines,
// the value literal to the end of the line; # lines are comments.
func parseDotenvText(t *testing.T, text string) (vars []stackconfig.EnvVar, comments []string) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			comments = append(comments, line)
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("not a NAME=value line: %q", line)
		}
		vars = append(vars, stackconfig.EnvVar{Name: name, Value: value})
	}
	return vars, comments
}

func TestEnvRoundTripsForEveryStack(t *testing.T) {
	for _, stack := range []string{"local", "dev", "staging", "prod"} {
		t.Run(stack, func(t *testing.T) {
			out, _, err := runStackCmd(t, nil, "env", stack)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := stackconfig.Load("../../config", stack)
			if err != nil {
				t.Fatal(err)
			}
			vars, comments := parseDotenvText(t, out)
			if !slices.Equal(vars, cfg.Env(stackconfig.LocalEndpoints)) {
				t.Errorf(".env does not round-trip:\n got %v\nwant %v", vars, cfg.Env(stackconfig.LocalEndpoints))
			}
			for _, s := range cfg.SecretNames() {
				if !slices.Contains(comments, "# "+s+"=") {
					t.Errorf("secret %s not listed by name: %v", s, comments)
				}
			}
		})
	}
}

func TestEnvRoundTripsAwkwardValues(t *testing.T) {
	vars := stackConfigDir(t, map[string]string{"local": `{"target": "docker",
		"app": {"env": {"GREETING": "hello world # not a comment", "QUOTED": "\"x\" 'y'", "EQUALS": "a=b=c", "EMPTY": "", "SPACE": " padded "},
		        "secrets": ["STRIPE_KEY"]}}`})
	out, _, err := runStackCmd(t, vars, "env", "local")
	if err != nil {
		t.Fatal(err)
	}
	got, comments := parseDotenvText(t, out)
	m := map[string]string{}
	for _, v := range got {
		m[v.Name] = v.Value
	}
	for k, v := range map[string]string{"GREETING": "hello world # not a comment", "QUOTED": `"x" 'y'`, "EQUALS": "a=b=c", "EMPTY": "", "SPACE": " padded "} {
		if got, ok := m[k]; !ok || got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if !slices.Contains(comments, "# STRIPE_KEY=") {
		t.Errorf("STRIPE_KEY not listed: %v", comments)
	}
	if strings.Contains(out, "STRIPE_KEY=\n") && !strings.Contains(out, "# STRIPE_KEY=\n") {
		t.Error("secret printed as a variable")
	}
}

func TestEnvErrors(t *testing.T) {
	if _, _, err := runStackCmd(t, nil, "env"); err == nil || !strings.Contains(err.Error(), "usage: shipyard env STACK") {
		t.Errorf("env without stack: %v", err)
	}
	if _, _, err := runStackCmd(t, nil, "env", "qa"); err == nil || !strings.Contains(err.Error(), "known stacks") {
		t.Errorf("env qa: %v", err)
	}
	vars := stackConfigDir(t, map[string]string{"local": `{"target": "docker", "app": {"env": {"PORT": "1"}}}`})
	if out, _, err := runStackCmd(t, vars, "env", "local"); err == nil || out != "" || !strings.Contains(err.Error(), "app.env.PORT") {
		t.Errorf("env of an invalid stack = %q, %v", out, err)
	}
}

func TestConfigDocsPrintsDocsConfigMd(t *testing.T) {
	out, _, err := runStackCmd(t, nil, "config-docs")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Error("config-docs output differs from docs/config.md; run make config-docs")
	}
	if _, _, err := runStackCmd(t, nil, "config-docs", "extra"); err == nil {
		t.Error("config-docs accepted an argument")
	}
}

// The example aws stacks are valid examples, but `up` and `preview` refuse
// their documentation placeholders on one line, before pulumi runs (PATH is
// empty: reaching pulumi would be a different error).
func TestUpAndPreviewRefuseDocumentationPlaceholdersBeforeAnyAWSCall(t *testing.T) {
	vars := map[string]string{
		stackconfig.DirEnv: "../../config", "PATH": "", "PULUMI_BACKEND_URL": "s3://team-state", "PULUMI_CONFIG_PASSPHRASE": "x",
	}
	for _, args := range [][]string{{"preview", "dev"}, {"up", "staging"}, {"up", "prod"}} {
		_, _, err := runStackCmd(t, vars, args...)
		want := "config/" + args[1] + ".json: loadBalancer.hostedZone.name \"shipyard.example.com\" is a documentation placeholder"
		if err == nil || !strings.Contains(err.Error(), want) || strings.Count(err.Error(), "\n") > 0 {
			t.Errorf("%v: %v; want one line containing %q", args, err, want)
		}
	}
}

// The hand-typed commands check in the Makefile's order: with no state
// backend for an aws stack (no bootstrap yet), `preview` and `up` name
// `make bootstrap` first, not the placeholders the example still holds.
func TestUpAndPreviewNameTheMissingBootstrapBeforeThePlaceholders(t *testing.T) {
	vars := map[string]string{stackconfig.DirEnv: "../../config", "PATH": ""}
	for _, args := range [][]string{{"preview", "dev"}, {"up", "prod"}} {
		_, _, err := runStackCmd(t, vars, args...)
		if err == nil || !strings.Contains(err.Error(), "make bootstrap") || strings.Contains(err.Error(), "placeholder") || strings.Count(err.Error(), "\n") > 0 {
			t.Errorf("%v: %v; want one line naming make bootstrap", args, err)
		}
	}
}
