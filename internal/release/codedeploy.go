package release

import (
	"context"
	"encoding/json"
	"fmt"
)

// CodeDeploy deploys a web service whose deployment controller is
// CODE_DEPLOY (a progressive deploy.strategy on aws): `pulumi up` only
// registers the task definition; the traffic shift is CodeDeploy's.
type CodeDeploy interface {
	// Deploy creates a deployment of appSpec (AppSpecContent) in the
	// application's deployment group and waits until it ends.
	Deploy(ctx context.Context, app, group string, appSpec []byte) (CodeDeployment, error)
}

// CodeDeployment is how a CodeDeploy deployment ended.
type CodeDeployment struct {
	ID string
	// Status is CodeDeploy's: Succeeded, Failed, Stopped…
	Status string
	// ErrorCode and ErrorMessage are errorInformation (ALARM_ACTIVE: a
	// rollback alarm went off); Rollback is rollbackInfo's message.
	ErrorCode, ErrorMessage, Rollback string
}

// appSpec is an ECS AppSpec (docs.aws.amazon.com/codedeploy, "AppSpec
// 'resources' section for Amazon ECS deployments").
type appSpec struct {
	Version   string                 `json:"version"`
	Resources []map[string]appTarget `json:"Resources"`
}

type appTarget struct {
	Type       string        `json:"Type"`
	Properties appProperties `json:"Properties"`
}

type appProperties struct {
	TaskDefinition   string          `json:"TaskDefinition"`
	LoadBalancerInfo appLoadBalancer `json:"LoadBalancerInfo"`
}

type appLoadBalancer struct {
	ContainerName string `json:"ContainerName"`
	ContainerPort int    `json:"ContainerPort"`
}

// AppSpec returns the AppSpec that deploys taskDefinition, its container
// serving the load balancer on port.
func AppSpec(taskDefinition, container string, port int) ([]byte, error) {
	if taskDefinition == "" || container == "" || port <= 0 {
		return nil, fmt.Errorf("appspec: task definition %q, container %q, port %d: all are needed", taskDefinition, container, port)
	}
	return json.Marshal(appSpec{Version: "0.0", Resources: []map[string]appTarget{{
		"TargetService": {Type: "AWS::ECS::Service", Properties: appProperties{
			TaskDefinition:   taskDefinition,
			LoadBalancerInfo: appLoadBalancer{ContainerName: container, ContainerPort: port},
		}},
	}}})
}

// codeDeploy shifts the web service to the task definition `pulumi up`
// registered, when the stack's outputs name a CodeDeploy application;
// it returns the deployment ID ("" when the stack has none).
func (o *Ops) codeDeploy(ctx context.Context, stack string) (string, error) {
	out, err := o.Pulumi.Outputs(ctx, stack)
	if err != nil {
		return "", fmt.Errorf("reading outputs of stack %q after the update: %w", stack, err)
	}
	app, group := out.String("codeDeployApplication"), out.String("codeDeployDeploymentGroup")
	if app == "" {
		return "", nil
	}
	if o.CodeDeploy == nil {
		return "", fmt.Errorf("stack %q deploys its web service with CodeDeploy, but no CodeDeploy client is configured", stack)
	}
	port, _ := out["webContainerPort"].(float64)
	if p, ok := out["webContainerPort"].(int); ok {
		port = float64(p)
	}
	spec, err := AppSpec(out.Map("taskDefinitionArns")["web"], out.String("webContainerName"), int(port))
	if err != nil {
		return "", err
	}
	o.say("CodeDeploy: deploying %s to %s/%s and waiting (the deployment group's config shifts the traffic, its alarms roll back)", out.Map("taskDefinitionArns")["web"], app, group)
	d, err := o.CodeDeploy.Deploy(ctx, app, group, spec)
	if err != nil {
		return d.ID, fmt.Errorf("codedeploy deployment %s: %w", orNone(d.ID), err)
	}
	switch {
	case d.Status == "Succeeded":
		o.say("CodeDeploy deployment %s succeeded", d.ID)
		return d.ID, nil
	case d.ErrorCode == "ALARM_ACTIVE":
		return d.ID, fmt.Errorf("%w: %w: codedeploy deployment %s %s: %s (%s)", ErrNotRunning, ErrAlarmRollback, d.ID, d.Status, d.ErrorMessage, orNone(d.Rollback))
	default:
		return d.ID, fmt.Errorf("%w: codedeploy deployment %s %s: %s %s (%s)", ErrNotRunning, d.ID, d.Status, d.ErrorCode, d.ErrorMessage, orNone(d.Rollback))
	}
}
