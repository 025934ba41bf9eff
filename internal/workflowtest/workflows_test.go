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
