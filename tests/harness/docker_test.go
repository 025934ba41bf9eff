package harness_test

import (
	"context"
	"os"
	"os/exec"
	"strings"

	"github.com/shipyard-kit/shipyard/tests/harness"
)

func dockerCLI(ctx context.Context, args ...string) (string, error) {
	cli := os.Getenv("DOCKER")
	if cli == "" {
		cli = harness.DefaultDocker
	}
	out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// dockerPS lists containers named exactly name.
func dockerPS(ctx context.Context, name string) (string, error) {
	return dockerCLI(ctx, "ps", "-a", "--filter", "name=^"+name+"$", "--format", "{{.Names}}")
}
