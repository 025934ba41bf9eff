// Package cost estimates what an aws stack costs a month, from the same
// typed config the stack is built from (infra/stackconfig) and a price
// table kept as data in the repository (prices.json), with no pricing
// service: Estimate prices one config, Compare two (a change's cost), and
// Refresh rewrites the table from AWS's public Price List offer files.
// See docs/operations.md ("Cost").
package cost

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// PricesFile is the price table's path in the repository.
const PricesFile = "infra/cost/prices.json"

//go:embed prices.json
var pricesJSON []byte

// Table is the price table: per region, each price key's price.
type Table struct {
	// Date is the table's date: the oldest of its prices' dates, the day
	// the figures are from (not the day they were copied).
	Date     string `json:"date"`
	Currency string `json:"currency"`
	// HoursPerMonth turns hourly prices into monthly ones (AWS uses 730).
	HoursPerMonth float64 `json:"hoursPerMonth"`
	Note          string  `json:"note,omitempty"`
	// Regions maps a region ("eu-west-1") to its prices by key (Keys).
	Regions map[string]map[string]Price `json:"regions"`
}

// Price is one on-demand price.
type Price struct {
	USD  float64 `json:"usd"`
	Unit string  `json:"unit"`
	// Date is the day the figure is from; Source the AWS page or offer
	// file it came from.
	Date   string `json:"date"`
	Source string `json:"source"`
	// VCPU is an RDS instance class's vCPUs (Performance Insights is
	// priced per vCPU).
	VCPU int `json:"vcpu,omitempty"`
}

// The price keys every region has. Instance classes and node types are
// keyed per class: RDSInstanceKey, CacheNodeKey.
const (
	KeyFargateVCPU      = "fargate.vcpuHour"
	KeyFargateGB        = "fargate.gbHour"
	KeyRDSStorage       = "rds.storageGbMonth" // + "/single-az" or "/multi-az"
	KeyRDSInsights      = "rds.insightsVcpuHour"
	KeyALBHour          = "alb.hour"
	KeyALBLCU           = "alb.lcuHour"
	KeyNATHour          = "nat.hour"
	KeyNATData          = "nat.dataGb"
	KeyPublicIPv4       = "vpc.publicIpv4Hour"
	KeyEndpointHour     = "vpce.interfaceHour"
	KeyEndpointData     = "vpce.dataGb"
	KeyWAFACL           = "waf.webAclMonth"
	KeyWAFRule          = "waf.ruleMonth"
	KeyWAFRequests      = "waf.millionRequests"
	KeyLogsIngest       = "cloudwatch.logsIngestGb"
	KeyLogsStorage      = "cloudwatch.logsStorageGbMonth"
	KeyAlarmMetric      = "cloudwatch.alarmMetricMonth"
	KeyDashboard        = "cloudwatch.dashboardMonth"
	KeyKMSKey           = "kms.keyMonth"
	KeySecret           = "secretsmanager.secretMonth"
	rdsInstancePrefix   = "rds.instanceHour/"
	cacheNodePrefix     = "elasticache.nodeHour/"
	deploymentSingleAZ  = "single-az"
	deploymentMultiAZ   = "multi-az"
	storageSingleAZ     = KeyRDSStorage + "/" + deploymentSingleAZ
	storageMultiAZ      = KeyRDSStorage + "/" + deploymentMultiAZ
	defaultHoursInMonth = 730
)

// Keys are the fixed price keys: every region of the table has each.
var Keys = []string{
	KeyFargateVCPU, KeyFargateGB, storageSingleAZ, storageMultiAZ, KeyRDSInsights,
	KeyALBHour, KeyALBLCU, KeyNATHour, KeyNATData, KeyPublicIPv4, KeyEndpointHour, KeyEndpointData,
	KeyWAFACL, KeyWAFRule, KeyWAFRequests, KeyLogsIngest, KeyLogsStorage, KeyAlarmMetric, KeyDashboard,
	KeyKMSKey, KeySecret,
}

// RDSInstanceKey is the key of an RDS for PostgreSQL instance class's
// hourly price, single-AZ or multi-AZ (primary and standby).
func RDSInstanceKey(class string, multiAZ bool) string {
	d := deploymentSingleAZ
	if multiAZ {
		d = deploymentMultiAZ
	}
	return rdsInstancePrefix + class + "/" + d
}

