package main

import (
	"context"
	"errors"
	"io"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shipyard-kit/shipyard/internal/release"
)

// devOutputs are an aws stack's outputs as `pulumi stack output --json`
// prints them.
func devOutputs() release.Outputs {
	return release.Outputs{
		"clusterName":        "shipyard-dev",
		"serviceNames":       map[string]any{"web": "shipyard-dev-web", "worker": "shipyard-dev-worker"},
		"taskDefinitionArns": map[string]any{"web": "arn:td/web:7", "worker": "arn:td/worker:7"},
		"privateSubnetIds":   []any{"subnet-a", "subnet-b"},
		"appSecurityGroupId": "sg-app",
	}
}

func TestECSRuntimeServices(t *testing.T) {
	since := time.Date(2026, 12, 2, 13, 0, 0, 0, time.UTC)
	x := newFakeExec(map[string]answer{
		"aws ecs wait services-stable": {err: errors.New("Waiter ServicesStable failed: Max attempts exceeded")},
		"aws ecs describe-services": {out: `{"services": [
			{"serviceName": "shipyard-dev-web", "deployments": [
				{"status": "PRIMARY", "taskDefinition": "arn:td/web:6", "rolloutState": "COMPLETED"}]},
			{"serviceName": "shipyard-dev-worker", "deployments": [
				{"status": "PRIMARY", "taskDefinition": "arn:td/worker:7", "rolloutState": "IN_PROGRESS"},
				{"status": "ACTIVE", "taskDefinition": "arn:td/worker:6", "rolloutState": "COMPLETED"}]}],
			"failures": []}`},
		"aws ecs describe-task-definition --task-definition arn:td/web:6":                                                            {out: `{"taskDefinition": {"containerDefinitions": [{"name": "app", "image": "repo@sha256:old"}]}}`},
		"aws ecs describe-task-definition --task-definition arn:td/worker:7":                                                         {out: `{"taskDefinition": {"containerDefinitions": [{"name": "app", "image": "repo@sha256:new"}, {"name": "log-router", "image": "fluent-bit@sha256:fb"}]}}`},
		"aws ecs list-service-deployments --cluster shipyard-dev --service shipyard-dev-web --created-at after=2026-12-02T12:59:00Z": {out: `{"serviceDeployments": [{"serviceDeploymentArn": "arn:sd/web/1"}]}`},
		"aws ecs describe-service-deployments --service-deployment-arns arn:sd/web/1": {out: `{"serviceDeployments": [{"serviceDeploymentArn": "arn:sd/web/1",
			"status": "ROLLBACK_SUCCESSFUL", "statusReason": "Service deployment rolled back because of alarms.",
			"alarms": {"status": "TRIGGERED", "alarmNames": ["dev-web-5xx", "dev-web-p99"], "triggeredAlarmNames": ["dev-web-p99", "dev-web-5xx"]},
			"rollback": {"reason": "Alarms triggered."}}], "failures": []}`},
		"aws ecs list-service-deployments --cluster shipyard-dev --service shipyard-dev-worker": {out: `{"serviceDeployments": []}`},
	})
	r := ecsRuntime{aws: awsCLI{x: x.exec, region: "eu-west-1"}}
	got, err := r.Services(context.Background(), "dev", devOutputs(), since)
	if err != nil {
		t.Fatal(err)
	}
	want := []release.Service{
		{Process: "web", Name: "shipyard-dev-web", TaskDefinition: "arn:td/web:6", RolloutState: "COMPLETED", Deployments: 1, Images: []string{"repo@sha256:old"},
			Failure: "service deployment ROLLBACK_SUCCESSFUL: Service deployment rolled back because of alarms.; rollback: Alarms triggered.",
			Alarms:  []string{"dev-web-5xx", "dev-web-p99"}},
		{Process: "worker", Name: "shipyard-dev-worker", TaskDefinition: "arn:td/worker:7", RolloutState: "IN_PROGRESS", Deployments: 2, Images: []string{"repo@sha256:new", "fluent-bit@sha256:fb"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Services =\n%+v\nwant\n%+v", got, want)
	}
	for _, l := range x.lines() {
		if strings.HasPrefix(l, "aws ecs") && !strings.Contains(l, "--region eu-west-1") {
			t.Errorf("call without the stack's region: %s", l)
		}
	}
}

// sequenceExec answers describe-services with its replies in turn (the
// last one from then on) and the other calls from a fakeExec.
type sequenceExec struct {
	replies   []string
	describes int
	rest      *fakeExec
}

func (s *sequenceExec) exec(ctx context.Context, c call) ([]byte, error) {
	if strings.HasPrefix(c.String(), "aws ecs describe-services") {
		s.describes++
		return []byte(s.replies[min(s.describes, len(s.replies))-1]), nil
	}
	return s.rest.exec(ctx, c)
}

func TestECSRuntimeServicesDuringTheBakeTime(t *testing.T) {
	deployment := func(state, reason string) string {
		return `{"services": [{"serviceName": "shipyard-dev-web", "deployments": [
			{"status": "PRIMARY", "taskDefinition": "arn:td/web:7", "rolloutState": "` + state + `", "rolloutStateReason": "` + reason + `"}]},
			{"serviceName": "shipyard-dev-worker", "deployments": [
			{"status": "PRIMARY", "taskDefinition": "arn:td/worker:7", "rolloutState": "COMPLETED"}]}], "failures": []}`
	}
	td := func(img string) answer {
		return answer{out: `{"taskDefinition": {"containerDefinitions": [{"name": "app", "image": "` + img + `"}]}}`}
	}
	rest := map[string]answer{
		"aws ecs wait services-stable":                                       {},
		"aws ecs describe-task-definition --task-definition arn:td/web:7":    td("repo@sha256:new"),
		"aws ecs describe-task-definition --task-definition arn:td/worker:7": td("repo@sha256:new"),
	}
	t.Run("a stable service whose rollout is still IN_PROGRESS is read again until it is COMPLETED", func(t *testing.T) {
		x := &sequenceExec{replies: []string{deployment("IN_PROGRESS", "ECS deployment ecs-svc/1 in progress."), deployment("IN_PROGRESS", ""), deployment("COMPLETED", "")}, rest: newFakeExec(rest)}
		r := ecsRuntime{aws: awsCLI{x: x.exec, region: "eu-west-1"}, poll: time.Millisecond, bake: time.Minute}
		got, err := r.Services(context.Background(), "dev", devOutputs(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if x.describes != 3 || got[0].RolloutState != "COMPLETED" || got[0].Failure != "" || got[0].Alarms != nil {
			t.Fatalf("after %d describe-services: %+v", x.describes, got)
		}
	})
	t.Run("a rollout an alarm FAILED during the bake time names the alarms", func(t *testing.T) {
		answers := maps.Clone(rest)
		answers["aws ecs list-service-deployments --cluster shipyard-dev --service shipyard-dev-web"] = answer{out: `{"serviceDeployments": [{"serviceDeploymentArn": "arn:sd/web/2"}]}`}
		answers["aws ecs describe-service-deployments --service-deployment-arns arn:sd/web/2"] = answer{out: `{"serviceDeployments": [{"serviceDeploymentArn": "arn:sd/web/2",
			"status": "STOPPED", "statusReason": "Service deployment stopped because of alarms.", "alarms": {"status": "TRIGGERED", "triggeredAlarmNames": ["dev-web-5xx"]}}]}`}
		x := &sequenceExec{replies: []string{deployment("IN_PROGRESS", ""), deployment("FAILED", "ECS deployment ecs-svc/1 failed: alarm dev-web-5xx in ALARM.")}, rest: newFakeExec(answers)}
		r := ecsRuntime{aws: awsCLI{x: x.exec, region: "eu-west-1"}, poll: time.Millisecond, bake: time.Minute}
		got, err := r.Services(context.Background(), "dev", devOutputs(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		web := got[0]
		if web.RolloutState != "FAILED" || !reflect.DeepEqual(web.Alarms, []string{"dev-web-5xx"}) ||
			web.Failure != "ECS deployment ecs-svc/1 failed: alarm dev-web-5xx in ALARM.; service deployment STOPPED: Service deployment stopped because of alarms." {
			t.Fatalf("web = %+v", web)
		}
		if got[1].Failure != "" || got[1].Alarms != nil {
			t.Errorf("the worker, which completed, got a failure: %+v", got[1])
		}
	})
	t.Run("a rollout still IN_PROGRESS after the bake time is reported as it is", func(t *testing.T) {
		answers := maps.Clone(rest)
		answers["aws ecs list-service-deployments"] = answer{out: `{"serviceDeployments": []}`}
		x := &sequenceExec{replies: []string{deployment("IN_PROGRESS", "")}, rest: newFakeExec(answers)}
		r := ecsRuntime{aws: awsCLI{x: x.exec, region: "eu-west-1"}, poll: 5 * time.Millisecond, bake: 50 * time.Millisecond}
		got, err := r.Services(context.Background(), "dev", devOutputs(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if got[0].RolloutState != "IN_PROGRESS" || x.describes < 2 {
			t.Fatalf("after %d describe-services: %+v", x.describes, got)
		}
	})
	t.Run("service deployments that cannot be read are said, not hidden", func(t *testing.T) {
		x := &sequenceExec{replies: []string{deployment("FAILED", "")}, rest: newFakeExec(rest)}
		r := ecsRuntime{aws: awsCLI{x: x.exec, region: "eu-west-1"}, poll: time.Millisecond, bake: time.Minute}
		got, err := r.Services(context.Background(), "dev", devOutputs(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(got[0].Failure, "its service deployments could not be read") {
			t.Fatalf("web = %+v", got[0])
		}
	})
}

func TestMigrateTask(t *testing.T) {
	runTask := `{"tasks": [{"taskArn": "arn:task/1"}], "failures": []}`
	stopped := func(exit string) string {
		return `{"tasks": [{"stoppedReason": "Essential container in task exited", "containers": [{"name": "app", "exitCode": ` + exit + `}]}]}`
	}
	tests := []struct {
		name    string
		outputs func() release.Outputs
		answers map[string]answer
		wantErr string
		// wantArgs must appear in the run-task call.
		wantArgs []string
	}{
		{
			name:    "runs the web task definition with the command overridden to migrate, in the private subnets",
			outputs: devOutputs,
			answers: map[string]answer{
				"aws ecs describe-task-definition": {out: `{"taskDefinition": {"containerDefinitions": [{"name": "app", "image": "r@sha256:x"}]}}`},
				"aws ecs run-task":                 {out: runTask},
				"aws ecs wait tasks-stopped":       {},
				"aws ecs describe-tasks":           {out: stopped("0")},
			},
			wantArgs: []string{
				"--task-definition arn:td/web:7",
				"--launch-type FARGATE",
				"awsvpcConfiguration={subnets=[subnet-a,subnet-b],securityGroups=[sg-app],assignPublicIp=DISABLED}",
				`--overrides {"containerOverrides":[{"command":["migrate"],"name":"app"}]}`,
			},
		},
		{
			name: "uses the migrate task definition as is when the stack has one",
			outputs: func() release.Outputs {
				o := devOutputs()
				o["migrateTaskDefinitionArn"] = "arn:td/migrate:3"
				return o
			},
			answers: map[string]answer{
				"aws ecs run-task":           {out: runTask},
				"aws ecs wait tasks-stopped": {},
				"aws ecs describe-tasks":     {out: stopped("0")},
			},
			wantArgs: []string{"--task-definition arn:td/migrate:3"},
		},
		{
			name:    "fails when the migrate container exits non-zero",
			outputs: devOutputs,
			answers: map[string]answer{
				"aws ecs describe-task-definition": {out: `{"taskDefinition": {"containerDefinitions": [{"name": "app"}]}}`},
				"aws ecs run-task":                 {out: runTask},
				"aws ecs wait tasks-stopped":       {},
				"aws ecs describe-tasks":           {out: stopped("1")},
			},
			wantErr: "container app exited 1",
		},
		{
			name:    "fails when the container never ran",
			outputs: devOutputs,
			answers: map[string]answer{
				"aws ecs describe-task-definition": {out: `{"taskDefinition": {"containerDefinitions": [{"name": "app"}]}}`},
				"aws ecs run-task":                 {out: runTask},
				"aws ecs wait tasks-stopped":       {},
				"aws ecs describe-tasks":           {out: `{"tasks": [{"stoppedReason": "CannotPullContainerError", "containers": [{"name": "app", "reason": "pull failed"}]}]}`},
			},
			wantErr: "did not run: pull failed (CannotPullContainerError)",
		},
		{
			name:    "fails when ECS starts no task",
			outputs: devOutputs,
			answers: map[string]answer{
				"aws ecs describe-task-definition": {out: `{"taskDefinition": {"containerDefinitions": [{"name": "app"}]}}`},
				"aws ecs run-task":                 {out: `{"tasks": [], "failures": [{"reason": "RESOURCE:MEMORY"}]}`},
			},
			wantErr: "started no task: RESOURCE:MEMORY",
		},
		{
			name: "names the outputs a stack lacks",
			outputs: func() release.Outputs {
				o := devOutputs()
				delete(o, "appSecurityGroupId")
				delete(o, "privateSubnetIds")
				return o
			},
			answers: map[string]answer{},
			wantErr: "lacks outputs appSecurityGroupId, privateSubnetIds",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := newFakeExec(tc.answers)
			err := migrateTask(context.Background(), awsCLI{x: x.exec, region: "eu-west-1"}, tc.outputs(), func(string, ...any) {})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var run string
			for _, l := range x.lines() {
				if strings.HasPrefix(l, "aws ecs run-task") {
					run = l
				}
			}
			for _, a := range tc.wantArgs {
				if !strings.Contains(run, a) {
					t.Errorf("run-task call lacks %q:\n%s", a, run)
				}
			}
		})
	}
}

func TestRegistryCopyPreservesTheDigest(t *testing.T) {
	src := "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shipyard-staging"
	dst := "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shipyard-prod"
	digest := "sha256:" + strings.Repeat("a", 64)
	x := newFakeExec(map[string]answer{
		"aws ecr get-login-password":         {out: "pw\n"},
		"docker login":                       {},
		"crane copy":                         {},
		"crane digest " + dst + ":prod-0004": {out: digest + "\n"},
	})
	r := &registry{x: x.exec, region: "eu-west-1"}
	got, err := r.Copy(context.Background(), src, digest, dst, "prod-0004")
	if err != nil {
		t.Fatal(err)
	}
	if got != digest {
		t.Errorf("digest = %q", got)
	}
	want := []string{
		"aws ecr get-login-password --region eu-west-1",
		"docker login --username AWS --password-stdin 123456789012.dkr.ecr.eu-west-1.amazonaws.com",
		"crane copy " + src + "@" + digest + " " + dst + ":prod-0004",
		"crane digest " + dst + ":prod-0004",
	}
	if !reflect.DeepEqual(x.lines(), want) {
		t.Errorf("calls =\n%s\nwant\n%s", strings.Join(x.lines(), "\n"), strings.Join(want, "\n"))
	}
	login := x.calls[1]
	if b, _ := io.ReadAll(login.Stdin); string(b) != "pw" {
		t.Errorf("docker login got password %q on stdin", b)
	}
}
