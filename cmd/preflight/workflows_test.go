package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/internal/workflowtest"
)

// The workflows list the stacks and read their bootstrap sections through
// this command, so they know the stacks Go knows (internal/preflight:
// config/dev.old.json is none) and check a bootstrap section one way. The
// tests below run the workflows' steps as GitHub runs them (bash -e), with
// the real preflight behind `go run ./cmd/preflight` and fakes for the
// rest.

// repoRoot is the repository's root, from this package's directory.
const repoRoot = "../.."

const (
	testRegion      = "eu-west-1"
	testPreviewRole = "arn:aws:iam::123456789012:role/shipyard-preview"
)

func testDeployRole(stack string) string {
	return "arn:aws:iam::123456789012:role/shipyard-deploy-" + stack
}

func testBackend(stack string) string {
	return "s3://shipyard-pulumi-state-" + stack + "?region=" + testRegion + "&awssdk=v2"
}

// workflowRepo is a checkout the steps run in: config/ with the aws
// stacks dev, staging and prod (those in bootstrapped have a bootstrap
// section), a docker stack local, the schema, and config/dev.old.json, a
// stale copy of dev's file that is no stack. bin holds the fakes: go runs
// the real preflight (built from this package) for `go run
// ./cmd/preflight` and writes a fake bin/shipyard for `go build -o
// bin/shipyard ./cmd/shipyard`; any other go command fails.
type workflowRepo struct {
	dir, bin string
}

var preflightBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "preflight-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	preflightBinary = filepath.Join(dir, "preflight")
	if out, err := exec.Command("go", "build", "-o", preflightBinary, ".").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		fmt.Fprintf(os.Stderr, "go build ./cmd/preflight (go is needed): %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func newWorkflowRepo(t *testing.T, bootstrapped ...string) workflowRepo {
	t.Helper()
	r := workflowRepo{dir: t.TempDir(), bin: t.TempDir()}
	stack := func(name, target string) string {
		c := map[string]any{"target": target}
		if target == "aws" {
			c["aws"] = map[string]any{"region": testRegion}
		}
		for _, b := range bootstrapped {
			if b == name || (name == "dev.old" && b == "dev") {
				c["bootstrap"] = map[string]string{
					"backendUrl":      testBackend(strings.TrimSuffix(name, ".old")),
					"secretsProvider": "awskms://alias/shipyard-pulumi?region=" + testRegion,
					"deployRoleArn":   testDeployRole(strings.TrimSuffix(name, ".old")),
					"previewRoleArn":  testPreviewRole,
				}
			}
		}
		data, err := json.MarshalIndent(c, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		return string(data) + "\n"
	}
	files := map[string]string{
		"config/schema.json":  "{}\n",
		"config/dev.json":     stack("dev", "aws"),
		"config/dev.old.json": stack("dev.old", "aws"),
		"config/staging.json": stack("staging", "aws"),
		"config/prod.json":    stack("prod", "aws"),
		"config/local.json":   stack("local", "docker"),
		"infra/infra.go":      "package infra\n",
	}
	for name, data := range files {
		r.write(t, name, data)
	}
	fakeGo := `#!/bin/bash
if [ "$1" = run ] && [ "$2" = ./cmd/preflight ]; then shift 2; exec "$FAKE_PREFLIGHT" "$@"; fi
if [ "$*" = "build -o bin/shipyard ./cmd/shipyard" ]; then
  mkdir -p bin && printf '#!/bin/sh\necho "shipyard $*"\n' > bin/shipyard && chmod +x bin/shipyard && exit 0
fi
echo "fake go: unexpected: go $*" >&2; exit 2
`
	if err := os.WriteFile(filepath.Join(r.bin, "go"), []byte(fakeGo), 0o755); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r workflowRepo) write(t *testing.T, name, data string) {
	t.Helper()
	path := filepath.Join(r.dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// run runs a step's script as GitHub does (bash -e, in the checkout), with
// env set as the step's env: expressions would set it, and returns its
// output, the $GITHUB_OUTPUT it wrote and its error.
func (r workflowRepo) run(t *testing.T, s workflowtest.Step, env map[string]string) (string, map[string]string, error) {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatalf("bash is needed (the workflow's steps run in it): %v", err)
	}
	outputs := filepath.Join(t.TempDir(), "output")
	if err := os.WriteFile(outputs, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "--noprofile", "--norc", "-e", "-c", s.Run)
	cmd.Dir = r.dir
	cmd.Env = []string{"PATH=" + r.bin + ":/usr/bin:/bin", "HOME=" + t.TempDir(), "FAKE_PREFLIGHT=" + preflightBinary,
		"GITHUB_ACTIONS=true", "GITHUB_WORKSPACE=" + r.dir, "GITHUB_OUTPUT=" + outputs, "GITHUB_STEP_SUMMARY=" + filepath.Join(t.TempDir(), "summary"),
		"GITHUB_PATH=" + filepath.Join(r.dir, ".github-path")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	data, rerr := os.ReadFile(outputs)
	if rerr != nil {
		t.Fatal(rerr)
	}
	got := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			got[k] = v
		}
	}
	return string(out), got, err
}

// The stacks the workflows preview and check for drift are the aws stacks
// Go knows: not config/dev.old.json (no stack name), not the schema, not
// a docker stack.
func TestTheWorkflowsListTheAWSStacksGoKnows(t *testing.T) {
	for _, wf := range []string{"ci.yml", "drift.yml"} {
		t.Run(wf, func(t *testing.T) {
			r := newWorkflowRepo(t, "dev")
			out, outputs, err := r.run(t, workflowtest.StepByID(t, repoRoot, wf, "stacks", "list"), nil)
			if err != nil {
				t.Fatalf("the step failed: %v\n%s", err, out)
			}
			var got []string
			if err := json.Unmarshal([]byte(outputs["aws"]), &got); err != nil {
				t.Fatalf("output aws=%q is no JSON list: %v\n%s", outputs["aws"], err, out)
			}
			if want := []string{"dev", "prod", "staging"}; strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("the matrix is %q, want %q", got, want)
			}
		})
	}
}

