package aws

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/shipyard-kit/shipyard/app/appmetrics"
	"github.com/shipyard-kit/shipyard/infra/signals"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

func TestAnAlarmDescriptionFitsCloudWatchsLimitInWholeCharacters(t *testing.T) {
	a := signals.Instance{Alarm: signals.Table[0], ID: signals.Table[0].Name}
	if d := alarmDescription(a); !strings.HasPrefix(d, "[critical] targetErrorRate: ") || !strings.HasSuffix(d, a.Runbook) {
		t.Errorf("description %q", d)
	}
	a.Runbook = strings.Repeat("é", 2000)
	d := alarmDescription(a)
	if n := utf8.RuneCountInString(d); n != maxAlarmDescription || !utf8.ValidString(d) || !strings.HasSuffix(d, "…") {
		t.Errorf("%d characters, valid UTF-8 %v, ends %q", n, utf8.ValidString(d), d[len(d)-6:])
	}
}

func TestAnAlarmTheTargetsCannotDescribeIsAnErrorNamingIt(t *testing.T) {
	t0 := Targets[string]{LoadBalancer: "app/x/1", TargetGroup: "targetgroup/y/2", Cluster: "c",
		Services: map[stackconfig.Process]string{stackconfig.Web: "c-web"}, Database: "db", Stack: "dev", Queue: appmetrics.QueueDefault}
	two := []signals.Metric{{ID: "a", Namespace: "N", Name: "A", Stat: "Sum"}, {ID: "b", Namespace: "N", Name: "B", Stat: "Sum"}}
	cases := []struct {
		name string
		a    signals.Instance
		want string
	}{
		{"two metrics without an expression", signals.Instance{ID: "x", Alarm: signals.Alarm{Scope: signals.LoadBalancer, Metrics: two}}, "alarm x: 2 metrics need an expression"},
		{"no metric", signals.Instance{ID: "x", Alarm: signals.Alarm{Scope: signals.LoadBalancer}}, "alarm x: no metrics"},
		{"a process without a service", signals.Instance{ID: "cpuHigh-worker", Service: stackconfig.Worker, Alarm: signals.Alarm{Scope: signals.Service, Metrics: two[:1]}}, `alarm cpuHigh-worker: no ECS service for process "worker"`},
		{"a cache without nodes", signals.Instance{ID: "x", Alarm: signals.Alarm{Scope: signals.Cache, Metrics: two[:1]}}, "alarm x: the cache has no nodes"},
		{"an unknown scope", signals.Instance{ID: "x", Alarm: signals.Alarm{Scope: "bucket", Metrics: two[:1]}}, `alarm x: scope "bucket" has no CloudWatch dimensions`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := metricQueries(c.a, t0); err == nil || err.Error() != c.want {
				t.Errorf("err = %v, want %q", err, c.want)
			}
		})
	}
}
