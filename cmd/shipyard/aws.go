package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/shipyard-kit/shipyard/internal/release"
)

// awsCLI drives the AWS CLI (v2) in a region.
type awsCLI struct {
	x      execer
	region string
}

func (a awsCLI) json(ctx context.Context, v any, args ...string) error {
	out, err := a.x(ctx, call{Name: "aws", Args: append(args, "--region", a.region, "--output", "json")})
	if err != nil {
		return err
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("aws %s: %w", strings.Join(args[:min(2, len(args))], " "), err)
	}
	return nil
}

// ecsRuntime implements release.Runtime with the AWS CLI.
type ecsRuntime struct {
	aws awsCLI
	// poll is how often Services re-reads services whose PRIMARY
	// deployment is still IN_PROGRESS once they are stable (deployment
	// alarms keep it there for a bake time), and bake how long it waits
	// at most; zero values mean 15 s and 30 min.
	poll, bake time.Duration
}

type describeServices struct {
	Services []struct {
		ServiceName string `json:"serviceName"`
		// TaskDefinition is the service's; a CODE_DEPLOY service's tasks
		// run its PRIMARY task set's.
		TaskDefinition       string `json:"taskDefinition"`
		DeploymentController struct {
			Type string `json:"type"`
		} `json:"deploymentController"`
		// TaskSets are a CODE_DEPLOY service's: PRIMARY serves.
		TaskSets []struct {
			Status          string `json:"status"`
			TaskDefinition  string `json:"taskDefinition"`
			StabilityStatus string `json:"stabilityStatus"`
		} `json:"taskSets"`
		Deployments []struct {
			Status             string `json:"status"`
			TaskDefinition     string `json:"taskDefinition"`
			RolloutState       string `json:"rolloutState"`
			RolloutStateReason string `json:"rolloutStateReason"`
		} `json:"deployments"`
	} `json:"services"`
	Failures []struct {
		Arn    string `json:"arn"`
		Reason string `json:"reason"`
	} `json:"failures"`
}

type describeTaskDefinition struct {
	TaskDefinition struct {
		ContainerDefinitions []struct {
			Name    string   `json:"name"`
			Image   string   `json:"image"`
			Command []string `json:"command"`
		} `json:"containerDefinitions"`
	} `json:"taskDefinition"`
}

// listServiceDeployments and describeServiceDeployments are the parts of
// `aws ecs list-service-deployments` and `describe-service-deployments`
// that Services reads: ECS's durable record of each deployment, which
// keeps the deployment alarms that failed it after the rollback removed
// the deployment from describe-services.
type listServiceDeployments struct {
	ServiceDeployments []struct {
		ServiceDeploymentArn string `json:"serviceDeploymentArn"`
	} `json:"serviceDeployments"`
}

type describeServiceDeployments struct {
	ServiceDeployments []struct {
		ServiceDeploymentArn string `json:"serviceDeploymentArn"`
		Status               string `json:"status"`
		StatusReason         string `json:"statusReason"`
		Alarms               *struct {
			Status              string   `json:"status"`
			TriggeredAlarmNames []string `json:"triggeredAlarmNames"`
		} `json:"alarms"`
		Rollback *struct {
			Reason string `json:"reason"`
		} `json:"rollback"`
	} `json:"serviceDeployments"`
	Failures []struct {
		Arn    string `json:"arn"`
		Reason string `json:"reason"`
	} `json:"failures"`
}

