package workflowtest_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/internal/workflowtest"
)

// Policies every workflow keeps, read from .github/workflows.

// repoRoot is the repository's root, from this package's directory.
const repoRoot = "../.."

// A job that only runs `go run ./cmd/preflight`, which needs no module,
// saves no Go cache: setup-go keys its cache on go.sum, shared by every
// job, and a near-empty cache saved first under that key is never
// replaced by a full one.
func TestAJobThatOnlyRunsPreflightSavesNoGoCache(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{with .Module}}{{.Path}}{{end}}", "../../cmd/preflight").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/preflight: %v\n%s", err, out)
	}
	for _, m := range strings.Fields(string(out)) {
		if m != "github.com/shipyard-kit/shipyard" {
			t.Fatalf("cmd/preflight needs module %s: the jobs that only run it would cache it after all", m)
		}
	}
	other := regexp.MustCompile(`(?m)(^|[;&|(]\s*|\$\()\s*(go|make)\s`)
	preflightOnly := 0
	for _, name := range workflowtest.Names(t, repoRoot) {
		for job, j := range workflowtest.Read(t, repoRoot, name).Jobs {
			var runs []string
			for _, s := range j.Steps {
				runs = append(runs, strings.ReplaceAll(s.Run, "go run ./cmd/preflight", "PREFLIGHT"))
			}
			all := strings.Join(runs, "\n")
			if !strings.Contains(all, "PREFLIGHT") || other.MatchString(all) {
				continue
			}
			preflightOnly++
			for _, s := range j.Steps {
				if strings.HasPrefix(s.Uses, "actions/setup-go@") && s.With["cache"] != "false" {
					t.Errorf("%s %s only runs go run ./cmd/preflight, but its setup-go saves a Go cache (want cache: false)", name, job)
				}
			}
		}
	}
	if preflightOnly < 2 {
		t.Errorf("%d jobs only run go run ./cmd/preflight, want at least ci.yml's and drift.yml's stacks", preflightOnly)
	}
}

// Every action a workflow uses is pinned to a full commit SHA, with the
// release it is in a comment (`uses: owner/name@<40 hex> # v1.2.3`): a tag
// can be moved to other code, a commit cannot, and Dependabot
// (.github/dependabot.yml) updates the SHA and the comment together.
func TestEveryActionIsPinnedToACommitWithItsRelease(t *testing.T) {
	usesLine := regexp.MustCompile(`^\s*(?:-\s+)?uses:\s*(.*)$`)
	pinned := regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40} # v\d+(\.\d+){0,2}$`)
	for _, name := range workflowtest.Names(t, repoRoot) {
		lines := 0
		for i, line := range strings.Split(string(workflowtest.ReadFile(t, repoRoot, name)), "\n") {
			m := usesLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			lines++
			if !pinned.MatchString(strings.TrimSpace(m[1])) {
				t.Errorf("%s:%d: %s: want owner/name@<full commit SHA> # v<release>", name, i+1, strings.TrimSpace(line))
			}
		}
		// Every uses the YAML has is on a line of its own, seen above.
		steps := 0
		for _, j := range workflowtest.Read(t, repoRoot, name).Jobs {
			for _, s := range j.Steps {
				if s.Uses != "" {
					steps++
				}
			}
		}
		if steps != lines {
			t.Errorf("%s: %d steps use an action, but %d uses: lines were checked", name, steps, lines)
		}
	}
}

// No script interpolates an expression: GitHub pastes its value into the
// script before bash reads it, so a branch name, a PR title or an input
// would run as code. Every value a script uses comes through env: (which
// bash reads as data), whatever the expression: those a user controls
// (inputs, github.event, github.head_ref) above all, but choices, matrix
// values and step outputs too, so that the one pattern is the one read.
func TestNoScriptInterpolatesAnExpression(t *testing.T) {
	expr := regexp.MustCompile(`\$\{\{[^}]*\}\}`)
	userControlled := regexp.MustCompile(`\$\{\{\s*(inputs\.|github\.event\.|github\.event\[|github\.head_ref)`)
	for _, name := range workflowtest.Names(t, repoRoot) {
		for job, j := range workflowtest.Read(t, repoRoot, name).Jobs {
			for i, s := range j.Steps {
				for _, m := range expr.FindAllString(s.Run, -1) {
					kind := "an expression"
					if userControlled.MatchString(m) {
						kind = "a value a user controls"
					}
					t.Errorf("%s %s step %d %q interpolates %s in its script: %s; pass it through env:", name, job, i+1, s.Name, kind, m)
				}
			}
		}
	}
}

