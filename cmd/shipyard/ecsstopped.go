package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/shipyard-kit/shipyard/internal/release"
)

// ecsSidecars are the task's containers that are not the app: the
// FireLens log router and the ADOT collector (infra/aws RouterContainer
// and CollectorContainer). Their logs go elsewhere; the app's containers
// (app, migrate) log through FireLens.
var ecsSidecars = map[string]bool{"log_router": true, "otel_collector": true}

// stoppedTaskLogLines is how many of a stopped task's last log lines a
// failed deployment prints.
const stoppedTaskLogLines = 20

type ecsTask struct {
	TaskArn           string    `json:"taskArn"`
	TaskDefinitionArn string    `json:"taskDefinitionArn"`
	StopCode          string    `json:"stopCode"`
	StoppedReason     string    `json:"stoppedReason"`
	StoppedAt         time.Time `json:"stoppedAt"`
	Containers        []struct {
		Name         string `json:"name"`
		LastStatus   string `json:"lastStatus"`
		ExitCode     *int   `json:"exitCode"`
		Reason       string `json:"reason"`
		HealthStatus string `json:"healthStatus"`
	} `json:"containers"`
}

// StoppedTask implements release.Runtime: among the process's service's
// stopped tasks (ECS keeps them about an hour) of taskDefinition, the one
// that says most (it failed to start or its essential container exited,
// then a failed health check, then any; the latest first), with ECS's
// stopped reason, its containers' exit codes and reasons, and the last 20
// lines of the failed app container's log stream in CloudWatch Logs.
func (r ecsRuntime) StoppedTask(ctx context.Context, out release.Outputs, process, taskDefinition string) (string, error) {
	cluster, service := out.String("clusterName"), out.Map("serviceNames")[process]
	if cluster == "" || service == "" {
		return "", fmt.Errorf("the stack lacks the clusterName or serviceNames.%s output", process)
	}
	var listed struct {
		TaskArns []string `json:"taskArns"`
	}
	if err := r.aws.json(ctx, &listed, "ecs", "list-tasks", "--cluster", cluster, "--service-name", service, "--desired-status", "STOPPED"); err != nil {
		return "", err
	}
	if len(listed.TaskArns) == 0 {
		return "", nil
	}
	var described struct {
		Tasks []ecsTask `json:"tasks"`
	}
	// describe-tasks takes at most 100 tasks.
	args := append([]string{"ecs", "describe-tasks", "--cluster", cluster, "--tasks"}, listed.TaskArns[:min(100, len(listed.TaskArns))]...)
	if err := r.aws.json(ctx, &described, args...); err != nil {
		return "", err
	}
	var tasks []ecsTask
	for _, t := range described.Tasks {
		if taskDefinition == "" || t.TaskDefinitionArn == taskDefinition {
			tasks = append(tasks, t)
		}
	}
	if len(tasks) == 0 {
		return "", nil
	}
	sort.SliceStable(tasks, func(i, j int) bool {
		if a, b := stopRank(tasks[i]), stopRank(tasks[j]); a != b {
			return a < b
		}
		return tasks[i].StoppedAt.After(tasks[j].StoppedAt)
	})
	t := tasks[0]
	id := t.TaskArn[strings.LastIndex(t.TaskArn, "/")+1:]
	var b strings.Builder
	fmt.Fprintf(&b, "task %s of %s stopped at %s: %s: %s\n", id, t.TaskDefinitionArn, t.StoppedAt.UTC().Format(time.RFC3339), orNone(t.StopCode), t.StoppedReason)
	logged := ""
	for _, c := range t.Containers {
		exit := "none"
		if c.ExitCode != nil {
			exit = fmt.Sprint(*c.ExitCode)
		}
		fmt.Fprintf(&b, "  container %s: %s, exit code %s, health %s", c.Name, orNone(c.LastStatus), exit, orNone(c.HealthStatus))
		if c.Reason != "" {
			fmt.Fprintf(&b, ": %s", c.Reason)
		}
		b.WriteString("\n")
		if !ecsSidecars[c.Name] && logged == "" && c.ExitCode != nil && *c.ExitCode != 0 {
			logged = c.Name
		}
	}
	if logged == "" {
		if logged = out.String("webContainerName"); logged == "" {
			logged = "app"
		}
	}
	group := out.Map("logGroupNames")[process]
	stream := logged + "/" + logged + "-firelens-" + id // FireLens: <log_stream_prefix><container>-firelens-<task ID>
	fmt.Fprintf(&b, "last %d log lines of container %s (%s, stream %s):\n", stoppedTaskLogLines, logged, orNone(group), stream)
	if group == "" {
		b.WriteString("  (the stack has no logGroupNames." + process + " output)")
		return b.String(), nil
	}
	var events struct {
		Events []struct {
			Message string `json:"message"`
		} `json:"events"`
	}
	if err := r.aws.json(ctx, &events, "logs", "get-log-events", "--log-group-name", group, "--log-stream-name", stream,
		"--limit", fmt.Sprint(stoppedTaskLogLines), "--no-start-from-head"); err != nil {
		fmt.Fprintf(&b, "  (none read: %v)", err)
		return b.String(), nil
	}
	if len(events.Events) == 0 {
		b.WriteString("  (none: the container logged nothing)")
	}
	for _, e := range events.Events {
		b.WriteString(strings.TrimRight(e.Message, "\n") + "\n")
	}
	return strings.TrimRight(b.String(), "\n"), nil
}

// stopRank orders stopped tasks by how much they say about a deployment
// whose tasks never became healthy.
func stopRank(t ecsTask) int {
	switch {
	case t.StopCode == "TaskFailedToStart" || t.StopCode == "EssentialContainerExited":
		return 0
	case strings.Contains(t.StoppedReason, "health check"):
		return 1
	}
	return 2
}

// orNone is "none" for "".
func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
