package workflowtest_test

import (
	"os/exec"
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
