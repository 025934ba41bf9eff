package aws_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/app/appmetrics"
	awsinfra "github.com/shipyard-kit/shipyard/infra/aws"
	"github.com/shipyard-kit/shipyard/infra/aws/awsmock"
	"github.com/shipyard-kit/shipyard/infra/pulumitest"
	"github.com/shipyard-kit/shipyard/infra/signals"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

const (
	tAlarm        = "aws:cloudwatch/metricAlarm:MetricAlarm"
	tTopic        = "aws:sns/topic:Topic"
	tTopicPolicy  = "aws:sns/topicPolicy:TopicPolicy"
	tSubscription = "aws:sns/topicSubscription:TopicSubscription"
	tDashboard    = "aws:cloudwatch/dashboard:Dashboard"
)

func resolved(t *testing.T, cfg *stackconfig.Config) []signals.Instance {
	t.Helper()
	alarms, err := signals.Resolve(cfg)
	if err != nil {
		t.Fatalf("resolve %s: %v", cfg.Stack, err)
	}
	return alarms
}

// alarmsByName returns the graph's alarms by their CloudWatch name.
func alarmsByName(g *pulumitest.Graph) map[string]pulumitest.Resource {
	out := map[string]pulumitest.Resource{}
	for _, a := range g.ByType(tAlarm) {
		out[a.String("name")] = a
	}
	return out
}

// query is a metric query of an alarm, as the tests read it.
type query struct {
	ID, Expression, Namespace, Name, Stat string
	Period                                float64
	Dimensions                            map[string]string
	ReturnData                            bool
}

func queries(t *testing.T, a pulumitest.Resource) []query {
	t.Helper()
	v, ok := a.Input("metricQueries")
	if !ok {
		return nil
	}
	var out []query
	for i := range v.ArrayValue() {
		p := fmt.Sprintf("metricQueries.%d.", i)
		q := query{ID: a.String(p + "id"), Expression: a.String(p + "expression"), ReturnData: a.Bool(p + "returnData")}
		if _, ok := a.Input(p + "metric"); ok {
			q.Namespace, q.Name, q.Stat, q.Period = a.String(p+"metric.namespace"), a.String(p+"metric.metricName"), a.String(p+"metric.stat"), a.Number(p+"metric.period")
			q.Dimensions = dims(a, p+"metric.dimensions")
		}
		out = append(out, q)
	}
	return out
}

// inputStrings returns the array of strings at path.
func inputStrings(r pulumitest.Resource, path string) []string {
	v, ok := r.Input(path)
	if !ok {
		return nil
	}
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	if !v.IsArray() {
		return nil
	}
	var out []string
	for i := range v.ArrayValue() {
		out = append(out, r.String(fmt.Sprintf("%s.%d", path, i)))
	}
	return out
}

func dims(a pulumitest.Resource, path string) map[string]string {
	out := map[string]string{}
	v, ok := a.Input(path)
	if !ok {
		return out
	}
	for k := range v.ObjectValue() {
		out[string(k)] = a.String(path + "." + string(k))
	}
	return out
}

// wantDimensions are the dimensions a Scope maps to on the mocked stack.
func wantDimensions(t *testing.T, g *pulumitest.Graph, stack string, cfg *stackconfig.Config, a signals.Instance) []map[string]string {
	t.Helper()
	base := "shipyard-" + stack
	lb := "app/" + base + "/50dc6c495c0c9188"
	tg := pick(t, g, "aws:lb/targetGroup:TargetGroup", "").Name
	switch a.Scope {
	case signals.LoadBalancer:
		return []map[string]string{{"LoadBalancer": lb}}
	case signals.TargetGroup:
		return []map[string]string{{"LoadBalancer": lb, "TargetGroup": "targetgroup/" + tg + "/73e2d6bc24d8a067"}}
	case signals.Service:
		return []map[string]string{{"ClusterName": base, "ServiceName": base + "-" + string(a.Service)}}
	case signals.Database:
		return []map[string]string{{"DBInstanceIdentifier": base}}
	case signals.Cache:
		var out []map[string]string
		for i := 1; i <= 1+cfg.Cache.Replicas; i++ {
			out = append(out, map[string]string{"CacheClusterId": fmt.Sprintf("%s-%03d", base, i)})
		}
		return out
	case signals.Queue, signals.Jobs:
		// The app's metrics: read with exactly the dimension set the app
		// publishes them with (app/appmetrics), CloudWatch keeping one
		// metric per name and dimension set.
		values := map[string]string{appmetrics.DimensionStack: stack, appmetrics.DimensionQueue: appmetrics.QueueDefault}
		m, ok := appmetrics.Lookup(a.Metrics[0].Name)
		if !ok {
			t.Fatalf("%s: the app publishes no metric %s", a.ID, a.Metrics[0].Name)
		}
		want := map[string]string{}
		for _, d := range m.Dimensions {
			want[d] = values[d]
		}
		return []map[string]string{want}
	}
	t.Fatalf("scope %q", a.Scope)
	return nil
}