// No workflow lists config/ or reads a bootstrap section by itself: the
// rules are internal/preflight's, through this command.
func TestNoWorkflowHasItsOwnStackOrBootstrapRule(t *testing.T) {
	own := regexp.MustCompile(`config/\*|\.bootstrap\.|\.target\b|jq [^\n]*config/`)
	for _, name := range workflowtest.Names(t, repoRoot) {
		data := workflowtest.ReadFile(t, repoRoot, name)
		for i, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			if m := own.FindString(line); m != "" {
				t.Errorf("%s:%d reads config/ itself (%q), not through go run ./cmd/preflight: %s", name, i+1, m, strings.TrimSpace(line))
			}
		}
	}
}

// Each job that assumes a role reads it, the region and the backend
// through `preflight ci`: a bootstrapped stack's go to $GITHUB_OUTPUT; a
// stack without a bootstrap section fails the step naming make bootstrap,
// except in ci.yml's preview, which is skipped with a warning.
func TestEveryJobReadsItsRoleThroughPreflight(t *testing.T) {
	type job struct {
		workflow, job string
		env           map[string]string
		stack         string
		role          string
		soft          bool // a missing bootstrap section skips, with a warning
	}
	jobs := []job{
		{workflow: "ci.yml", job: "preview", env: map[string]string{"STACK": "staging"}, stack: "staging", role: testPreviewRole, soft: true},
		{workflow: "drift.yml", job: "drift", env: map[string]string{"STACK": "staging"}, stack: "staging", role: testPreviewRole},
		{workflow: "deploy.yml", job: "dev", stack: "dev", role: testDeployRole("dev")},
		{workflow: "pr-environments.yml", job: "up", env: map[string]string{"STACK": "dev"}, stack: "dev", role: testDeployRole("dev")},
		{workflow: "pr-environments.yml", job: "down", env: map[string]string{"STACK": "dev"}, stack: "dev", role: testDeployRole("dev")},
		{workflow: "pr-environments.yml", job: "reap", env: map[string]string{"STACK": "dev"}, stack: "dev", role: testDeployRole("dev")},
		{workflow: "promote.yml", job: "promote", env: map[string]string{"TO": "staging"}, stack: "staging", role: testDeployRole("staging")},
	}
	for _, j := range jobs {
		step := workflowtest.StepByID(t, repoRoot, j.workflow, j.job, "stack")
		t.Run(j.workflow+" "+j.job+" bootstrapped", func(t *testing.T) {
			r := newWorkflowRepo(t, j.stack)
			out, outputs, err := r.run(t, step, j.env)
			if err != nil {
				t.Fatalf("the step failed: %v\n%s", err, out)
			}
			if outputs["role"] != j.role || outputs["region"] != testRegion || (j.soft && outputs["ready"] != "true") {
				t.Errorf("outputs %v, want role=%s region=%s", outputs, j.role, testRegion)
			}
			if b, ok := outputs["backend"]; ok && b != testBackend(j.stack) {
				t.Errorf("output backend=%s, want %s", b, testBackend(j.stack))
			}
		})
		t.Run(j.workflow+" "+j.job+" without a bootstrap section", func(t *testing.T) {
			r := newWorkflowRepo(t)
			out, outputs, err := r.run(t, step, j.env)
			if !strings.Contains(out, "make bootstrap STACK="+j.stack) {
				t.Errorf("the step does not name make bootstrap STACK=%s:\n%s", j.stack, out)
			}
			if outputs["role"] != "" {
				t.Errorf("outputs %v, want no role", outputs)
			}
			if j.soft {
				if err != nil || outputs["ready"] != "false" || !strings.Contains(out, "::warning file=config/"+j.stack+".json::") {
					t.Errorf("want a warning and ready=false, got %v, outputs %v:\n%s", err, outputs, out)
				}
				if strings.Contains(out, "::error") {
					t.Errorf("a skipped preview is a warning, not an error annotation:\n%s", out)
				}
				return
			}
			if err == nil {
				t.Errorf("the step succeeded, outputs %v:\n%s", outputs, out)
			}
			if want := "::error file=config/" + j.stack + ".json::"; !strings.Contains(out, want) {
				t.Errorf("the failure is no error annotation on the run's page on the stack's config file (%q):\n%s", want, out)
			}
		})
		if j.soft {
			// ci.yml's matrix (preflight stacks) already fails on such a file.
			continue
		}
		t.Run(j.workflow+" "+j.job+" with a config that is not JSON", func(t *testing.T) {
			r := newWorkflowRepo(t, j.stack)
			r.write(t, "config/"+j.stack+".json", "{\n  \"target\": \"aws\",\n}\n")
			out, outputs, err := r.run(t, step, j.env)
			if err == nil || outputs["role"] != "" {
				t.Errorf("the step succeeded, outputs %v:\n%s", outputs, out)
			}
			if want := "::error file=config/" + j.stack + ".json,line=3,col=1::stack \"" + j.stack + "\": " + filepath.Join(r.dir, "config", j.stack+".json") + ":3:1: invalid character '}'"; !strings.Contains(out, want) {
				t.Errorf("the annotation does not name the file and where its JSON breaks (%q):\n%s", want, out)
			}
		})
	}
}

