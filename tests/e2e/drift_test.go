package e2e

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// testDrift is `make drift` on the suite's stack, for real: clean after
// up, a web container removed by hand is reported (exit 2, a line naming
// it), up puts it back, and drift is clean again.
func testDrift(t *testing.T, s *localStack, out Outputs) {
	t.Run("drift is clean right after up", func(t *testing.T) {
		report, err := s.shipyard(t, "drift", s.name)
		if err != nil {
			t.Fatalf("drift after up: %v", err)
		}
		if !strings.Contains(report, "stack "+s.name+": no drift") {
			t.Errorf("drift after up:\n%s", report)
		}
	})
	if len(out.WebContainers) == 0 {
		t.Fatal("the stack outputs no web container")
	}
	web := out.WebContainers[0]
	if !t.Run("a web container removed with docker rm -f is reported, with exit code 2", func(t *testing.T) {
		dockerOut(t, "rm", "-f", web)
		report, err := s.shipyard(t, "drift", s.name)
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Fatalf("drift after docker rm -f %s: %v, want exit code 2\n%s", web, err, report)
		}
		var lines []string
		for _, l := range strings.Split(report, "\n") {
			if strings.HasPrefix(l, "- ") || strings.HasPrefix(l, "~ ") {
				lines = append(lines, l)
			}
		}
		if len(lines) != 1 || !strings.Contains(lines[0], "docker:index/container:Container "+web+": deleted outside Pulumi") {
			t.Errorf("drift lines %q, want one naming %s", lines, web)
		}
	}) {
		t.FailNow()
	}
	t.Run("up puts the container back and drift is clean again", func(t *testing.T) {
		s.up(t)
		if state := strings.TrimSpace(dockerOut(t, "inspect", "--format", "{{.State.Running}}", web)); state != "true" {
			t.Errorf("%s running: %s", web, state)
		}
		report, err := s.shipyard(t, "drift", s.name)
		if err != nil || !strings.Contains(report, "no drift") {
			t.Errorf("drift after up: %v\n%s", err, report)
		}
		waitHealthy(t, web)
	})
}
