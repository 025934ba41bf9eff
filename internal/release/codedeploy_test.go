package release

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shipyard-kit/shipyard/infra/signals"
)

// fakeCodeDeploy plays a deployment: Get returns its states in turn (the
// last one repeats), and after Stop the stopped ones. A deployment that
// ends other than Succeeded leaves ECS on the previous task definition.
type fakeCodeDeploy struct {
	w               *world
	app, group      string
	specs           [][]byte
	states, stopped []CodeDeployment
	gets, stops     int
	// failReads fails that many reads first.
	failReads int
}

func (c *fakeCodeDeploy) Create(_ context.Context, app, group string, spec []byte) (string, error) {
	c.w.calls = append(c.w.calls, "codedeploy "+app+" "+group)
	c.app, c.group, c.specs = app, group, append(c.specs, spec)
	return "d-7Q2X5ABCD", nil
}

func (c *fakeCodeDeploy) Get(_ context.Context, id string) (CodeDeployment, error) {
	if c.failReads > 0 {
		c.failReads--
		return CodeDeployment{}, errors.New("aws deploy get-deployment: exit status 255: Could not connect to the endpoint URL")
	}
	states := c.states
	if c.stops > 0 {
		states = c.stopped
	}
	d := states[min(c.gets, len(states)-1)]
	c.gets++
	d.ID = id
	if d.Done() && d.Status != "Succeeded" {
		c.w.ecs = "rollback"
	}
	return d, nil
}

func (c *fakeCodeDeploy) Stop(_ context.Context, id string) error {
	c.w.calls = append(c.w.calls, "stop "+id)
	c.stops++
	c.gets = 0
	return nil
}

// fakeCloudWatch answers each gate's reads with its values in turn (the
// last one repeats).
type fakeCloudWatch struct {
	values map[string][]GateValue
	reads  []string
}

func (c *fakeCloudWatch) Read(_ context.Context, g signals.Gate, names []string, targetGroup string) (GateValue, error) {
	c.reads = append(c.reads, g.Name+" "+targetGroup+" "+strings.Join(names, ","))
	vs := c.values[g.Name]
	n := 0
	for _, r := range c.reads {
		if strings.HasPrefix(r, g.Name+" ") {
			n++
		}
	}
	return vs[min(n-1, len(vs)-1)], nil
}

// gate is a CloudWatch answer for a gate alarm: its state, value and
// request count (negative: no datapoint).
func gate(alarm, state string, value, requests float64) GateValue {
	v := GateValue{Alarm: alarm, State: state}
	if value >= 0 {
		v.Value = &value
	}
	if requests >= 0 {
		v.Requests = &requests
	}
	return v
}

// The deployments below start shifting at t0 to the green target group.
var t0 = time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)

const greenTG = "shipyard-dev-web-g"

// shifting is a deployment state: its status, the new version's weight
// and, once the shift started, its AllowTraffic event.
func shifting(status string, weight float64, allow string, allowEnd, complete time.Duration) CodeDeployment {
	d := CodeDeployment{Status: status, Replacement: TaskSet{TargetGroup: greenTG, Weight: weight},
		Events: []LifecycleEvent{{Name: "AllowTestTraffic", Status: "Succeeded", Start: t0.Add(-time.Minute), End: t0}}}
	if allow != "" {
		e := LifecycleEvent{Name: "AllowTraffic", Status: allow, Start: t0}
		if allowEnd > 0 {
			e.End = t0.Add(allowEnd)
		}
		d.Events = append(d.Events, e)
	}
	if complete > 0 {
		d.Complete = t0.Add(complete)
	}
	return d
}

// bluegreen is dev's deployment (bluegreen, 3 min bake): all traffic at
// once, then the old tasks kept for the bake.
var bluegreen = []CodeDeployment{
	shifting("InProgress", 0, "", 0, 0),
	shifting("InProgress", 100, "Succeeded", 5*time.Second, 0),
	shifting("InProgress", 100, "Succeeded", 5*time.Second, 0),
	shifting("Succeeded", 100, "Succeeded", 5*time.Second, 3*time.Minute+5*time.Second),
}

