package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/shipyard-kit/shipyard/internal/release"
)

// codeDeployCLI implements release.CodeDeploy with the AWS CLI.
type codeDeployCLI struct{ aws awsCLI }

// Deploy creates the deployment from the AppSpec, waits with `aws deploy
// wait deployment-successful` (its own limit: about an hour) and reads how
// it ended with `aws deploy get-deployment`.
func (c codeDeployCLI) Deploy(ctx context.Context, app, group string, appSpec []byte) (release.CodeDeployment, error) {
	revision, err := json.Marshal(map[string]any{
		"revisionType":   "AppSpecContent",
		"appSpecContent": map[string]string{"content": string(appSpec)},
	})
	if err != nil {
		return release.CodeDeployment{}, err
	}
	var created struct {
		DeploymentID string `json:"deploymentId"`
	}
	if err := c.aws.json(ctx, &created, "deploy", "create-deployment", "--application-name", app, "--deployment-group-name", group,
		"--revision", string(revision), "--description", "shipyard release"); err != nil {
		return release.CodeDeployment{}, fmt.Errorf("creating the deployment: %w", err)
	}
	d := release.CodeDeployment{ID: created.DeploymentID}
	// The waiter fails when the deployment fails or is stopped: how it
	// ended is read either way.
	_ = c.aws.json(ctx, nil, "deploy", "wait", "deployment-successful", "--deployment-id", d.ID)
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
		} `json:"deploymentInfo"`
	}
	if err := c.aws.json(ctx, &info, "deploy", "get-deployment", "--deployment-id", d.ID); err != nil {
		return d, fmt.Errorf("reading deployment %s: %w", d.ID, err)
	}
	i := info.DeploymentInfo
	d.Status, d.ErrorCode, d.ErrorMessage, d.Rollback = i.Status, i.ErrorInformation.Code, i.ErrorInformation.Message, i.RollbackInfo.RollbackMessage
	events, err := c.events(ctx, d.ID)
	if err != nil {
		return d, fmt.Errorf("reading the lifecycle events of deployment %s: %w", d.ID, err)
	}
	d.Events = events
	return d, nil
}

// events reads the ECS target's lifecycle events (an ECS deployment has
// one target: the service).
func (c codeDeployCLI) events(ctx context.Context, id string) ([]release.LifecycleEvent, error) {
	var targets struct {
		TargetIDs []string `json:"targetIds"`
	}
	if err := c.aws.json(ctx, &targets, "deploy", "list-deployment-targets", "--deployment-id", id); err != nil {
		return nil, err
	}
	var out []release.LifecycleEvent
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
				} `json:"ecsTarget"`
			} `json:"deploymentTarget"`
		}
		if err := c.aws.json(ctx, &target, "deploy", "get-deployment-target", "--deployment-id", id, "--target-id", t); err != nil {
			return nil, err
		}
		for _, e := range target.DeploymentTarget.EcsTarget.LifecycleEvents {
			out = append(out, release.LifecycleEvent{Name: e.Name, Status: e.Status, Start: e.Start, End: e.End})
		}
	}
	return out, nil
}