func TestEveryStackAlarmsOnExactlyItsResolvedTable(t *testing.T) {
	for _, stack := range awsStacks {
		t.Run(stack, func(t *testing.T) {
			cfg := loadConfig(t, stack)
			g := graph(t, stack, true)
			topic := pick(t, g, tTopic, "")
			topicArn := "arn:aws:sns:eu-west-1:123456789012:shipyard-" + stack + "-alarms"
			if topic.String("name") != "shipyard-"+stack+"-alarms" {
				t.Fatalf("topic %q", topic.String("name"))
			}
			byName := tableAlarms(g)
			instances := resolved(t, cfg)
			if len(byName) != len(instances) {
				t.Errorf("%d alarms, want %d (the resolved table)", len(byName), len(instances))
			}
			for _, in := range instances {
				name := awsinfra.AlarmName("shipyard-"+stack, in.ID)
				a, ok := byName[name]
				if !ok {
					t.Errorf("no alarm %s", name)
					continue
				}
				op := map[signals.Comparison]string{signals.Above: "GreaterThanThreshold", signals.Below: "LessThanThreshold"}[in.Comparison]
				if a.String("comparisonOperator") != op || a.Number("threshold") != in.Threshold ||
					a.Number("evaluationPeriods") != float64(in.EvaluationPeriods) || a.String("treatMissingData") != in.MissingData {
					t.Errorf("%s: %s %v over %v periods, missing %q; want %s %v over %d, %q", name,
						a.String("comparisonOperator"), a.Number("threshold"), a.Number("evaluationPeriods"), a.String("treatMissingData"),
						op, in.Threshold, in.EvaluationPeriods, in.MissingData)
				}
				if !a.Bool("actionsEnabled") || !reflect.DeepEqual(inputStrings(a, "alarmActions"), []string{topicArn}) ||
					!reflect.DeepEqual(inputStrings(a, "okActions"), []string{topicArn}) {
					t.Errorf("%s: actions %v / %v, want the topic %s", name, a.Inputs["alarmActions"], a.Inputs["okActions"], topicArn)
				}
				if !strings.Contains(a.String("alarmDescription"), in.Runbook) {
					t.Errorf("%s: the description does not carry the runbook", name)
				}
				wantDims := wantDimensions(t, g, stack, cfg, in)
				qs := queries(t, a)
				if len(in.Metrics) == 1 && in.Expression == "" && len(wantDims) == 1 {
					m := in.Metrics[0]
					stat := a.String("statistic") + a.String("extendedStatistic")
					if len(qs) != 0 || a.String("namespace") != m.Namespace || a.String("metricName") != m.Name || stat != m.Stat ||
						a.Number("period") != float64(in.PeriodSeconds) || !reflect.DeepEqual(dims(a, "dimensions"), wantDims[0]) {
						t.Errorf("%s: %s/%s %s every %vs on %v; want %s/%s %s every %ds on %v", name,
							a.String("namespace"), a.String("metricName"), stat, a.Number("period"), dims(a, "dimensions"),
							m.Namespace, m.Name, m.Stat, in.PeriodSeconds, wantDims[0])
					}
					continue
				}
				checkMetricMath(t, name, in, qs, wantDims)
			}
		})
	}
}