// canary is staging's (canary 25 % for 3 min).
var canary = []CodeDeployment{
	shifting("InProgress", 0, "", 0, 0),
	shifting("InProgress", 25, "InProgress", 0, 0),
	shifting("InProgress", 25, "InProgress", 0, 0),
	shifting("InProgress", 100, "Succeeded", 3*time.Minute+5*time.Second, 0),
	shifting("Succeeded", 100, "Succeeded", 3*time.Minute+5*time.Second, 6*time.Minute+10*time.Second),
}

func codeDeployFixture(t *testing.T, stack string, states []CodeDeployment, values map[string][]GateValue) (*fixture, *fakeCodeDeploy, *fakeCloudWatch) {
	f := newFixture(t)
	f.w.extraOutputs = Outputs{"codeDeployApplication": "shipyard-" + stack + "-web", "codeDeployDeploymentGroup": "shipyard-" + stack + "-web",
		"webContainerName": "app", "webContainerPort": float64(8080)}
	f.w.deploy(stack, "")
	cd := &fakeCodeDeploy{w: f.w, states: states}
	cw := &fakeCloudWatch{values: values}
	f.ops.CodeDeploy, f.ops.CloudWatch = cd, cw
	f.ops.Sleep = func(context.Context, time.Duration) error { return nil }
	return f, cd, cw
}

// healthy are the gates' answers of a good release on the green target
// group.
func healthy(stack string) map[string][]GateValue {
	return map[string][]GateValue{
		"targetErrorRate":  {gate("shipyard-"+stack+"-targetErrorRate-green", "OK", 0.4, 250)},
		"targetLatencyP99": {gate("shipyard-"+stack+"-targetLatencyP99-green", "OK", 0.21, 250)},
	}
}

func TestAReleaseOfACodeDeployControlledWebServiceCreatesADeploymentOfTheRegisteredTaskDefinitionAndWaitsForIt(t *testing.T) {
	f, cd, _ := codeDeployFixture(t, "dev", bluegreen, healthy("dev"))
	rec, err := f.ops.Release(context.Background(), "dev", "shipyard-app:local")
	if err != nil {
		t.Fatal(err)
	}
	if cd.app != "shipyard-dev-web" || cd.group != "shipyard-dev-web" || len(cd.specs) != 1 {
		t.Fatalf("deployments %d of %s/%s", len(cd.specs), cd.app, cd.group)
	}
	var spec struct {
		Version   string
		Resources []map[string]struct {
			Type       string
			Properties struct {
				TaskDefinition   string
				LoadBalancerInfo struct {
					ContainerName string
					ContainerPort int
				}
			}
		}
	}
	if err := json.Unmarshal(cd.specs[0], &spec); err != nil {
		t.Fatal(err)
	}
	ts := spec.Resources[0]["TargetService"]
	if want := f.w.taskDef("dev", "web", f.w.revision["dev"]); ts.Type != "AWS::ECS::Service" || ts.Properties.TaskDefinition != want ||
		ts.Properties.LoadBalancerInfo.ContainerName != "app" || ts.Properties.LoadBalancerInfo.ContainerPort != 8080 {
		t.Errorf("appspec %s, want the task definition pulumi up registered (%s) on app:8080", cd.specs[0], want)
	}
	if rec.Status != StatusSucceeded || rec.CodeDeployDeployment != "d-7Q2X5ABCD" || rec.Strategy != "bluegreen" ||
		len(rec.Steps) != 1 || rec.Steps[0].Percent != 100 || rec.Steps[0].End.Sub(rec.Steps[0].Start) != 3*time.Minute+5*time.Second {
		t.Errorf("record %+v, want config/dev.json's bluegreen step: the shift and its 3 min bake", rec)
	}
	up, deployed := -1, -1
	for i, c := range f.w.calls {
		switch c {
		case "up dev":
			up = i
		case "codedeploy shipyard-dev-web shipyard-dev-web":
			deployed = i
		}
	}
	if up < 0 || deployed < up {
		t.Errorf("calls %v: the deployment must follow pulumi up (which registers the task definition)", f.w.calls)
	}
}

