package cost_test

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/infra/cost"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

func mustTable(t *testing.T) *cost.Table {
	t.Helper()
	table, err := cost.DefaultTable()
	if err != nil {
		t.Fatal(err)
	}
	return table
}

func configDir(t *testing.T) string {
	t.Helper()
	dir, err := stackconfig.FindDir(func(string) string { return "" }, ".")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func loadStack(t *testing.T, stack string) *stackconfig.Config {
	t.Helper()
	cfg, err := stackconfig.Load(configDir(t), stack)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// awsStacks lists the repository's aws stacks.
func awsStacks(t *testing.T) []string {
	t.Helper()
	all, err := stackconfig.LoadAll(configDir(t))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for name, cfg := range all {
		if cfg.Target == stackconfig.TargetAWS {
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		t.Fatal("no aws stack in config/")
	}
	return out
}

func byID(e *cost.Estimate) map[string]cost.Line {
	out := map[string]cost.Line{}
	for _, l := range e.Lines {
		out[l.ID] = l
	}
	return out
}

func atof(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return f
}

// TestEveryPricedResourceTypeHasAPriceInEveryRegion: the table prices every
// fixed key and the same instance classes and node types in each of its
// regions, every region is one the schema accepts, and every aws stack's
// region, instance class and node type is priced.
func TestEveryPricedResourceTypeHasAPriceInEveryRegion(t *testing.T) {
	table := mustTable(t)
	if err := table.Check(); err != nil {
		t.Fatal(err)
	}
	schema, err := os.ReadFile(filepath.Join(configDir(t), stackconfig.SchemaFile))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Properties struct {
			AWS struct {
				Properties struct {
					Region struct {
						Pattern string `json:"pattern"`
					} `json:"region"`
				} `json:"properties"`
			} `json:"aws"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(schema, &doc); err != nil {
		t.Fatal(err)
	}
	regionRE := regexp.MustCompile(doc.Properties.AWS.Properties.Region.Pattern)
	regions := table.RegionNames()
	for _, r := range regions {
		if !regionRE.MatchString(r) {
			t.Errorf("the table prices %q, which config/schema.json's aws.region does not accept", r)
		}
		for _, k := range cost.Keys {
			if _, ok := table.Regions[r][k]; !ok {
				t.Errorf("%s: no price %s", r, k)
			}
		}
		if got, want := table.RDSClasses(r), table.RDSClasses(regions[0]); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s prices RDS classes %v, %s prices %v", r, got, regions[0], want)
		}
		if got, want := table.CacheNodeTypes(r), table.CacheNodeTypes(regions[0]); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s prices node types %v, %s prices %v", r, got, regions[0], want)
		}
	}
	for _, stack := range awsStacks(t) {
		if _, err := table.Estimate(loadStack(t, stack)); err != nil {
			t.Errorf("stack %s: %v", stack, err)
		}
	}
	// A default aws stack (db.t4g.micro, cache.t4g.micro) in every region.
	for _, r := range regions {
		cfg := stackconfig.Defaults()
		cfg.Stack, cfg.Target, cfg.AWS.Region = "defaults", stackconfig.TargetAWS, r
		if _, err := table.Estimate(&cfg); err != nil {
			t.Errorf("the defaults in %s: %v", r, err)
		}
	}
}

func TestEveryPriceNamesItsUnitDateAndSource(t *testing.T) {
	table := mustTable(t)
	for r, prices := range table.Regions {
		for k, p := range prices {
			if p.Unit == "" || p.Date == "" || !strings.HasPrefix(p.Source, "https://") {
				t.Errorf("%s %s: unit %q, date %q, source %q", r, k, p.Unit, p.Date, p.Source)
			}
			if p.Date < table.Date {
				t.Errorf("%s %s is of %s, older than the table's date %s (the table's date is its oldest price's)", r, k, p.Date, table.Date)
			}
		}
	}
}

func TestDevCostsLessThanStagingWhichCostsLessThanProd(t *testing.T) {
	table := mustTable(t)
	total := map[string]float64{}
	for _, s := range []string{"dev", "staging", "prod"} {
		e, err := table.Estimate(loadStack(t, s))
		if err != nil {
			t.Fatal(err)
		}
		if e.Total <= 0 {
			t.Errorf("%s total %g", s, e.Total)
		}
		total[s] = e.Total
	}
	if !(total["dev"] < total["staging"] && total["staging"] < total["prod"]) {
		t.Errorf("totals dev %g, staging %g, prod %g; want dev < staging < prod", total["dev"], total["staging"], total["prod"])
	}
}

func TestRaisingProdsWebDesiredCountRaisesFargateByTheExtraTasks(t *testing.T) {
	table := mustTable(t)
	before := loadStack(t, "prod")
	after := loadStack(t, "prod")
	after.Services.Web.DesiredCount += 2
	after.Services.Web.MaxCount += 2
	old, err := table.Estimate(before)
	if err != nil {
		t.Fatal(err)
	}
	new, err := table.Estimate(after)
	if err != nil {
		t.Fatal(err)
	}
	prices := table.Regions[before.AWS.Region]
	web := before.Services.Web
	wantCPU := 2 * float64(web.CPU) / 1024 * table.HoursPerMonth * prices[cost.KeyFargateVCPU].USD
	wantMem := 2 * float64(web.Memory) / 1024 * table.HoursPerMonth * prices[cost.KeyFargateGB].USD
	d := cost.Compare("HEAD", old, new)
	changed := map[string]float64{}
	for _, l := range d.Lines {
		changed[l.ID] = l.Delta
		if l.Change != cost.Changed {
			t.Errorf("line %s marked %q, want ~", l.ID, l.Change)
		}
	}
	if len(changed) != 2 || !near(changed["fargate/web/vcpu"], wantCPU) || !near(changed["fargate/web/memory"], wantMem) {
		t.Errorf("changed lines %v, want only fargate/web/vcpu +%g and fargate/web/memory +%g", changed, wantCPU, wantMem)
	}
	if !near(d.Total, wantCPU+wantMem) || math.Abs(d.Percent-100*d.Total/old.Total) > 0.005 {
		t.Errorf("total change %g (%g%%), want %g", d.Total, d.Percent, wantCPU+wantMem)
	}
	var text bytes.Buffer
	if err := d.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"~  Fargate web vCPU", "~  Fargate web memory", "Total  $"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("diff text lacks %q:\n%s", want, text.String())
		}
	}
}

func near(a, b float64) bool { d := a - b; return d < 0.00011 && d > -0.00011 }

func TestAutoscalingBoundsGiveARange(t *testing.T) {
	e, err := mustTable(t).Estimate(loadStack(t, "prod"))
	if err != nil {
		t.Fatal(err)
	}
	if !(e.Range.Min < e.Range.Desired && e.Range.Desired < e.Range.Max) {
		t.Errorf("range %+v; prod's web scales 2..8 around 3, want min < desired < max", e.Range)
	}
}

func TestUnknownUsageShowsItsUnitPriceAndStaysOutOfTheTotal(t *testing.T) {
	table := mustTable(t)
	cfg := loadStack(t, "prod")
	cfg.Cost.Usage.NATDataGB = nil
	e, err := table.Estimate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	nat := byID(e)["nat/data"]
	if nat.Monthly != nil || nat.Quantity != nil || nat.UnitPrice <= 0 {
		t.Errorf("NAT data with unknown usage: %+v; want no quantity nor cost, and the unit price", nat)
	}
	if !strings.Contains(strings.Join(e.Unpriced, ","), "NAT data processed") {
		t.Errorf("unpriced %v lacks the NAT data", e.Unpriced)
	}
	var text bytes.Buffer
	if err := e.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`NAT data processed\s+usage\s+usage unknown\s+\$0\.0\d+/GB\s+\d{4}-\d\d-\d\d\s+set cost.usage.natDataGb`).MatchString(text.String()) {
		t.Errorf("the NAT data line does not show its unit price and the field to set:\n%s", text.String())
	}
	gb := 100.0
	cfg.Cost.Usage.NATDataGB = &gb
	e2, err := table.Estimate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if want := e.Total + 100*nat.UnitPrice; !near(e2.Total, want) {
		t.Errorf("with 100 GB of NAT data the total is %g, want %g", e2.Total, want)
	}
}

func TestEveryTextLineNamesItsUnitPriceAndDate(t *testing.T) {
	e, err := mustTable(t).Estimate(loadStack(t, "staging"))
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := e.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	out := text.String()
	if !strings.Contains(out, "prices of "+e.PriceDate) {
		t.Errorf("no table date in:\n%s", out)
	}
	priced := regexp.MustCompile(`\$[0-9.]+/[^$]+?\s+` + regexp.QuoteMeta(e.PriceDate))
	n := 0
	for _, l := range strings.Split(out, "\n") {
		for _, line := range e.Lines {
			if strings.HasPrefix(strings.TrimSpace(l), line.Name+"  ") {
				n++
				if !priced.MatchString(l) {
					t.Errorf("line without its unit price and date: %q", l)
				}
			}
		}
	}
	if n != len(e.Lines) {
		t.Errorf("%d lines printed, %d in the estimate:\n%s", n, len(e.Lines), out)
	}
}

func TestJSONHasTotalPriceDateAndLines(t *testing.T) {
	e, err := mustTable(t).Estimate(loadStack(t, "dev"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := e.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Total     *float64 `json:"total"`
		PriceDate string   `json:"priceDate"`
		Lines     []map[string]any
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Total == nil || *got.Total != e.Total || got.PriceDate == "" || len(got.Lines) == 0 {
		t.Fatalf("json total %v, priceDate %q, %d lines", got.Total, got.PriceDate, len(got.Lines))
	}
	for _, l := range got.Lines {
		for _, k := range []string{"name", "quantity", "unitPrice", "monthly", "priceDate"} {
			if _, ok := l[k]; !ok {
				t.Errorf("line %v has no %s", l["name"], k)
			}
		}
	}
}

func TestAnUnpricedInstanceClassNamesTheFieldAndThePricedOnes(t *testing.T) {
	cfg := loadStack(t, "dev")
	cfg.Database.InstanceClass = "db.x2iedn.32xlarge"
	_, err := mustTable(t).Estimate(cfg)
	if err == nil || !strings.Contains(err.Error(), "database.instanceClass") || !strings.Contains(err.Error(), "db.t4g.micro") {
		t.Errorf("error %v; want it to name database.instanceClass and the priced classes", err)
	}
	cfg = loadStack(t, "dev")
	cfg.AWS.Region = "ap-south-2"
	_, err = mustTable(t).Estimate(cfg)
	if err == nil || !strings.Contains(err.Error(), "aws.region ap-south-2") || !strings.Contains(err.Error(), "make cost-prices") {
		t.Errorf("error %v; want it to name aws.region and how to add prices", err)
	}
}

func TestADockerStackHasNoCost(t *testing.T) {
	if _, err := mustTable(t).Estimate(loadStack(t, "local")); err == nil || !strings.Contains(err.Error(), "only aws stacks") {
		t.Errorf("error %v", err)
	}
}