// `make bootstrap STACK=dev` fills the bootstrap section of every stack of
// the region, and a stack exists only after its first `make up`: ci.yml's
// preview and drift.yml's check of a bootstrapped stack that does not
// exist yet are skipped with a warning on its config file (as a stack
// without a bootstrap section is in ci.yml), read-only, from the stack
// list of its backend (`pulumi stack ls`, the pinned CLI make installs);
// one that exists goes on, and a list that cannot be read fails the step.
// The steps run with a fake make and a fake bin/pulumi.
func TestAStackBootstrappedButNotCreatedIsSkippedWithAWarning(t *testing.T) {
	for _, wf := range []struct{ workflow, job, skipped string }{
		{"ci.yml", "preview", "no preview"},
		{"drift.yml", "drift", "no drift check"},
	} {
		step := workflowtest.StepByID(t, repoRoot, wf.workflow, wf.job, "created")
		for _, tc := range []struct {
			name    string
			stacks  string // what pulumi stack ls --json prints; "": it fails
			created string // the output; "": the step fails
		}{
			{"a stack the backend lists by name goes on", `[{"name": "dev"}, {"name": "staging"}]`, "true"},
			{"a stack the backend lists by its project path goes on", `[{"name": "organization/shipyard/staging"}]`, "true"},
			{"a stack the backend does not list is skipped", `[{"name": "dev"}, {"name": "organization/shipyard/staging-pr-7"}]`, "false"},
			{"a backend without any stack skips it", `[]`, "false"},
			{"a list that cannot be read fails the step", "", ""},
		} {
			t.Run(wf.workflow+": "+tc.name, func(t *testing.T) {
				r := newWorkflowRepo(t, "staging")
				made := filepath.Join(t.TempDir(), "make.log")
				fakeMake := "#!/bin/sh\necho \"make $*\" >> \"$FAKE_MAKE_LOG\"\n"
				// The CLI reads the stack's backend from PULUMI_BACKEND_URL.
				fakePulumi := `#!/bin/bash
[ "$*" = "stack ls --json --non-interactive" ] || { echo "fake pulumi: unexpected: pulumi $*" >&2; exit 2; }
[ "$PULUMI_BACKEND_URL" = "$WANT_BACKEND" ] || { echo "fake pulumi: backend $PULUMI_BACKEND_URL" >&2; exit 2; }
[ -n "$FAKE_STACKS" ] || { echo "error: could not list stacks: AccessDenied" >&2; exit 1; }
echo "$FAKE_STACKS"
`
				if err := os.WriteFile(filepath.Join(r.bin, "make"), []byte(fakeMake), 0o755); err != nil {
					t.Fatal(err)
				}
				r.write(t, "bin/pulumi", fakePulumi)
				if err := os.Chmod(filepath.Join(r.dir, "bin", "pulumi"), 0o755); err != nil {
					t.Fatal(err)
				}
				out, outputs, err := r.run(t, step, map[string]string{"STACK": "staging", "PULUMI_BACKEND_URL": testBackend("staging"),
					"WANT_BACKEND": testBackend("staging"), "FAKE_STACKS": tc.stacks, "FAKE_MAKE_LOG": made})
				if log, _ := os.ReadFile(made); !strings.Contains(string(log), "make pulumi-cli") {
					t.Errorf("the step does not install the pinned CLI first (make ran %q)", log)
				}
				if tc.created == "" {
					if err == nil || outputs["created"] != "" {
						t.Fatalf("the step went on (err %v, outputs %v):\n%s", err, outputs, out)
					}
					if !strings.Contains(out, "::error file=config/staging.json::pulumi stack ls failed") || !strings.Contains(out, "AccessDenied") {
						t.Errorf("the failure does not say the list failed, and why:\n%s", out)
					}
					return
				}
				if err != nil || outputs["created"] != tc.created {
					t.Fatalf("err %v, outputs %v, want created=%s:\n%s", err, outputs, tc.created, out)
				}
				warning := "::warning file=config/staging.json::" + wf.skipped + ": stack staging is bootstrapped but not created yet (its first `make up STACK=staging` creates it)"
				if got := strings.Contains(out, warning); got != (tc.created == "false") {
					t.Errorf("warning %q printed: %v, want %v:\n%s", warning, got, tc.created == "false", out)
				}
				if strings.Contains(out, "::error") {
					t.Errorf("no error annotation:\n%s", out)
				}
			})
		}
		// The steps after it run only for a created stack.
		j := workflowtest.Read(t, repoRoot, wf.workflow).Jobs[wf.job]
		after := false
		for _, s := range j.Steps {
			if s.ID == "created" {
				after = true
				continue
			}
			if after && s.If != "steps.created.outputs.created == 'true'" {
				t.Errorf("%s %s: step %q after the check runs for a stack not created yet (if %q)", wf.workflow, wf.job, s.Name+s.Uses, s.If)
			}
		}
	}
}