// Services waits for the stack's services to be stable (a failed rollout
// ends the wait early with the circuit breaker's rollback) and then, while
// a PRIMARY deployment is still IN_PROGRESS (the bake time of deployment
// alarms, during which an alarm still fails and rolls it back), polls
// until it is COMPLETED or FAILED. It describes their PRIMARY deployments
// and those deployments' images. A service that does not run the task
// definition this update registered, or whose rollout is not COMPLETED,
// gets ECS's reasons: the FAILED deployments' rolloutStateReason and, from
// the service deployments created since since, their status and the
// deployment alarms that triggered.
func (r ecsRuntime) Services(ctx context.Context, stack string, out release.Outputs, since time.Time) ([]release.Service, error) {
	cluster := out.String("clusterName")
	names := out.Map("serviceNames")
	if cluster == "" || len(names) == 0 {
		return nil, fmt.Errorf("stack %q has no clusterName/serviceNames outputs", stack)
	}
	byName := map[string]string{}
	var list []string
	for proc, name := range names {
		byName[name] = proc
		list = append(list, name)
	}
	sort.Strings(list)
	poll, bake := r.poll, r.bake
	if poll <= 0 {
		poll = 15 * time.Second
	}
	if bake <= 0 {
		bake = 30 * time.Minute
	}
	// `wait services-stable` fails after ~10 minutes when a service never
	// settles; the description below then tells what it runs.
	stable := r.aws.json(ctx, nil, append([]string{"ecs", "wait", "services-stable", "--cluster", cluster, "--services"}, list...)...) == nil
	deadline := time.Now().Add(bake)
	var ds describeServices
	for {
		ds = describeServices{}
		if err := r.aws.json(ctx, &ds, append([]string{"ecs", "describe-services", "--cluster", cluster, "--services"}, list...)...); err != nil {
			return nil, err
		}
		if !stable || !primaryInProgress(ds) || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(poll):
		}
	}
	var failures []string
	for _, f := range ds.Failures {
		failures = append(failures, f.Arn+": "+f.Reason)
	}
	if len(failures) > 0 {
		return nil, fmt.Errorf("ecs describe-services: %s", strings.Join(failures, "; "))
	}
	taskDefs := out.Map("taskDefinitionArns")
	images := map[string][]string{}
	var services []release.Service
	for _, s := range ds.Services {
		svc := release.Service{Process: byName[s.ServiceName], Name: s.ServiceName, Deployments: len(s.Deployments)}
		var reasons []string
		for _, d := range s.Deployments {
			if d.Status == "PRIMARY" {
				svc.TaskDefinition, svc.RolloutState = d.TaskDefinition, d.RolloutState
			}
			if d.RolloutState == "FAILED" && d.RolloutStateReason != "" {
				reasons = append(reasons, d.RolloutStateReason)
			}
		}
		if s.DeploymentController.Type == "CODE_DEPLOY" {
			// CodeDeploy's deployment already ended: the PRIMARY task set
			// is what serves, COMPLETED once it is in a steady state.
			svc.Deployments, svc.TaskDefinition, svc.RolloutState = len(s.TaskSets), "", ""
			for _, ts := range s.TaskSets {
				if ts.Status == "PRIMARY" {
					svc.TaskDefinition = ts.TaskDefinition
					if ts.StabilityStatus == "STEADY_STATE" {
						svc.RolloutState = "COMPLETED"
					} else {
						svc.RolloutState = ts.StabilityStatus
					}
				}
			}
		}
		if want := taskDefs[svc.Process]; svc.RolloutState != "COMPLETED" || want != "" && svc.TaskDefinition != want {
			alarms, why, err := r.deploymentFailure(ctx, cluster, s.ServiceName, since)
			if err != nil {
				why = append(why, "its service deployments could not be read: "+err.Error())
			}
			svc.Alarms = alarms
			svc.Failure = strings.Join(uniq(append(reasons, why...)), "; ")
		}
		if svc.TaskDefinition != "" {
			if _, ok := images[svc.TaskDefinition]; !ok {
				var td describeTaskDefinition
				if err := r.aws.json(ctx, &td, "ecs", "describe-task-definition", "--task-definition", svc.TaskDefinition); err != nil {
					return nil, err
				}
				for _, c := range td.TaskDefinition.ContainerDefinitions {
					images[svc.TaskDefinition] = append(images[svc.TaskDefinition], c.Image)
				}
			}
			svc.Images = images[svc.TaskDefinition]
		}
		services = append(services, svc)
	}
	return services, nil
}

// migrateTask runs the one-off migrate process on ECS Fargate: the migrate
// task definition when the stack has one, else the web task definition
// with its command overridden, in the private subnets with the app's
// security group; it waits for the task to stop and requires exit code 0.
func migrateTask(ctx context.Context, a awsCLI, out release.Outputs, say func(string, ...any)) error {
	return runTask(ctx, a, out, oneOff{Name: "migrate", Command: []string{"migrate"}}, say)
}

// oneOff is an admin process run as an ECS task.
type oneOff struct {
	// Name is what messages and --started-by call it.
	Name string
	// Command is the app's arguments ("migrate", "dbcheck").
	Command []string
	// Env overrides environment variables of the app container (the
	// restore drill points DATABASE_URL at its temporary instance).
	Env map[string]string
	// LogGroup, when set, is where the task's app container logs through
	// FireLens: a failed task's error then ends with its last lines.
	LogGroup string
}

// logTailLines is how many of a failed one-off task's last log lines its
// error shows.
const logTailLines = 20

