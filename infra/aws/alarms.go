package aws

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sns"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shipyard-kit/shipyard/app/appmetrics"
	"github.com/shipyard-kit/shipyard/infra/signals"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// AlarmName is the CloudWatch name of alarm id of the stack whose
// resources are named prefix ("shipyard-<stack>").
func AlarmName(prefix, id string) string { return prefix + "-" + id }

// alarmARN is the ARN CloudWatch gives an alarm: known before it exists, so
// key and topic policies and the dashboard can name it.
func alarmARN(region, accountID, name string) string {
	return "arn:aws:cloudwatch:" + region + ":" + accountID + ":alarm:" + name
}

// Targets are the names the alarm table's scopes map to CloudWatch
// dimensions; T is pulumi.StringInput for the alarms and string for the
// dashboard, which is built once the values are known.
type Targets[T any] struct {
	// LoadBalancer and TargetGroup are ARN suffixes ("app/…", "targetgroup/…").
	LoadBalancer, TargetGroup T
	Cluster                   T
	// Services are the ECS service names by process type.
	Services map[stackconfig.Process]T
	Database T
	// CacheNodes are the replication group's cache cluster IDs
	// ("<replication group id>-001"…).
	CacheNodes []T
	// Stack and Queue are the values of the dimensions the app publishes
	// its metrics with (app/appmetrics): the stack's name and
	// appmetrics.QueueDefault.
	Stack T
	Queue T
}

// cacheNodeIDs are the cache cluster IDs ElastiCache gives the nodes of a
// replication group of n clusters.
func cacheNodeIDs(group string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%03d", group, i+1)
	}
	return out
}

// dimensionSets returns the dimensions a's metrics are read with: one set
// per Redis node for Cache alarms, else one.
func dimensionSets[T any](a signals.Instance, t Targets[T]) ([]map[string]T, error) {
	switch a.Scope {
	case signals.LoadBalancer:
		return []map[string]T{{"LoadBalancer": t.LoadBalancer}}, nil
	case signals.TargetGroup:
		return []map[string]T{{"LoadBalancer": t.LoadBalancer, "TargetGroup": t.TargetGroup}}, nil
	case signals.Service:
		svc, ok := t.Services[a.Service]
		if !ok {
			return nil, fmt.Errorf("alarm %s: no ECS service for process %q", a.ID, a.Service)
		}
		return []map[string]T{{"ClusterName": t.Cluster, "ServiceName": svc}}, nil
	case signals.Database:
		return []map[string]T{{"DBInstanceIdentifier": t.Database}}, nil
	case signals.Cache:
		if len(t.CacheNodes) == 0 {
			return nil, fmt.Errorf("alarm %s: the cache has no nodes", a.ID)
		}
		out := make([]map[string]T, len(t.CacheNodes))
		for i, n := range t.CacheNodes {
			out[i] = map[string]T{"CacheClusterId": n}
		}
		return out, nil
	case signals.Queue:
		return []map[string]T{{appmetrics.DimensionStack: t.Stack, appmetrics.DimensionQueue: t.Queue}}, nil
	case signals.Jobs:
		return []map[string]T{{appmetrics.DimensionStack: t.Stack}}, nil
	}
	return nil, fmt.Errorf("alarm %s: scope %q has no CloudWatch dimensions", a.ID, a.Scope)
}

// statistics are the stats CloudWatch alarms take as Statistic; anything
// else (p99, tm90…) is an ExtendedStatistic.
var statistics = []string{"SampleCount", "Average", "Sum", "Minimum", "Maximum"}

// comparisons maps the table's comparisons to CloudWatch's operators.
var comparisons = map[signals.Comparison]string{
	signals.Above: "GreaterThanThreshold",
	signals.Below: "LessThanThreshold",
}

// alarmValueID is the ID of the metric math query an alarm compares.
const alarmValueID = "value"

// metricQuery is one CloudWatch metric query before it becomes pulumi
// inputs: a metric (Namespace set) or an expression.
type metricQuery[T any] struct {
	ID         string
	Expression string
	Namespace  string
	Name       string
	Stat       string
	Dimensions map[string]T
	ReturnData bool
}

