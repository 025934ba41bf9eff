package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/internal/release"
)

// stoppedOutputs are the outputs StoppedTask reads.
var stoppedOutputs = release.Outputs{"clusterName": "shipyard-dev", "serviceNames": map[string]any{"web": "shipyard-dev-web"},
	"logGroupNames": map[string]any{"web": "/shipyard/dev/web"}, "webContainerName": "app"}

func TestAStoppedTaskOfTheNewTaskDefinitionSaysWhyWithItsLastLogLines(t *testing.T) {
	x := newFakeExec(map[string]answer{
		"aws ecs list-tasks --cluster shipyard-dev --service-name shipyard-dev-web --desired-status STOPPED": {out: `{"taskArns": [
			"arn:aws:ecs:eu-west-1:111122223333:task/shipyard-dev/aaa111", "arn:aws:ecs:eu-west-1:111122223333:task/shipyard-dev/bbb222",
			"arn:aws:ecs:eu-west-1:111122223333:task/shipyard-dev/ccc333"]}`},
		"aws ecs describe-tasks --cluster shipyard-dev --tasks ": {out: `{"tasks": [
			{"taskArn": "arn:aws:ecs:eu-west-1:111122223333:task/shipyard-dev/aaa111", "taskDefinitionArn": "arn:td/web:7",
			 "stopCode": "EssentialContainerExited", "stoppedReason": "Essential container in task exited", "stoppedAt": "2026-12-07T03:00:00+00:00",
			 "containers": [{"name": "app", "lastStatus": "STOPPED", "exitCode": 2}]},
			{"taskArn": "arn:aws:ecs:eu-west-1:111122223333:task/shipyard-dev/bbb222", "taskDefinitionArn": "arn:td/web:8",
			 "stopCode": "ServiceSchedulerInitiated", "stoppedReason": "Scaling activity initiated by (deployment ecs-svc/222)", "stoppedAt": "2026-12-07T04:12:00+00:00",
			 "containers": [{"name": "app", "lastStatus": "STOPPED", "exitCode": 143}]},
			{"taskArn": "arn:aws:ecs:eu-west-1:111122223333:task/shipyard-dev/ccc333", "taskDefinitionArn": "arn:td/web:8",
			 "stopCode": "EssentialContainerExited", "stoppedReason": "Essential container in task exited", "stoppedAt": "2026-12-07T04:05:00+00:00",
			 "containers": [
				{"name": "log_router", "lastStatus": "STOPPED", "exitCode": 0},
				{"name": "migrate", "lastStatus": "STOPPED", "exitCode": 0},
				{"name": "app", "lastStatus": "STOPPED", "exitCode": 1, "healthStatus": "UNHEALTHY", "reason": "Essential container exited"}]}],
			"failures": []}`},
		"aws logs get-log-events --log-group-name /shipyard/dev/web --log-stream-name app/app-firelens-ccc333 --limit 20 --no-start-from-head": {out: `{"events": [
			{"timestamp": 1796616300000, "message": "{\"level\":\"INFO\",\"msg\":\"starting web\"}", "ingestionTime": 1796616301000},
			{"timestamp": 1796616301000, "message": "{\"level\":\"ERROR\",\"msg\":\"connecting to postgres: password authentication failed\"}", "ingestionTime": 1796616302000}],
			"nextForwardToken": "f/1", "nextBackwardToken": "b/1"}`},
	})
	why, err := ecsRuntime{aws: awsCLI{x: x.exec, region: "eu-west-1"}}.StoppedTask(context.Background(), stoppedOutputs, "web", "arn:td/web:8")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"task ccc333 of arn:td/web:8 stopped at 2026-12-07T04:05:00Z: EssentialContainerExited: Essential container in task exited",
		"  container app: STOPPED, exit code 1, health UNHEALTHY: Essential container exited",
		"last 20 log lines of container app (/shipyard/dev/web, stream app/app-firelens-ccc333):",
		`{"level":"ERROR","msg":"connecting to postgres: password authentication failed"}`,
	} {
		if !strings.Contains(why, want) {
			t.Errorf("diagnosis lacks %q:\n%s", want, why)
		}
	}
	if strings.Contains(why, "aaa111") || strings.Contains(why, "bbb222") {
		t.Errorf("diagnosis picked another task (the old task definition's, or one the rollback stopped):\n%s", why)
	}
}

func TestNoStoppedTaskOfTheTaskDefinitionIsNoDiagnosisAndAMissingLogStreamIsSaid(t *testing.T) {
	x := newFakeExec(map[string]answer{
		"aws ecs list-tasks": {out: `{"taskArns": []}`},
	})
	rt := ecsRuntime{aws: awsCLI{x: x.exec, region: "eu-west-1"}}
	if why, err := rt.StoppedTask(context.Background(), stoppedOutputs, "web", "arn:td/web:8"); why != "" || err != nil {
		t.Errorf("no stopped task: %q, %v", why, err)
	}
	x = newFakeExec(map[string]answer{
		"aws ecs list-tasks": {out: `{"taskArns": ["arn:aws:ecs:eu-west-1:1:task/shipyard-dev/ddd444"]}`},
		"aws ecs describe-tasks": {out: `{"tasks": [{"taskArn": "arn:aws:ecs:eu-west-1:1:task/shipyard-dev/ddd444", "taskDefinitionArn": "arn:td/web:8",
			"stopCode": "TaskFailedToStart", "stoppedReason": "CannotPullContainerError: pull image manifest has been retried 5 time(s)",
			"containers": [{"name": "app", "lastStatus": "STOPPED", "reason": "CannotPullContainerError"}]}]}`},
		"aws logs get-log-events": {err: errors.New("exit status 254: ResourceNotFoundException: The specified log stream does not exist.")},
	})
	why, err := ecsRuntime{aws: awsCLI{x: x.exec, region: "eu-west-1"}}.StoppedTask(context.Background(), stoppedOutputs, "web", "arn:td/web:8")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"TaskFailedToStart: CannotPullContainerError", "container app: STOPPED, exit code none, health none: CannotPullContainerError", "(none read: ", "log stream does not exist"} {
		if !strings.Contains(why, want) {
			t.Errorf("diagnosis lacks %q:\n%s", want, why)
		}
	}
}
