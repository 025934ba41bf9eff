package aws

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shipyard-kit/shipyard/app/appmetrics"
	"github.com/shipyard-kit/shipyard/infra/signals"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// DashboardURL is the console address of a CloudWatch dashboard.
func DashboardURL(region, name string) string {
	return "https://" + region + ".console.aws.amazon.com/cloudwatch/home?region=" + region + "#dashboards:name=" + name
}

// DashboardArgs configures the stack's dashboard.
type DashboardArgs struct {
	// Name is the dashboard's name: "shipyard-<stack>".
	Name      string
	Region    string
	AccountID string
	// Prefix names the alarms (AlarmName).
	Prefix    string
	Instances []signals.Instance
	Targets   Targets[pulumi.StringInput]
	// MoreAlarmIDs are alarms made outside the table's rows (the gate
	// alarms on the second web target group, "<row>-green").
	MoreAlarmIDs []string
}

// Dashboard is the stack's CloudWatch dashboard: the alarms' states, then
// every metric of the alarm table, by what it watches.
type Dashboard struct {
	pulumi.ResourceState

	Name pulumi.StringOutput
	URL  pulumi.StringOutput
}

// NewDashboard creates the dashboard; its body is marshalled once the
// load balancer's ARN suffixes and the other names are known.
func NewDashboard(ctx *pulumi.Context, name string, args DashboardArgs, opts ...pulumi.ResourceOption) (*Dashboard, error) {
	comp := &Dashboard{}
	if err := ctx.RegisterComponentResource(typePrefix+"Dashboard", name, comp, opts...); err != nil {
		return nil, err
	}
	t := args.Targets
	ins := []interface{}{t.LoadBalancer, t.TargetGroup, t.Cluster, t.Database, t.Stack, t.Queue}
	for _, p := range stackconfig.Processes {
		ins = append(ins, t.Services[p])
	}
	for _, n := range t.CacheNodes {
		ins = append(ins, n)
	}
	body := pulumi.All(ins...).ApplyT(func(vs []interface{}) (string, error) {
		s := make([]string, len(vs))
		for i, v := range vs {
			str, ok := v.(string)
			if !ok {
				return "", fmt.Errorf("dashboard input %d: %T is not a string", i, v)
			}
			s[i] = str
		}
		known := Targets[string]{
			LoadBalancer: s[0], TargetGroup: s[1], Cluster: s[2], Database: s[3], Stack: s[4], Queue: s[5],
			Services: map[stackconfig.Process]string{},
		}
		for i, p := range stackconfig.Processes {
			known.Services[p] = s[6+i]
		}
		known.CacheNodes = s[6+len(stackconfig.Processes):]
		return dashboardBody(args, known)
	}).(pulumi.StringOutput)
	d, err := cloudwatch.NewDashboard(ctx, name+"-dashboard", &cloudwatch.DashboardArgs{
		DashboardName: pulumi.String(args.Name),
		DashboardBody: body,
	}, pulumi.Parent(comp))
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	comp.Name = d.DashboardName
	comp.URL = d.DashboardName.ApplyT(func(n string) string { return DashboardURL(args.Region, n) }).(pulumi.StringOutput)
	return comp, ctx.RegisterResourceOutputs(comp, pulumi.Map{"name": comp.Name, "url": comp.URL})
}

// The dashboard body (CloudWatch's dashboard body structure).
type dashboardDoc struct {
	Widgets []widget `json:"widgets"`
}

type widget struct {
	Type       string `json:"type"`
	X          int    `json:"x"`
	Y          int    `json:"y"`
	Width      int    `json:"width"`
	Height     int    `json:"height"`
	Properties any    `json:"properties"`
}

type textWidget struct {
	Markdown string `json:"markdown"`
}

type alarmWidget struct {
	Title  string   `json:"title"`
	Alarms []string `json:"alarms"`
	SortBy string   `json:"sortBy"`
}

type metricWidget struct {
	Title       string       `json:"title"`
	Region      string       `json:"region"`
	View        string       `json:"view"`
	Stacked     bool         `json:"stacked"`
	Period      int          `json:"period"`
	Metrics     []metricLine `json:"metrics"`
	Annotations *annotations `json:"annotations,omitempty"`
}

// annotations draw an alarm's threshold across a graph of its metric.
type annotations struct {
	Horizontal []horizontalAnnotation `json:"horizontal"`
}

type horizontalAnnotation struct {
	Label string  `json:"label"`
	Value float64 `json:"value"`
}

// metricLine is one line of a metric widget, which CloudWatch writes as
// [namespace, name, dimension, value, …, {options}].
type metricLine struct {
	Namespace  string
	Name       string
	Dimensions [][2]string
	Options    lineOptions
}

type lineOptions struct {
	Stat  string `json:"stat"`
	Label string `json:"label,omitempty"`
}

func (l metricLine) MarshalJSON() ([]byte, error) {
	arr := []any{l.Namespace, l.Name}
	for _, d := range l.Dimensions {
		arr = append(arr, d[0], d[1])
	}
	return json.Marshal(append(arr, l.Options))
}

// dashboardSections group the table's scopes under a heading, in the order
// an operator reads them: traffic, then the services, then what they use.
var dashboardSections = []struct {
	Title  string
	Scopes []signals.Scope
}{
	{"Traffic: requests, 5xx and latency at the load balancer", []signals.Scope{signals.TargetGroup, signals.LoadBalancer}},
	{"Services: CPU, memory and tasks per process type", []signals.Scope{signals.Service}},
	{"Job queue and scheduled jobs", []signals.Scope{signals.Queue, signals.Jobs}},
	{"Database", []signals.Scope{signals.Database}},
	{"Cache (Redis), per node", []signals.Scope{signals.Cache}},
}