// cost.yml prices the aws stacks whose config the PR changes, or all of
// them when infrastructure changes: never config/dev.old.json, the schema
// or a docker stack.
func TestCostPricesTheChangedAWSStacksGoKnows(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is needed: %v", err)
	}
	step := workflowtest.StepByID(t, repoRoot, "cost.yml", "cost", "price")
	for _, tc := range []struct {
		name    string
		changed []string
		want    []string
	}{
		{"a changed config", []string{"config/prod.json", "config/dev.old.json", "config/local.json"}, []string{"prod"}},
		{"changed infrastructure", []string{"infra/infra.go"}, []string{"dev", "prod", "staging"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newWorkflowRepo(t, "dev")
			git := func(args ...string) string {
				cmd := exec.Command("git", args...)
				cmd.Dir = r.dir
				cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("git %v: %v\n%s", args, err, out)
				}
				return strings.TrimSpace(string(out))
			}
			git("init", "-q")
			git("add", ".")
			git("commit", "-q", "-m", "base")
			base := git("rev-parse", "HEAD")
			for _, f := range tc.changed {
				data, err := os.ReadFile(filepath.Join(r.dir, f))
				if err != nil {
					t.Fatal(err)
				}
				r.write(t, f, string(data)+"\n")
			}
			git("commit", "-q", "-am", "change")
			out, _, err := r.run(t, step, map[string]string{"BASE_SHA": base})
			if err != nil {
				t.Fatalf("the step failed: %v\n%s", err, out)
			}
			comment, err := os.ReadFile(filepath.Join(r.dir, "cost-comment.md"))
			if err != nil {
				t.Fatal(err)
			}
			var priced []string
			for _, l := range strings.Split(string(comment), "\n") {
				if s, ok := strings.CutPrefix(l, "#### "); ok {
					priced = append(priced, s)
				}
			}
			sort.Strings(priced)
			if strings.Join(priced, " ") != strings.Join(tc.want, " ") {
				t.Errorf("priced %q, want %q:\n%s", priced, tc.want, comment)
			}
			for _, s := range tc.want {
				if !strings.Contains(string(comment), "shipyard cost "+s+" --base="+base) {
					t.Errorf("no `shipyard cost %s --base=%s` in the comment:\n%s", s, base, comment)
				}
			}
		})
	}
}
