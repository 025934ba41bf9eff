package release

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
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
	// Events are the ECS target's lifecycle events (AllowTestTraffic,
	// AllowTraffic…), as far as the deployment got.
	Events []LifecycleEvent
}

// LifecycleEvent is one step of a CodeDeploy ECS deployment.
type LifecycleEvent struct {
	Name, Status string
	Start, End   time.Time
}

// CodeDeploySteps turns a deployment's AllowTraffic event into the
// traffic steps of the plan: CodeDeploy reports when the shift started and
// ended, and the deployment config (the plan) when each step's bake ends
// within it. A step the deployment did not reach is left out.
func CodeDeploySteps(plan []Step, events []LifecycleEvent) []TrafficStep {
	var allow *LifecycleEvent
	for i := range events {
		if events[i].Name == "AllowTraffic" && !events[i].Start.IsZero() {
			allow = &events[i]
		}
	}
	if allow == nil {
		return nil
	}
	end := allow.End
	if end.IsZero() {
		end = allow.Start
	}
	var out []TrafficStep
	at := allow.Start
	for _, s := range plan {
		stop := at.Add(s.Bake)
		if s.Bake == 0 || stop.After(end) {
			stop = end
		}
		out = append(out, TrafficStep{Percent: s.Percent, Start: at, End: stop})
		if !stop.Before(end) {
			break // the shift ended here: completed, or stopped in this step
		}
		at = stop
	}
	return out
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
// it records the deployment ID ("" when the stack has none) and its
// traffic steps in rec.
func (o *Ops) codeDeploy(ctx context.Context, cfg *stackconfig.Config, rec *Record) error {
	stack := cfg.Stack
	id, steps, err := o.codeDeployment(ctx, stack, cfg.Deploy)
	rec.CodeDeployDeployment, rec.Steps = id, steps
	if id != "" {
		rec.Strategy = cfg.Deploy.Strategy
	}
	return err
}

func (o *Ops) codeDeployment(ctx context.Context, stack string, deploy stackconfig.Deploy) (string, []TrafficStep, error) {
	out, err := o.Pulumi.Outputs(ctx, stack)
	if err != nil {
		return "", nil, fmt.Errorf("reading outputs of stack %q after the update: %w", stack, err)
	}
	app, group := out.String("codeDeployApplication"), out.String("codeDeployDeploymentGroup")
	if app == "" {
		return "", nil, nil
	}
	if o.CodeDeploy == nil {
		return "", nil, fmt.Errorf("stack %q deploys its web service with CodeDeploy, but no CodeDeploy client is configured", stack)
	}
	port, _ := out["webContainerPort"].(float64)
	if p, ok := out["webContainerPort"].(int); ok {
		port = float64(p)
	}
	spec, err := AppSpec(out.Map("taskDefinitionArns")["web"], out.String("webContainerName"), int(port))
	if err != nil {
		return "", nil, err
	}
	o.say("CodeDeploy: deploying %s to %s/%s and waiting (the deployment group's config shifts the traffic, its alarms roll back)", out.Map("taskDefinitionArns")["web"], app, group)
	d, err := o.CodeDeploy.Deploy(ctx, app, group, spec)
	if err != nil {
		return d.ID, nil, fmt.Errorf("codedeploy deployment %s: %w", orNone(d.ID), err)
	}
	steps := CodeDeploySteps(Plan(deploy), d.Events)
	for _, s := range steps {
		o.say("CodeDeploy step: %d%% of requests to the new version, %s - %s", s.Percent, s.Start.UTC().Format(time.TimeOnly), s.End.UTC().Format(time.TimeOnly))
	}
	switch {
	case d.Status == "Succeeded":
		o.say("CodeDeploy deployment %s succeeded", d.ID)
		return d.ID, steps, nil
	case d.ErrorCode == "ALARM_ACTIVE":
		return d.ID, steps, fmt.Errorf("%w: %w: codedeploy deployment %s %s: %s (%s)", ErrNotRunning, ErrAlarmRollback, d.ID, d.Status, d.ErrorMessage, orNone(d.Rollback))
	default:
		return d.ID, steps, fmt.Errorf("%w: codedeploy deployment %s %s: %s %s (%s)", ErrNotRunning, d.ID, d.Status, d.ErrorCode, d.ErrorMessage, orNone(d.Rollback))
	}
}