// runTask runs a one-off app process on ECS Fargate: the migrate task
// definition when the stack has one, else the web task definition, with
// the command (unless it is the migrate task definition's own) and the
// environment overridden, in the private subnets with the app's security
// group; it waits for the task to stop and requires exit code 0.
func runTask(ctx context.Context, a awsCLI, out release.Outputs, p oneOff, say func(string, ...any)) error {
	cluster := out.String("clusterName")
	subnets := stringList(out["privateSubnetIds"])
	sg := out.String("appSecurityGroupId")
	taskDef := out.String("migrateTaskDefinitionArn")
	ownCommand := taskDef != "" && len(p.Command) == 1 && p.Command[0] == "migrate"
	if taskDef == "" {
		taskDef = out.Map("taskDefinitionArns")["web"]
	}
	var missing []string
	for k, v := range map[string]bool{"clusterName": cluster == "", "privateSubnetIds": len(subnets) == 0, "appSecurityGroupId": sg == "", "migrateTaskDefinitionArn or taskDefinitionArns.web": taskDef == ""} {
		if v {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("the stack lacks outputs %s: run `make up` first", strings.Join(missing, ", "))
	}
	args := []string{"ecs", "run-task", "--cluster", cluster, "--launch-type", "FARGATE", "--task-definition", taskDef,
		"--started-by", "shipyard-" + p.Name,
		"--network-configuration", fmt.Sprintf("awsvpcConfiguration={subnets=[%s],securityGroups=[%s],assignPublicIp=DISABLED}", strings.Join(subnets, ","), sg)}
	if !ownCommand || len(p.Env) > 0 {
		var td describeTaskDefinition
		if err := a.json(ctx, &td, "ecs", "describe-task-definition", "--task-definition", taskDef); err != nil {
			return err
		}
		if len(td.TaskDefinition.ContainerDefinitions) == 0 {
			return fmt.Errorf("task definition %s has no containers", taskDef)
		}
		co := map[string]any{"name": td.TaskDefinition.ContainerDefinitions[0].Name}
		if !ownCommand {
			co["command"] = p.Command
		}
		if len(p.Env) > 0 {
			names := make([]string, 0, len(p.Env))
			for k := range p.Env {
				names = append(names, k)
			}
			sort.Strings(names)
			var env []map[string]string
			for _, k := range names {
				env = append(env, map[string]string{"name": k, "value": p.Env[k]})
			}
			co["environment"] = env
		}
		ov, _ := json.Marshal(map[string]any{"containerOverrides": []map[string]any{co}})
		args = append(args, "--overrides", string(ov))
	}
	var run struct {
		Tasks []struct {
			TaskArn string `json:"taskArn"`
		} `json:"tasks"`
		Failures []struct {
			Reason string `json:"reason"`
		} `json:"failures"`
	}
	say("aws ecs run-task --task-definition %s (%s)", taskDef, strings.Join(p.Command, " "))
	if err := a.json(ctx, &run, args...); err != nil {
		return err
	}
	if len(run.Tasks) == 0 {
		reasons := []string{}
		for _, f := range run.Failures {
			reasons = append(reasons, f.Reason)
		}
		return fmt.Errorf("ecs run-task started no task: %s", strings.Join(reasons, "; "))
	}
	arn := run.Tasks[0].TaskArn
	say("waiting for %s to stop", arn)
	if err := a.json(ctx, nil, "ecs", "wait", "tasks-stopped", "--cluster", cluster, "--tasks", arn); err != nil {
		return fmt.Errorf("waiting for the %s task: %w", p.Name, err)
	}
	var desc struct {
		Tasks []struct {
			StoppedReason string `json:"stoppedReason"`
			Containers    []struct {
				Name     string `json:"name"`
				ExitCode *int   `json:"exitCode"`
				Reason   string `json:"reason"`
			} `json:"containers"`
		} `json:"tasks"`
	}
	if err := a.json(ctx, &desc, "ecs", "describe-tasks", "--cluster", cluster, "--tasks", arn); err != nil {
		return err
	}
	if len(desc.Tasks) == 0 || len(desc.Tasks[0].Containers) == 0 {
		return fmt.Errorf("%s task %s: ECS no longer describes it", p.Name, arn)
	}
	t := desc.Tasks[0]
	var errs []error
	for _, c := range t.Containers {
		switch {
		case c.ExitCode == nil:
			errs = append(errs, fmt.Errorf("container %s did not run: %s (%s)", c.Name, c.Reason, t.StoppedReason))
		case *c.ExitCode != 0 && p.LogGroup != "":
			errs = append(errs, fmt.Errorf("container %s exited %d (%s); its last log lines:\n%s", c.Name, *c.ExitCode, t.StoppedReason, taskLogTail(ctx, a, p.LogGroup, c.Name, arn)))
		case *c.ExitCode != 0:
			errs = append(errs, fmt.Errorf("container %s exited %d: see its logs (`make logs`)", c.Name, *c.ExitCode))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s task %s failed: %w", p.Name, arn, err)
	}
	say("%s task %s exited 0", p.Name, arn)
	return nil
}

// stringList reads a JSON list of strings (an output such as
// privateSubnetIds).
func stringList(v any) []string {
	var out []string
	switch l := v.(type) {
	case []any:
		for _, x := range l {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
	case []string:
		out = l
	}
	return out
}

// rdsBackups implements release.Backups with the AWS CLI.
type rdsBackups struct {
	aws awsCLI
}

// Snapshot creates a manual snapshot and waits until it is available
// (`aws rds wait db-snapshot-available` polls for up to about 30 minutes).
func (b rdsBackups) Snapshot(ctx context.Context, instance, id string) error {
	if err := b.aws.json(ctx, nil, "rds", "create-db-snapshot", "--db-instance-identifier", instance, "--db-snapshot-identifier", id,
		"--tags", "Key=shipyard:purpose,Value=pre-migration"); err != nil {
		return err
	}
	if err := b.aws.json(ctx, nil, "rds", "wait", "db-snapshot-available", "--db-snapshot-identifier", id); err != nil {
		return fmt.Errorf("waiting for snapshot %s: %w", id, err)
	}
	return nil
}

// primaryInProgress reports whether a service's PRIMARY deployment is
// still IN_PROGRESS.
func primaryInProgress(ds describeServices) bool {
	for _, s := range ds.Services {
		for _, d := range s.Deployments {
			if d.Status == "PRIMARY" && d.RolloutState == "IN_PROGRESS" {
				return true
			}
		}
	}
	return false
}

// deploymentFailure reads the service deployments of service created since
// since (less a minute, for the skew between this clock and AWS's) and
// returns the deployment alarms that triggered in them, sorted, and ECS's
// reasons for the ones that were stopped or rolled back.
func (r ecsRuntime) deploymentFailure(ctx context.Context, cluster, service string, since time.Time) (alarms, reasons []string, err error) {
	var l listServiceDeployments
	after := since.Add(-time.Minute).UTC().Format(time.RFC3339)
	if err := r.aws.json(ctx, &l, "ecs", "list-service-deployments", "--cluster", cluster, "--service", service, "--created-at", "after="+after); err != nil {
		return nil, nil, err
	}
	if len(l.ServiceDeployments) == 0 {
		return nil, nil, nil
	}
	arns := make([]string, 0, len(l.ServiceDeployments))
	for _, d := range l.ServiceDeployments {
		arns = append(arns, d.ServiceDeploymentArn)
	}
	var d describeServiceDeployments
	// describe-service-deployments takes at most 20 ARNs.
	if err := r.aws.json(ctx, &d, append([]string{"ecs", "describe-service-deployments", "--service-deployment-arns"}, arns[:min(20, len(arns))]...)...); err != nil {
		return nil, nil, err
	}
	for _, f := range d.Failures {
		reasons = append(reasons, f.Arn+": "+f.Reason)
	}
	for _, sd := range d.ServiceDeployments {
		triggered := sd.Alarms != nil && len(sd.Alarms.TriggeredAlarmNames) > 0
		if triggered {
			alarms = append(alarms, sd.Alarms.TriggeredAlarmNames...)
		}
		if !triggered && !strings.HasPrefix(sd.Status, "ROLLBACK_") && sd.Status != "STOPPED" {
			continue
		}
		reasons = append(reasons, strings.TrimSpace("service deployment "+sd.Status+": "+sd.StatusReason))
		if sd.Rollback != nil && sd.Rollback.Reason != "" {
			reasons = append(reasons, "rollback: "+sd.Rollback.Reason)
		}
	}
	alarms = uniq(alarms)
	sort.Strings(alarms)
	return alarms, reasons, nil
}

// uniq drops repeated strings, keeping the first of each.
func uniq(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// taskLogTail returns the last logTailLines lines a task's container wrote
// to group through FireLens (stream "<container>/<container>-firelens-<task
// id>"), indented, or why they could not be read.
func taskLogTail(ctx context.Context, a awsCLI, group, container, taskArn string) string {
	id := taskArn[strings.LastIndex(taskArn, "/")+1:]
	prefix := container + "/" + container + "-firelens-" + id
	var events struct {
		Events []struct {
			Message string `json:"message"`
		} `json:"events"`
	}
	if err := a.json(ctx, &events, "logs", "filter-log-events", "--log-group-name", group, "--log-stream-name-prefix", prefix); err != nil {
		return "    (reading " + group + " " + prefix + ": " + err.Error() + ")"
	}
	if len(events.Events) == 0 {
		return "    (none in " + group + " " + prefix + ")"
	}
	var lines []string
	for _, e := range events.Events[max(0, len(events.Events)-logTailLines):] {
		lines = append(lines, "    "+strings.TrimRight(e.Message, "\n"))
	}
	return strings.Join(lines, "\n")
}
