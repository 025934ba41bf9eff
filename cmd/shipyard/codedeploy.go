package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/shipyard-kit/shipyard/internal/release"
)

// codeDeployCLI implements release.CodeDeploy with the AWS CLI.
type codeDeployCLI struct{ aws awsCLI }

// Create creates the deployment from the AppSpec.
func (c codeDeployCLI) Create(ctx context.Context, app, group string, appSpec []byte) (string, error) {
	revision, err := json.Marshal(map[string]any{
		"revisionType":   "AppSpecContent",
		"appSpecContent": map[string]string{"content": string(appSpec)},
	})
	if err != nil {
		return "", err
	}
	var created struct {
		DeploymentID string `json:"deploymentId"`
	}
	if err := c.aws.json(ctx, &created, "deploy", "create-deployment", "--application-name", app, "--deployment-group-name", group,
		"--revision", string(revision), "--description", "shipyard release"); err != nil {
		return "", deploymentInProgress(group, err)
	}
	if created.DeploymentID == "" {
		return "", fmt.Errorf("aws deploy create-deployment returned no deployment ID")
	}
	return created.DeploymentID, nil
}

// activeDeployment finds the deployment id in CodeDeploy's refusal to
// start a second one ("… already has an active Deployment 'd-…'").
var activeDeployment = regexp.MustCompile(`\bd-[A-Z0-9]{9}\b`)

// deploymentInProgress turns CodeDeploy's refusal to create a deployment
// while another runs in the group (DeploymentLimitExceededException) into
// what to do about it; other errors are returned as they are.
func deploymentInProgress(group string, err error) error {
	if !strings.Contains(err.Error(), "DeploymentLimitExceededException") {
		return err
	}
	id := activeDeployment.FindString(err.Error())
	if id == "" {
		id = "<id>"
	}
	return fmt.Errorf("deployment group %s already has a deployment in progress (%s): wait for it to end "+
		"(aws deploy wait deployment-successful --deployment-id %s) or stop it, rolling it back "+
		"(aws deploy stop-deployment --deployment-id %s --auto-rollback-enabled), then run the command again: %w", group, id, id, id, err)
}

// Stop stops the deployment and has CodeDeploy roll it back.
func (c codeDeployCLI) Stop(ctx context.Context, id string) error {
	return c.aws.json(ctx, nil, "deploy", "stop-deployment", "--deployment-id", id, "--auto-rollback-enabled")
}

// Get reads the deployment (`aws deploy get-deployment`) and its ECS
// target: the lifecycle events and the replacement ("Green") task set.
func (c codeDeployCLI) Get(ctx context.Context, id string) (release.CodeDeployment, error) {
	var info struct {
		DeploymentInfo struct {
			Status           string `json:"status"`
			ErrorInformation struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"errorInformation"`
			RollbackInfo struct {
				RollbackMessage string `json:"rollbackMessage"`
			} `json:"rollbackInfo"`
			CompleteTime time.Time `json:"completeTime"`
		} `json:"deploymentInfo"`
	}
	d := release.CodeDeployment{ID: id}
	if err := c.aws.json(ctx, &info, "deploy", "get-deployment", "--deployment-id", id); err != nil {
		return d, err
	}
	i := info.DeploymentInfo
	d.Status, d.ErrorCode, d.ErrorMessage, d.Rollback, d.Complete = i.Status, i.ErrorInformation.Code, i.ErrorInformation.Message, i.RollbackInfo.RollbackMessage, i.CompleteTime
	if err := c.target(ctx, &d); err != nil {
		return d, fmt.Errorf("reading the ECS target of deployment %s: %w", id, err)
	}
	return d, nil
}

// target reads the ECS target's lifecycle events and task sets (an ECS
// deployment has one target: the service); none before CodeDeploy
// created it.
func (c codeDeployCLI) target(ctx context.Context, d *release.CodeDeployment) error {
	var targets struct {
		TargetIDs []string `json:"targetIds"`
	}
	if err := c.aws.json(ctx, &targets, "deploy", "list-deployment-targets", "--deployment-id", d.ID); err != nil {
		if strings.Contains(err.Error(), "DeploymentNotStartedException") {
			return nil // no target yet
		}
		return err
	}
	for _, t := range targets.TargetIDs {
		var target struct {
			DeploymentTarget struct {
				EcsTarget struct {
					LifecycleEvents []struct {
						Name   string    `json:"lifecycleEventName"`
						Status string    `json:"status"`
						Start  time.Time `json:"startTime"`
						End    time.Time `json:"endTime"`
					} `json:"lifecycleEvents"`
					TaskSetsInfo []struct {
						TaskSetLabel  string  `json:"taskSetLabel"`
						TrafficWeight float64 `json:"trafficWeight"`
						TargetGroup   struct {
							Name string `json:"name"`
						} `json:"targetGroup"`
					} `json:"taskSetsInfo"`
				} `json:"ecsTarget"`
			} `json:"deploymentTarget"`
		}
		if err := c.aws.json(ctx, &target, "deploy", "get-deployment-target", "--deployment-id", d.ID, "--target-id", t); err != nil {
			return err
		}
		e := target.DeploymentTarget.EcsTarget
		for _, ev := range e.LifecycleEvents {
			d.Events = append(d.Events, release.LifecycleEvent{Name: ev.Name, Status: ev.Status, Start: ev.Start, End: ev.End})
		}
		for _, ts := range e.TaskSetsInfo {
			if ts.TaskSetLabel == "Green" {
				d.Replacement = release.TaskSet{TargetGroup: ts.TargetGroup.Name, Weight: ts.TrafficWeight}
			}
		}
	}
	return nil
}
