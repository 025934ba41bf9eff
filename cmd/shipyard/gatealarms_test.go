package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shipyard-kit/shipyard/infra/signals"
)

// describedGateAlarms is `aws cloudwatch describe-alarms` for a stack's
// targetErrorRate alarms: the row's on the first target group and its copy
// on the second, as infra/aws creates them (metric math).
const describedGateAlarms = `{"MetricAlarms": [
 {"AlarmName": "shipyard-dev-targetErrorRate", "StateValue": "OK", "Threshold": 5.0, "ComparisonOperator": "GreaterThanThreshold", "EvaluationPeriods": 2,
  "Metrics": [
   {"Id": "errors", "MetricStat": {"Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": "HTTPCode_Target_5XX_Count", "Dimensions": [
     {"Name": "LoadBalancer", "Value": "app/shipyard-dev/50dc6c495c0c9188"}, {"Name": "TargetGroup", "Value": "targetgroup/shipyard-dev-web-b/73e2d6bc24d8a067"}]}, "Period": 60, "Stat": "Sum"}, "ReturnData": false},
   {"Id": "requests", "MetricStat": {"Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": "RequestCount", "Dimensions": [
     {"Name": "LoadBalancer", "Value": "app/shipyard-dev/50dc6c495c0c9188"}, {"Name": "TargetGroup", "Value": "targetgroup/shipyard-dev-web-b/73e2d6bc24d8a067"}]}, "Period": 60, "Stat": "Sum"}, "ReturnData": false},
   {"Id": "value", "Expression": "100 * FILL(errors, 0) / requests", "ReturnData": true}]},
 {"AlarmName": "shipyard-dev-targetErrorRate-green", "StateValue": "ALARM", "Threshold": 5.0, "ComparisonOperator": "GreaterThanThreshold", "EvaluationPeriods": 2,
  "Metrics": [
   {"Id": "errors", "MetricStat": {"Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": "HTTPCode_Target_5XX_Count", "Dimensions": [
     {"Name": "LoadBalancer", "Value": "app/shipyard-dev/50dc6c495c0c9188"}, {"Name": "TargetGroup", "Value": "targetgroup/shipyard-dev-web-g/0f2e8a9d1c3b4a55"}]}, "Period": 60, "Stat": "Sum"}, "ReturnData": false},
   {"Id": "requests", "MetricStat": {"Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": "RequestCount", "Dimensions": [
     {"Name": "LoadBalancer", "Value": "app/shipyard-dev/50dc6c495c0c9188"}, {"Name": "TargetGroup", "Value": "targetgroup/shipyard-dev-web-g/0f2e8a9d1c3b4a55"}]}, "Period": 60, "Stat": "Sum"}, "ReturnData": false},
   {"Id": "value", "Expression": "100 * FILL(errors, 0) / requests", "ReturnData": true}]}],
 "CompositeAlarms": []}`

func TestAGateIsReadFromItsAlarmOnTheNewTargetGroupOverItsWholeWindow(t *testing.T) {
	x := newFakeExec(map[string]answer{
		"aws cloudwatch describe-alarms --alarm-names shipyard-dev-targetErrorRate shipyard-dev-targetErrorRate-green": {out: describedGateAlarms},
		"aws cloudwatch get-metric-data": {out: `{"MetricDataResults": [
			{"Id": "value", "Label": "value", "Timestamps": ["2026-12-07T04:03:00+00:00"], "Values": [12.5], "StatusCode": "Complete"},
			{"Id": "shipyardrequests", "Label": "RequestCount", "Timestamps": ["2026-12-07T04:03:00+00:00"], "Values": [240.0], "StatusCode": "Complete"}],
			"Messages": []}`},
	})
	now := time.Date(2026, 12, 7, 4, 5, 42, 0, time.UTC)
	r := gateAlarmsCLI{aws: awsCLI{x: x.exec, region: "eu-west-1"}, now: func() time.Time { return now }}
	g := signals.Gate{Name: "targetErrorRate", Comparison: signals.Above, Threshold: 5, Unit: "%", WindowSeconds: 120}
	v, err := r.Read(context.Background(), g, []string{"shipyard-dev-targetErrorRate", "shipyard-dev-targetErrorRate-green"}, "shipyard-dev-web-g")
	if err != nil {
		t.Fatal(err)
	}
	if v.Alarm != "shipyard-dev-targetErrorRate-green" || v.State != "ALARM" || v.Value == nil || *v.Value != 12.5 || v.Requests == nil || *v.Requests != 240 {
		t.Errorf("read %+v, want the green alarm in ALARM, 12.5 over 240 requests", v)
	}
	call := x.lines()[1]
	if !strings.Contains(call, "--start-time 2026-12-07T04:03:00Z --end-time 2026-12-07T04:05:00Z") {
		t.Errorf("get-metric-data %s: want the window's last two whole minutes", call)
	}
	var queries []cwQuery
	if err := json.Unmarshal([]byte(flagValue(x.calls[1].Args, "--metric-data-queries")), &queries); err != nil {
		t.Fatal(err)
	}
	if len(queries) != 4 {
		t.Fatalf("queries %+v, want the alarm's three and the request count", queries)
	}
	for _, q := range queries {
		if q.MetricStat == nil {
			if q.ID != "value" || q.Expression != "100 * FILL(errors, 0) / requests" || !q.ReturnData {
				t.Errorf("the value query %+v, want the alarm's expression", q)
			}
			continue
		}
		if q.MetricStat.Period != 120 {
			t.Errorf("query %s: period %d, want the gate's whole window, 120", q.ID, q.MetricStat.Period)
		}
		if d := q.MetricStat.Metric.Dimensions; len(d) != 2 || d[1].Value != "targetgroup/shipyard-dev-web-g/0f2e8a9d1c3b4a55" {
			t.Errorf("query %s reads %+v, want the green target group", q.ID, d)
		}
		if q.ReturnData != (q.ID == gateRequestsID) {
			t.Errorf("query %s returns data: %v", q.ID, q.ReturnData)
		}
	}
}