// metricQueries returns a's metric math: every metric once per dimension
// set (a Cache alarm reads each node, m → m1, m2… combined as
// m = MAX([m1, m2…])), then Expression over the metric IDs. It returns nil
// for a single metric on a single dimension set without an expression,
// which CloudWatch alarms on directly.
func metricQueries[T any](a signals.Instance, t Targets[T]) ([]metricQuery[T], error) {
	sets, err := dimensionSets(a, t)
	if err != nil {
		return nil, err
	}
	if len(a.Metrics) == 0 {
		return nil, fmt.Errorf("alarm %s: no metrics", a.ID)
	}
	if len(a.Metrics) > 1 && a.Expression == "" {
		return nil, fmt.Errorf("alarm %s: %d metrics need an expression", a.ID, len(a.Metrics))
	}
	if len(a.Metrics) == 1 && len(sets) == 1 && a.Expression == "" {
		return nil, nil
	}
	var out []metricQuery[T]
	for _, m := range a.Metrics {
		if len(sets) == 1 {
			out = append(out, metricQuery[T]{ID: m.ID, Namespace: m.Namespace, Name: m.Name, Stat: m.Stat, Dimensions: sets[0]})
			continue
		}
		ids := make([]string, len(sets))
		for i, d := range sets {
			ids[i] = fmt.Sprintf("%s%d", m.ID, i+1)
			out = append(out, metricQuery[T]{ID: ids[i], Namespace: m.Namespace, Name: m.Name, Stat: m.Stat, Dimensions: d})
		}
		out = append(out, metricQuery[T]{ID: m.ID, Expression: "MAX([" + strings.Join(ids, ", ") + "])"})
	}
	if a.Expression != "" {
		out = append(out, metricQuery[T]{ID: alarmValueID, Expression: a.Expression})
	}
	out[len(out)-1].ReturnData = true
	return out, nil
}

// AlarmsArgs configures the stack's alarms and their topic.
type AlarmsArgs struct {
	// Prefix names the topic and the alarms: "shipyard-<stack>".
	Prefix    string
	Region    string
	AccountID string
	// Instances are the stack's alarms (signals.Resolve).
	Instances []signals.Instance
	Targets   Targets[pulumi.StringInput]
	Notify    stackconfig.Notify
	// KMSKeyArn is the stack's customer-managed key; its policy lets
	// CloudWatch alarms named Prefix-* use it (logsKeyPolicy).
	KMSKeyArn pulumi.StringInput
}

// Alarms is the stack's SNS topic, encrypted with the stack's key, its
// subscribers, and one CloudWatch alarm per row of the alarm table.
type Alarms struct {
	pulumi.ResourceState

	TopicArn pulumi.StringOutput
	// Names are the alarms' names by instance ID.
	Names map[string]pulumi.StringOutput
}

