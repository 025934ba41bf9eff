package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gruntwork-io/terratest/modules/retry"
	"github.com/gruntwork-io/terratest/modules/shell"
)

// A health check that times out is logged by Docker with exit code -1; the
// suite must read such a container's health (it did not: terratest's
// docker.Inspect fails to decode it, and a slow replica start killed the
// rolling-restart check).
func TestTheHealthOfAContainerWhoseCheckTimedOutIsRead(t *testing.T) {
	// config/local.json's nginx: a stand-in `make test-images` builds, with
	// sleep in it.
	image := localConfig(t, repositoryRoot(t)).Local.Images.Nginx
	name := "shipyard-e2e-health-" + randomSuffix(t)
	claim(t, "e2e-health")
	shell.RunCommand(t, shell.Command{Command: "docker", Args: []string{"run", "--detach", "--name", name,
		"--label", "dev.shipyard.stack=e2e-health",
		"--health-cmd", "sleep 5", "--health-timeout", "1s", "--health-interval", "1s", "--health-retries", "100",
		"--entrypoint", "sleep", image, "120"}, Logger: quiet})
	t.Cleanup(func() {
		shell.RunCommand(t, shell.Command{Command: "docker", Args: []string{"rm", "--force", name}, Logger: quiet})
	})
	// Wait until Docker has recorded a timed-out check (exit code -1).
	retry.DoWithRetry(t, "a timed-out health check", 30, time.Second, func() (string, error) {
		out, err := shell.RunCommandAndGetStdOutE(t, shell.Command{Command: "docker", Args: []string{"inspect", "--format",
			"{{range .State.Health.Log}}{{.ExitCode}} {{end}}", name}, Logger: quiet})
		if err != nil {
			return "", err
		}
		for _, code := range strings.Fields(out) {
			if code == "-1" {
				return "", nil
			}
		}
		return "", fmt.Errorf("health check exit codes so far: %q", out)
	})
	status, err := healthStatus(t, name)
	if err != nil {
		t.Fatalf("reading the health of a container whose check timed out: %v", err)
	}
	if status != "starting" && status != "unhealthy" {
		t.Errorf("health = %q, want starting or unhealthy", status)
	}
}
