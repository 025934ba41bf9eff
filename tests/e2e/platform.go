package e2e

import (
	"bufio"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gruntwork-io/terratest/modules/docker"
	"github.com/gruntwork-io/terratest/modules/logger"
	"github.com/gruntwork-io/terratest/modules/retry"
	"github.com/gruntwork-io/terratest/modules/shell"
)

// quiet keeps terratest's per-command logging out of the test log.
var quiet = logger.Discard

// platform is what differs between targets: how to restart the web
// replicas, read a process's logs and stop the database.
type platform interface {
	// RollingRestart restarts every web replica, one at a time, each
	// healthy again before the next.
	RollingRestart(t *testing.T)
	// StdoutLines returns a process type's recent stdout lines.
	StdoutLines(t *testing.T, process string) []string
	// StopDatabase stops Postgres; the returned func starts it again. An
	// error means the platform cannot do it, with the reason.
	StopDatabase(t *testing.T) (restart func(), reason error)
	// RunningImages maps each running app process (container or service)
	// to the image it runs.
	RunningImages(t *testing.T) map[string]string
}

func platformFor(o Outputs, stopTimeout int) platform {
	if o.Target == "docker" {
		return &dockerPlatform{o: o, stopTimeout: stopTimeout}
	}
	return &awsPlatform{o: o}
}

type dockerPlatform struct {
	o           Outputs
	stopTimeout int
}

func (d *dockerPlatform) RollingRestart(t *testing.T) {
	for _, c := range d.o.WebContainers {
		t.Logf("rolling restart: stopping %s", c)
		docker.Stop(t, []string{c}, &docker.StopOptions{Time: d.stopTimeout})
		shell.RunCommand(t, shell.Command{Command: "docker", Args: []string{"start", c}})
		waitHealthy(t, c)
	}
}

// waitHealthy waits (bounded) until the container's health check passes.
func waitHealthy(t *testing.T, container string) {
	t.Helper()
	retry.DoWithRetry(t, container+" healthy", 60, time.Second, func() (string, error) {
		status, err := healthStatus(t, container)
		if err != nil {
			return "", err
		}
		if status != "healthy" {
			return "", fmt.Errorf("%s health is %q", container, status)
		}
		return "", nil
	})
}

// healthStatus reads a container's health status alone. terratest's
// docker.Inspect decodes the whole health log into uint8 exit codes and
// fails on the -1 Docker records for a check that timed out or could not
// start, so it cannot wait on a container through a slow start.
func healthStatus(t *testing.T, container string) (string, error) {
	out, err := shell.RunCommandAndGetStdOutE(t, shell.Command{Command: "docker", Args: []string{"inspect", "--type", "container",
		"--format", "{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}", container}, Logger: quiet})
	if err != nil {
		return "", fmt.Errorf("inspecting %s: %w", container, err)
	}
	return strings.TrimSpace(out), nil
}

func (d *dockerPlatform) StdoutLines(t *testing.T, process string) []string {
	name := d.o.Containers[process]
	if process == "web" {
		name = d.o.WebContainers[0]
	}
	if name == "" {
		t.Fatalf("no container for process %q in the stack outputs", process)
	}
	// stdout only: docker logs writes the container's stderr to its own.
	out, err := shell.RunCommandAndGetStdOutE(t, shell.Command{Command: "docker", Args: []string{"logs", name}, Logger: quiet})
	if err != nil {
		t.Fatalf("docker logs %s: %v", name, err)
	}
	return lines(out)
}

func (d *dockerPlatform) RunningImages(t *testing.T) map[string]string {
	names := append([]string{d.o.Containers["worker"], d.o.Containers["clock"], d.o.Containers["migrate"]}, d.o.WebContainers...)
	out := map[string]string{}
	for _, n := range names {
		out[n] = shell.RunCommandAndGetStdOut(t, shell.Command{Command: "docker", Args: []string{"inspect", "--type", "container", "--format", "{{.Image}}", n}, Logger: quiet})
	}
	return out
}

func (d *dockerPlatform) StopDatabase(t *testing.T) (func(), error) {
	pg := d.o.Containers["postgres"]
	docker.Stop(t, []string{pg}, &docker.StopOptions{Time: 30})
	return func() {
		shell.RunCommand(t, shell.Command{Command: "docker", Args: []string{"start", pg}})
		waitHealthy(t, pg)
	}, nil
}

// awsPlatform drives ECS and CloudWatch Logs through the aws CLI, with the
// caller's credentials.
type awsPlatform struct{ o Outputs }

func (a *awsPlatform) aws(t *testing.T, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("aws"); err != nil {
		t.Fatalf("the aws CLI is needed against target %q: %v", a.o.Target, err)
	}
	return shell.RunCommandAndGetStdOut(t, shell.Command{Command: "aws", Args: append(args, "--region", a.o.Region)})
}

func (a *awsPlatform) RollingRestart(t *testing.T) {
	svc := a.o.ServiceNames["web"]
	a.aws(t, "ecs", "update-service", "--cluster", a.o.ClusterName, "--service", svc, "--force-new-deployment")
	a.aws(t, "ecs", "wait", "services-stable", "--cluster", a.o.ClusterName, "--services", svc)
}

func (a *awsPlatform) StdoutLines(t *testing.T, process string) []string {
	group := a.o.LogGroupNames[process]
	out := a.aws(t, "logs", "filter-log-events", "--log-group-name", group, "--limit", "50",
		"--start-time", strconv.FormatInt(time.Now().Add(-15*time.Minute).UnixMilli(), 10),
		"--query", "events[].message", "--output", "text")
	return strings.Split(strings.ReplaceAll(strings.TrimSpace(out), "\t", "\n"), "\n")
}

func (a *awsPlatform) RunningImages(t *testing.T) map[string]string {
	out := map[string]string{}
	for process, svc := range a.o.ServiceNames {
		td := a.aws(t, "ecs", "describe-services", "--cluster", a.o.ClusterName, "--services", svc,
			"--query", "services[0].taskDefinition", "--output", "text")
		out[process] = a.aws(t, "ecs", "describe-task-definition", "--task-definition", strings.TrimSpace(td),
			"--query", "taskDefinition.containerDefinitions[?name=='app'].image | [0]", "--output", "text")
	}
	return out
}

func (a *awsPlatform) StopDatabase(*testing.T) (func(), error) {
	return nil, fmt.Errorf("excluded on target %q: stopping an RDS instance takes minutes, fails over (Multi-AZ) instead of failing, and would break the environment for everyone using it; the docker target covers /readyz's database check", a.o.Target)
}

func lines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}
