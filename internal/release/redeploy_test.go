package release

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestARedeployShiftsWebThroughCodeDeployWithItsGatesAndRecordsWhy(t *testing.T) {
	f, cd, _ := codeDeployFixture(t, "staging", canary, healthy("staging"))
	src := f.released("staging", digestA)
	before := string(f.read("staging"))
	f.w.calls = nil
	rec, err := f.ops.Redeploy(context.Background(), "staging", "web tasks hold the previous Redis AUTH token")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Kind != KindRedeploy || rec.Status != StatusSucceeded || rec.ImageDigest != digestA || rec.Reason != "web tasks hold the previous Redis AUTH token" ||
		rec.Source == nil || rec.Source.Release != src.ID || rec.ImageCommit != src.ImageCommit || rec.MigrationVersion != src.MigrationVersion {
		t.Errorf("record %+v, want a succeeded redeploy of %s from %s with its reason", rec, digestA, src.ID)
	}
	if len(cd.specs) != 1 || !strings.Contains(string(cd.specs[0]), f.w.taskDef("staging", "web", f.w.revision["staging"])) {
		t.Errorf("CodeDeploy deployments %q, want one of the web task definition the stack registered", cd.specs)
	}
	if len(rec.Steps) != 2 || len(rec.Steps[0].Gates) != 2 || rec.Steps[0].Gates[0].Outcome != GatePass {
		t.Errorf("steps %+v, want the canary's two steps with both gates read", rec.Steps)
	}
	if f.called("up ") || f.called("preview ") || string(f.read("staging")) != before {
		t.Errorf("calls %v; config changed: %v: a redeploy runs after pulumi up and writes no config", f.w.calls, string(f.read("staging")) != before)
	}
	if recs := f.records("staging"); len(recs) != 2 || recs[1].ID != "staging-0002" {
		t.Errorf("ledger %+v", recs)
	}
	// A second redeploy names the release, not the first redeploy.
	again, err := f.ops.Redeploy(context.Background(), "staging", "again")
	if err != nil || again.Source == nil || again.Source.Release != src.ID {
		t.Errorf("second redeploy %+v, %v; want its source to be %s", again, err, src.ID)
	}
}

func TestARedeployWhoseGateBreachesIsRolledBackAndRecordedAsFailed(t *testing.T) {
	values := healthy("staging")
	values["targetErrorRate"] = []GateValue{gate("shipyard-staging-targetErrorRate-green", "OK", 31.5, 200)}
	f, cd, _ := codeDeployFixture(t, "staging", canary, values)
	cd.stopped = []CodeDeployment{shifting("Stopped", 25, "Failed", 2*time.Minute, 3*time.Minute)}
	f.released("staging", digestA)
	rec, err := f.ops.Redeploy(context.Background(), "staging", "rotation")
	if !errors.Is(err, ErrGate) || rec.Status != StatusFailed || rec.Kind != KindRedeploy || rec.Abort == nil {
		t.Errorf("%+v, %v; want a failed redeploy rolled back by the gate", rec, err)
	}
	if !f.called("stop d-7Q2X5ABCD") {
		t.Errorf("calls %v: the breach did not stop the deployment", f.w.calls)
	}
}

func TestARedeployIsRefusedWhenThereIsNothingToRedeployThroughCodeDeploy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(f *fixture)
		wantIs  error
		wantSay string
	}{
		{"a stack without a release", func(f *fixture) {}, ErrNoRelease, "release.imageDigest is empty"},
		{"a stack whose outputs run another digest than its config", func(f *fixture) {
			f.released("staging", digestA)
			f.w.deploy("staging", digestB)
		}, ErrNotRunning, "run `make up STACK=staging` first"},
		{"a stack whose web service ECS deploys", func(f *fixture) {
			f.w.extraOutputs = nil
			f.released("staging", digestA)
		}, nil, "pulumi up` redeploys them itself (forceNewDeployment)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, cd, _ := codeDeployFixture(t, "staging", canary, healthy("staging"))
			tc.setup(f)
			_, err := f.ops.Redeploy(context.Background(), "staging", "rotation")
			if err == nil || tc.wantIs != nil && !errors.Is(err, tc.wantIs) || !strings.Contains(err.Error(), tc.wantSay) {
				t.Errorf("%v, want %v saying %q", err, tc.wantIs, tc.wantSay)
			}
			if len(cd.specs) != 0 {
				t.Error("a refused redeploy created a CodeDeploy deployment")
			}
		})
	}
}
