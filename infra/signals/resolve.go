package signals

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// maxAlarmWindow is the longest period × evaluation periods CloudWatch
// allows, in seconds.
const maxAlarmWindow = 86400

// Instance is one alarm of a stack: a table row with the stack's overrides
// applied, expanded per process type for Service rows, its placeholders
// filled in.
type Instance struct {
	Alarm
	// ID is unique in the stack: the row's name, then the process type for
	// Service rows ("runningTasks-worker").
	ID string
	// Service is the process type of a Service row, else "".
	Service stackconfig.Process
}

// Resolve returns cfg's alarms: the table with alarms.overrides applied,
// disabled rows left out. A bad override is a *stackconfig.ValidationError
// naming the field and the allowed values.
func Resolve(cfg *stackconfig.Config) ([]Instance, error) {
	var problems []stackconfig.Problem
	bad := func(path, format string, args ...any) {
		problems = append(problems, stackconfig.Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	names := Names()
	for name := range cfg.Alarms.Overrides {
		if !slices.Contains(names, name) {
			bad("alarms.overrides."+name, "is not an alarm; allowed %s", strings.Join(names, ", "))
		}
	}
	var out []Instance
	for _, row := range Table {
		a := row
		a.Services = slices.Clone(row.Services)
		a.Metrics = slices.Clone(row.Metrics)
		a.Deployment = slices.Clone(row.Deployment)
		path := "alarms.overrides." + a.Name
		if o, ok := cfg.Alarms.Overrides[a.Name]; ok {
			if o.Disabled && len(a.Deployment) > 0 {
				bad(path+".disabled", "is true, but %s rolls back deployments of %s; allowed false (raise its threshold instead)", a.Name, joinProcs(a.Deployment))
			}
			if o.Disabled {
				continue
			}
			if o.Threshold != nil {
				a.Threshold = *o.Threshold
				if a.Threshold < 0 || (a.MaxThreshold > 0 && a.Threshold > a.MaxThreshold) {
					bad(path+".threshold", "%g is out of range; allowed 0 to %s (%s)", a.Threshold, maxText(a), a.Unit)
				}
			}
			if o.PeriodSeconds != 0 {
				if !slices.Contains(Periods, o.PeriodSeconds) {
					bad(path+".periodSeconds", "%d is not allowed; allowed %s", o.PeriodSeconds, joinInts(Periods))
				}
				a.PeriodSeconds = o.PeriodSeconds
			}
			if o.EvaluationPeriods != 0 {
				a.EvaluationPeriods = o.EvaluationPeriods
				if a.EvaluationPeriods < 1 || a.PeriodSeconds*a.EvaluationPeriods > maxAlarmWindow {
					bad(path+".evaluationPeriods", "%d is out of range; allowed 1 to %d (periodSeconds × evaluationPeriods at most one day)", a.EvaluationPeriods, maxAlarmWindow/a.PeriodSeconds)
				}
			}
			if o.Severity != "" {
				if !slices.Contains(Severities, Severity(o.Severity)) {
					bad(path+".severity", "%q is not allowed; allowed %s", o.Severity, joinSeverities())
				}
				a.Severity = Severity(o.Severity)
			}
		}
		if a.Scope != Service {
			out = append(out, Instance{Alarm: fill(a, cfg, ""), ID: a.Name})
			continue
		}
		for _, p := range a.Services {
			out = append(out, Instance{Alarm: fill(a, cfg, p), ID: a.Name + "-" + string(p), Service: p})
		}
	}
	problems = append(problems, gateProblems(cfg, out)...)
	if len(problems) > 0 {
		slices.SortFunc(problems, func(x, y stackconfig.Problem) int { return strings.Compare(x.Path, y.Path) })
		return nil, &stackconfig.ValidationError{Problems: problems}
	}
	return out, nil
}

// Desired is how many tasks (containers, on docker) of p the stack runs
// when healthy.
func Desired(cfg *stackconfig.Config, p stackconfig.Process) int {
	if p == stackconfig.Web && cfg.Target == stackconfig.TargetDocker {
		return cfg.Local.WebReplicas
	}
	if cfg.Target == stackconfig.TargetDocker {
		return 1
	}
	return cfg.Services.Get(p).DesiredCount
}

// fill replaces the placeholders of a's Expression and PromQL.
func fill(a Alarm, cfg *stackconfig.Config, p stackconfig.Process) Alarm {
	pairs := []string{
		"{window}", promDuration(a.PeriodSeconds),
		"{allocatedStorageBytes}", strconv.FormatInt(int64(cfg.Database.AllocatedStorageGB)<<30, 10),
		"{maxConnections}", strconv.Itoa(cfg.Database.MaxConnections),
	}
	if p != "" {
		svc := cfg.Services.Get(p)
		pairs = append(pairs,
			"{service}", string(p),
			"{desired}", strconv.Itoa(Desired(cfg, p)),
			"{cpuShare}", strconv.FormatFloat(float64(svc.CPU)/1024, 'g', -1, 64),
			"{memoryBytes}", strconv.FormatInt(int64(svc.Memory)<<20, 10),
		)
	}
	r := strings.NewReplacer(pairs...)
	a.Expression = r.Replace(a.Expression)
	a.PromQL = r.Replace(a.PromQL)
	return a
}

// promDuration writes seconds as a PromQL duration ("1m", "90s").
func promDuration(s int) string {
	switch {
	case s == 0:
		return "0s"
	case s%3600 == 0:
		return strconv.Itoa(s/3600) + "h"
	case s%60 == 0:
		return strconv.Itoa(s/60) + "m"
	}
	return strconv.Itoa(s) + "s"
}

func maxText(a Alarm) string {
	if a.MaxThreshold == 0 {
		return "any"
	}
	return strconv.FormatFloat(a.MaxThreshold, 'g', -1, 64)
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}

func joinSeverities() string {
	s := make([]string, len(Severities))
	for i, x := range Severities {
		s[i] = string(x)
	}
	return strings.Join(s, ", ")
}

func joinProcs(ps []stackconfig.Process) string {
	s := make([]string, len(ps))
	for i, x := range ps {
		s[i] = string(x)
	}
	return strings.Join(s, ", ")
}

// DeploymentAlarms returns the IDs of the alarms that roll back p's
// deployments, in table order.
func DeploymentAlarms(alarms []Instance, p stackconfig.Process) []string {
	var out []string
	for _, a := range alarms {
		if slices.Contains(a.Deployment, p) {
			out = append(out, a.ID)
		}
	}
	return out
}