// deploy.yml deploys dev once ci.yml has passed on a push to main, from
// main's tip: it never runs beside CI on the push itself (a commit CI did
// not pass on), and never from the pushed commit, which lacks the ledger
// commits of the deploys before it (config/dev.json's digest,
// releases/dev.jsonl). One deploy at a time, none cancelled, in
// environment dev, and a run CI did not pass never displaces a waiting
// one; and every step after the gate (below) runs only when
// the gate lets the tip through.
func TestDeployRunsWhenCIPassedOnAPushToMainFromMainsTip(t *testing.T) {
	ci := workflowtest.Read(t, repoRoot, "ci.yml")
	w := workflowtest.Read(t, repoRoot, "deploy.yml")
	if w.On.Push != nil {
		t.Error("deploy.yml runs on push, beside ci.yml, not after it")
	}
	run := w.On.WorkflowRun
	if run == nil || len(run.Workflows) != 1 || run.Workflows[0] != ci.Name || len(run.Types) != 1 || run.Types[0] != "completed" ||
		len(run.Branches) != 1 || run.Branches[0] != "main" {
		t.Fatalf("deploy.yml runs on %+v, want workflow_run of [%s] completed on [main]", run, ci.Name)
	}
	if ci.On.Push == nil || len(ci.On.Push.Branches) != 1 || ci.On.Push.Branches[0] != "main" {
		t.Errorf("ci.yml does not run on pushes to main, so nothing would deploy: %+v", ci.On.Push)
	}
	if len(w.Jobs) != 1 {
		t.Fatalf("deploy.yml has %d jobs, want one", len(w.Jobs))
	}
	j, ok := w.Jobs["dev"]
	if !ok || j.Environment != "dev" {
		t.Fatalf("deploy.yml's job dev runs in environment %q, want dev", j.Environment)
	}
	// The job's group, not the workflow's: a run whose job is skipped
	// (CI failed or was cancelled) would otherwise take the place of the
	// deploy waiting in the group, GitHub keeping only the newest.
	if j.Concurrency.Group != "deploy-dev" || j.Concurrency.CancelInProgress || w.Concurrency.Group != "" {
		t.Errorf("concurrency: job %+v, workflow %+v; want the job's group deploy-dev, never cancelled, and none for the workflow", j.Concurrency, w.Concurrency)
	}
	for _, cond := range []string{
		"github.event.workflow_run.conclusion == 'success'",
		"github.event.workflow_run.event == 'push'",
		"github.event.workflow_run.head_branch == 'main'",
	} {
		if !strings.Contains(j.If, cond) {
			t.Errorf("the job runs without %s: if %q", cond, j.If)
		}
	}
	if strings.Contains(j.If, "||") {
		t.Errorf("the job's condition has an or: %q", j.If)
	}
	if len(j.Steps) < 2 || !strings.HasPrefix(j.Steps[0].Uses, "actions/checkout@") || j.Steps[0].With["ref"] != "main" || j.Steps[0].With["fetch-depth"] != "0" {
		t.Fatalf("the first step checks out %v, want main (ref: main) with its history (fetch-depth: 0)", j.Steps[0].With)
	}
	if j.Steps[1].ID != "verified" || j.Steps[1].Env["VERIFIED"] != "${{ github.event.workflow_run.head_sha }}" {
		t.Fatalf("the second step is %q with env %v, want the gate (id verified) given VERIFIED: the commit CI passed on", j.Steps[1].ID, j.Steps[1].Env)
	}
	for _, s := range j.Steps[2:] {
		if !strings.Contains(s.If, "steps.verified.outputs.deploy == 'true'") || strings.Contains(s.If, "||") {
			t.Errorf("step %q runs whatever the gate says: if %q", s.Name+s.Uses, s.If)
		}
	}
}

