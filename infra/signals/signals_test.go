package signals

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/app/appmetrics"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

func configDir(t *testing.T) string {
	t.Helper()
	wd, _ := os.Getwd()
	dir, err := stackconfig.FindDir(func(string) string { return "" }, wd)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func load(t *testing.T, stack string) *stackconfig.Config {
	t.Helper()
	cfg, err := stackconfig.Load(configDir(t), stack)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestTheSchemaNamesEveryAlarm(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(configDir(t), "schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties struct {
			Alarms struct {
				Properties struct {
					Overrides struct {
						PropertyNames struct {
							Enum []string `json:"enum"`
						} `json:"propertyNames"`
					} `json:"overrides"`
				} `json:"properties"`
			} `json:"alarms"`
		} `json:"properties"`
		Defs struct {
			AlarmOverride struct {
				Properties struct {
					PeriodSeconds struct {
						Enum []int `json:"enum"`
					} `json:"periodSeconds"`
					Severity struct {
						Enum []Severity `json:"enum"`
					} `json:"severity"`
				} `json:"properties"`
			} `json:"alarmOverride"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	if got := schema.Properties.Alarms.Properties.Overrides.PropertyNames.Enum; !slices.Equal(got, Names()) {
		t.Errorf("schema alarms.overrides names %v, table %v", got, Names())
	}
	if got := schema.Defs.AlarmOverride.Properties.PeriodSeconds.Enum; !slices.Equal(got, Periods) {
		t.Errorf("schema periods %v, Periods %v", got, Periods)
	}
	if got := schema.Defs.AlarmOverride.Properties.Severity.Enum; !slices.Equal(got, Severities) {
		t.Errorf("schema severities %v, Severities %v", got, Severities)
	}
}

// TestEveryAlarmIsComplete checks each row as a reviewer would: it says
// what it means and what to do, its metric math names its metrics, it
// has a local rule or says why not, and a deployment alarm pages.
func TestEveryAlarmIsComplete(t *testing.T) {
	seen := map[string]bool{}
	idRE := regexp.MustCompile(`\b[a-z][A-Za-z0-9_]*\b`)
	for _, a := range Table {
		t.Run(a.Name, func(t *testing.T) {
			if seen[a.Name] {
				t.Error("name used twice")
			}
			seen[a.Name] = true
			if a.Title == "" || a.Runbook == "" || a.Unit == "" {
				t.Error("missing title, runbook or unit")
			}
			if !slices.Contains(Severities, a.Severity) || (a.Comparison != Above && a.Comparison != Below) {
				t.Errorf("severity %q, comparison %q", a.Severity, a.Comparison)
			}
			if !slices.Contains(Periods, a.PeriodSeconds) || a.EvaluationPeriods < 1 {
				t.Errorf("period %d × %d", a.PeriodSeconds, a.EvaluationPeriods)
			}
			if a.MaxThreshold > 0 && a.Threshold > a.MaxThreshold {
				t.Errorf("threshold %g above its maximum %g", a.Threshold, a.MaxThreshold)
			}
			if (a.Scope == Service) != (len(a.Services) > 0) {
				t.Errorf("scope %s with services %v", a.Scope, a.Services)
			}
			if len(a.Metrics) == 0 {
				t.Fatal("no metric")
			}
			if len(a.Metrics) > 1 && a.Expression == "" {
				t.Error("several metrics and no expression")
			}
			ids := map[string]bool{}
			for _, m := range a.Metrics {
				if m.ID == "" || m.Namespace == "" || m.Name == "" || m.Stat == "" {
					t.Errorf("incomplete metric %+v", m)
				}
				ids[m.ID] = true
			}
			if a.Expression != "" {
				for id := range ids {
					if !strings.Contains(a.Expression, id) {
						t.Errorf("expression %q does not use metric %s", a.Expression, id)
					}
				}
				for _, w := range idRE.FindAllString(regexp.MustCompile(`\{[a-zA-Z]+\}`).ReplaceAllString(a.Expression, ""), -1) {
					if !ids[w] {
						t.Errorf("expression %q names %s, not a metric of the alarm", a.Expression, w)
					}
				}
			}
			if (a.PromQL == "") == (a.LocalGap == "") {
				t.Errorf("PromQL %q and LocalGap %q: exactly one is set", a.PromQL, a.LocalGap)
			}
			if len(a.Deployment) > 0 && a.Severity != Critical {
				t.Error("a deployment alarm is not critical")
			}
			if a.MissingData != "notBreaching" && a.MissingData != "breaching" && a.MissingData != "missing" && a.MissingData != "ignore" {
				t.Errorf("MissingData %q", a.MissingData)
			}
		})
	}
}

// awsNamespace reports whether CloudWatch namespace ns is one AWS services
// publish in (AWS/…, and Container Insights' ECS/ContainerInsights).
func awsNamespace(ns string) bool {
	return strings.HasPrefix(ns, "AWS/") || ns == "ECS/ContainerInsights"
}

// TestEveryAlarmOnACustomMetricReadsOneTheAppPublishes: a metric that no
// AWS service publishes is the app's, and must be one of app/appmetrics'
// table (which the app's tests hold its embedded metric format lines to).
// A name the app does not publish would leave the alarm without data, and
// with missing data notBreaching, quiet for good.
func TestEveryAlarmOnACustomMetricReadsOneTheAppPublishes(t *testing.T) {
	custom := 0
	for _, a := range Table {
		for _, m := range a.Metrics {
			if awsNamespace(m.Namespace) {
				if a.Scope == Queue || a.Scope == Jobs {
					t.Errorf("%s (scope %s): metric %s/%s is not the app's", a.Name, a.Scope, m.Namespace, m.Name)
				}
				continue
			}
			custom++
			if m.Namespace != appmetrics.Namespace {
				t.Errorf("%s: metric %s/%s: namespace %q is neither an AWS service's nor the app's (%q)", a.Name, m.Namespace, m.Name, m.Namespace, appmetrics.Namespace)
				continue
			}
			if _, ok := appmetrics.Lookup(m.Name); !ok {
				var names []string
				for _, p := range appmetrics.Published() {
					names = append(names, p.Name)
				}
				t.Errorf("%s: metric %s/%s is not one the app publishes (appmetrics.Published: %s)", a.Name, m.Namespace, m.Name, strings.Join(names, ", "))
			}
		}
	}
	if custom == 0 {
		t.Error("no alarm reads a metric of the app: the table lost its queue and jobs rows")
	}
}

func TestResolve(t *testing.T) {
	threshold := func(v float64) *float64 { return &v }
	tests := []struct {
		name      string
		overrides map[string]stackconfig.AlarmOverride
		check     func(t *testing.T, alarms []Instance)
		problems  []string
	}{
		{name: "the defaults expand service alarms per process type and fill the placeholders",
			check: func(t *testing.T, alarms []Instance) {
				a := find(t, alarms, "runningTasks-worker")
				if a.Service != stackconfig.Worker || a.PromQL != `1 - (count(up{job="worker"} == 1) or vector(0))` {
					t.Errorf("runningTasks-worker: %+v", a)
				}
				if web := find(t, alarms, "runningTasks-web"); !strings.HasPrefix(web.PromQL, "2 - ") {
					t.Errorf("runningTasks-web with two local web replicas: %s", web.PromQL)
				}
				if cpu := find(t, alarms, "cpuHigh-web"); !strings.HasSuffix(cpu.PromQL, "[1m])) / 0.25") {
					t.Errorf("cpuHigh-web with 256 cpu units: %s", cpu.PromQL)
				}
				if st := find(t, alarms, "databaseStorageLow"); st.Expression != "100 * free / 21474836480" {
					t.Errorf("databaseStorageLow of 20 GB: %s", st.Expression)
				}
				for _, a := range alarms {
					if strings.ContainsAny(a.PromQL+a.Expression, "{}") && regexp.MustCompile(`\{[a-zA-Z]+\}`).MatchString(a.PromQL+a.Expression) {
						t.Errorf("%s: placeholder left in %q %q", a.ID, a.Expression, a.PromQL)
					}
				}
			}},
		{name: "an override changes only the fields it sets",
			overrides: map[string]stackconfig.AlarmOverride{"targetErrorRate": {Threshold: threshold(2), PeriodSeconds: 300}},
			check: func(t *testing.T, alarms []Instance) {
				a := find(t, alarms, "targetErrorRate")
				if a.Threshold != 2 || a.PeriodSeconds != 300 || a.EvaluationPeriods != 2 || a.Severity != Critical {
					t.Errorf("got %g %d×%d %s", a.Threshold, a.PeriodSeconds, a.EvaluationPeriods, a.Severity)
				}
				if !strings.Contains(a.PromQL, "[5m]") {
					t.Errorf("the PromQL window follows the period: %s", a.PromQL)
				}
			}},
		{name: "a zero threshold is an override, not the default",
			overrides: map[string]stackconfig.AlarmOverride{"queueBacklog": {Threshold: threshold(0)}},
			check: func(t *testing.T, alarms []Instance) {
				if a := find(t, alarms, "queueBacklog"); a.Threshold != 0 {
					t.Errorf("threshold %g", a.Threshold)
				}
			}},
		{name: "a disabled alarm is left out, for every process type",
			overrides: map[string]stackconfig.AlarmOverride{"cpuHigh": {Disabled: true}},
			check: func(t *testing.T, alarms []Instance) {
				for _, a := range alarms {
					if a.Name == "cpuHigh" {
						t.Errorf("%s is still there", a.ID)
					}
				}
			}},
		{name: "a deployment alarm cannot be disabled",
			overrides: map[string]stackconfig.AlarmOverride{"targetErrorRate": {Disabled: true}},
			problems:  []string{"alarms.overrides.targetErrorRate.disabled: is true, but targetErrorRate rolls back deployments of web, worker; allowed false"}},
		{name: "a percentage above 100 is rejected",
			overrides: map[string]stackconfig.AlarmOverride{"cpuHigh": {Threshold: threshold(150)}},
			problems:  []string{"alarms.overrides.cpuHigh.threshold: 150 is out of range; allowed 0 to 100 (%)"}},
		{name: "a period CloudWatch does not allow is rejected",
			overrides: map[string]stackconfig.AlarmOverride{"cpuHigh": {PeriodSeconds: 45}},
			problems:  []string{"alarms.overrides.cpuHigh.periodSeconds: 45 is not allowed; allowed 10, 30, 60, 120, 300, 600, 900, 3600"}},
		{name: "more than a day of evaluation periods is rejected",
			overrides: map[string]stackconfig.AlarmOverride{"cpuHigh": {PeriodSeconds: 3600, EvaluationPeriods: 25}},
			problems:  []string{"alarms.overrides.cpuHigh.evaluationPeriods: 25 is out of range; allowed 1 to 24"}},
		{name: "an unknown alarm is rejected with the names",
			overrides: map[string]stackconfig.AlarmOverride{"errorRate": {}},
			problems:  []string{"alarms.overrides.errorRate: is not an alarm; allowed targetErrorRate, loadBalancerErrorRate"}},
		{name: "an unknown severity is rejected",
			overrides: map[string]stackconfig.AlarmOverride{"cpuHigh": {Severity: "page"}},
			problems:  []string{`alarms.overrides.cpuHigh.severity: "page" is not allowed; allowed critical, warning`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := load(t, "local")
			cfg.Alarms.Overrides = tt.overrides
			alarms, err := Resolve(cfg)
			if len(tt.problems) > 0 {
				var verr *stackconfig.ValidationError
				if !errors.As(err, &verr) {
					t.Fatalf("err = %v, want a ValidationError", err)
				}
				for _, want := range tt.problems {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not contain %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, alarms)
		})
	}
}

func TestEveryStackResolves(t *testing.T) {
	all, err := stackconfig.LoadAll(configDir(t))
	if err != nil {
		t.Fatal(err)
	}
	for name, cfg := range all {
		alarms, err := Resolve(cfg)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(alarms) < len(Table) {
			t.Errorf("%s: %d alarms", name, len(alarms))
		}
		for _, p := range []stackconfig.Process{stackconfig.Web, stackconfig.Worker} {
			if len(DeploymentAlarms(alarms, p)) == 0 {
				t.Errorf("%s: no deployment alarm for %s", name, p)
			}
		}
	}
	prod := load(t, "prod")
	alarms, _ := Resolve(prod)
	if got := DeploymentAlarms(alarms, stackconfig.Web); !reflect.DeepEqual(got, []string{"targetErrorRate", "loadBalancerErrorRate", "targetLatencyP99"}) {
		t.Errorf("web's deployment alarms %v", got)
	}
}

func find(t *testing.T, alarms []Instance, id string) Instance {
	t.Helper()
	for _, a := range alarms {
		if a.ID == id {
			return a
		}
	}
	t.Fatalf("no alarm %s", id)
	return Instance{}
}

// promtool runs Prometheus's own rule checker and unit tester: the rules
// are tested by the engine that evaluates them.
func promtool(t *testing.T, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool (Debian package prometheus, installed by .ci/run) is needed to check the generated rules: %v", err)
	}
	out, err := exec.Command(path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func writeRules(t *testing.T, stack string) string {
	t.Helper()
	alarms, err := Resolve(load(t, stack))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := PrometheusRules(stack, alarms)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "alerts.yml")
	if err := os.WriteFile(path, rules, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTheGeneratedRulesArePrometheusRules(t *testing.T) {
	path := writeRules(t, "local")
	out := promtool(t, "check", "rules", path)
	alarms, _ := Resolve(load(t, "local"))
	local := 0
	for _, a := range alarms {
		if a.PromQL != "" {
			local++
		}
	}
	if want := "SUCCESS: " + itoa(local) + " rules found"; !strings.Contains(out, want) {
		t.Errorf("promtool check rules: %s\nwant %q", out, want)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestTheRulesFireOnTheirCondition evaluates the generated rules on
// made-up series with promtool test rules: 20 % of requests failing fires
// targetErrorRate within two minutes, 1 % does not; a worker that stops
// being scraped fires runningTasks-worker, and it clears when it is back.
func TestTheRulesFireOnTheirCondition(t *testing.T) {
	rules := writeRules(t, "local")
	test := `rule_files: [` + rules + `]
evaluation_interval: 15s
tests:
  - interval: 15s
    input_series:
      # 4 requests a second, 20 % of them 5xx from minute 1 on.
      - series: 'http_requests_total{job="web",instance="a",status="200"}'
        values: '0+60x40'
      - series: 'http_requests_total{job="web",instance="a",status="503"}'
        values: '0+0x4 0+15x36'
      - series: 'up{job="worker",instance="w"}'
        values: '1x8 stale _x11 1x20'
      - series: 'up{job="web",instance="a"}'
        values: '1x40'
      - series: 'up{job="web",instance="b"}'
        values: '1x40'
      - series: 'up{job="clock",instance="c"}'
        values: '1x40'
    alert_rule_test:
      - eval_time: 1m
        alertname: targetErrorRate
        exp_alerts: []
      - eval_time: 3m
        alertname: targetErrorRate
        exp_alerts:
          - exp_labels: {severity: critical, alarm: targetErrorRate, stack: local}
            exp_annotations:
              summary: "Targets answer more than the threshold's share of requests with 5xx"
              runbook: "The app fails requests: look at its ERROR logs and the last release; a deployment in progress rolls back on its own."
      - eval_time: 1m30s
        alertname: runningTasks-worker
        exp_alerts: []
      - eval_time: 4m
        alertname: runningTasks-worker
        exp_alerts:
          - exp_labels: {severity: critical, alarm: runningTasks, stack: local, service: worker}
            exp_annotations:
              summary: "Fewer tasks run than desired"
              runbook: "Tasks crash or cannot start: look at the service's events (stopped reason) and the process's last log lines."
      - eval_time: 9m
        alertname: runningTasks-worker
        exp_alerts: []
      - eval_time: 9m
        alertname: runningTasks-web
        exp_alerts: []
  - interval: 15s
    input_series:
      # The sweep's last success ages past its deadline from minute 2 to
      # minute 5 (the worker stopped, then came back); the purge's last
      # run failed from minute 3 on; a prune run ran past its timeout.
      - series: 'app_job_overdue_seconds{job="clock",instance="c",task="note:sweep"}'
        values: '0x8 15+15x12 0x20'
      - series: 'app_job_overdue_seconds{job="worker",instance="w",task="note:sweep"}'
        values: '0x8 15+15x12 0x20'
      - series: 'app_job_last_run_failed{job="clock",instance="c",task="tokens:purge"}'
        values: '0x12 1x28'
      - series: 'app_job_last_run_failed{job="worker",instance="w",task="tokens:purge"}'
        values: '0x12 1x28'
      - series: 'app_job_over_timeout{job="clock",instance="c",task="jobs:prune"}'
        values: '0x20 1x20'
    alert_rule_test:
      - eval_time: 1m45s
        alertname: jobLate
        exp_alerts: []
      - eval_time: 3m
        alertname: jobLate
        exp_alerts:
          - exp_labels: {severity: critical, alarm: jobLate, stack: local}
            exp_annotations:
              summary: "A scheduled job has not succeeded within its period plus its grace"
              runbook: "A missed run: ` + "`make jobs`" + ` shows which job, its last run and outcome; are the worker and the clock running (runningTasks)?"
      - eval_time: 6m
        alertname: jobLate
        exp_alerts: []
      - eval_time: 2m30s
        alertname: jobFailed
        exp_alerts: []
      - eval_time: 4m
        alertname: jobFailed
        exp_alerts:
          - exp_labels: {severity: warning, alarm: jobFailed, stack: local}
            exp_annotations:
              summary: "The latest run of a scheduled job failed, timed out or was lost"
              runbook: "` + "`make jobs`" + ` shows the job and its last error; the worker's logs have the run (` + "`make logs PROCESS=worker`" + `); ` + "`make job NAME=…`" + ` runs it again."
      - eval_time: 4m
        alertname: jobOverTimeout
        exp_alerts: []
      - eval_time: 6m
        alertname: jobOverTimeout
        exp_alerts:
          - exp_labels: {severity: warning, alarm: jobOverTimeout, stack: local}
            exp_annotations:
              summary: "A scheduled job's run is running past its timeout, or the latest one timed out"
              runbook: "The job is slower than its timeout allows, or ignores cancellation: look at what it waits on (database locks, a slow query), then its timeout in app/internal/jobs.Scheduled."
  - interval: 15s
    input_series:
      # 1 % of requests failing stays below the 5 % threshold.
      - series: 'http_requests_total{job="web",instance="a",status="200"}'
        values: '0+99x40'
      - series: 'http_requests_total{job="web",instance="a",status="500"}'
        values: '0+1x40'
    alert_rule_test:
      - eval_time: 9m
        alertname: targetErrorRate
        exp_alerts: []
`
	path := filepath.Join(t.TempDir(), "test.yml")
	if err := os.WriteFile(path, []byte(test), 0o644); err != nil {
		t.Fatal(err)
	}
	promtool(t, "test", "rules", path)
}
