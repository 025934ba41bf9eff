package release

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shipyard-kit/shipyard/infra/signals"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
	"github.com/shipyard-kit/shipyard/internal/atomicfile"
)

// ErrGate is a release rolled back because a gate breached or had no data.
var ErrGate = errors.New("release gate")

// LocalStack is what a docker stack's release drives: the Pulumi program
// with a release candidate, nginx's traffic split, the stack's Prometheus
// and Docker.
type LocalStack interface {
	// Up applies the stack with candidate (an image ID) as its release in
	// progress (its canary web generation), or with none.
	Up(ctx context.Context, stack, candidate string) error
	// ImageID resolves a local image reference to its ID.
	ImageID(ctx context.Context, ref string) (string, error)
	// SetSplit makes nginx (container name) send percent of the requests
	// to the canary generation (generation, which labels their gate log
	// lines; "" when there is none): it rewrites the split file and
	// reloads nginx, which finishes the requests in flight.
	SetSplit(ctx context.Context, nginx string, percent int, generation string) error
	// Query evaluates an instant PromQL expression; ok is false when the
	// result is empty or not a number.
	Query(ctx context.Context, prometheusURL, expr string) (value float64, ok bool, err error)
	// Images returns the image ID of every web container of the stack
	// (canary ones included), by container name.
	WebImages(ctx context.Context, stack string) (map[string]string, error)
	// Diagnose says why the stack's canary containers are not healthy:
	// their health-check log and the last 20 log lines of one of them.
	Diagnose(ctx context.Context, stack string) string
}

// CanaryLabel is the generation label the gates read for a release's
// canary generation (infra/docker.CanaryLabel: the gate log labels each
// release's canary requests apart).
func CanaryLabel(generation string) string { return "canary-" + generation }

// GatePollInterval is how often the gates are read during a bake: a breach
// rolls back at once; a pass needs the whole bake.
var GatePollInterval = 5 * time.Second

