package release

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/shipyard-kit/shipyard/infra/signals"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// GateAlarms reads an aws stack's release gates from CloudWatch.
type GateAlarms interface {
	// Read reads, among a gate's alarms (names: GateAlarmNames), the one
	// that watches targetGroup (a target group's name): its state, and
	// its metrics over the gate's whole window ending now, the gate's
	// value and the target group's request count (nil: no datapoint).
	Read(ctx context.Context, gate signals.Gate, names []string, targetGroup string) (GateValue, error)
}

// GateValue is what CloudWatch holds for a gate on one target group.
type GateValue struct {
	// Alarm is the alarm read, State its state (OK, ALARM,
	// INSUFFICIENT_DATA).
	Alarm, State    string
	Value, Requests *float64
}

// GateAlarmNames are the CloudWatch alarms of a gate row on an aws stack:
// the row's alarm on the web service's first target group and its copy on
// the second (infra/aws: AlarmName("shipyard-<stack>", …) and
// GreenAlarmSuffix; its tests hold both to these names).
func GateAlarmNames(stack, gate string) []string {
	name := "shipyard-" + stack + "-" + gate
	return []string{name, name + "-green"}
}

// CodeDeployPollInterval is how often a release reads its CodeDeploy
// deployment and, once the new version takes production traffic, the
// gates on its target group (CloudWatch's load balancer metrics have a
// one-minute resolution).
var CodeDeployPollInterval = 15 * time.Second

// codeDeployGrace is how long a release waits for a deployment beyond its
// plan's bakes and the old tasks' termination wait (task start, health
// checks, rollback) before it stops waiting; the deployment goes on.
const codeDeployGrace = 30 * time.Minute

// codeDeployReadTries is how many reads of a deployment in a row may fail
// before the release stops following it.
const codeDeployReadTries = 4

// codeDeploy shifts the web service to the task definition `pulumi up`
// registered, when the stack's outputs name a CodeDeploy application;
// it records the deployment ID ("" when the stack has none), its traffic
// steps with the gates' readings and, when it was rolled back, why, in rec.
func (o *Ops) codeDeploy(ctx context.Context, cfg *stackconfig.Config, rec *Record) error {
	r, err := o.codeDeployment(ctx, cfg)
	rec.CodeDeployDeployment, rec.Steps, rec.Abort = r.id, r.steps, r.abort
	if r.id != "" {
		rec.Strategy = cfg.Deploy.Strategy
	}
	if len(r.alarms) > 0 {
		rec.Alarms = r.alarms
	}
	return err
}

// codeDeployResult is how a release's CodeDeploy deployment went.
type codeDeployResult struct {
	id     string
	steps  []TrafficStep
	abort  *Abort
	alarms []string
}

// following is what a release saw of its deployment while it ran.
type following struct {
	d CodeDeployment
	// readings are the last gate readings of each step of the plan.
	readings [][]GateReading
	// last is the last alarm read of each gate; lastStep the last step
	// the new version took traffic in (-1: none) and targetGroup its
	// target group.
	last        map[string]GateValue
	lastStep    int
	targetGroup string
	// breach is the reading that made the release stop the deployment.
	breach *GateReading
}