// NewAlarms creates the topic, its policy and subscriptions, and the alarms.
func NewAlarms(ctx *pulumi.Context, name string, args AlarmsArgs, opts ...pulumi.ResourceOption) (*Alarms, error) {
	comp := &Alarms{Names: map[string]pulumi.StringOutput{}}
	if err := ctx.RegisterComponentResource(typePrefix+"Alarms", name, comp, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(comp)

	topic, err := sns.NewTopic(ctx, name+"-topic", &sns.TopicArgs{
		Name:           pulumi.String(args.Prefix + "-alarms"),
		DisplayName:    pulumi.String(args.Prefix + " alarms"),
		KmsMasterKeyId: args.KMSKeyArn,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("alarm topic: %w", err)
	}
	comp.TopicArn = topic.Arn
	if _, err := sns.NewTopicPolicy(ctx, name+"-topic-policy", &sns.TopicPolicyArgs{
		Arn: topic.Arn,
		Policy: policyJSON(func(a []string) policyDocument {
			return newPolicy(statement{
				Sid:       "CloudWatchAlarmsPublish",
				Effect:    "Allow",
				Principal: &principal{Service: []string{"cloudwatch.amazonaws.com"}},
				Action:    []string{"sns:Publish"},
				Resource:  []string{a[0]},
				Condition: alarmSourceCondition(args.Region, args.AccountID, args.Prefix),
			})
		}, topic.Arn),
	}, parent); err != nil {
		return nil, fmt.Errorf("alarm topic policy: %w", err)
	}
	subscribe := func(protocol string, endpoints []string) error {
		for _, e := range endpoints {
			sum := sha256.Sum256([]byte(e))
			if _, err := sns.NewTopicSubscription(ctx, name+"-"+protocol+"-"+hex.EncodeToString(sum[:4]), &sns.TopicSubscriptionArgs{
				Topic:    topic.Arn,
				Protocol: pulumi.String(protocol),
				Endpoint: pulumi.String(e),
			}, parent); err != nil {
				return fmt.Errorf("alarm subscription %s: %w", e, err)
			}
		}
		return nil
	}
	if err := subscribe("email", args.Notify.Emails); err != nil {
		return nil, err
	}
	if err := subscribe("https", args.Notify.HTTPSEndpoints); err != nil {
		return nil, err
	}

	actions := pulumi.Array{topic.Arn}
	for _, a := range args.Instances {
		alarm, err := newMetricAlarm(ctx, name+"-"+a.ID, args, a, actions, parent)
		if err != nil {
			return nil, err
		}
		comp.Names[a.ID] = alarm.Name
	}
	return comp, ctx.RegisterResourceOutputs(comp, pulumi.Map{"topicArn": comp.TopicArn})
}

// alarmSourceCondition limits a grant to CloudWatch acting for this
// stack's alarms (confused-deputy protection).
func alarmSourceCondition(region, accountID, prefix string) map[string]map[string]string {
	return map[string]map[string]string{
		"StringEquals": {"aws:SourceAccount": accountID},
		"ArnLike":      {"aws:SourceArn": alarmARN(region, accountID, prefix+"-*")},
	}
}

// newMetricAlarm creates one alarm of the table.
func newMetricAlarm(ctx *pulumi.Context, resourceName string, args AlarmsArgs, a signals.Instance, actions pulumi.Array, opts ...pulumi.ResourceOption) (*cloudwatch.MetricAlarm, error) {
	op, ok := comparisons[a.Comparison]
	if !ok {
		return nil, fmt.Errorf("alarm %s: comparison %q; allowed > or <", a.ID, a.Comparison)
	}
	alarmArgs := &cloudwatch.MetricAlarmArgs{
		Name:               pulumi.String(AlarmName(args.Prefix, a.ID)),
		AlarmDescription:   pulumi.String(alarmDescription(a)),
		ComparisonOperator: pulumi.String(op),
		Threshold:          pulumi.Float64(a.Threshold),
		EvaluationPeriods:  pulumi.Int(a.EvaluationPeriods),
		DatapointsToAlarm:  pulumi.Int(a.EvaluationPeriods),
		TreatMissingData:   pulumi.String(a.MissingData),
		ActionsEnabled:     pulumi.Bool(true),
		AlarmActions:       actions,
		OkActions:          actions,
		Tags:               pulumi.StringMap{"shipyard:severity": pulumi.String(string(a.Severity))},
	}
	sets, err := dimensionSets(a, args.Targets)
	if err != nil {
		return nil, err
	}
	queries, err := metricQueries(a, args.Targets)
	if err != nil {
		return nil, err
	}
	if queries == nil {
		m := a.Metrics[0]
		alarmArgs.Namespace, alarmArgs.MetricName = pulumi.String(m.Namespace), pulumi.String(m.Name)
		alarmArgs.Dimensions = stringMap(sets[0])
		alarmArgs.Period = pulumi.Int(a.PeriodSeconds)
		if slices.Contains(statistics, m.Stat) {
			alarmArgs.Statistic = pulumi.String(m.Stat)
		} else {
			alarmArgs.ExtendedStatistic = pulumi.String(m.Stat)
		}
	} else {
		var qs cloudwatch.MetricAlarmMetricQueryArray
		for _, q := range queries {
			mq := cloudwatch.MetricAlarmMetricQueryArgs{Id: pulumi.String(q.ID), ReturnData: pulumi.Bool(q.ReturnData)}
			if q.Expression != "" {
				mq.Expression = pulumi.String(q.Expression)
			} else {
				mq.Metric = cloudwatch.MetricAlarmMetricQueryMetricArgs{
					Namespace:  pulumi.String(q.Namespace),
					MetricName: pulumi.String(q.Name),
					Stat:       pulumi.String(q.Stat),
					Period:     pulumi.Int(a.PeriodSeconds),
					Dimensions: stringMap(q.Dimensions),
				}
			}
			qs = append(qs, mq)
		}
		alarmArgs.MetricQueries = qs
	}
	alarm, err := cloudwatch.NewMetricAlarm(ctx, resourceName, alarmArgs, opts...)
	if err != nil {
		return nil, fmt.Errorf("alarm %s: %w", a.ID, err)
	}
	return alarm, nil
}

func stringMap(m map[string]pulumi.StringInput) pulumi.StringMap {
	out := pulumi.StringMap{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// maxAlarmDescription is the longest description CloudWatch accepts.
const maxAlarmDescription = 1024

// alarmDescription is what a notification says: severity, title, runbook,
// cut to maxAlarmDescription characters.
func alarmDescription(a signals.Instance) string {
	d := []rune(fmt.Sprintf("[%s] %s: %s %s %g %s. %s", a.Severity, a.ID, a.Title, a.Comparison, a.Threshold, a.Unit, a.Runbook))
	if len(d) > maxAlarmDescription {
		d = append(d[:maxAlarmDescription-1], '…')
	}
	return string(d)
}