func TestEachTrafficStepOfACodeDeployReleaseRecordsTheGatesReadOnTheNewTargetGroupAsALocalReleaseDoes(t *testing.T) {
	f, _, cw := codeDeployFixture(t, "staging", canary, healthy("staging"))
	rec, err := f.ops.Release(context.Background(), "staging", "shipyard-app:local")
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Steps) != 2 || rec.Steps[0].Percent != 25 || rec.Steps[1].Percent != 100 ||
		!rec.Steps[0].End.Equal(t0.Add(3*time.Minute)) || !rec.Steps[1].End.Equal(t0.Add(6*time.Minute+10*time.Second)) {
		t.Fatalf("steps %+v, want 25 %% for 3 min, then 100 %% until the deployment completed", rec.Steps)
	}
	for _, s := range rec.Steps {
		if len(s.Gates) != 2 || s.Gates[0].Gate != "targetErrorRate" || s.Gates[1].Gate != "targetLatencyP99" {
			t.Fatalf("step %d%%: gates %+v, want both gates read", s.Percent, s.Gates)
		}
		for _, g := range s.Gates {
			if g.Outcome != GatePass || g.Value == nil || g.Requests != 250 {
				t.Errorf("step %d%%: %+v, want a pass with its value and 250 requests", s.Percent, g)
			}
		}
	}
	if got := rec.Steps[0].Gates[0].String(); got != "targetErrorRate 0.4% <= threshold 5%: pass (250 requests)" {
		t.Errorf("reading %q", got)
	}
	table := Table(f.records("staging"))
	if !strings.Contains(table, "    step  25%  04:00:00 - 04:03:00; targetErrorRate 0.4% <= threshold 5%: pass (250 requests); targetLatencyP99 0.21s <= threshold 1s: pass (250 requests)\n") {
		t.Errorf("make ledger shows:\n%s", table)
	}
	if want := "targetErrorRate " + greenTG + " shipyard-staging-targetErrorRate,shipyard-staging-targetErrorRate-green"; cw.reads[0] != want {
		t.Errorf("read %q, want %q: the gate's alarms, on the new version's target group", cw.reads[0], want)
	}
}

func TestAGateBreachReadDuringACodeDeployStopsItWithARollbackAndTheLineNamesTheGate(t *testing.T) {
	values := healthy("staging")
	values["targetErrorRate"] = []GateValue{
		gate("shipyard-staging-targetErrorRate-green", "OK", 0, 40),
		gate("shipyard-staging-targetErrorRate-green", "OK", 31.5, 200),
	}
	f, cd, _ := codeDeployFixture(t, "staging", canary, values)
	cd.stopped = []CodeDeployment{shifting("Stopped", 25, "Failed", 2*time.Minute, 2*time.Minute+30*time.Second)}
	before := string(f.read("staging"))
	rec, err := f.ops.Release(context.Background(), "staging", "shipyard-app:local")
	if !errors.Is(err, ErrGate) || !errors.Is(err, ErrNotRunning) {
		t.Fatalf("error %v, want a gate rollback", err)
	}
	if !strings.Contains(err.Error(), "release gate: targetErrorRate 31.5% > threshold 5%: breach (200 requests)") {
		t.Errorf("the error does not name the gate, its value and its threshold: %v", err)
	}
	if !f.called("stop d-7Q2X5ABCD") {
		t.Errorf("calls %v: the breach did not stop the deployment", f.w.calls)
	}
	if rec.Status != StatusFailed || rec.Abort == nil || rec.Abort.Gate == nil || rec.Abort.Gate.Gate != "targetErrorRate" || rec.Abort.Percent != 25 ||
		len(rec.Steps) != 1 || len(rec.Steps[0].Gates) != 2 || rec.Steps[0].Gates[0].Outcome != GateBreach || string(f.read("staging")) != before {
		t.Errorf("record %+v (abort %+v); config changed: %v", rec, rec.Abort, string(f.read("staging")) != before)
	}
	if table := Table(f.records("staging")); !strings.Contains(table, "    rolled back at 25%: release gate: targetErrorRate 31.5% > threshold 5%: breach (200 requests)") {
		t.Errorf("make ledger shows:\n%s", table)
	}
}

