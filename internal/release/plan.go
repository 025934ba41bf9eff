package release

import (
	"fmt"
	"strings"
	"time"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// Step is one traffic step of a release: the share of requests the new
// version gets, how long it bakes there, and whether the gates judge it.
type Step struct {
	Percent int
	Bake    time.Duration
	Gated   bool
}

// Plan returns the traffic steps of a deploy config, ending with the new
// version at 100 %:
//   - rolling: 100 % at once, no gate;
//   - canary: canaryPercent for bakeSeconds (gated), then 100 %;
//   - linear: stepPercent, 2 × stepPercent, … below 100, each for
//     bakeSeconds (gated), then 100 %;
//   - bluegreen: 100 % for bakeSeconds (gated) while the old version stays
//     up for an instant rollback.
func Plan(d stackconfig.Deploy) []Step {
	bake := time.Duration(d.BakeSeconds) * time.Second
	switch d.Strategy {
	case stackconfig.StrategyCanary:
		return []Step{{Percent: d.CanaryPercent, Bake: bake, Gated: true}, {Percent: 100}}
	case stackconfig.StrategyLinear:
		var steps []Step
		for p := d.StepPercent; p < 100 && d.StepPercent > 0; p += d.StepPercent {
			steps = append(steps, Step{Percent: p, Bake: bake, Gated: true})
		}
		return append(steps, Step{Percent: 100})
	case stackconfig.StrategyBlueGreen:
		return []Step{{Percent: 100, Bake: bake, Gated: true}}
	}
	return []Step{{Percent: 100}}
}

// Budget is the time the steps of a plan bake in all: a successful release
// takes this plus its three updates (docs/operations.md, time budget).
func Budget(steps []Step) time.Duration {
	var d time.Duration
	for _, s := range steps {
		d += s.Bake
	}
	return d
}

// Describe writes the plan for the operator, e.g. "canary: 25% for 45s
// (gated), 100%".
func Describe(strategy string, steps []Step) string {
	parts := make([]string, len(steps))
	for i, s := range steps {
		parts[i] = fmt.Sprintf("%d%%", s.Percent)
		if s.Bake > 0 {
			parts[i] += " for " + s.Bake.String()
		}
		if s.Gated {
			parts[i] += " (gated)"
		}
	}
	return strategy + ": " + strings.Join(parts, ", ")
}
