package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shipyard-kit/shipyard/internal/release"
)

func TestCodeDeployCreatesTheDeploymentFromTheAppSpecAndReadsHowFarItGot(t *testing.T) {
	spec, err := release.AppSpec("arn:td/web:8", "app", 8080)
	if err != nil {
		t.Fatal(err)
	}
	x := newFakeExec(map[string]answer{
		"aws deploy create-deployment --application-name shipyard-dev-web --deployment-group-name shipyard-dev-web --revision ": {out: `{"deploymentId": "d-ABC"}`},
		"aws deploy get-deployment --deployment-id d-ABC": {out: `{"deploymentInfo": {"status": "Stopped", "completeTime": "2026-12-07T04:02:30.5+00:00",
			"errorInformation": {"code": "ALARM_ACTIVE", "message": "One or more alarms have been activated"},
			"rollbackInfo": {"rollbackMessage": "Rolled back by d-DEF"}}}`},
		"aws deploy list-deployment-targets --deployment-id d-ABC": {out: `{"targetIds": ["shipyard-dev:shipyard-dev-web"]}`},
		"aws deploy get-deployment-target --deployment-id d-ABC --target-id shipyard-dev:shipyard-dev-web": {out: `{"deploymentTarget": {"ecsTarget": {
			"lifecycleEvents": [
				{"lifecycleEventName": "AllowTestTraffic", "status": "Succeeded", "startTime": "2026-12-07T04:00:00.120000+00:00", "endTime": "2026-12-07T04:00:05+00:00"},
				{"lifecycleEventName": "AllowTraffic", "status": "Failed", "startTime": "2026-12-07T04:00:06+00:00", "endTime": "2026-12-07T04:02:06+00:00"}],
			"taskSetsInfo": [
				{"identifer": "ecs-svc/111", "desiredCount": 2, "runningCount": 2, "status": "PRIMARY", "trafficWeight": 90.0, "targetGroup": {"name": "shipyard-dev-web-b"}, "taskSetLabel": "Blue"},
				{"identifer": "ecs-svc/222", "desiredCount": 2, "runningCount": 2, "status": "ACTIVE", "trafficWeight": 10.0, "targetGroup": {"name": "shipyard-dev-web-g"}, "taskSetLabel": "Green"}]}}}`},
		"aws deploy stop-deployment --deployment-id d-ABC --auto-rollback-enabled": {out: `{"status": "Pending", "statusMessage": "Stop request received"}`},
	})
	cd := codeDeployCLI{aws: awsCLI{x: x.exec, region: "eu-west-1"}}
	id, err := cd.Create(context.Background(), "shipyard-dev-web", "shipyard-dev-web", spec)
	if err != nil || id != "d-ABC" {
		t.Fatalf("Create: %q, %v", id, err)
	}
	d, err := cd.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != "d-ABC" || d.Status != "Stopped" || !d.Done() || d.ErrorCode != "ALARM_ACTIVE" || d.ErrorMessage != "One or more alarms have been activated" ||
		d.Rollback != "Rolled back by d-DEF" || !d.Complete.Equal(time.Date(2026, 12, 7, 4, 2, 30, 5e8, time.UTC)) {
		t.Errorf("deployment %+v", d)
	}
	if len(d.Events) != 2 || d.Events[1].Name != "AllowTraffic" || d.Events[1].Status != "Failed" ||
		d.Events[1].End.Sub(d.Events[1].Start) != 2*time.Minute {
		t.Errorf("lifecycle events %+v", d.Events)
	}
	if d.Replacement != (release.TaskSet{TargetGroup: "shipyard-dev-web-g", Weight: 10}) {
		t.Errorf("replacement %+v, want the Green task set's target group and weight", d.Replacement)
	}
	if err := cd.Stop(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	create := x.lines()[0]
	if !strings.Contains(create, `"revisionType":"AppSpecContent"`) || !strings.Contains(create, `arn:td/web:8`) || !strings.Contains(create, `--region eu-west-1`) {
		t.Errorf("create-deployment call %s", create)
	}
}

func TestCodeDeployBeforeItsECSTargetExistsHasNoReplacement(t *testing.T) {
	x := newFakeExec(map[string]answer{
		"aws deploy get-deployment --deployment-id d-ABC":          {out: `{"deploymentInfo": {"status": "Created"}}`},
		"aws deploy list-deployment-targets --deployment-id d-ABC": {err: errors.New("aws deploy list-deployment-targets: exit status 254: An error occurred (DeploymentNotStartedException) when calling the ListDeploymentTargets operation: The specified deployment has not started")},
		"aws deploy create-deployment":                             {err: errors.New("exit status 254: DeploymentLimitExceededException")},
	})
	cd := codeDeployCLI{aws: awsCLI{x: x.exec, region: "eu-west-1"}}
	d, err := cd.Get(context.Background(), "d-ABC")
	if err != nil || d.Done() || d.Replacement != (release.TaskSet{}) || len(d.Events) != 0 {
		t.Errorf("deployment %+v, %v", d, err)
	}
	if _, err := cd.Create(context.Background(), "a", "g", []byte("{}")); err == nil || !strings.Contains(err.Error(), "DeploymentLimitExceeded") {
		t.Errorf("Create: %v", err)
	}
}

func TestADeploymentAlreadyInProgressSaysWhichAndWhatToDo(t *testing.T) {
	refusal := errors.New("aws deploy create-deployment: exit status 254: An error occurred (DeploymentLimitExceededException) when calling the CreateDeployment operation: " +
		"The Deployment Group 'shipyard-dev-web' already has an active Deployment 'd-7QX2KD9RZ'")
	x := newFakeExec(map[string]answer{"aws deploy create-deployment": {err: refusal}})
	cd := codeDeployCLI{aws: awsCLI{x: x.exec, region: "eu-west-1"}}
	_, err := cd.Create(context.Background(), "shipyard-dev-web", "shipyard-dev-web", []byte("{}"))
	for _, want := range []string{
		"deployment group shipyard-dev-web already has a deployment in progress (d-7QX2KD9RZ)",
		"aws deploy wait deployment-successful --deployment-id d-7QX2KD9RZ",
		"aws deploy stop-deployment --deployment-id d-7QX2KD9RZ --auto-rollback-enabled",
		"DeploymentLimitExceededException",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
	if !errors.Is(err, refusal) {
		t.Errorf("the CLI's error is not wrapped: %v", err)
	}
}

func TestACodeDeployControlledServiceIsJudgedByItsPrimaryTaskSet(t *testing.T) {
	x := newFakeExec(map[string]answer{
		"aws ecs wait services-stable": {},
		"aws ecs describe-services --cluster shipyard-dev --services shipyard-dev-web": {out: `{"services": [{"serviceName": "shipyard-dev-web",
			"deploymentController": {"type": "CODE_DEPLOY"}, "deployments": [],
			"taskSets": [{"status": "PRIMARY", "taskDefinition": "arn:td/web:8", "stabilityStatus": "STEADY_STATE"}]}], "failures": []}`},
		"aws ecs describe-task-definition --task-definition arn:td/web:8": {out: `{"taskDefinition": {"containerDefinitions": [{"name": "app", "image": "repo@sha256:new"}]}}`},
	})
	out := release.Outputs{"clusterName": "shipyard-dev", "serviceNames": map[string]any{"web": "shipyard-dev-web"},
		"taskDefinitionArns": map[string]any{"web": "arn:td/web:8"}}
	got, err := ecsRuntime{aws: awsCLI{x: x.exec, region: "eu-west-1"}}.Services(context.Background(), "dev", out, time.Date(2026, 12, 2, 13, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].TaskDefinition != "arn:td/web:8" || got[0].RolloutState != "COMPLETED" || got[0].Deployments != 1 || got[0].Failure != "" {
		t.Errorf("services %+v", got)
	}
}