// ReleaseLocal releases a local image to a docker stack with the stack's
// deploy.strategy: the new version's web containers start beside the
// running ones, nginx shifts the plan's share of requests to them step by
// step while the gates read the load balancer's metrics of the new
// version only, and either every process ends on the new image (the image
// ID written into config/<stack>.json release.imageDigest) or, on a
// breach, all traffic goes back to the running version at once and the
// new containers are removed.
func (o *Ops) ReleaseLocal(ctx context.Context, stack, image string) (Record, error) {
	cfg, err := stackconfig.Load(o.ConfigDir, stack)
	if err != nil {
		return Record{}, fmt.Errorf("%w: stack %q: %w (fix it, then run `make validate`)", ErrInvalidConfig, stack, err)
	}
	if cfg.Target != stackconfig.TargetDocker {
		return Record{}, fmt.Errorf("%w: stack %q has target %q; a local release needs target %q", ErrWrongTarget, stack, cfg.Target, stackconfig.TargetDocker)
	}
	gates, err := releaseGates(cfg)
	if err != nil {
		return Record{}, err
	}
	out, err := o.Pulumi.Outputs(ctx, stack)
	if err != nil {
		return Record{}, fmt.Errorf("reading outputs of stack %q: %w", stack, err)
	}
	nginx, promURL := out.Map("containers")["nginx"], out.String("prometheusUrl")
	if nginx == "" || promURL == "" {
		return Record{}, fmt.Errorf("%w: stack %q has no nginx container or prometheusUrl output: run `make up STACK=%s` first", ErrNotDeployed, stack, stack)
	}
	id, err := o.Local.ImageID(ctx, image)
	if err != nil {
		return Record{}, fmt.Errorf("image %s: %w", image, err)
	}
	if id == out.String("imageDigest") {
		return Record{}, fmt.Errorf("%w: stack %q already runs %s (%s)", ErrNoRelease, stack, image, id)
	}
	recID, err := o.ledger().NextID(stack)
	if err != nil {
		return Record{}, err
	}
	rec := Record{ID: recID, Stack: stack, Kind: KindRelease, ImageRepository: image, Strategy: cfg.Deploy.Strategy}
	steps := Plan(cfg.Deploy)
	o.say("releasing %s (%s) to stack %s, %s", image, id, stack, Describe(cfg.Deploy.Strategy, steps))
	if cfg.Deploy.Progressive() {
		names := make([]string, len(gates))
		for i, g := range gates {
			names[i] = g.String()
		}
		o.say("gates: %s, read every %s on the new version's traffic (at least %d requests per window); time budget: %s of bakes plus three updates",
			strings.Join(names, ", "), GatePollInterval, cfg.Deploy.MinRequests, Budget(steps))
	}

	// The running generation's image is pinned in the config for the
	// release's updates (a `make image` meanwhile must not roll it); a
	// release that does not promote puts release.imageDigest back as it
	// was, and keeps whatever else was edited in the file meanwhile.
	path := filepath.Join(o.ConfigDir, stack+".json")
	orig, err := os.ReadFile(path)
	if err != nil {
		return Record{}, fmt.Errorf("reading %s: %w", path, err)
	}
	wrote := []string{id}
	if running := out.String("imageDigest"); cfg.Release.ImageDigest == "" && ValidDigest(running) {
		pinned, err := SetImageDigest(orig, running)
		if err == nil {
			err = atomicfile.Write(path, pinned)
		}
		if err != nil {
			return Record{}, fmt.Errorf("pinning the running image in %s: %w", path, err)
		}
		wrote = []string{running, id}
	}
	restore := func(cause error) error {
		return restoreDigest(path, orig, cause, wrote...)
	}
	abort := func(cause error, gate *GateReading) (Record, error) {
		err := o.abortLocal(ctx, cfg, nginx, &rec, cause, gate)
		return o.failed(rec, id, restore(err))
	}

	// Rolling: one update, as `make up` rolls.
	if !cfg.Deploy.Progressive() {
		rec.Steps = []TrafficStep{{Percent: 100, Start: o.now()}}
		if err := o.promoteLocal(ctx, cfg, id, "", &rec); err != nil {
			return o.failed(rec, id, restore(err))
		}
		rec.Steps[0].End = o.now()
		return o.succeededLocal(ctx, cfg, rec, id)
	}

	o.say("starting the new version's web containers beside the running ones (its migration first)")
	if err := o.Local.Up(ctx, stack, id); err != nil {
		why := o.Local.Diagnose(ctx, stack)
		cause := fmt.Errorf("the new version's containers did not start: %w", err)
		if why != "" {
			cause = fmt.Errorf("%w\n%s", cause, why)
		}
		return abort(cause, nil)
	}
	after, err := o.Pulumi.Outputs(ctx, stack)
	if err != nil {
		return abort(fmt.Errorf("reading outputs of stack %q: %w", stack, err), nil)
	}
	generation := after.String("candidateGeneration")
	if generation == "" {
		return abort(fmt.Errorf("stack %q has no candidateGeneration output after starting the new version", stack), nil)
	}
	for _, s := range steps {
		step := TrafficStep{Percent: s.Percent, Start: o.now()}
		o.say("step: %d%% of requests to the new version", s.Percent)
		if err := o.Local.SetSplit(ctx, nginx, s.Percent, generation); err != nil {
			rec.Steps = append(rec.Steps, step)
			return abort(fmt.Errorf("shifting traffic to %d%%: %w", s.Percent, err), nil)
		}
		if s.Gated {
			readings, breach, err := o.bake(ctx, promURL, CanaryLabel(generation), gates, cfg.Deploy.MinRequests, s.Bake)
			step.Gates, step.End = readings, o.now()
			rec.Steps = append(rec.Steps, step)
			switch {
			case err != nil:
				return abort(err, nil)
			case breach != nil:
				return abort(fmt.Errorf("%w: %s", ErrGate, breach), breach)
			}
			continue
		}
		step.End = o.now()
		rec.Steps = append(rec.Steps, step)
	}
	o.say("promoting: every process on the new image, the previous generation removed")
	if err := o.promoteLocal(ctx, cfg, id, nginx, &rec); err != nil {
		return o.failed(rec, id, restore(err))
	}
	// The last step (100 %) lasts until the promoted containers serve.
	rec.Steps[len(rec.Steps)-1].End = o.now()
	return o.succeededLocal(ctx, cfg, rec, id)
}