func (o *Ops) codeDeployment(ctx context.Context, cfg *stackconfig.Config) (codeDeployResult, error) {
	stack := cfg.Stack
	out, err := o.Pulumi.Outputs(ctx, stack)
	if err != nil {
		return codeDeployResult{}, fmt.Errorf("reading outputs of stack %q after the update: %w", stack, err)
	}
	app, group := out.String("codeDeployApplication"), out.String("codeDeployDeploymentGroup")
	if app == "" {
		return codeDeployResult{}, nil
	}
	if o.CodeDeploy == nil {
		return codeDeployResult{}, fmt.Errorf("stack %q deploys its web service with CodeDeploy, but no CodeDeploy client is configured", stack)
	}
	gates, err := releaseGates(cfg)
	if err != nil {
		return codeDeployResult{}, err
	}
	port, _ := out["webContainerPort"].(float64)
	if p, ok := out["webContainerPort"].(int); ok {
		port = float64(p)
	}
	taskDef := out.Map("taskDefinitionArns")["web"]
	spec, err := AppSpec(taskDef, out.String("webContainerName"), int(port))
	if err != nil {
		return codeDeployResult{}, err
	}
	plan := Plan(cfg.Deploy)
	o.say("CodeDeploy: deploying %s to %s/%s, %s; its alarms roll back, and the release reads the gates every %s on the new version's target group",
		taskDef, app, group, Describe(cfg.Deploy.Strategy, plan), CodeDeployPollInterval)
	id, err := o.CodeDeploy.Create(ctx, app, group, spec)
	if err != nil {
		return codeDeployResult{}, fmt.Errorf("creating the codedeploy deployment: %w", err)
	}
	o.say("CodeDeploy deployment %s created", id)
	f, err := o.follow(ctx, cfg, id, plan, gates)
	r := codeDeployResult{id: id, steps: CodeDeploySteps(plan, f.d.Events, f.d.Complete)}
	for i := range r.steps {
		if i < len(f.readings) {
			r.steps[i].Gates = f.readings[i]
		}
	}
	for _, s := range r.steps {
		line := fmt.Sprintf("CodeDeploy step: %d%% of requests to the new version, %s - %s", s.Percent, s.Start.UTC().Format(time.TimeOnly), s.End.UTC().Format(time.TimeOnly))
		for _, g := range s.Gates {
			line += "; " + g.String()
		}
		o.say("%s", line)
	}
	if err != nil {
		return r, err
	}
	d := f.d
	percent := 0
	if f.lastStep >= 0 {
		percent = plan[f.lastStep].Percent
	}
	rolledBack := func(cause error, gate *GateReading) (codeDeployResult, error) {
		r.abort = &Abort{Reason: firstLine(cause.Error()), Gate: gate, Percent: percent, Time: o.now()}
		return r, cause
	}
	switch {
	case d.Status == "Succeeded":
		o.say("CodeDeploy deployment %s succeeded", id)
		return r, nil
	case f.breach != nil:
		return rolledBack(fmt.Errorf("%w: %s; codedeploy deployment %s stopped and rolled back, all traffic on the running version (%w)", ErrGate, f.breach, id, ErrNotRunning), f.breach)
	case d.ErrorCode == "ALARM_ACTIVE":
		fired, names := firedGate(f, gates, d)
		r.alarms = names
		if fired != nil {
			v := f.last[fired.Gate]
			return rolledBack(fmt.Errorf("%w: %w: gate %s: alarm %s in %s: %s; codedeploy deployment %s %s: %s (%s)", ErrNotRunning, ErrAlarmRollback,
				fired.Gate, v.Alarm, orNone(v.State), fired, id, d.Status, d.ErrorMessage, orNone(d.Rollback)), fired)
		}
		return rolledBack(fmt.Errorf("%w: %w: codedeploy deployment %s %s: %s (%s)", ErrNotRunning, ErrAlarmRollback, id, d.Status, d.ErrorMessage, orNone(d.Rollback)), nil)
	default:
		cause := fmt.Errorf("%w: codedeploy deployment %s %s: %s %s (%s)", ErrNotRunning, id, d.Status, d.ErrorCode, d.ErrorMessage, orNone(d.Rollback))
		if why := o.stoppedTask(ctx, out, "web", taskDef); why != "" {
			cause = fmt.Errorf("%w\n%s", cause, why)
		}
		// The deployment group rolls back on failure.
		return rolledBack(cause, nil)
	}
}

