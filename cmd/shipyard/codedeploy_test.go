package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shipyard-kit/shipyard/internal/release"
)

func TestCodeDeployCreatesTheDeploymentFromTheAppSpecWaitsAndReadsHowItEnded(t *testing.T) {
	spec, err := release.AppSpec("arn:td/web:8", "app", 8080)
	if err != nil {
		t.Fatal(err)
	}
	x := newFakeExec(map[string]answer{
		"aws deploy create-deployment --application-name shipyard-dev-web --deployment-group-name shipyard-dev-web --revision ": {out: `{"deploymentId": "d-ABC"}`},
		"aws deploy wait deployment-successful --deployment-id d-ABC":                                                           {err: errors.New("Waiter DeploymentSuccessful failed: Waiter encountered a terminal failure state")},
		"aws deploy get-deployment --deployment-id d-ABC": {out: `{"deploymentInfo": {"status": "Stopped",
			"errorInformation": {"code": "ALARM_ACTIVE", "message": "One or more alarms have been activated"},
			"rollbackInfo": {"rollbackMessage": "Rolled back by d-DEF"}}}`},
		"aws deploy list-deployment-targets --deployment-id d-ABC": {out: `{"targetIds": ["shipyard-dev:shipyard-dev-web"]}`},
		"aws deploy get-deployment-target --deployment-id d-ABC --target-id shipyard-dev:shipyard-dev-web": {out: `{"deploymentTarget": {"ecsTarget": {"lifecycleEvents": [
			{"lifecycleEventName": "AllowTestTraffic", "status": "Succeeded", "startTime": "2026-12-07T04:00:00.120000+00:00", "endTime": "2026-12-07T04:00:05+00:00"},
			{"lifecycleEventName": "AllowTraffic", "status": "Failed", "startTime": "2026-12-07T04:00:06+00:00", "endTime": "2026-12-07T04:02:06+00:00"}]}}}`},
	})
	d, err := codeDeployCLI{aws: awsCLI{x: x.exec, region: "eu-west-1"}}.Deploy(context.Background(), "shipyard-dev-web", "shipyard-dev-web", spec)
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != "d-ABC" || d.Status != "Stopped" || d.ErrorCode != "ALARM_ACTIVE" || d.ErrorMessage != "One or more alarms have been activated" || d.Rollback != "Rolled back by d-DEF" {
		t.Errorf("deployment %+v", d)
	}
	if len(d.Events) != 2 || d.Events[1].Name != "AllowTraffic" || d.Events[1].Status != "Failed" ||
		d.Events[1].End.Sub(d.Events[1].Start) != 2*time.Minute {
		t.Errorf("lifecycle events %+v", d.Events)
	}
	create := x.lines()[0]
	if !strings.Contains(create, `"revisionType":"AppSpecContent"`) || !strings.Contains(create, `arn:td/web:8`) || !strings.Contains(create, `--region eu-west-1`) {
		t.Errorf("create-deployment call %s", create)
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
