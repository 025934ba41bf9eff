package aws_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/infra/signals"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// The alarm table of docs/operations.md sits between these markers.
const (
	alarmsDocBegin = "<!-- alarms table: generated from infra/signals.Table, kept in sync by TestTheOperationsDocListsEveryAlarmWithItsDefaults -->"
	alarmsDocEnd   = "<!-- end of the alarms table -->"
)

// scopeText says what a scope watches, for operators.
var scopeText = map[signals.Scope]string{
	signals.LoadBalancer: "the ALB",
	signals.TargetGroup:  "the web target group",
	signals.Service:      "each ECS service",
	signals.Database:     "the RDS instance",
	signals.Cache:        "every Redis node (the highest)",
	signals.Queue:        "the job queue",
	signals.Jobs:         "the scheduled jobs",
}

// unitText writes a threshold's unit after it.
var unitText = map[string]string{"%": "%", "seconds": " s", "count": "", "tasks": " tasks"}

func joinProcesses(ps []stackconfig.Process) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	return strings.Join(s, ", ")
}

// alarmsDocTable renders signals.Table as the docs show it.
func alarmsDocTable() string {
	var b strings.Builder
	b.WriteString("| Alarm | Goes off when | Watches | Default | Severity | Rolls back | First look |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for _, a := range signals.Table {
		watches := scopeText[a.Scope]
		if a.Scope == signals.Service {
			watches += " (" + joinProcesses(a.Services) + ")"
		}
		unit, ok := unitText[a.Unit]
		if !ok {
			unit = " " + a.Unit
		}
		def := fmt.Sprintf("%s %s%s, %d × %d s", a.Comparison, strconv.FormatFloat(a.Threshold, 'g', -1, 64), unit, a.EvaluationPeriods, a.PeriodSeconds)
		rollsBack := "—"
		if len(a.Deployment) > 0 {
			rollsBack = joinProcesses(a.Deployment)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s |\n", a.Name, a.Title, watches, def, a.Severity, rollsBack, a.Runbook)
	}
	return b.String()
}

func TestTheOperationsDocListsEveryAlarmWithItsDefaults(t *testing.T) {
	data, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	_, rest, ok := strings.Cut(doc, alarmsDocBegin+"\n")
	table, _, ok2 := strings.Cut(rest, alarmsDocEnd)
	want := alarmsDocTable()
	if !ok || !ok2 || table != want {
		t.Errorf("docs/operations.md's alarm table is not signals.Table; put this between the markers:\n%s\n%s%s", alarmsDocBegin, want, alarmsDocEnd)
	}
}
