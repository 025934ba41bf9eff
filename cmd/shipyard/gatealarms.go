package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/shipyard-kit/shipyard/infra/signals"
	"github.com/shipyard-kit/shipyard/internal/release"
)

// gateAlarmsCLI implements release.GateAlarms with the AWS CLI: `aws
// cloudwatch describe-alarms` for the gate's alarms, then `aws cloudwatch
// get-metric-data` with the chosen alarm's own metrics over the gate's
// whole window, as one datapoint.
type gateAlarmsCLI struct {
	aws awsCLI
	now func() time.Time
}

// cwDimension, cwMetric and cwQuery are CloudWatch's shapes, as
// describe-alarms prints them and get-metric-data takes them.
type cwDimension struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
}

type cwMetric struct {
	Namespace  string        `json:"Namespace"`
	MetricName string        `json:"MetricName"`
	Dimensions []cwDimension `json:"Dimensions"`
}

type cwMetricStat struct {
	Metric cwMetric `json:"Metric"`
	Period int      `json:"Period"`
	Stat   string   `json:"Stat"`
}

type cwQuery struct {
	ID         string        `json:"Id"`
	Expression string        `json:"Expression,omitempty"`
	MetricStat *cwMetricStat `json:"MetricStat,omitempty"`
	ReturnData bool          `json:"ReturnData"`
}

type cwAlarm struct {
	AlarmName         string        `json:"AlarmName"`
	StateValue        string        `json:"StateValue"`
	Namespace         string        `json:"Namespace"`
	MetricName        string        `json:"MetricName"`
	Dimensions        []cwDimension `json:"Dimensions"`
	Statistic         string        `json:"Statistic"`
	ExtendedStatistic string        `json:"ExtendedStatistic"`
	Metrics           []cwQuery     `json:"Metrics"`
}

// The IDs of the queries Read adds: the value of a single-metric alarm
// and the request count (an alarm's own IDs are short names such as
// errors and requests).
const (
	gateValueID    = "shipyardgate"
	gateRequestsID = "shipyardrequests"
)

// Read implements release.GateAlarms.
func (c gateAlarmsCLI) Read(ctx context.Context, gate signals.Gate, names []string, targetGroup string) (release.GateValue, error) {
	var described struct {
		MetricAlarms []cwAlarm `json:"MetricAlarms"`
	}
	if err := c.aws.json(ctx, &described, append([]string{"cloudwatch", "describe-alarms", "--alarm-names"}, names...)...); err != nil {
		return release.GateValue{}, err
	}
	var alarm *cwAlarm
	var dims []cwDimension
	for i := range described.MetricAlarms {
		if d := targetGroupDimensions(described.MetricAlarms[i], targetGroup); d != nil {
			alarm, dims = &described.MetricAlarms[i], d
			break
		}
	}
	if alarm == nil {
		return release.GateValue{}, fmt.Errorf("none of the alarms %s watches target group %s (run `make up` to create them)", strings.Join(names, ", "), targetGroup)
	}
	window := gate.WindowSeconds
	queries, valueID, err := gateQueries(*alarm, window)
	if err != nil {
		return release.GateValue{}, fmt.Errorf("alarm %s: %w", alarm.AlarmName, err)
	}
	queries = append(queries, cwQuery{ID: gateRequestsID, ReturnData: true, MetricStat: &cwMetricStat{
		Metric: cwMetric{Namespace: "AWS/ApplicationELB", MetricName: "RequestCount", Dimensions: dims}, Period: window, Stat: "Sum"}})
	q, err := json.Marshal(queries)
	if err != nil {
		return release.GateValue{}, err
	}
	// Whole minutes: the load balancer's metrics have one-minute
	// resolution, and the minute in progress is incomplete.
	end := c.now().UTC().Truncate(time.Minute)
	start := end.Add(-time.Duration(window) * time.Second)
	var data struct {
		MetricDataResults []struct {
			ID     string    `json:"Id"`
			Values []float64 `json:"Values"`
		} `json:"MetricDataResults"`
	}
	if err := c.aws.json(ctx, &data, "cloudwatch", "get-metric-data", "--metric-data-queries", string(q),
		"--start-time", start.Format(time.RFC3339), "--end-time", end.Format(time.RFC3339), "--scan-by", "TimestampDescending"); err != nil {
		return release.GateValue{}, err
	}
	v := release.GateValue{Alarm: alarm.AlarmName, State: alarm.StateValue}
	for _, r := range data.MetricDataResults {
		if len(r.Values) == 0 {
			continue
		}
		x := r.Values[0]
		switch r.ID {
		case gateRequestsID:
			v.Requests = &x
		case valueID:
			v.Value = &x
		}
	}
	return v, nil
}

// targetGroupDimensions returns the LoadBalancer and TargetGroup
// dimensions of an alarm that watches targetGroup (its TargetGroup
// dimension is "targetgroup/<name>/<id>"), or nil.
func targetGroupDimensions(a cwAlarm, targetGroup string) []cwDimension {
	sets := [][]cwDimension{a.Dimensions}
	for _, m := range a.Metrics {
		if m.MetricStat != nil {
			sets = append(sets, m.MetricStat.Metric.Dimensions)
		}
	}
	for _, set := range sets {
		var out []cwDimension
		watches := false
		for _, d := range set {
			switch d.Name {
			case "TargetGroup":
				watches = strings.HasPrefix(d.Value, "targetgroup/"+targetGroup+"/")
				out = append(out, d)
			case "LoadBalancer":
				out = append(out, d)
			}
		}
		if watches {
			return out
		}
	}
	return nil
}

// gateQueries are an alarm's metrics with a period of the whole window,
// and the ID of the one it compares with its threshold.
func gateQueries(a cwAlarm, window int) ([]cwQuery, string, error) {
	if len(a.Metrics) == 0 {
		stat := a.Statistic
		if stat == "" {
			stat = a.ExtendedStatistic
		}
		if a.MetricName == "" || stat == "" {
			return nil, "", fmt.Errorf("no metric to read")
		}
		return []cwQuery{{ID: gateValueID, ReturnData: true, MetricStat: &cwMetricStat{
			Metric: cwMetric{Namespace: a.Namespace, MetricName: a.MetricName, Dimensions: a.Dimensions}, Period: window, Stat: stat}}}, gateValueID, nil
	}
	// Metric math: the query that returns data is the value; the others
	// only feed it.
	var out []cwQuery
	value := ""
	for _, m := range a.Metrics {
		q := m
		if q.MetricStat != nil {
			ms := *q.MetricStat
			ms.Period = window
			q.MetricStat = &ms
		}
		if q.ReturnData {
			value = q.ID
		}
		out = append(out, q)
	}
	if value == "" {
		return nil, "", fmt.Errorf("none of its metrics returns data")
	}
	return out, value, nil
}