func TestACodeDeployRolledBackByAGateAlarmNamesTheGateWithItsValueAndThreshold(t *testing.T) {
	values := healthy("dev")
	values["targetLatencyP99"] = []GateValue{
		gate("shipyard-dev-targetLatencyP99-green", "OK", 0.3, 300),
		gate("shipyard-dev-targetLatencyP99-green", "ALARM", 1.4, 310),
	}
	states := append(bluegreen[:2:2], CodeDeployment{Status: "Stopped", ErrorCode: "ALARM_ACTIVE",
		ErrorMessage: "One or more alarms have been activated according to the Amazon CloudWatch metrics you selected",
		Rollback:     "Deployment rolled back", Replacement: TaskSet{TargetGroup: greenTG, Weight: 0},
		Events: []LifecycleEvent{{Name: "AllowTraffic", Status: "Succeeded", Start: t0, End: t0.Add(5 * time.Second)}}})
	f, _, _ := codeDeployFixture(t, "dev", states, values)
	before := string(f.read("dev"))
	rec, err := f.ops.Release(context.Background(), "dev", "shipyard-app:local")
	if !errors.Is(err, ErrAlarmRollback) || !errors.Is(err, ErrNotRunning) {
		t.Fatalf("error %v, want an alarm rollback", err)
	}
	// The alarm compares each minute; the release's reading is the whole
	// window's value at the rollback, as a local gate reads it.
	want := "gate targetLatencyP99: alarm shipyard-dev-targetLatencyP99-green in ALARM: targetLatencyP99 1.4s > threshold 1s: breach (310 requests)"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want it to contain %q", err, want)
	}
	if rec.Status != StatusFailed || rec.CodeDeployDeployment != "d-7Q2X5ABCD" || len(rec.Steps) != 1 || string(f.read("dev")) != before ||
		rec.Abort == nil || rec.Abort.Gate == nil || rec.Abort.Gate.Gate != "targetLatencyP99" ||
		len(rec.Alarms) != 1 || rec.Alarms[0] != "shipyard-dev-targetLatencyP99-green" {
		t.Errorf("record %+v (abort %+v); config changed: %v", rec, rec.Abort, string(f.read("dev")) != before)
	}
	if table := Table(f.records("dev")); !strings.Contains(table, "    rolled back at 100%: services do not run the release: deployment alarms failed the deployment: "+want) ||
		!strings.Contains(table, "    step 100%  04:00:00 - 04:00:05; targetErrorRate 0.4% <= threshold 5%: pass (250 requests); targetLatencyP99 1.4s > threshold 1s: breach (310 requests)\n") {
		t.Errorf("make ledger shows:\n%s", table)
	}
}

func TestAGateWithoutEnoughRequestsIsNoDataNeverAPass(t *testing.T) {
	values := map[string][]GateValue{
		// A ratio over no request: CloudWatch has no datapoint.
		"targetErrorRate": {gate("shipyard-dev-targetErrorRate-green", "INSUFFICIENT_DATA", -1, -1)},
		// A value, but from 3 requests (minimum 20).
		"targetLatencyP99": {gate("shipyard-dev-targetLatencyP99-green", "OK", 0.2, 3)},
	}
	f, _, _ := codeDeployFixture(t, "dev", bluegreen, values)
	rec, err := f.ops.Release(context.Background(), "dev", "shipyard-app:local")
	if err != nil {
		t.Fatal(err) // CodeDeploy's alarms treat missing data as not breaching: it succeeded
	}
	for _, g := range rec.Steps[0].Gates {
		if g.Outcome != GateNoData || strings.Contains(g.String(), "pass") {
			t.Errorf("reading %+v (%s), want no data", g, g)
		}
	}
	if table := Table(f.records("dev")); !strings.Contains(table, "targetErrorRate no data (0 requests); targetLatencyP99 0.2s <= threshold 1s: no data (3 requests)") {
		t.Errorf("make ledger shows:\n%s", table)
	}
}

