package release

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// CodeDeploy deploys a web service whose deployment controller is
// CODE_DEPLOY (a progressive deploy.strategy on aws): `pulumi up` only
// registers the task definition; the traffic shift is CodeDeploy's, which
// the release follows step by step.
type CodeDeploy interface {
	// Create creates a deployment of appSpec (AppSpecContent) in the
	// application's deployment group and returns its ID.
	Create(ctx context.Context, app, group string, appSpec []byte) (string, error)
	// Get reads how far a deployment got.
	Get(ctx context.Context, id string) (CodeDeployment, error)
	// Stop stops a deployment in progress and rolls it back (a gate
	// breached).
	Stop(ctx context.Context, id string) error
}

// CodeDeployment is how far a CodeDeploy deployment got.
type CodeDeployment struct {
	ID string
	// Status is CodeDeploy's: Created, InProgress, Succeeded, Failed,
	// Stopped…
	Status string
	// ErrorCode and ErrorMessage are errorInformation (ALARM_ACTIVE: a
	// rollback alarm went off); Rollback is rollbackInfo's message.
	ErrorCode, ErrorMessage, Rollback string
	// Complete is when it ended (zero while it runs).
	Complete time.Time
	// Events are the ECS target's lifecycle events (AllowTestTraffic,
	// AllowTraffic…), as far as the deployment got.
	Events []LifecycleEvent
	// Replacement is the new version's task set (CodeDeploy's "Green"):
	// zero until CodeDeploy created it.
	Replacement TaskSet
}

// TaskSet is one task set of a CodeDeploy ECS deployment.
type TaskSet struct {
	// TargetGroup is the name of the target group it serves from.
	TargetGroup string
	// Weight is its share of production traffic, in percent.
	Weight float64
}

// Done reports whether CodeDeploy has finished with the deployment.
func (d CodeDeployment) Done() bool {
	switch d.Status {
	case "Succeeded", "Failed", "Stopped":
		return true
	}
	return false
}

// LifecycleEvent is one step of a CodeDeploy ECS deployment.
type LifecycleEvent struct {
	Name, Status string
	Start, End   time.Time
}

// CodeDeploySteps turns a deployment's AllowTraffic event into the
// traffic steps of the plan: CodeDeploy reports when the shift started and
// ended, and the deployment config (the plan) when each step's bake ends
// within it. A step the deployment did not reach is left out. When the
// shift reached 100 % and the deployment completed later (the old tasks
// kept for the bake), the last step lasts until complete.
func CodeDeploySteps(plan []Step, events []LifecycleEvent, complete time.Time) []TrafficStep {
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
	if last := &out[len(out)-1]; last.Percent == 100 && allow.Status == "Succeeded" && complete.After(last.End) {
		last.End = complete
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
