package main

import (
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

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
	x := newFakeExec(map[string]answer{
		"aws ecs wait services-stable": {err: errors.New("Waiter ServicesStable failed: Max attempts exceeded")},
		"aws ecs describe-services": {out: `{"services": [
			{"serviceName": "shipyard-dev-web", "deployments": [
				{"status": "PRIMARY", "taskDefinition": "arn:td/web:6", "rolloutState": "COMPLETED"}]},
			{"serviceName": "shipyard-dev-worker", "deployments": [
				{"status": "PRIMARY", "taskDefinition": "arn:td/worker:7", "rolloutState": "IN_PROGRESS"},
				{"status": "ACTIVE", "taskDefinition": "arn:td/worker:6", "rolloutState": "COMPLETED"}]}],
			"failures": []}`},
		"aws ecs describe-task-definition --task-definition arn:td/web:6":    {out: `{"taskDefinition": {"containerDefinitions": [{"name": "app", "image": "repo@sha256:old"}]}}`},
		"aws ecs describe-task-definition --task-definition arn:td/worker:7": {out: `{"taskDefinition": {"containerDefinitions": [{"name": "app", "image": "repo@sha256:new"}, {"name": "log-router", "image": "fluent-bit@sha256:fb"}]}}`},
	})
	r := ecsRuntime{aws: awsCLI{x: x.exec, region: "eu-west-1"}}
	got, err := r.Services(context.Background(), "dev", devOutputs())
	if err != nil {
		t.Fatal(err)
	}
	want := []release.Service{
		{Process: "web", Name: "shipyard-dev-web", TaskDefinition: "arn:td/web:6", RolloutState: "COMPLETED", Deployments: 1, Images: []string{"repo@sha256:old"}},
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
