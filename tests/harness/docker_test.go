package harness_test

import (
	"context"
	"os"
	"os/exec"
	"strings"

	"github.com/shipyard-kit/shipyard/tests/harness"
)

// dockerPS lists containers named exactly name.
func dockerPS(ctx context.Context, name string) (string, error) {
	cli := os.Getenv("DOCKER")
	if cli == "" {
		cli = harness.DefaultDocker
	}
	out, err := exec.CommandContext(ctx, cli, "ps", "-a", "--filter", "name=^"+name+"$", "--format", "{{.Names}}").Output()
	return strings.TrimSpace(string(out)), err
}