// CacheNodeKey is the key of an ElastiCache (Redis) node type's hourly price.
func CacheNodeKey(nodeType string) string { return cacheNodePrefix + nodeType }

// DefaultTable returns the repository's price table (prices.json, built
// into the binary).
func DefaultTable() (*Table, error) { return ParseTable(pricesJSON) }

// ParseTable reads a price table and checks it is whole: a date, and in
// every region every key of Keys and both deployments of every RDS class.
func ParseTable(data []byte) (*Table, error) {
	var t Table
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("reading the price table: %w", err)
	}
	if t.HoursPerMonth == 0 {
		t.HoursPerMonth = defaultHoursInMonth
	}
	if err := t.Check(); err != nil {
		return nil, err
	}
	return &t, nil
}

// Check reports every missing or malformed price of the table at once.
func (t *Table) Check() error {
	var problems []string
	if t.Date == "" {
		problems = append(problems, "the table has no date")
	}
	if t.Currency != "USD" {
		problems = append(problems, fmt.Sprintf("currency %q; allowed USD", t.Currency))
	}
	if len(t.Regions) == 0 {
		problems = append(problems, "the table has no region")
	}
	for _, r := range t.RegionNames() {
		prices := t.Regions[r]
		for _, k := range Keys {
			if _, ok := prices[k]; !ok {
				problems = append(problems, fmt.Sprintf("%s: no price %s", r, k))
			}
		}
		for k, p := range prices {
			if p.USD < 0 || p.Unit == "" || p.Date == "" || p.Source == "" {
				problems = append(problems, fmt.Sprintf("%s: %s needs a price of at least 0, a unit, a date and a source", r, k))
			}
			if class, ok := strings.CutPrefix(k, rdsInstancePrefix); ok {
				class, _, _ = strings.Cut(class, "/")
				for _, multi := range []bool{false, true} {
					if _, ok := prices[RDSInstanceKey(class, multi)]; !ok {
						problems = append(problems, fmt.Sprintf("%s: no price %s", r, RDSInstanceKey(class, multi)))
					}
				}
				if p.VCPU <= 0 {
					problems = append(problems, fmt.Sprintf("%s: %s has no vcpu count", r, k))
				}
			}
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("price table: %s", strings.Join(dedupe(problems), "; "))
	}
	return nil
}

func dedupe(xs []string) []string {
	var out []string
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// RegionNames lists the table's regions, sorted.
func (t *Table) RegionNames() []string {
	out := make([]string, 0, len(t.Regions))
	for r := range t.Regions {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// Classes lists the priced names after prefix in region: RDS instance
// classes ("rds") or ElastiCache node types ("elasticache").
func (t *Table) classes(region, prefix string) []string {
	seen := map[string]bool{}
	for k := range t.Regions[region] {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			name, _, _ := strings.Cut(rest, "/")
			seen[name] = true
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// RDSClasses lists the RDS instance classes priced in region.
func (t *Table) RDSClasses(region string) []string { return t.classes(region, rdsInstancePrefix) }

// CacheNodeTypes lists the ElastiCache node types priced in region.
func (t *Table) CacheNodeTypes(region string) []string { return t.classes(region, cacheNodePrefix) }

// lookup returns a price, or an error naming the config field that asked
// for it and what the table has.
func (t *Table) lookup(region, key, field string) (Price, error) {
	prices, ok := t.Regions[region]
	if !ok {
		return Price{}, fmt.Errorf("aws.region %s: %s has no prices for it; priced regions: %s (add it with `make cost-prices REGIONS=%s` on a machine with internet)",
			region, PricesFile, strings.Join(t.RegionNames(), ", "), region)
	}
	p, ok := prices[key]
	if !ok {
		switch {
		case strings.HasPrefix(key, rdsInstancePrefix):
			return Price{}, fmt.Errorf("%s: %s has no %s price for it; priced: %s (add it with `make cost-prices`)", field, PricesFile, region, strings.Join(t.RDSClasses(region), ", "))
		case strings.HasPrefix(key, cacheNodePrefix):
			return Price{}, fmt.Errorf("%s: %s has no %s price for it; priced: %s (add it with `make cost-prices`)", field, PricesFile, region, strings.Join(t.CacheNodeTypes(region), ", "))
		}
		return Price{}, fmt.Errorf("%s: no price %s in %s for %s", field, key, PricesFile, region)
	}
	return p, nil
}