// follow polls the deployment until CodeDeploy is done with it. While the
// new version takes production traffic it reads the gates on its target
// group; a breach stops the deployment with a rollback at once, as a local
// release does (CodeDeploy's own alarms roll back too). No data is recorded
// as such and never as a pass, but does not stop a deployment on aws.
func (o *Ops) follow(ctx context.Context, cfg *stackconfig.Config, id string, plan []Step, gates []signals.Gate) (following, error) {
	f := following{readings: make([][]GateReading, len(plan)), last: map[string]GateValue{}, lastStep: -1}
	deadline := o.now().Add(Budget(plan) + time.Duration(cfg.Deploy.BakeSeconds)*time.Second + codeDeployGrace)
	failures := 0
	for {
		d, err := o.CodeDeploy.Get(ctx, id)
		if err != nil {
			// The deployment goes on whatever this client sees: a few
			// failed reads in a row are retried.
			if failures++; failures >= codeDeployReadTries {
				return f, fmt.Errorf("reading codedeploy deployment %s (%d tries; it goes on: follow it with `aws deploy get-deployment --deployment-id %s`): %w", id, failures, id, err)
			}
			o.say("reading codedeploy deployment %s: %v (retrying)", id, err)
			if err := o.sleep(ctx, CodeDeployPollInterval); err != nil {
				return f, fmt.Errorf("interrupted while codedeploy deployment %s runs (it goes on; stop it with `aws deploy stop-deployment --deployment-id %s --auto-rollback-enabled`): %w", id, id, err)
			}
			continue
		}
		failures = 0
		f.d = d
		if d.Done() {
			if d.ErrorCode == "ALARM_ACTIVE" && f.breach == nil && f.lastStep >= 0 {
				// The alarms' state and values when CodeDeploy rolled back.
				if readings, err := o.readGates(ctx, cfg, gates, &f); err == nil {
					f.readings[f.lastStep] = readings
				} else {
					o.say("reading the gates after the rollback: %v", err)
				}
			}
			return f, nil
		}
		if d.Replacement.TargetGroup != "" {
			f.targetGroup = d.Replacement.TargetGroup
		}
		if step := stepAt(plan, d.Replacement.Weight); step >= 0 && f.targetGroup != "" {
			if step != f.lastStep {
				o.say("CodeDeploy step: %d%% of requests to the new version (target group %s)", plan[step].Percent, f.targetGroup)
			}
			f.lastStep = step
			readings, err := o.readGates(ctx, cfg, gates, &f)
			switch {
			case err != nil:
				// CodeDeploy's alarms still guard the deployment.
				o.say("reading the gates: %v", err)
			default:
				f.readings[step] = readings
				if i := slices.IndexFunc(readings, func(r GateReading) bool { return r.Outcome == GateBreach }); i >= 0 && f.breach == nil {
					b := readings[i]
					f.breach = &b
					o.say("gate %s: stopping codedeploy deployment %s with a rollback", b, id)
					if err := o.CodeDeploy.Stop(context.WithoutCancel(ctx), id); err != nil {
						o.say("stopping codedeploy deployment %s: %v (its alarms still roll back)", id, err)
					}
				}
			}
		}
		if o.now().After(deadline) {
			return f, fmt.Errorf("codedeploy deployment %s is still %s after the plan's bakes plus %s; it goes on: follow it with `aws deploy get-deployment --deployment-id %s`", id, d.Status, codeDeployGrace, id)
		}
		if err := o.sleep(ctx, CodeDeployPollInterval); err != nil {
			return f, fmt.Errorf("interrupted while codedeploy deployment %s runs (it goes on; stop it with `aws deploy stop-deployment --deployment-id %s --auto-rollback-enabled`): %w", id, id, err)
		}
	}
}

// readGates reads every gate on the new version's target group and judges
// each reading as a local release does.
func (o *Ops) readGates(ctx context.Context, cfg *stackconfig.Config, gates []signals.Gate, f *following) ([]GateReading, error) {
	if o.CloudWatch == nil || len(gates) == 0 {
		return nil, nil
	}
	var out []GateReading
	for _, g := range gates {
		v, err := o.CloudWatch.Read(ctx, g, GateAlarmNames(cfg.Stack, g.Name), f.targetGroup)
		if err != nil {
			return nil, fmt.Errorf("gate %s: %w", g.Name, err)
		}
		f.last[g.Name] = v
		requests := 0.0
		if v.Requests != nil {
			requests = *v.Requests
		}
		out = append(out, judge(g, v.Value, requests, cfg.Deploy.MinRequests, o.now()))
	}
	return out, nil
}

// stepAt returns the step of the plan the new version's traffic weight is
// at, or -1 (no production traffic yet).
func stepAt(plan []Step, weight float64) int {
	w := int(math.Round(weight))
	if w <= 0 {
		return -1
	}
	return slices.IndexFunc(plan, func(s Step) bool { return s.Percent == w })
}

// firedGate returns the gate reading whose alarm rolled a deployment back
// (in ALARM when it ended, or named by CodeDeploy), and the gate alarms
// that fired, sorted.
func firedGate(f following, gates []signals.Gate, d CodeDeployment) (*GateReading, []string) {
	var fired *GateReading
	var names []string
	var last []GateReading
	if f.lastStep >= 0 {
		last = f.readings[f.lastStep]
	}
	for _, g := range gates {
		v, ok := f.last[g.Name]
		if !ok || v.State != "ALARM" && !strings.Contains(d.ErrorMessage+" "+d.Rollback, v.Alarm) {
			continue
		}
		names = append(names, v.Alarm)
		if i := slices.IndexFunc(last, func(r GateReading) bool { return r.Gate == g.Name }); i >= 0 && fired == nil {
			r := last[i]
			fired = &r
		}
	}
	slices.Sort(names)
	return fired, names
}

// stoppedTask asks the runtime why a task of taskDefinition stopped.
func (o *Ops) stoppedTask(ctx context.Context, out Outputs, process, taskDefinition string) string {
	why, err := o.Runtime.StoppedTask(ctx, out, process, taskDefinition)
	if err != nil {
		return fmt.Sprintf("(the stopped tasks of %s could not be read: %v)", taskDefinition, err)
	}
	return why
}