// checkMetricMath checks an alarm's queries: every metric of the row on
// every dimension set, combined with MAX across Redis nodes, and the
// row's expression (or the combined metric) as the one value returned.
func checkMetricMath(t *testing.T, name string, in signals.Instance, qs []query, wantDims []map[string]string) {
	t.Helper()
	byID := map[string]query{}
	var returned []query
	for _, q := range qs {
		byID[q.ID] = q
		if q.ReturnData {
			returned = append(returned, q)
		}
	}
	if len(returned) != 1 {
		t.Errorf("%s: %d queries return data, want 1", name, len(returned))
		return
	}
	for _, m := range in.Metrics {
		if len(wantDims) == 1 {
			q := byID[m.ID]
			if q.Namespace != m.Namespace || q.Name != m.Name || q.Stat != m.Stat || q.Period != float64(in.PeriodSeconds) || !reflect.DeepEqual(q.Dimensions, wantDims[0]) {
				t.Errorf("%s: query %s = %+v, want %s/%s %s on %v every %ds", name, m.ID, q, m.Namespace, m.Name, m.Stat, wantDims[0], in.PeriodSeconds)
			}
			continue
		}
		var ids []string
		for i, d := range wantDims {
			id := fmt.Sprintf("%s%d", m.ID, i+1)
			ids = append(ids, id)
			q := byID[id]
			if q.Name != m.Name || q.Stat != m.Stat || !reflect.DeepEqual(q.Dimensions, d) {
				t.Errorf("%s: query %s = %+v, want %s on %v", name, id, q, m.Name, d)
			}
		}
		if got, want := byID[m.ID].Expression, "MAX(["+strings.Join(ids, ", ")+"])"; got != want {
			t.Errorf("%s: %s = %q, want %q", name, m.ID, got, want)
		}
	}
	want := in.Expression
	if want == "" {
		want = byID[in.Metrics[0].ID].Expression
	}
	if returned[0].Expression != want {
		t.Errorf("%s: returns %q, want %q", name, returned[0].Expression, want)
	}
}

func TestEveryRedisNodeIsWatchedAndTheHighestAlarms(t *testing.T) {
	cfg := loadConfig(t, "prod")
	if cfg.Cache.Replicas < 1 {
		t.Fatalf("prod has no Redis replica; the test would prove nothing")
	}
	a := alarmsByName(graph(t, "prod", true))["shipyard-prod-cacheMemoryHigh"]
	qs := queries(t, a)
	if len(qs) != 2+cfg.Cache.Replicas {
		t.Fatalf("%d queries: %+v", len(qs), qs)
	}
	last := qs[len(qs)-1]
	if !last.ReturnData || !strings.HasPrefix(last.Expression, "MAX([memory1, memory2") {
		t.Errorf("the alarm compares %+v, want the MAX over every node", last)
	}
}

func TestOverridesInTheConfigChangeTheAlarms(t *testing.T) {
	cfg := awsmock.Released(loadConfig(t, "staging"))
	ninety := 90.0
	cfg.Alarms.Overrides = map[string]stackconfig.AlarmOverride{
		"cpuHigh":          {Threshold: &ninety, PeriodSeconds: 300, EvaluationPeriods: 3},
		"unhealthyTargets": {Disabled: true},
	}
	g, err := awsmock.RunConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	byName := alarmsByName(g)
	body := pick(t, g, tDashboard, "").String("dashboardBody")
	if !strings.Contains(body, `{"label":"cpuHigh > 90","value":90}`) || strings.Contains(body, `"label":"unhealthyTargets`) {
		t.Errorf("the dashboard does not draw the overridden thresholds: %s", body)
	}
	if _, ok := byName["shipyard-staging-unhealthyTargets"]; ok {
		t.Errorf("the disabled alarm exists")
	}
	for _, p := range stackconfig.Processes {
		a, ok := byName["shipyard-staging-cpuHigh-"+string(p)]
		if !ok || a.Number("threshold") != 90 || a.Number("period") != 300 || a.Number("evaluationPeriods") != 3 {
			t.Errorf("cpuHigh-%s: threshold %v period %v evaluation periods %v, want 90, 300, 3", p, a.Number("threshold"), a.Number("period"), a.Number("evaluationPeriods"))
		}
	}
	if n := len(tableAlarms(g)); n != len(resolved(t, cfg)) {
		t.Errorf("%d alarms", n)
	}
}

func TestABadOverrideFailsTheStackNamingTheField(t *testing.T) {
	cfg := awsmock.Released(loadConfig(t, "dev"))
	cfg.Alarms.Overrides = map[string]stackconfig.AlarmOverride{"targetErrorRate": {Disabled: true}}
	_, err := awsmock.RunConfig(cfg)
	if err == nil || !strings.Contains(err.Error(), "alarms.overrides.targetErrorRate.disabled") {
		t.Fatalf("err = %v, want one naming alarms.overrides.targetErrorRate.disabled", err)
	}
}