// The gate of deploy.yml, run as GitHub runs it (bash -e) in a real git
// repository: main's tip is deployed when it is the commit CI passed on, or
// when every commit after that one is a ledger commit of a deploy or a
// promotion (the bot's, touching only config/*.json and
// releases/*.jsonl); any other commit after it (a person's, one of the
// bot's that touches more, a merge) is left to its own CI run, and a
// commit main no longer has is not deployed: a notice says so, and the
// step succeeds.
func TestTheDeployGateLetsThroughOnlyTheCommitCIPassedOnAndLedgerCommits(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is needed: %v", err)
	}
	script := workflowtest.StepByID(t, repoRoot, "deploy.yml", "dev", "verified").Run
	const (
		bot    = "github-actions[bot]:41898282+github-actions[bot]@users.noreply.github.com"
		person = "Ann:ann@example.com"
	)
	// A change is who commits which files; "merge" merges a side branch
	// with a promotion into main after a ledger commit: each a ledger
	// commit, but not the merge (whose own changes a merge can hide).
	type change struct {
		who   string
		files []string
	}
	ledger := change{bot, []string{"config/dev.json", "releases/dev.jsonl"}}
	promotion := change{bot, []string{"config/staging.json", "releases/staging.jsonl"}}
	for _, tc := range []struct {
		name    string
		after   []change
		gone    bool // main no longer has the commit CI passed on
		deploys bool
		notice  string
	}{
		{name: "main's tip is the commit CI passed on", deploys: true},
		{name: "after it, deploys' and promotions' ledger commits", after: []change{ledger, promotion, ledger}, deploys: true},
		{name: "after it, a person's commit", after: []change{ledger, {person, []string{"app/main.go"}}}, notice: "is not a ledger commit, and the CI run of a newer commit deploys main"},
		{name: "after it, a person's commit of a config file only", after: []change{{person, []string{"config/dev.json"}}}, notice: "(Ann: change "},
		{name: "after it, a bot's commit that changes code too", after: []change{{bot, []string{"config/dev.json", "app/main.go"}}}, notice: "is not a ledger commit"},
		{name: "after it, a bot's commit of a file beside config/", after: []change{{bot, []string{"config/extra/dev.json"}}}, notice: "is not a ledger commit"},
		{name: "after it, a merge", after: []change{{bot, []string{"merge"}}}, notice: "is not a ledger commit"},
		{name: "main no longer has it", gone: true, notice: "no longer has"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			git := func(who string, args ...string) string {
				t.Helper()
				name, email, _ := strings.Cut(who, ":")
				cmd := exec.Command("git", args...)
				cmd.Dir = dir
				cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "GIT_CONFIG_NOSYSTEM=1",
					"GIT_AUTHOR_NAME=" + name, "GIT_AUTHOR_EMAIL=" + email, "GIT_COMMITTER_NAME=" + name, "GIT_COMMITTER_EMAIL=" + email}
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("git %v: %v\n%s", args, err, out)
				}
				return strings.TrimSpace(string(out))
			}
			n := 0
			commit := func(c change) {
				t.Helper()
				n++
				for _, f := range c.files {
					path := filepath.Join(dir, f)
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, []byte(fmt.Sprintf("%s %d\n", f, n)), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				git(c.who, "add", "-A")
				git(c.who, "commit", "-q", "-m", fmt.Sprintf("change %d", n))
			}
			git(person, "init", "-q", "-b", "main")
			commit(change{person, []string{"app/main.go", "config/dev.json", "config/staging.json", "releases/dev.jsonl"}})
			verified := git(person, "rev-parse", "HEAD")
			if tc.gone {
				git(person, "checkout", "-q", "-b", "old")
				commit(change{person, []string{"app/main.go"}})
				verified = git(person, "rev-parse", "HEAD")
				git(person, "checkout", "-q", "main")
				commit(change{person, []string{"app/other.go"}})
			}
			for _, c := range tc.after {
				if len(c.files) == 1 && c.files[0] == "merge" {
					git(person, "checkout", "-q", "-b", "side")
					commit(promotion)
					git(person, "checkout", "-q", "main")
					commit(ledger)
					git(c.who, "merge", "-q", "--no-ff", "-m", "merge side", "side")
					continue
				}
				commit(c)
			}
			outputs := filepath.Join(t.TempDir(), "output")
			cmd := exec.Command("bash", "--noprofile", "--norc", "-e", "-c", script)
			cmd.Dir = dir
			cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "GIT_CONFIG_NOSYSTEM=1", "VERIFIED=" + verified, "GITHUB_OUTPUT=" + outputs}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("the step failed: %v\n%s", err, out)
			}
			got, _ := os.ReadFile(outputs)
			want := map[bool]string{true: "deploy=true\n", false: "deploy=false\n"}[tc.deploys]
			if string(got) != want {
				t.Errorf("$GITHUB_OUTPUT is %q, want %q:\n%s", got, want, out)
			}
			if tc.deploys {
				if strings.Contains(string(out), "::notice") {
					t.Errorf("a deployed tip gets no notice:\n%s", out)
				}
				return
			}
			if !strings.Contains(string(out), "::notice::not deployed: ") || !strings.Contains(string(out), tc.notice) || !strings.Contains(string(out), verified) {
				t.Errorf("no notice that it is not deployed, naming %s and saying %q:\n%s", verified, tc.notice, out)
			}
		})
	}
}

// promote.yml checks out main with all of its history: promote checks that
// the image's commit has the files this checkout's task definitions name
// in the image, and a shallow clone without that commit refuses.
func TestPromoteChecksOutMainWithItsHistory(t *testing.T) {
	j := workflowtest.Read(t, repoRoot, "promote.yml").Jobs["promote"]
	if len(j.Steps) == 0 || !strings.HasPrefix(j.Steps[0].Uses, "actions/checkout@") {
		t.Fatal("promote.yml's job promote does not begin with a checkout")
	}
	if w := j.Steps[0].With; w["ref"] != "main" || w["fetch-depth"] != "0" {
		t.Errorf("promote.yml checks out %v, want main (ref: main) with its history (fetch-depth: 0)", w)
	}
}
