package release

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// fakeCodeDeploy records the deployments asked of it and ends them as
// told; a rollback leaves ECS on the previous task definition.
type fakeCodeDeploy struct {
	w                    *world
	status, code, reason string
	app, group           string
	specs                [][]byte
}

func (c *fakeCodeDeploy) Deploy(_ context.Context, app, group string, spec []byte) (CodeDeployment, error) {
	c.w.calls = append(c.w.calls, "codedeploy "+app+" "+group)
	c.app, c.group, c.specs = app, group, append(c.specs, spec)
	if c.status != "Succeeded" {
		c.w.ecs = "rollback"
	}
	start := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	end := start.Add(3 * time.Minute)
	if c.status != "Succeeded" {
		end = start.Add(time.Minute) // stopped during the bluegreen bake
	}
	return CodeDeployment{ID: "d-7Q2X5ABCD", Status: c.status, ErrorCode: c.code, ErrorMessage: c.reason,
		Rollback: "Deployment rolled back: alarm shipyard-dev-targetErrorRate-green went into ALARM",
		Events: []LifecycleEvent{
			{Name: "AllowTestTraffic", Status: "Succeeded", Start: start.Add(-time.Minute), End: start},
			{Name: "AllowTraffic", Status: c.status, Start: start, End: end},
		}}, nil
}

func codeDeployFixture(t *testing.T, status, code string) (*fixture, *fakeCodeDeploy) {
	f := newFixture(t)
	f.w.extraOutputs = Outputs{"codeDeployApplication": "shipyard-dev-web", "codeDeployDeploymentGroup": "shipyard-dev-web",
		"webContainerName": "app", "webContainerPort": float64(8080)}
	f.w.deploy("dev", "")
	cd := &fakeCodeDeploy{w: f.w, status: status, code: code, reason: "One or more alarms have been activated"}
	f.ops.CodeDeploy = cd
	return f, cd
}

func TestAReleaseOfACodeDeployControlledWebServiceCreatesADeploymentOfTheRegisteredTaskDefinitionAndWaitsForIt(t *testing.T) {
	f, cd := codeDeployFixture(t, "Succeeded", "")
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
		len(rec.Steps) != 1 || rec.Steps[0].Percent != 100 || rec.Steps[0].End.Sub(rec.Steps[0].Start) != 3*time.Minute {
		t.Errorf("record %+v, want config/dev.json's bluegreen step of 3 min", rec)
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

func TestACodeDeployRollbackOnAlarmIsAFailedReleaseAndTheConfigKeepsItsDigest(t *testing.T) {
	f, _ := codeDeployFixture(t, "Stopped", "ALARM_ACTIVE")
	before := string(f.read("dev"))
	rec, err := f.ops.Release(context.Background(), "dev", "shipyard-app:local")
	if !errors.Is(err, ErrAlarmRollback) || !errors.Is(err, ErrNotRunning) {
		t.Fatalf("error %v, want an alarm rollback", err)
	}
	if rec.Status != StatusFailed || rec.CodeDeployDeployment != "d-7Q2X5ABCD" || len(rec.Steps) != 1 || string(f.read("dev")) != before {
		t.Errorf("record %+v; config changed: %v", rec, string(f.read("dev")) != before)
	}
}

func TestCodeDeployStepsFollowThePlanWithinTheShift(t *testing.T) {
	start := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	plan := []Step{{Percent: 10, Bake: 5 * time.Minute, Gated: true}, {Percent: 100}}
	done := CodeDeploySteps(plan, []LifecycleEvent{{Name: "AllowTraffic", Status: "Succeeded", Start: start, End: start.Add(5*time.Minute + 20*time.Second)}})
	if len(done) != 2 || done[0].Percent != 10 || !done[0].End.Equal(start.Add(5*time.Minute)) || done[1].Percent != 100 || !done[1].End.Equal(start.Add(5*time.Minute+20*time.Second)) {
		t.Errorf("a completed canary: %+v", done)
	}
	stopped := CodeDeploySteps(plan, []LifecycleEvent{{Name: "AllowTraffic", Status: "Failed", Start: start, End: start.Add(2 * time.Minute)}})
	if len(stopped) != 1 || stopped[0].Percent != 10 || !stopped[0].End.Equal(start.Add(2*time.Minute)) {
		t.Errorf("a canary stopped by an alarm after 2 min: %+v", stopped)
	}
	if got := CodeDeploySteps(plan, []LifecycleEvent{{Name: "BeforeInstall", Start: start}}); got != nil {
		t.Errorf("no traffic shifted: %+v", got)
	}
}

func TestAppSpecNeedsEveryField(t *testing.T) {
	if _, err := AppSpec("", "app", 8080); err == nil {
		t.Error("an AppSpec without a task definition")
	}
}