// deploymentAlarms returns the alarm names an ECS service rolls back on,
// and whether alarms are enabled with rollback.
func deploymentAlarms(s pulumitest.Resource) ([]string, bool) {
	if _, ok := s.Input("alarms"); !ok {
		return nil, false
	}
	return inputStrings(s, "alarms.alarmNames"), s.Bool("alarms.enable") && s.Bool("alarms.rollback")
}

func TestDeploymentsRollBackOnTheTablesDeploymentAlarms(t *testing.T) {
	for _, stack := range awsStacks {
		cfg := loadConfig(t, stack)
		g := graph(t, stack, true)
		instances := resolved(t, cfg)
		byName := alarmsByName(g)
		for _, p := range stackconfig.Processes {
			s := pick(t, g, tService, string(p)+"-service")
			got, on := webRollbackAlarms(g, *s)
			var want []string
			for _, id := range signals.DeploymentAlarms(instances, p) {
				want = append(want, awsinfra.AlarmName("shipyard-"+stack, id))
			}
			if p == stackconfig.Clock {
				if got != nil {
					t.Errorf("%s: the clock rolls back on %v", stack, got)
				}
				continue
			}
			if len(want) == 0 || !on || !reflect.DeepEqual(got, want) {
				t.Errorf("%s/%s: deployment alarms %v (enabled with rollback: %v), want %v", stack, p, got, on, want)
			}
			for _, n := range got {
				if _, ok := byName[n]; !ok {
					t.Errorf("%s/%s: rolls back on %s, which is not an alarm of the stack", stack, p, n)
				}
			}
		}
	}
}

// A release that answers 20% of requests with 5xx rolls back: web's
// deployment alarms include targetErrorRate, whose value is the 5xx share
// in percent and whose threshold is below 20.
func TestAReleaseFailingOneRequestInFiveRollsBackByConfiguration(t *testing.T) {
	for _, stack := range awsStacks {
		g := graph(t, stack, true)
		name := "shipyard-" + stack + "-targetErrorRate"
		a := alarmsByName(g)[name]
		errors, requests := 20.0, 100.0
		qs := queries(t, a)
		byID := map[string]query{}
		for _, q := range qs {
			byID[q.ID] = q
		}
		if byID["errors"].Name != "HTTPCode_Target_5XX_Count" || byID["requests"].Name != "RequestCount" ||
			byID["value"].Expression != "100 * FILL(errors, 0) / requests" || !byID["value"].ReturnData {
			t.Fatalf("%s: queries %+v are not the 5xx share in percent", name, qs)
		}
		value := 100 * errors / requests
		if a.String("comparisonOperator") != "GreaterThanThreshold" || !(value > a.Number("threshold")) {
			t.Errorf("%s: %v%% of 5xx does not breach %s %v", name, value, a.String("comparisonOperator"), a.Number("threshold"))
		}
		web := pick(t, g, tService, "web-service")
		names, on := webRollbackAlarms(g, *web)
		if !on || !slices.Contains(names, name) {
			t.Errorf("%s: web rolls back on %v (enabled %v), not on %s", stack, names, on, name)
		}
		if !web.Bool("deploymentCircuitBreaker.rollback") && web.String("deploymentController.type") != "CODE_DEPLOY" {
			t.Errorf("%s: web lost its circuit breaker", stack)
		}
	}
}