func TestAGateWithoutDatapointsHasNoValueAndALatencyGateReadsItsStatistic(t *testing.T) {
	x := newFakeExec(map[string]answer{
		"aws cloudwatch describe-alarms": {out: `{"MetricAlarms": [{"AlarmName": "shipyard-dev-targetLatencyP99-green", "StateValue": "INSUFFICIENT_DATA",
			"Namespace": "AWS/ApplicationELB", "MetricName": "TargetResponseTime", "ExtendedStatistic": "p99", "Period": 60,
			"Dimensions": [{"Name": "TargetGroup", "Value": "targetgroup/shipyard-dev-web-g/0f2e8a9d1c3b4a55"}, {"Name": "LoadBalancer", "Value": "app/shipyard-dev/50dc6c495c0c9188"}]}]}`},
		"aws cloudwatch get-metric-data": {out: `{"MetricDataResults": [{"Id": "shipyardgate", "Timestamps": [], "Values": [], "StatusCode": "Complete"},
			{"Id": "shipyardrequests", "Timestamps": [], "Values": [], "StatusCode": "Complete"}]}`},
	})
	r := gateAlarmsCLI{aws: awsCLI{x: x.exec, region: "eu-west-1"}, now: time.Now}
	g := signals.Gate{Name: "targetLatencyP99", Comparison: signals.Above, Threshold: 1, Unit: "seconds", WindowSeconds: 180}
	v, err := r.Read(context.Background(), g, []string{"shipyard-dev-targetLatencyP99", "shipyard-dev-targetLatencyP99-green"}, "shipyard-dev-web-g")
	if err != nil {
		t.Fatal(err)
	}
	if v.Value != nil || v.Requests != nil || v.State != "INSUFFICIENT_DATA" {
		t.Errorf("read %+v, want no value and no request count", v)
	}
	var queries []cwQuery
	if err := json.Unmarshal([]byte(flagValue(x.calls[1].Args, "--metric-data-queries")), &queries); err != nil {
		t.Fatal(err)
	}
	if len(queries) != 2 || queries[0].MetricStat.Stat != "p99" || queries[0].MetricStat.Period != 180 || queries[0].MetricStat.Metric.MetricName != "TargetResponseTime" ||
		queries[1].MetricStat.Metric.MetricName != "RequestCount" || len(queries[1].MetricStat.Metric.Dimensions) != 2 {
		t.Errorf("queries %+v", queries)
	}
}

func TestAGateWhoseAlarmsWatchAnotherTargetGroupIsAnError(t *testing.T) {
	x := newFakeExec(map[string]answer{"aws cloudwatch describe-alarms": {out: describedGateAlarms}})
	r := gateAlarmsCLI{aws: awsCLI{x: x.exec, region: "eu-west-1"}, now: time.Now}
	_, err := r.Read(context.Background(), signals.Gate{Name: "targetErrorRate", WindowSeconds: 120}, []string{"a", "b"}, "shipyard-dev-web-x")
	if err == nil || !strings.Contains(err.Error(), "target group shipyard-dev-web-x") {
		t.Errorf("error %v", err)
	}
}
