package main

import (
	"context"
	"encoding/json"
	"fmt"

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
	return d, nil
}