func TestTheAlarmTopicIsEncryptedAndOnlyTheStacksAlarmsPublish(t *testing.T) {
	for _, stack := range awsStacks {
		g := graph(t, stack, true)
		topic := pick(t, g, tTopic, "")
		if !strings.HasSuffix(topic.String("kmsMasterKeyId"), "key/logs-key-key-id") {
			t.Errorf("%s: topic key %q, want the stack key", stack, topic.String("kmsMasterKeyId"))
		}
		source := "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:shipyard-" + stack + "-*"
		var doc struct {
			Statement []struct {
				Sid       string
				Effect    string
				Principal map[string][]string
				Action    []string
				Resource  []string
				Condition map[string]map[string]string
			}
		}
		if err := json.Unmarshal([]byte(pick(t, g, tTopicPolicy, "").String("policy")), &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Statement) != 1 {
			t.Fatalf("%s: topic policy %+v", stack, doc)
		}
		s := doc.Statement[0]
		if !reflect.DeepEqual(s.Principal["Service"], []string{"cloudwatch.amazonaws.com"}) || !reflect.DeepEqual(s.Action, []string{"sns:Publish"}) ||
			s.Condition["StringEquals"]["aws:SourceAccount"] != awsmock.AccountID || s.Condition["ArnLike"]["aws:SourceArn"] != source ||
			!reflect.DeepEqual(s.Resource, []string{"arn:aws:sns:eu-west-1:123456789012:shipyard-" + stack + "-alarms"}) {
			t.Errorf("%s: topic policy statement %+v", stack, s)
		}
		doc.Statement = nil
		if err := json.Unmarshal([]byte(pick(t, g, tKey, "").String("policy")), &doc); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, s := range doc.Statement {
			if !reflect.DeepEqual(s.Principal["Service"], []string{"cloudwatch.amazonaws.com"}) {
				continue
			}
			found = true
			if !reflect.DeepEqual(s.Action, []string{"kms:Decrypt", "kms:GenerateDataKey"}) ||
				s.Condition["StringEquals"]["aws:SourceAccount"] != awsmock.AccountID || s.Condition["ArnLike"]["aws:SourceArn"] != source {
				t.Errorf("%s: key policy statement for CloudWatch %+v", stack, s)
			}
		}
		if !found {
			t.Errorf("%s: CloudWatch may not use the key, so alarms cannot publish to the encrypted topic", stack)
		}
	}
}

func TestTheTopicsSubscribersAreTheConfiguredOnes(t *testing.T) {
	if n := len(graph(t, "dev", true).ByType(tSubscription)); n != 0 {
		t.Errorf("dev configures no subscriber but has %d", n)
	}
	cfg := awsmock.Released(loadConfig(t, "prod"))
	cfg.Alarms.Notify = stackconfig.Notify{
		Emails:         []string{"oncall@example.com", "lead@example.com"},
		HTTPSEndpoints: []string{"https://hooks.example.com/shipyard"},
	}
	g, err := awsmock.RunConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range g.ByType(tSubscription) {
		if s.String("topic") != "arn:aws:sns:eu-west-1:123456789012:shipyard-prod-alarms" {
			t.Errorf("%s: topic %q", s.Name, s.String("topic"))
		}
		got = append(got, s.String("protocol")+" "+s.String("endpoint"))
	}
	sort.Strings(got)
	want := []string{"email lead@example.com", "email oncall@example.com", "https https://hooks.example.com/shipyard"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("subscriptions %v, want %v", got, want)
	}
}

