package cost

import (
	"errors"
	"fmt"
	"math"

	"github.com/shipyard-kit/shipyard/infra/signals"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// What NewStack (infra/aws) creates besides what the config counts. A
// test runs NewStack under mocks for every aws stack and checks each count
// against the resources it records.
const (
	// interfaceEndpoints is len(infra/aws.InterfaceEndpointServices): one
	// interface endpoint per service, one network interface per zone.
	interfaceEndpoints = 5
	// wafRules are the web ACL's rules: the IP reputation list, the per-IP
	// rate limit and infra/aws.WAFManagedRuleGroups (two).
	wafRules = 4
	// kmsKeys is the stack's one customer-managed key (logs, secrets,
	// Performance Insights, the alarm topic).
	kmsKeys = 1
	// dashboards is the stack's CloudWatch dashboard.
	dashboards = 1
	// fixedSecrets are the RDS-managed master password and the Redis AUTH
	// token; app.secrets add one each.
	fixedSecrets = 2
	// insightsFreeDays is Performance Insights' free retention.
	insightsFreeDays = 7
	// daysPerMonth turns retention days into months (365/12).
	daysPerMonth = 365.0 / 12
)

// Line kinds: baseline lines cost the same whatever the traffic; usage
// lines depend on the usage assumptions (config cost.usage).
const (
	Baseline = "baseline"
	Usage    = "usage"
)

// Line is one priced item of a stack.
type Line struct {
	// ID identifies the line across two estimates (Compare).
	ID   string `json:"id"`
	Name string `json:"name"`
	// Detail says how the quantity was counted ("3 tasks × 1 vCPU").
	Detail string `json:"detail,omitempty"`
	Kind   string `json:"kind"`
	// Quantity and Monthly are nil for usage the config does not state
	// (cost.usage): the line then shows only its unit price.
	Quantity  *float64 `json:"quantity"`
	Unit      string   `json:"unit"`
	UnitPrice float64  `json:"unitPrice"`
	// PriceKey, PriceDate and PriceSource name the table's price.
	PriceKey    string   `json:"priceKey"`
	PriceDate   string   `json:"priceDate"`
	PriceSource string   `json:"priceSource"`
	Monthly     *float64 `json:"monthly"`
	// UsageField is the cost.usage field a usage line reads.
	UsageField string `json:"usageField,omitempty"`
	// MinMonthly and MaxMonthly are the line at the services' minCount and
	// maxCount (Fargate lines; otherwise Monthly).
	MinMonthly *float64 `json:"minMonthly,omitempty"`
	MaxMonthly *float64 `json:"maxMonthly,omitempty"`
}

// Range is the stack's total at the autoscaling bounds.
type Range struct {
	Min     float64 `json:"min"`
	Desired float64 `json:"desired"`
	Max     float64 `json:"max"`
}

// Estimate is a stack's monthly cost.
type Estimate struct {
	Stack  string `json:"stack"`
	Region string `json:"region"`
	// Total is Baseline plus the usage lines whose usage is stated, USD a
	// month.
	Total     float64 `json:"total"`
	Baseline  float64 `json:"baseline"`
	Usage     float64 `json:"usage"`
	Currency  string  `json:"currency"`
	PriceDate string  `json:"priceDate"`
	PriceFile string  `json:"priceFile"`
	// Unpriced lists the usage lines left out of the total because their
	// usage is unknown (their unit price is on the line).
	Unpriced []string `json:"unpriced"`
	Range    Range    `json:"range"`
	// PreviewOf is a PR environment's base stack; Hourly its total an
	// hour (Total over the table's hours a month).
	PreviewOf string  `json:"previewOf,omitempty"`
	Hourly    float64 `json:"hourly,omitempty"`
	Lines     []Line  `json:"lines"`
}

// ErrNotAWS is Estimate's error for a stack of another target.
var ErrNotAWS = errors.New("only aws stacks cost money")

// Estimate prices cfg, an aws stack, with the table's prices of its
// region: one line per priced item, as NewStack creates them (every
// process type's service as if released).
func (t *Table) Estimate(cfg *stackconfig.Config) (*Estimate, error) {
	if cfg.Target != stackconfig.TargetAWS {
		return nil, fmt.Errorf("stack %s has target %q: %w (a docker stack runs on your machine)", cfg.Stack, cfg.Target, ErrNotAWS)
	}
	if cfg.IsPreview() {
		return t.estimatePreview(cfg)
	}
	e := &estimator{t: t, cfg: cfg, region: cfg.AWS.Region, hours: t.HoursPerMonth}
	e.fargate()
	e.database()
	e.cache()
	e.loadBalancer()
	e.network()
	e.monitoring()
	e.keysAndSecrets()
	if len(e.errs) > 0 {
		return nil, joinErrs(e.errs)
	}
	return e.estimate(), nil
}

// estimate totals the lines.
func (e *estimator) estimate() *Estimate {
	t, cfg := e.t, e.cfg
	out := &Estimate{Stack: cfg.Stack, Region: e.region, Currency: t.Currency, PriceDate: t.Date, PriceFile: PricesFile, Lines: e.lines, Unpriced: []string{}}
	var lo, hi float64
	for _, l := range e.lines {
		if l.Monthly == nil {
			out.Unpriced = append(out.Unpriced, l.Name)
			continue
		}
		if l.Kind == Baseline {
			out.Baseline += *l.Monthly
		} else {
			out.Usage += *l.Monthly
		}
		lo += deref(l.MinMonthly, *l.Monthly)
		hi += deref(l.MaxMonthly, *l.Monthly)
	}
	out.Baseline, out.Usage = round(out.Baseline), round(out.Usage)
	out.Total = round(out.Baseline + out.Usage)
	out.Range = Range{Min: round(lo), Desired: out.Total, Max: round(hi)}
	return out
}

type estimator struct {
	t      *Table
	cfg    *stackconfig.Config
	region string
	hours  float64
	lines  []Line
	errs   []error
}

func (e *estimator) price(key, field string) (Price, bool) {
	p, err := e.t.lookup(e.region, key, field)
	if err != nil {
		e.errs = append(e.errs, err)
		return Price{}, false
	}
	return p, true
}

// add adds a baseline line of quantity units.
func (e *estimator) add(id, name, detail, key, field string, quantity float64) *Line {
	p, ok := e.price(key, field)
	if !ok {
		return nil
	}
	m := round(quantity * p.USD)
	q := round(quantity)
	e.lines = append(e.lines, Line{ID: id, Name: name, Detail: detail, Kind: Baseline, Quantity: &q, Unit: p.Unit,
		UnitPrice: p.USD, PriceKey: key, PriceDate: p.Date, PriceSource: p.Source, Monthly: &m})
	return &e.lines[len(e.lines)-1]
}

// addUsage adds a usage line: quantity is usage (nil when the config does
// not state it) times per.
func (e *estimator) addUsage(id, name, detail, key, field string, usage *float64, per float64) {
	p, ok := e.price(key, "cost.usage."+field)
	if !ok {
		return
	}
	l := Line{ID: id, Name: name, Detail: detail, Kind: Usage, Unit: p.Unit, UnitPrice: p.USD, PriceKey: key,
		PriceDate: p.Date, PriceSource: p.Source, UsageField: "cost.usage." + field}
	if usage != nil {
		q := round(*usage * per)
		m := round(*usage * per * p.USD)
		l.Quantity, l.Monthly = &q, &m
	}
	e.lines = append(e.lines, l)
}

func (e *estimator) fargate() {
	for _, p := range stackconfig.Processes {
		s := e.cfg.Services.Get(p)
		desired, lo, hi := s.DesiredCount, s.MinCount, s.MaxCount
		if p == stackconfig.Clock {
			desired, lo, hi = 1, 1, 1 // the clock is always exactly one task
		}
		vcpu, gb := float64(s.CPU)/1024, float64(s.Memory)/1024
		field := "services." + string(p)
		for _, dim := range []struct {
			id, name, key string
			per           float64
			unit          string
		}{
			{"vcpu", "vCPU", KeyFargateVCPU, vcpu, "vCPU"},
			{"memory", "memory", KeyFargateGB, gb, "GB"},
		} {
			l := e.add("fargate/"+string(p)+"/"+dim.id, fmt.Sprintf("Fargate %s %s", p, dim.name),
				fmt.Sprintf("%d tasks × %g %s × %g h", desired, dim.per, dim.unit, e.hours), dim.key, field+".cpu", float64(desired)*dim.per*e.hours)
			if l == nil {
				continue
			}
			mn, mx := round(float64(lo)*dim.per*e.hours*l.UnitPrice), round(float64(hi)*dim.per*e.hours*l.UnitPrice)
			l.MinMonthly, l.MaxMonthly = &mn, &mx
		}
	}
}

func (e *estimator) database() {
	db := e.cfg.Database
	deployment := "single-AZ"
	if db.MultiAZ {
		deployment = "multi-AZ: primary and standby"
	}
	key := RDSInstanceKey(db.InstanceClass, db.MultiAZ)
	inst := e.add("rds/instance", "RDS "+db.InstanceClass, fmt.Sprintf("PostgreSQL, %s, %g h", deployment, e.hours), key, "database.instanceClass", e.hours)
	storage := storageSingleAZ
	if db.MultiAZ {
		storage = storageMultiAZ
	}
	e.add("rds/storage", "RDS storage (gp3)", fmt.Sprintf("%d GB allocated, %s", db.AllocatedStorageGB, deployment), storage, "database.allocatedStorageGb", float64(db.AllocatedStorageGB))
	if !db.PerformanceInsights || inst == nil {
		return
	}
	vcpus := e.t.Regions[e.region][key].VCPU
	if db.PerformanceInsightsRetentionDays <= insightsFreeDays {
		e.add("rds/insights", "Performance Insights", fmt.Sprintf("%d days retention: free tier", db.PerformanceInsightsRetentionDays), KeyRDSInsights, "database.performanceInsightsRetentionDays", 0)
		return
	}
	e.add("rds/insights", "Performance Insights", fmt.Sprintf("%d days retention, beyond the free %d: %d vCPUs × %g h", db.PerformanceInsightsRetentionDays, insightsFreeDays, vcpus, e.hours),
		KeyRDSInsights, "database.performanceInsightsRetentionDays", float64(vcpus)*e.hours)
}

func (e *estimator) cache() {
	c := e.cfg.Cache
	nodes := 1 + c.Replicas
	e.add("elasticache/nodes", "ElastiCache "+c.NodeType, fmt.Sprintf("%d nodes (primary and %d replicas) × %g h", nodes, c.Replicas, e.hours),
		CacheNodeKey(c.NodeType), "cache.nodeType", float64(nodes)*e.hours)
}

func (e *estimator) loadBalancer() {
	u := e.cfg.Cost.Usage
	e.add("alb/hours", "ALB", fmt.Sprintf("%g h", e.hours), KeyALBHour, "loadBalancer", e.hours)
	e.addUsage("alb/lcu", "ALB LCUs", fmt.Sprintf("average LCUs × %g h", e.hours), KeyALBLCU, "albLcus", u.ALBLCUs, e.hours)
	if w := e.cfg.LoadBalancer.WAF; w.Enabled {
		e.add("waf/acl", "WAF web ACL", "1 web ACL", KeyWAFACL, "loadBalancer.waf.enabled", 1)
		e.add("waf/rules", "WAF rules", fmt.Sprintf("%d rules: IP reputation, rate limit, 2 managed groups", wafRules), KeyWAFRule, "loadBalancer.waf.enabled", wafRules)
		e.addUsage("waf/requests", "WAF requests", "millions of requests", KeyWAFRequests, "wafRequestsMillions", u.WAFRequestsMillions, 1)
	}
}

func (e *estimator) network() {
	n := e.cfg.Network
	u := e.cfg.Cost.Usage
	nats := 1
	if n.NATGateways == stackconfig.NATPerAZ {
		nats = n.AZCount
	}
	e.add("nat/hours", "NAT gateways", fmt.Sprintf("%d gateways (%s) × %g h", nats, n.NATGateways, e.hours), KeyNATHour, "network.natGateways", float64(nats)*e.hours)
	e.addUsage("nat/data", "NAT data processed", "GB a month", KeyNATData, "natDataGb", u.NATDataGB, 1)
	// Every public IPv4 address is billed: the NAT gateways' Elastic IPs
	// and one per zone for the internet-facing ALB.
	ips := nats + n.AZCount
	e.add("vpc/ipv4", "Public IPv4 addresses", fmt.Sprintf("%d (%d NAT, %d ALB) × %g h", ips, nats, n.AZCount, e.hours), KeyPublicIPv4, "network.azCount", float64(ips)*e.hours)
	if n.VPCEndpoints {
		eni := interfaceEndpoints * n.AZCount
		e.add("vpce/hours", "VPC interface endpoints", fmt.Sprintf("%d endpoints × %d zones × %g h", interfaceEndpoints, n.AZCount, e.hours), KeyEndpointHour, "network.vpcEndpoints", float64(eni)*e.hours)
		e.addUsage("vpce/data", "VPC endpoint data processed", "GB a month", KeyEndpointData, "vpcEndpointDataGb", u.VPCEndpointDataGB, 1)
	}
}

func (e *estimator) monitoring() {
	alarms, err := StackAlarms(e.cfg)
	if err != nil {
		e.errs = append(e.errs, err)
		return
	}
	metrics := AlarmMetrics(alarms, 1+e.cfg.Cache.Replicas)
	e.add("cloudwatch/alarms", "CloudWatch alarms", fmt.Sprintf("%d alarms reading %d metrics (infra/signals)", len(alarms), metrics), KeyAlarmMetric, "alarms", float64(metrics))
	e.add("cloudwatch/dashboards", "CloudWatch dashboard", "1 dashboard", KeyDashboard, "alarms", dashboards)
	u := e.cfg.Cost.Usage
	e.addUsage("cloudwatch/logs-ingest", "CloudWatch Logs ingestion", "GB a month", KeyLogsIngest, "logsIngestedGb", u.LogsIngestedGB, 1)
	months := float64(e.cfg.Logging.RetentionDays) / daysPerMonth
	e.addUsage("cloudwatch/logs-storage", "CloudWatch Logs storage",
		fmt.Sprintf("GB a month × %d days retention (%.1f months kept, before compression)", e.cfg.Logging.RetentionDays, months),
		KeyLogsStorage, "logsIngestedGb", u.LogsIngestedGB, months)
}

// StackAlarms are the CloudWatch alarms an aws stack creates: the alarm
// table's rows (infra/signals), and with a progressive deploy.strategy a
// copy of each gate's alarm on the second (CodeDeploy) target group
// (infra/aws.NewBlueGreen).
func StackAlarms(cfg *stackconfig.Config) ([]signals.Instance, error) {
	alarms, err := signals.Resolve(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Deploy.Progressive() {
		for _, name := range cfg.Deploy.Gates {
			for _, a := range alarms {
				if a.Name == name && a.Gate != "" {
					alarms = append(alarms, a)
					break
				}
			}
		}
	}
	return alarms, nil
}

// AlarmMetrics is how many metrics CloudWatch bills the stack's alarms
// for: every metric of every alarm, once per Redis node for cache alarms
// (infra/aws reads each node).
func AlarmMetrics(alarms []signals.Instance, cacheNodes int) int {
	n := 0
	for _, a := range alarms {
		per := 1
		if a.Scope == signals.Cache {
			per = cacheNodes
		}
		n += len(a.Metrics) * per
	}
	return n
}

func (e *estimator) keysAndSecrets() {
	e.add("kms/keys", "KMS keys", "1 customer-managed key", KeyKMSKey, "aws", kmsKeys)
	secrets := fixedSecrets + len(e.cfg.App.Secrets)
	e.add("secretsmanager/secrets", "Secrets Manager secrets", fmt.Sprintf("%d: database and Redis passwords, %d app.secrets", secrets, len(e.cfg.App.Secrets)),
		KeySecret, "app.secrets", float64(secrets))
}

// round keeps 4 decimals: a hundredth of a cent.
func round(x float64) float64 { return math.Round(x*1e4) / 1e4 }

func deref(p *float64, def float64) float64 {
	if p == nil {
		return def
	}
	return *p
}

func joinErrs(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	msg := fmt.Sprintf("%d problems:", len(errs))
	for _, err := range errs {
		msg += "\n  " + err.Error()
	}
	return fmt.Errorf("%s", msg)
}