// bake reads the gates every GatePollInterval for d: a breach, or no data
// at the end, fails the step (no data is never a pass).
func (o *Ops) bake(ctx context.Context, promURL, label string, gates []signals.Gate, minRequests int, d time.Duration) ([]GateReading, *GateReading, error) {
	deadline := o.now().Add(d)
	var last []GateReading
	for {
		final := !o.now().Before(deadline)
		last = last[:0]
		for _, g := range gates {
			r, err := o.readGate(ctx, promURL, label, g, minRequests)
			if err != nil {
				return last, nil, err
			}
			last = append(last, r)
			if r.Outcome == GateBreach || final && r.Outcome == GateNoData {
				o.say("gate %s", r)
				return last, &r, nil
			}
		}
		if final {
			for _, r := range last {
				o.say("gate %s", r)
			}
			return last, nil, nil
		}
		if err := o.sleep(ctx, min(GatePollInterval, deadline.Sub(o.now()))); err != nil {
			return last, nil, fmt.Errorf("interrupted: %w", err)
		}
	}
}

// sleep waits d (Ops.Sleep when set) or until ctx is done.
func (o *Ops) sleep(ctx context.Context, d time.Duration) error {
	if o.Sleep != nil {
		return o.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// readGate reads one gate on the canary generation.
func (o *Ops) readGate(ctx context.Context, promURL, label string, g signals.Gate, minRequests int) (GateReading, error) {
	value, requests := g.Queries(label)
	n, ok, err := o.Local.Query(ctx, promURL, requests)
	if err != nil {
		return GateReading{}, fmt.Errorf("reading gate %s: %w", g.Name, err)
	}
	if !ok {
		n = 0
	}
	v, ok, err := o.Local.Query(ctx, promURL, value)
	if err != nil {
		return GateReading{}, fmt.Errorf("reading gate %s: %w", g.Name, err)
	}
	var vp *float64
	if ok {
		vp = &v
	}
	return judge(g, vp, n, minRequests, o.now()), nil
}

// releaseGates are the stack's release gates (deploy.gates).
func releaseGates(cfg *stackconfig.Config) ([]signals.Gate, error) {
	alarms, err := signals.Resolve(cfg)
	if err == nil {
		var gates []signals.Gate
		if gates, err = signals.Gates(cfg, alarms); err == nil {
			return gates, nil
		}
	}
	return nil, fmt.Errorf("%w: stack %q: %w", ErrInvalidConfig, cfg.Stack, err)
}

// judge gives a gate's reading its outcome, the same on every target: no
// data below minRequests requests or without a value (never a pass),
// breach past the threshold, else pass.
func judge(g signals.Gate, value *float64, requests float64, minRequests int, at time.Time) GateReading {
	r := GateReading{Gate: g.Name, Value: value, Comparison: string(g.Comparison), Threshold: g.Threshold, Unit: g.Unit,
		Requests: math.Round(requests), Time: at}
	switch {
	case r.Requests < float64(minRequests) || value == nil:
		r.Outcome = GateNoData
	case g.Breached(*value):
		r.Outcome = GateBreach
	default:
		r.Outcome = GatePass
	}
	return r
}

// abortLocal sends all traffic back to the running generation at once,
// then removes the new containers, and returns the one-line reason.
func (o *Ops) abortLocal(ctx context.Context, cfg *stackconfig.Config, nginx string, rec *Record, cause error, gate *GateReading) error {
	// The operator's Ctrl-C must not stop the rollback itself.
	ctx = context.WithoutCancel(ctx)
	percent := 0
	if n := len(rec.Steps); n > 0 {
		percent = rec.Steps[n-1].Percent
	}
	reason := firstLine(cause.Error())
	rec.Abort = &Abort{Reason: reason, Gate: gate, Percent: percent, Time: o.now()}
	o.say("rolling back: all traffic to the running version")
	var errs []error
	if err := o.Local.SetSplit(ctx, nginx, 0, ""); err != nil {
		errs = append(errs, fmt.Errorf("shifting all traffic back: %w", err))
	}
	o.say("removing the new version's containers")
	if err := o.Local.Up(ctx, cfg.Stack, ""); err != nil {
		errs = append(errs, fmt.Errorf("removing the new containers: %w", err))
	}
	if len(errs) > 0 {
		return errors.Join(append([]error{cause}, errs...)...)
	}
	return fmt.Errorf("%w; rolled back: all traffic on the running version, the new containers removed", cause)
}

// promoteLocal makes id the stack's release: config/<stack>.json's
// release.imageDigest, every process on it, and (with nginx set, after a
// progressive shift) the canary containers removed once nginx sends every
// request to the promoted web containers. Its release.imageDigest is put
// back when the update fails.
func (o *Ops) promoteLocal(ctx context.Context, cfg *stackconfig.Config, id, nginx string, rec *Record) error {
	path := filepath.Join(o.ConfigDir, cfg.Stack+".json")
	prev, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	updated, err := SetImageDigest(prev, id)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := atomicfile.Write(path, updated); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	candidate := ""
	if nginx != "" {
		candidate = id // the canary containers keep serving 100 % meanwhile
	}
	if err := o.Local.Up(ctx, cfg.Stack, candidate); err != nil {
		// The previous generation comes back from the config: its digest
		// first (only that field, as ReleaseLocal restores it).
		cause := fmt.Errorf("promoting: %w", err)
		if left, werr := resetDigest(path, prev, id); werr != nil {
			cause = errors.Join(cause, fmt.Errorf("restoring the release.imageDigest of %s: %w", path, werr))
		} else if left != "" {
			cause = fmt.Errorf("%w (%s left as it is: %s)", cause, path, left)
		}
		if why := o.Local.Diagnose(ctx, cfg.Stack); why != "" {
			cause = fmt.Errorf("%w\n%s", cause, why)
		}
		if nginx != "" {
			return o.abortLocal(ctx, cfg, nginx, rec, cause, nil)
		}
		// A rolling update that failed left the new containers beside the
		// running ones: the previous config removes them.
		o.say("removing the new version's containers; the running ones keep serving")
		if err := o.Local.Up(context.WithoutCancel(ctx), cfg.Stack, ""); err != nil {
			return errors.Join(cause, fmt.Errorf("removing the new containers: %w", err))
		}
		return fmt.Errorf("%w; rolled back: the new containers removed", cause)
	}
	if nginx == "" {
		return nil
	}
	if err := o.Local.SetSplit(ctx, nginx, 0, ""); err != nil {
		return fmt.Errorf("shifting traffic to the promoted containers: %w", err)
	}
	o.say("removing the canary containers")
	if err := o.Local.Up(ctx, cfg.Stack, ""); err != nil {
		return fmt.Errorf("removing the canary containers: %w", err)
	}
	return nil
}

// succeededLocal checks that every web container runs id, then records
// the release.
func (o *Ops) succeededLocal(ctx context.Context, cfg *stackconfig.Config, rec Record, id string) (Record, error) {
	images, err := o.Local.WebImages(ctx, cfg.Stack)
	if err != nil {
		return o.failed(rec, id, fmt.Errorf("listing the web containers: %w", err))
	}
	var wrong []string
	for name, img := range images {
		if img != id {
			wrong = append(wrong, name+" runs "+img)
		}
	}
	if len(images) == 0 || len(wrong) > 0 {
		return o.failed(rec, id, fmt.Errorf("%w: stack %q: web containers %v, want every one on %s (%s)", ErrNotRunning, cfg.Stack, images, id, strings.Join(wrong, ", ")))
	}
	data, err := os.ReadFile(filepath.Join(o.ConfigDir, cfg.Stack+".json"))
	if err == nil {
		rec.ConfigSHA256 = configSHA256(data)
	}
	rec.ImageDigest = id
	rec.Status = StatusSucceeded
	rec.Time = o.now()
	rec.DeployCommit, rec.Actor = o.Commit, o.Actor
	if err := o.ledger().Append(rec); err != nil {
		return rec, fmt.Errorf("stack %q runs %s but recording %s failed: %w", cfg.Stack, id, rec.ID, err)
	}
	o.say("%s %s: stack %s serves every request from %s (recorded in %s)", rec.Kind, rec.ID, cfg.Stack, id, o.ledger().Path(cfg.Stack))
	return rec, nil
}
