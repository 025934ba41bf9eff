package signals

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// GateRequestsPromQL counts the requests one web generation served in a
// gate's window, from the load balancer's side: below deploy.minRequests
// a gate has no data, which is never a pass.
const GateRequestsPromQL = `sum(increase(shipyard_lb_requests_total{generation="{generation}"}[{window}]))`

// Gate is one release gate of a stack: a row of the table (overrides
// applied) read on the new generation's traffic only.
type Gate struct {
	// Name is the row's name, which is also its CloudWatch alarm's ID.
	Name       string
	Title      string
	Comparison Comparison
	Threshold  float64
	Unit       string
	// WindowSeconds is the row's evaluation window (periodSeconds ×
	// evaluationPeriods): a step must bake at least this long.
	WindowSeconds int
	// MissingData is the row's CloudWatch TreatMissingData.
	MissingData string
	promQL      string
}

// Queries returns the gate's PromQL for one generation (the value, and
// the request count that decides whether the value is data).
func (g Gate) Queries(generation string) (value, requests string) {
	r := strings.NewReplacer("{generation}", generation, "{window}", promDuration(g.WindowSeconds))
	return r.Replace(g.promQL), r.Replace(GateRequestsPromQL)
}

// Breached reports whether value is past the threshold.
func (g Gate) Breached(value float64) bool {
	if g.Comparison == Below {
		return value < g.Threshold
	}
	return value > g.Threshold
}

// String is "<name> > <threshold><unit>".
func (g Gate) String() string {
	return fmt.Sprintf("%s %s %s%s", g.Name, g.Comparison, strconv.FormatFloat(g.Threshold, 'g', -1, 64), unitSuffix(g.Unit))
}

func unitSuffix(u string) string {
	switch u {
	case "%":
		return "%"
	case "seconds":
		return "s"
	}
	return " " + u
}

// GateNames are the rows that can gate a release, in table order.
func GateNames() []string {
	var out []string
	for _, a := range Table {
		if a.Gate != "" {
			out = append(out, a.Name)
		}
	}
	return out
}

// Gates returns cfg's release gates (deploy.gates) from its resolved
// alarms, in the order deploy.gates names them.
func Gates(cfg *stackconfig.Config, alarms []Instance) ([]Gate, error) {
	var out []Gate
	for _, name := range cfg.Deploy.Gates {
		i := slices.IndexFunc(alarms, func(a Instance) bool { return a.Name == name })
		if i < 0 || alarms[i].Gate == "" {
			return nil, fmt.Errorf("deploy.gates: %q is not a gate; allowed %s", name, strings.Join(GateNames(), ", "))
		}
		a := alarms[i]
		out = append(out, Gate{
			Name: a.Name, Title: a.Title, Comparison: a.Comparison, Threshold: a.Threshold, Unit: a.Unit,
			WindowSeconds: a.PeriodSeconds * a.EvaluationPeriods, MissingData: a.MissingData, promQL: a.Gate,
		})
	}
	return out, nil
}

// gateProblems checks deploy.gates against the resolved rows: each names a
// gate row, and a progressive strategy bakes every step at least as long as
// each gate's evaluation window (a shorter bake would judge a step on
// data from before it).
func gateProblems(cfg *stackconfig.Config, alarms []Instance) []stackconfig.Problem {
	var ps []stackconfig.Problem
	d := cfg.Deploy
	for i, name := range d.Gates {
		j := slices.IndexFunc(alarms, func(a Instance) bool { return a.Name == name })
		if j < 0 || alarms[j].Gate == "" {
			ps = append(ps, stackconfig.Problem{Path: fmt.Sprintf("deploy.gates.%d", i), Message: fmt.Sprintf("%q is not a gate; allowed %s", name, strings.Join(GateNames(), ", "))})
			continue
		}
		a := alarms[j]
		if w := a.PeriodSeconds * a.EvaluationPeriods; d.Progressive() && d.BakeSeconds < w {
			ps = append(ps, stackconfig.Problem{Path: "deploy.bakeSeconds", Message: fmt.Sprintf(
				"%d is shorter than gate %s's evaluation window of %d s (periodSeconds %d × evaluationPeriods %d), so a step would be judged on traffic from before it; allowed at least %d, or shorten the gate's window in alarms.overrides.%s",
				d.BakeSeconds, name, w, a.PeriodSeconds, a.EvaluationPeriods, w, name)})
		}
	}
	return ps
}