func TestACodeDeployWhoseNewTasksNeverBecomeHealthySaysWhyTheyStopped(t *testing.T) {
	failed := CodeDeployment{Status: "Failed", ErrorCode: "ECS_UPDATE_ERROR",
		ErrorMessage: "The ECS service cannot be updated due to an unexpected error: the replacement task set never reached a steady state",
		Rollback:     "Deployment rolled back", Events: []LifecycleEvent{{Name: "Install", Status: "Failed", Start: t0.Add(-10 * time.Minute), End: t0}}}
	f, _, _ := codeDeployFixture(t, "dev", []CodeDeployment{shifting("InProgress", 0, "", 0, 0), failed}, healthy("dev"))
	rec, err := f.ops.Release(context.Background(), "dev", "shipyard-app:local")
	if !errors.Is(err, ErrNotRunning) {
		t.Fatalf("error %v", err)
	}
	taskDef := f.w.taskDef("dev", "web", f.w.revision["dev"])
	for _, want := range []string{"ECS_UPDATE_ERROR", "task 0a1b2c of " + taskDef + " stopped: Task failed ELB health checks", "last 20 log lines of container app:", "connecting to postgres: timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\nwant it to contain %q", err, want)
		}
	}
	if !f.called("stopped web "+taskDef) || rec.Status != StatusFailed || len(rec.Steps) != 0 || rec.Abort == nil ||
		!strings.HasPrefix(rec.Abort.Reason, "services do not run the release: codedeploy deployment d-7Q2X5ABCD Failed: ECS_UPDATE_ERROR") {
		t.Errorf("calls %v, record %+v (abort %+v)", f.w.calls, rec, rec.Abort)
	}
}

func TestARollingDeploymentThatFailsSaysWhyItsTasksStopped(t *testing.T) {
	f := newFixture(t)
	f.w.deploy("dev", "")
	f.w.ecs = "stuck"
	_, err := f.ops.Release(context.Background(), "dev", "shipyard-app:local")
	if !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), "Task failed ELB health checks") || !strings.Contains(err.Error(), "last 20 log lines of container app:") {
		t.Fatalf("error %v, want why the new tasks stopped", err)
	}
	if !f.called("stopped web ") {
		t.Errorf("calls %v", f.w.calls)
	}
}

func TestAFewFailedReadsOfTheDeploymentAreRetriedMoreAreAnError(t *testing.T) {
	f, cd, _ := codeDeployFixture(t, "dev", bluegreen, healthy("dev"))
	cd.failReads = 3
	if _, err := f.ops.Release(context.Background(), "dev", "shipyard-app:local"); err != nil {
		t.Fatalf("three failed reads: %v", err)
	}
	f, cd, _ = codeDeployFixture(t, "dev", bluegreen, healthy("dev"))
	cd.failReads = 4
	_, err := f.ops.Release(context.Background(), "dev", "shipyard-app:local")
	if err == nil || !strings.Contains(err.Error(), "reading codedeploy deployment d-7Q2X5ABCD (4 tries; it goes on") {
		t.Errorf("four failed reads: %v", err)
	}
}

func TestCodeDeployStepsFollowThePlanWithinTheShift(t *testing.T) {
	start := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	plan := []Step{{Percent: 10, Bake: 5 * time.Minute, Gated: true}, {Percent: 100}}
	done := CodeDeploySteps(plan, []LifecycleEvent{{Name: "AllowTraffic", Status: "Succeeded", Start: start, End: start.Add(5*time.Minute + 20*time.Second)}}, time.Time{})
	if len(done) != 2 || done[0].Percent != 10 || !done[0].End.Equal(start.Add(5*time.Minute)) || done[1].Percent != 100 || !done[1].End.Equal(start.Add(5*time.Minute+20*time.Second)) {
		t.Errorf("a completed canary: %+v", done)
	}
	stopped := CodeDeploySteps(plan, []LifecycleEvent{{Name: "AllowTraffic", Status: "Failed", Start: start, End: start.Add(2 * time.Minute)}}, start.Add(3*time.Minute))
	if len(stopped) != 1 || stopped[0].Percent != 10 || !stopped[0].End.Equal(start.Add(2*time.Minute)) {
		t.Errorf("a canary stopped by an alarm after 2 min: %+v", stopped)
	}
	if got := CodeDeploySteps(plan, []LifecycleEvent{{Name: "BeforeInstall", Start: start}}, time.Time{}); got != nil {
		t.Errorf("no traffic shifted: %+v", got)
	}
}

func TestAppSpecNeedsEveryField(t *testing.T) {
	if _, err := AppSpec("", "app", 8080); err == nil {
		t.Error("an AppSpec without a task definition")
	}
}