func TestTheDashboardShowsEveryAlarmAndEveryMetricOfTheTable(t *testing.T) {
	for _, stack := range awsStacks {
		t.Run(stack, func(t *testing.T) {
			cfg := loadConfig(t, stack)
			g := graph(t, stack, true)
			d := pick(t, g, tDashboard, "")
			if d.String("dashboardName") != "shipyard-"+stack {
				t.Errorf("dashboard %q", d.String("dashboardName"))
			}
			want := "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards:name=shipyard-" + stack
			if g.Outputs[awsinfra.OutputDashboardURL] != want {
				t.Errorf("dashboardUrl %v, want %s", g.Outputs[awsinfra.OutputDashboardURL], want)
			}
			if g.Outputs[awsinfra.OutputAlarmTopicARN] != "arn:aws:sns:eu-west-1:123456789012:shipyard-"+stack+"-alarms" {
				t.Errorf("alarmTopicArn %v", g.Outputs[awsinfra.OutputAlarmTopicARN])
			}
			var body struct {
				Widgets []struct {
					Type                string
					X, Y, Width, Height int
					Properties          struct {
						Title       string
						Alarms      []string
						Metrics     [][]any
						Annotations struct {
							Horizontal []struct {
								Label string
								Value float64
							}
						}
					}
				}
			}
			if err := json.Unmarshal([]byte(d.String("dashboardBody")), &body); err != nil {
				t.Fatalf("body: %v", err)
			}
			var alarmArns []string
			for _, a := range g.ByType(tAlarm) {
				alarmArns = append(alarmArns, "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:"+a.String("name"))
			}
			shown := map[string]bool{}
			var widgetAlarms []string
			for _, w := range body.Widgets {
				if w.X+w.Width > 24 {
					t.Errorf("widget %q is off the grid", w.Properties.Title)
				}
				switch w.Type {
				case "alarm":
					widgetAlarms = append(widgetAlarms, w.Properties.Alarms...)
				case "metric":
					for _, line := range w.Properties.Metrics {
						ns, name := line[0].(string), line[1].(string)
						shown[ns+"/"+name] = true
						for i := 3; i < len(line)-1; i += 2 {
							if v, _ := line[i].(string); v == "" || strings.Contains(v, "unknown") {
								t.Errorf("%s/%s: dimension %v has no value", ns, name, line[i-1])
							}
						}
					}
				}
			}
			sort.Strings(alarmArns)
			sort.Strings(widgetAlarms)
			if !reflect.DeepEqual(widgetAlarms, alarmArns) {
				t.Errorf("alarm widgets show %v, want the stack's alarms %v", widgetAlarms, alarmArns)
			}
			for _, row := range signals.Table {
				for _, m := range row.Metrics {
					if !shown[m.Namespace+"/"+m.Name] {
						t.Errorf("no graph of %s/%s (%s)", m.Namespace, m.Name, row.Name)
					}
				}
			}
			thresholds := map[string]float64{}
			for _, w := range body.Widgets {
				for _, h := range w.Properties.Annotations.Horizontal {
					thresholds[strings.Fields(h.Label)[0]] = h.Value
				}
			}
			if got := thresholds["cpuHigh"]; got != 80 || len(thresholds) == 0 {
				t.Errorf("threshold lines %v, want cpuHigh's 80 among them", thresholds)
			}
			text := d.String("dashboardBody")
			for _, want := range []string{`"stat":"p50"`, `"stat":"p90"`, `"stat":"p99"`, `"label":"worker"`, fmt.Sprintf("shipyard-%s-%03d", stack, 1+cfg.Cache.Replicas)} {
				if !strings.Contains(text, want) {
					t.Errorf("the body has no %s", want)
				}
			}
		})
	}
}

func TestAStackBeforeItsFirstReleaseAlreadyHasItsAlarmsAndDashboard(t *testing.T) {
	g := graph(t, "dev", false)
	if n, want := len(g.ByType(tAlarm)), len(resolved(t, loadConfig(t, "dev"))); n != want {
		t.Errorf("%d alarms before the first release, want %d", n, want)
	}
	if len(g.ByType(tDashboard)) != 1 || g.Outputs[awsinfra.OutputDashboardURL] == "" {
		t.Errorf("no dashboard before the first release")
	}
}

// tableAlarms are the alarms of the table's rows: alarmsByName without the
// gate rows' copies on the second web target group (BlueGreen's).
func tableAlarms(g *pulumitest.Graph) map[string]pulumitest.Resource {
	out := alarmsByName(g)
	for name, a := range out {
		if strings.HasSuffix(name, awsinfra.GreenAlarmSuffix) && strings.Contains(a.URN, "shipyard:aws:BlueGreen") {
			delete(out, name)
		}
	}
	return out
}

// webRollbackAlarms are the alarms that roll a service's deployments back:
// ECS's deployment alarms, or, for a CODE_DEPLOY service, its deployment
// group's alarms (the gates' copies on the second target group left out)
// with auto-rollback on alarm.
func webRollbackAlarms(g *pulumitest.Graph, s pulumitest.Resource) ([]string, bool) {
	if s.String("deploymentController.type") != "CODE_DEPLOY" {
		return deploymentAlarms(s)
	}
	for _, dg := range g.ByType("aws:codedeploy/deploymentGroup:DeploymentGroup") {
		if dg.String("ecsService.serviceName") != s.String("name") {
			continue
		}
		var names []string
		for _, n := range inputStrings(dg, "alarmConfiguration.alarms") {
			if !strings.HasSuffix(n, awsinfra.GreenAlarmSuffix) {
				names = append(names, n)
			}
		}
		on := dg.Bool("alarmConfiguration.enabled") && dg.Bool("autoRollbackConfiguration.enabled") &&
			slices.Contains(inputStrings(dg, "autoRollbackConfiguration.events"), "DEPLOYMENT_STOP_ON_ALARM")
		return names, on
	}
	return nil, false
}
