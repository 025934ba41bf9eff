package release

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

const (
	runningID = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	newID     = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

// localWorld fakes a docker stack: the program's generations, nginx's
// split, and what Prometheus reads for the canary generation.
type localWorld struct {
	t       *testing.T
	image   string // the image ID the running generation runs
	canary  string // the candidate the last update ran ("" for none)
	split   int
	calls   []string
	healthy bool
	// errorRate and requests are what the gates read.
	errorRate, requests float64
	p99                 float64
	// duringCanary runs when the canary generation starts: what happens
	// to the checkout during the bake.
	duringCanary func()
}

func (w *localWorld) Outputs(context.Context, string) (Outputs, error) {
	out := Outputs{"imageDigest": w.image, "prometheusUrl": "http://127.0.0.1:9090",
		"containers": map[string]any{"nginx": "shipyard-rel-nginx"}}
	if w.canary != "" {
		out["candidateGeneration"] = "0a1b2c3d"
	}
	return out, nil
}
func (w *localWorld) Preview(context.Context, string) error { return nil }
func (w *localWorld) Up(context.Context, string) error      { return errors.New("not used") }

func (w *localWorld) LocalUp(stack, candidate string, configDir string) error {
	w.calls = append(w.calls, "up "+candidate)
	if candidate != "" && w.canary == "" && w.duringCanary != nil {
		w.duringCanary()
	}
	if candidate != "" && !w.healthy {
		return errors.New("container shipyard-rel-canary-web-1 did not become healthy")
	}
	data, err := os.ReadFile(filepath.Join(configDir, stack+".json"))
	if err != nil {
		return err
	}
	if strings.Contains(string(data), newID) && !w.healthy {
		return errors.New("container shipyard-rel-web-1-4d5e6f70 did not become healthy")
	}
	if strings.Contains(string(data), newID) {
		w.image = newID
	}
	w.canary = candidate
	return nil
}

type localFake struct {
	w   *localWorld
	dir string
}

func (f localFake) Up(_ context.Context, stack, candidate string) error {
	return f.w.LocalUp(stack, candidate, f.dir)
}
func (f localFake) ImageID(_ context.Context, ref string) (string, error) {
	if ref == "app:new" {
		return newID, nil
	}
	return "", fmt.Errorf("no such image %s", ref)
}
func (f localFake) SetSplit(_ context.Context, nginx string, percent int, generation string) error {
	if percent > 0 && generation != "0a1b2c3d" {
		f.w.t.Errorf("split %d%% for generation %q, want the candidate's", percent, generation)
	}
	f.w.calls = append(f.w.calls, fmt.Sprintf("split %d", percent))
	f.w.split = percent
	return nil
}
func (f localFake) Query(_ context.Context, _ string, expr string) (float64, bool, error) {
	if !strings.Contains(expr, `generation="canary-0a1b2c3d"`) {
		f.w.t.Errorf("a gate query does not select this release's canary generation: %s", expr)
	}
	switch {
	case strings.HasPrefix(expr, "sum(increase(shipyard_lb_requests_total"):
		return f.w.requests, f.w.requests > 0, nil
	case strings.HasPrefix(expr, "histogram_quantile"):
		return f.w.p99, f.w.requests > 0, nil
	default:
		return f.w.errorRate, f.w.requests > 0, nil
	}
}
func (f localFake) WebImages(context.Context, string) (map[string]string, error) {
	out := map[string]string{"shipyard-rel-web-1": f.w.image, "shipyard-rel-web-2": f.w.image}
	if f.w.canary != "" {
		out["shipyard-rel-canary-web-1"] = f.w.canary
	}
	return out, nil
}
func (f localFake) Diagnose(context.Context, string) string {
	return "health check of shipyard-rel-canary-web-1: exit 1: connection refused\nlast 20 log lines:\npanic: boom"
}

func newLocalFixture(t *testing.T, deploy string) (*Ops, *localWorld, string) {
	t.Helper()
	dir := t.TempDir()
	configDir := filepath.Join(dir, "config")
	if err := os.MkdirAll(configDir, 0o755); err != nil {
		t.Fatal(err)
	}
	schema, err := os.ReadFile(filepath.Join("..", "..", "config", "schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := `{"target": "docker", "deploy": ` + deploy + `,
  "alarms": {"overrides": {"targetErrorRate": {"periodSeconds": 30, "evaluationPeriods": 1}, "targetLatencyP99": {"periodSeconds": 30, "evaluationPeriods": 1}}}}`
	for name, data := range map[string][]byte{"schema.json": schema, "rel.json": []byte(cfg)} {
		if err := os.WriteFile(filepath.Join(configDir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w := &localWorld{t: t, image: runningID, healthy: true, requests: 200, p99: 0.01}
	clock := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	o := &Ops{
		ConfigDir: configDir, LedgerDir: filepath.Join(dir, "releases"),
		Pulumi: w, Local: localFake{w: w, dir: configDir},
		Commit: "0123456789abcdef0123456789abcdef01234567", Actor: "tester@host",
		Now:   func() time.Time { return clock },
		Sleep: func(_ context.Context, d time.Duration) error { clock = clock.Add(d); return nil },
	}
	return o, w, filepath.Join(configDir, "rel.json")
}

const canary25 = `{"strategy": "canary", "canaryPercent": 25, "bakeSeconds": 45, "minRequests": 20}`

func TestAGoodCanaryReleaseShiftsInStepsAndEndsWithEveryWebContainerOnTheNewImage(t *testing.T) {
	o, w, path := newLocalFixture(t, canary25)
	rec, err := o.ReleaseLocal(context.Background(), "rel", "app:new")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"up " + newID, "split 25", "split 100", "up " + newID, "split 0", "up "}
	if got := strings.Join(w.calls, ", "); got != strings.Join(want, ", ") {
		t.Errorf("calls %s, want %s", got, strings.Join(want, ", "))
	}
	if rec.Status != StatusSucceeded || rec.ImageDigest != newID || rec.Strategy != "canary" || len(rec.Steps) != 2 {
		t.Fatalf("record %+v", rec)
	}
	if s := rec.Steps[0]; s.Percent != 25 || s.End.Sub(s.Start) != 45*time.Second || len(s.Gates) != 2 || s.Gates[0].Outcome != GatePass {
		t.Errorf("first step %+v, want 25%% for 45s with two passing gates", s)
	}
	if data, _ := os.ReadFile(path); !strings.Contains(string(data), newID) {
		t.Errorf("config does not name the released image:\n%s", data)
	}
	recs, err := o.ledger().Read("rel")
	if err != nil || len(recs) != 1 || len(recs[0].Steps) != 2 {
		t.Fatalf("ledger %+v, %v", recs, err)
	}
	if table := Table(recs); !strings.Contains(table, "step  25%") || !strings.Contains(table, "targetErrorRate 0% <= threshold 5%: pass (200 requests)") {
		t.Errorf("make ledger shows:\n%s", table)
	}
}

func TestABreachingGateSendsAllTrafficBackAtOnceRemovesTheNewContainersAndNamesTheGate(t *testing.T) {
	o, w, path := newLocalFixture(t, canary25)
	before, _ := os.ReadFile(path)
	w.errorRate = 100
	rec, err := o.ReleaseLocal(context.Background(), "rel", "app:new")
	if !errors.Is(err, ErrGate) {
		t.Fatalf("error %v, want a gate failure", err)
	}
	if line := err.Error(); strings.Contains(line, "\n") || !strings.Contains(line, "targetErrorRate 100% > threshold 5%: breach (200 requests)") {
		t.Errorf("error %q, want one line naming the gate, its value and its threshold", line)
	}
	want := []string{"up " + newID, "split 25", "split 0", "up "}
	if got := strings.Join(w.calls, ", "); got != strings.Join(want, ", ") {
		t.Errorf("calls %s, want %s (traffic back first, then the containers removed)", got, strings.Join(want, ", "))
	}
	if w.canary != "" || w.image != runningID {
		t.Errorf("after the rollback: canary %q, running %q", w.canary, w.image)
	}
	if rec.Abort == nil || rec.Abort.Gate == nil || rec.Abort.Gate.Gate != "targetErrorRate" || rec.Abort.Percent != 25 {
		t.Fatalf("record's abort %+v", rec.Abort)
	}
	if s := rec.Steps[0]; s.End.Sub(s.Start) >= 45*time.Second {
		t.Errorf("the breach was acted on after %s, not at the first reading", s.End.Sub(s.Start))
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Errorf("the config changed:\n%s", after)
	}
	recs, _ := o.ledger().Read("rel")
	if len(recs) != 1 || recs[0].Status != StatusFailed || recs[0].Abort == nil || recs[0].Abort.Gate == nil {
		t.Errorf("ledger %+v", recs)
	}
}

func TestTooFewRequestsToTheNewVersionIsNoDataWhichNeverPasses(t *testing.T) {
	o, w, _ := newLocalFixture(t, canary25)
	w.requests = 5
	rec, err := o.ReleaseLocal(context.Background(), "rel", "app:new")
	if !errors.Is(err, ErrGate) || !strings.Contains(err.Error(), "no data (5 requests)") {
		t.Fatalf("error %v, want no data", err)
	}
	if s := rec.Steps[0]; s.End.Sub(s.Start) != 45*time.Second {
		t.Errorf("no data judged after %s, want the whole bake (it may still fill)", s.End.Sub(s.Start))
	}
	if w.split != 0 || w.canary != "" {
		t.Errorf("split %d canary %q after no data", w.split, w.canary)
	}
}

func TestNewContainersThatNeverBecomeHealthySayWhyAndAreRemoved(t *testing.T) {
	o, w, _ := newLocalFixture(t, canary25)
	w.healthy = false
	_, err := o.ReleaseLocal(context.Background(), "rel", "app:new")
	if err == nil || !strings.Contains(err.Error(), "health check of shipyard-rel-canary-web-1") || !strings.Contains(err.Error(), "panic: boom") {
		t.Fatalf("error %v, want the health-check log and the last log lines", err)
	}
	if got := strings.Join(w.calls, ", "); got != "up "+newID+", split 0, up " {
		t.Errorf("calls %s", got)
	}
}

func TestARollingReleaseWhoseContainersNeverBecomeHealthySaysWhyAndGoesBack(t *testing.T) {
	o, w, path := newLocalFixture(t, `{"strategy": "rolling"}`)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	w.healthy = false
	rec, err := o.ReleaseLocal(context.Background(), "rel", "app:new")
	if err == nil || !strings.Contains(err.Error(), "health check of shipyard-rel-canary-web-1") || !strings.Contains(err.Error(), "panic: boom") ||
		!strings.Contains(err.Error(), "rolled back: the new containers removed") {
		t.Fatalf("error %v, want the health-check log, the last log lines and the rollback", err)
	}
	if got := strings.Join(w.calls, ", "); got != "up , up " {
		t.Errorf("calls %s, want the failed update, then one on the previous config", got)
	}
	after, _ := os.ReadFile(path)
	if string(after) != string(before) || w.image != runningID || rec.Status != StatusFailed {
		t.Errorf("config changed %v, image %s, record %+v", string(after) != string(before), w.image, rec)
	}
}

func TestTheStrategiesPlanTheirSteps(t *testing.T) {
	for _, tt := range []struct{ deploy, want string }{
		{canary25, "canary: 25% for 45s (gated), 100%"},
		{`{"strategy": "linear", "stepPercent": 30, "bakeSeconds": 60}`, "linear: 30% for 1m0s (gated), 60% for 1m0s (gated), 90% for 1m0s (gated), 100%"},
		{`{"strategy": "bluegreen", "bakeSeconds": 60}`, "bluegreen: 100% for 1m0s (gated)"},
		{`{"strategy": "rolling"}`, "rolling: 100%"},
	} {
		o, _, _ := newLocalFixture(t, tt.deploy)
		cfg, err := stackconfig.Load(o.ConfigDir, "rel")
		if err != nil {
			t.Fatal(err)
		}
		if got := Describe(cfg.Deploy.Strategy, Plan(cfg.Deploy)); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.deploy, got, tt.want)
		}
	}
}