const (
	widgetWidth  = 8
	widgetHeight = 6
	gridWidth    = 24
)

// dashboardBody lays out the alarms' states and one graph per metric the
// table reads: per process type for services, per node for Redis,
// percentiles p50, p90 and p99 for a percentile.
func dashboardBody(args DashboardArgs, t Targets[string]) (string, error) {
	var ws []widget
	y := 0
	var arns []string
	for _, a := range args.Instances {
		arns = append(arns, alarmARN(args.Region, args.AccountID, AlarmName(args.Prefix, a.ID)))
	}
	for _, id := range args.MoreAlarmIDs {
		arns = append(arns, alarmARN(args.Region, args.AccountID, AlarmName(args.Prefix, id)))
	}
	alarmRows := 2 + (len(arns)+2)/3
	ws = append(ws, widget{Type: "alarm", X: 0, Y: y, Width: gridWidth, Height: alarmRows,
		Properties: alarmWidget{Title: "Alarms (docs/operations.md: Alarms, rollbacks and the dashboard)", Alarms: arns, SortBy: "stateUpdatedTimestamp"}})
	y += alarmRows
	for _, sec := range dashboardSections {
		graphs, err := sectionGraphs(args.Region, sec.Scopes, t, args.Instances)
		if err != nil {
			return "", err
		}
		if len(graphs) == 0 {
			continue
		}
		ws = append(ws, widget{Type: "text", X: 0, Y: y, Width: gridWidth, Height: 1, Properties: textWidget{Markdown: "## " + sec.Title}})
		y++
		for i, g := range graphs {
			ws = append(ws, widget{Type: "metric", X: (i % 3) * widgetWidth, Y: y + (i/3)*widgetHeight, Width: widgetWidth, Height: widgetHeight, Properties: g})
		}
		y += ((len(graphs) + 2) / 3) * widgetHeight
	}
	// Not HTML-escaped: the body is read in the console, where "\u003e"
	// would stand for the thresholds' ">".
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(dashboardDoc{Widgets: ws}); err != nil {
		return "", fmt.Errorf("marshal dashboard: %w", err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// sectionGraphs returns a graph per distinct metric of the table's rows of
// scopes, read with the first such row's dimensions. A row that alarms on
// its one metric as is (no expression) draws its threshold, as the stack
// resolved it, across the graph.
func sectionGraphs(region string, scopes []signals.Scope, t Targets[string], instances []signals.Instance) ([]metricWidget, error) {
	var out []metricWidget
	seen := map[string]bool{}
	for _, scope := range scopes {
		for _, row := range signals.Table {
			if row.Scope != scope {
				continue
			}
			for _, m := range row.Metrics {
				key := m.Namespace + "/" + m.Name
				if seen[key] {
					continue
				}
				seen[key] = true
				lines, err := graphLines(row, m, t)
				if err != nil {
					return nil, err
				}
				w := metricWidget{
					Title:  fmt.Sprintf("%s (%s, %ds)", m.Name, m.Stat, row.PeriodSeconds),
					Region: region, View: "timeSeries", Period: row.PeriodSeconds, Metrics: lines,
				}
				if len(row.Metrics) == 1 && row.Expression == "" {
					for _, in := range instances {
						if in.Name == row.Name {
							w.Annotations = &annotations{Horizontal: []horizontalAnnotation{{
								Label: fmt.Sprintf("%s %s %g", in.Name, in.Comparison, in.Threshold), Value: in.Threshold,
							}}}
							break
						}
					}
				}
				out = append(out, w)
			}
		}
	}
	return out, nil
}

// graphLines are the lines of metric m of row: one per process type or
// node, and p50, p90 and p99 for a percentile.
func graphLines(row signals.Alarm, m signals.Metric, t Targets[string]) ([]metricLine, error) {
	type set struct {
		label string
		dims  map[string]string
	}
	var sets []set
	if row.Scope == signals.Service {
		for _, p := range row.Services {
			ds, err := dimensionSets(signals.Instance{Alarm: row, ID: row.Name, Service: p}, t)
			if err != nil {
				return nil, err
			}
			sets = append(sets, set{string(p), ds[0]})
		}
	} else {
		ds, err := dimensionSets(signals.Instance{Alarm: row, ID: row.Name}, t)
		if err != nil {
			return nil, err
		}
		for i, d := range ds {
			label := ""
			if len(ds) > 1 {
				label = t.CacheNodes[i]
			}
			sets = append(sets, set{label, d})
		}
	}
	stats := []string{m.Stat}
	if strings.HasPrefix(m.Stat, "p") {
		stats = []string{"p50", "p90", "p99"}
	}
	var out []metricLine
	for _, s := range sets {
		for _, st := range stats {
			label := s.label
			if len(stats) > 1 {
				label = strings.TrimSpace(label + " " + st)
			}
			out = append(out, metricLine{Namespace: m.Namespace, Name: m.Name, Dimensions: sortedDims(s.dims), Options: lineOptions{Stat: st, Label: label}})
		}
	}
	return out, nil
}

// sortedDims orders dimensions as CloudWatch's console writes them for the
// scopes of the table: LoadBalancer before TargetGroup, ClusterName before
// ServiceName, Stack before Queue.
func sortedDims(d map[string]string) [][2]string {
	order := []string{"LoadBalancer", "TargetGroup", "ClusterName", "ServiceName", "DBInstanceIdentifier", "CacheClusterId", appmetrics.DimensionStack, appmetrics.DimensionQueue}
	var out [][2]string
	for _, k := range order {
		if v, ok := d[k]; ok {
			out = append(out, [2]string{k, v})
		}
	}
	return out
}
