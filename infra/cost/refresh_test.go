package cost_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/infra/cost"
)

// openFixture serves the offer files of testdata/offers, written in AWS's
// bulk format (products, then OnDemand and Reserved terms).
func openFixture(offer, region string) (io.ReadCloser, string, error) {
	f, err := os.Open(filepath.Join("testdata", "offers", offer+"-"+region+".json"))
	return f, fmt.Sprintf(cost.OfferURL, offer, region), err
}

func fixtureTable() *cost.Table {
	old := func(usd float64, unit string) cost.Price {
		return cost.Price{USD: usd, Unit: unit, Date: "2024-06-01", Source: "https://aws.amazon.com/"}
	}
	return &cost.Table{Date: "2024-06-01", Currency: "USD", HoursPerMonth: 730, Regions: map[string]map[string]cost.Price{
		"eu-west-1": {
			cost.KeyFargateVCPU:                        old(0.04, "vCPU-hour"),
			cost.KeyFargateGB:                          old(0.004, "GB-hour"),
			cost.RDSInstanceKey("db.t4g.micro", false): old(0.016, "instance-hour"),
			cost.RDSInstanceKey("db.t4g.micro", true):  old(0.032, "instance-hour"),
			cost.KeyRDSStorage + "/single-az":          old(0.12, "GB-month"),
			cost.KeyRDSStorage + "/multi-az":           old(0.24, "GB-month"),
			cost.KeyWAFACL:                             old(5, "web-ACL-month"),
			cost.KeyWAFRule:                            old(1, "rule-month"),
			cost.KeyWAFRequests:                        old(0.6, "million requests"),
			cost.KeyALBHour:                            old(0.0252, "hour"),
			cost.KeyALBLCU:                             old(0.008, "LCU-hour"),
			cost.KeyLogsIngest:                         old(0.5, "GB"),
		},
	}}
}

func TestRefreshReadsOnDemandPricesFromOfferFiles(t *testing.T) {
	out, missing, err := cost.Refresh(fixtureTable(), nil, openFixture)
	if err != nil {
		t.Fatal(err)
	}
	p := out.Regions["eu-west-1"]
	for _, tc := range []struct {
		key, date string
		usd       float64
		offer     string
	}{
		{cost.KeyFargateVCPU, "2026-11-20", 0.04048, "AmazonECS"}, // not Spot, not ARM
		{cost.KeyFargateGB, "2026-11-20", 0.004445, "AmazonECS"},
		{cost.RDSInstanceKey("db.t4g.micro", false), "2026-11-25", 0.017, "AmazonRDS"}, // PostgreSQL, not MySQL
		{cost.RDSInstanceKey("db.t4g.micro", true), "2026-11-25", 0.034, "AmazonRDS"},  // not readable standbys
		{cost.KeyRDSStorage + "/single-az", "2026-11-25", 0.127, "AmazonRDS"},
		{cost.KeyRDSStorage + "/multi-az", "2026-11-25", 0.254, "AmazonRDS"},
		{cost.KeyWAFACL, "2026-10-02", 5, "awswaf"},
		{cost.KeyWAFRule, "2026-10-02", 1, "awswaf"},
		{cost.KeyWAFRequests, "2026-10-02", 0.6, "awswaf"},           // per request × 1e6
		{cost.KeyLogsIngest, "2026-11-01", 0.57, "AmazonCloudWatch"}, // the first tier
	} {
		got := p[tc.key]
		if got.USD != tc.usd || got.Date != tc.date || got.Source != fmt.Sprintf(cost.OfferURL, tc.offer, "eu-west-1") {
			t.Errorf("%s = %+v, want $%g of %s from the %s offer file", tc.key, got, tc.usd, tc.date, tc.offer)
		}
	}
	if got := p[cost.RDSInstanceKey("db.t4g.micro", false)].VCPU; got != 2 {
		t.Errorf("db.t4g.micro vCPUs %d, want the offer file's 2", got)
	}
	// The ALB hour is only an NLB product in the fixture; the LCU price is
	// 1000 times the old one: both keep their old prices and are listed.
	if p[cost.KeyALBHour].Date != "2024-06-01" || p[cost.KeyALBLCU].USD != 0.008 {
		t.Errorf("ALB prices %+v, %+v; want the old ones kept", p[cost.KeyALBHour], p[cost.KeyALBLCU])
	}
	if len(missing) != 2 || !strings.Contains(missing[0], cost.KeyALBHour+" (no product") || !strings.Contains(missing[1], cost.KeyALBLCU+" (the offer file says $8") {
		t.Errorf("missing %q", missing)
	}
	if out.Date != "2024-06-01" {
		t.Errorf("table date %s, want the oldest price's (a kept 2024 price)", out.Date)
	}
}

func TestRefreshOfANewRegionWithoutOfferFilesFails(t *testing.T) {
	if _, _, err := cost.Refresh(fixtureTable(), []string{"us-east-1"}, openFixture); err == nil || !strings.Contains(err.Error(), "us-east-1") {
		t.Errorf("error %v; want one naming the region whose offer file is missing", err)
	}
}

// TestEveryPriceKeyHasAnOfferFileFilter: the refresh covers the whole
// table (a key without a filter is an error, not a silently stale price).
func TestEveryPriceKeyHasAnOfferFileFilter(t *testing.T) {
	table := mustTable(t)
	empty := func(offer, region string) (io.ReadCloser, string, error) {
		return io.NopCloser(strings.NewReader(`{"publicationDate": "2026-01-01T00:00:00Z", "products": {}, "terms": {"OnDemand": {}}}`)), "fixture://" + offer, nil
	}
	_, missing, err := cost.Refresh(table, nil, empty)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, prices := range table.Regions {
		n += len(prices)
	}
	if len(missing) != n {
		t.Errorf("%d keys reported missing from empty offer files, the table has %d", len(missing), n)
	}
}
