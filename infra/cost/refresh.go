package cost

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// OfferURL is where AWS publishes a service's current on-demand offer file
// for one region (the Price List bulk API; no account needed).
const OfferURL = "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/%s/current/%s/index.json"

// offerFilter picks one product of a region's offer file; its on-demand
// price becomes a price of the table.
type offerFilter struct {
	Offer  string
	Family string
	// UsageType matches the product's usagetype, which starts with a
	// region code ("EU-", "USE1-") in most regions and none in others.
	UsageType *regexp.Regexp
	Attrs     map[string]string
	// Unit is the table's unit; Scale converts the offer's price to it
	// (1e6: a price per request becomes one per million requests).
	Unit  string
	Scale float64
}

func usage(suffix string) *regexp.Regexp {
	return regexp.MustCompile(`^([A-Z]{2,4}[0-9]?-)?` + regexp.QuoteMeta(suffix) + `$`)
}

// filters are the offer-file products behind the fixed price keys (the
// usagetypes as in infracost's cost components, internal/resources/aws).
var filters = map[string]offerFilter{
	KeyFargateVCPU:  {Offer: "AmazonECS", UsageType: usage("Fargate-vCPU-Hours:perCPU"), Unit: "vCPU-hour"},
	KeyFargateGB:    {Offer: "AmazonECS", UsageType: usage("Fargate-GB-Hours"), Unit: "GB-hour"},
	storageSingleAZ: {Offer: "AmazonRDS", Family: "Database Storage", UsageType: usage("RDS:GP3-Storage"), Unit: "GB-month"},
	storageMultiAZ:  {Offer: "AmazonRDS", Family: "Database Storage", UsageType: usage("RDS:Multi-AZ-GP3-Storage"), Unit: "GB-month"},
	KeyRDSInsights:  {Offer: "AmazonCloudWatch", UsageType: usage("DatabaseInsights-vCPU-Hours"), Unit: "vCPU-hour"},
	KeyALBHour:      {Offer: "AWSELB", Family: "Load Balancer-Application", UsageType: usage("LoadBalancerUsage"), Unit: "hour"},
	KeyALBLCU:       {Offer: "AWSELB", Family: "Load Balancer-Application", UsageType: usage("LCUUsage"), Unit: "LCU-hour"},
	KeyNATHour:      {Offer: "AmazonEC2", Family: "NAT Gateway", UsageType: usage("NatGateway-Hours"), Unit: "hour"},
	KeyNATData:      {Offer: "AmazonEC2", Family: "NAT Gateway", UsageType: usage("NatGateway-Bytes"), Unit: "GB"},
	KeyPublicIPv4:   {Offer: "AmazonVPC", UsageType: usage("PublicIPv4:InUseAddress"), Unit: "address-hour"},
	KeyEndpointHour: {Offer: "AmazonVPC", UsageType: usage("VpcEndpoint-Hours"), Unit: "endpoint-AZ-hour"},
	KeyEndpointData: {Offer: "AmazonVPC", UsageType: usage("VpcEndpoint-Bytes"), Unit: "GB"},
	KeyWAFACL:       {Offer: "awswaf", UsageType: usage("WebACL"), Unit: "web-ACL-month"},
	KeyWAFRule:      {Offer: "awswaf", UsageType: usage("Rule"), Unit: "rule-month"},
	KeyWAFRequests:  {Offer: "awswaf", UsageType: usage("Request"), Unit: "million requests", Scale: 1e6},
	KeyLogsIngest:   {Offer: "AmazonCloudWatch", UsageType: usage("DataProcessing-Bytes"), Unit: "GB"},
	KeyLogsStorage:  {Offer: "AmazonCloudWatch", UsageType: usage("TimedStorage-ByteHrs"), Unit: "GB-month"},
	KeyAlarmMetric:  {Offer: "AmazonCloudWatch", UsageType: usage("CW:AlarmMonitorUsage"), Unit: "alarm-metric-month"},
	KeyDashboard:    {Offer: "AmazonCloudWatch", UsageType: usage("DashboardsUsageHour-Basic"), Unit: "dashboard-month"},
	KeyKMSKey:       {Offer: "awskms", UsageType: usage("KMS-Keys"), Unit: "key-month"},
	KeySecret:       {Offer: "AWSSecretsManager", UsageType: usage("AWSSecretsManager-Secrets"), Unit: "secret-month"},
}

// filterFor returns the offer-file product behind a price key.
func filterFor(key string) (offerFilter, bool) {
	if f, ok := filters[key]; ok {
		return f, true
	}
	if rest, ok := strings.CutPrefix(key, rdsInstancePrefix); ok {
		class, dep, _ := strings.Cut(rest, "/")
		option := map[string]string{deploymentSingleAZ: "Single-AZ", deploymentMultiAZ: "Multi-AZ"}[dep]
		if option == "" {
			return offerFilter{}, false
		}
		return offerFilter{Offer: "AmazonRDS", Family: "Database Instance", Unit: "instance-hour",
			Attrs: map[string]string{"instanceType": class, "databaseEngine": "PostgreSQL", "deploymentOption": option}}, true
	}
	if node, ok := strings.CutPrefix(key, cacheNodePrefix); ok {
		return offerFilter{Offer: "AmazonElastiCache", Family: "Cache Instance", Unit: "node-hour",
			Attrs: map[string]string{"instanceType": node, "cacheEngine": "Redis"}}, true
	}
	return offerFilter{}, false
}

func (f offerFilter) matches(p offerProduct) bool {
	if f.Family != "" && p.ProductFamily != f.Family {
		return false
	}
	if f.UsageType != nil && !f.UsageType.MatchString(p.Attributes["usagetype"]) {
		return false
	}
	for k, v := range f.Attrs {
		if p.Attributes[k] != v {
			return false
		}
	}
	return true
}

// suspectFactor bounds how far a refreshed price may move from the old one
// before Refresh distrusts it (AWS changes prices by percents, not by
// multiples; a multiple means a wrong product or unit).
const suspectFactor = 3

// OpenOffer opens a region's offer file of one service and says where it
// is from (the URL its prices cite as their source).
type OpenOffer func(offer, region string) (io.ReadCloser, string, error)

// Refresh returns t with the prices of regions (t's own when empty; a new
// region gets the keys of t's first region) read from the offer files:
// each price's date is its file's publicationDate, its source the file.
// A key no file prices, or whose new price is a multiple of the old one,
// keeps its old price (a new region: none) and is listed in missing.
func Refresh(t *Table, regions []string, open OpenOffer) (out *Table, missing []string, err error) {
	if len(t.Regions) == 0 {
		return nil, nil, errors.New("the price table has no region to take the keys from")
	}
	if len(regions) == 0 {
		regions = t.RegionNames()
	}
	template := t.Regions[t.RegionNames()[0]]
	out = &Table{Currency: "USD", HoursPerMonth: t.HoursPerMonth, Note: t.Note, Regions: map[string]map[string]Price{}}
	for r, prices := range t.Regions {
		out.Regions[r] = clonePrices(prices)
	}
	for _, region := range regions {
		prices := out.Regions[region]
		if prices == nil {
			prices = map[string]Price{}
			out.Regions[region] = prices
		}
		byOffer := map[string][]string{}
		for k := range template {
			f, ok := filterFor(k)
			if !ok {
				return nil, nil, fmt.Errorf("price key %s: no offer-file filter for it (infra/cost/refresh.go)", k)
			}
			byOffer[f.Offer] = append(byOffer[f.Offer], k)
		}
		offers := make([]string, 0, len(byOffer))
		for o := range byOffer {
			offers = append(offers, o)
		}
		sort.Strings(offers)
		for _, offer := range offers {
			keys := byOffer[offer]
			found, err := readOffer(open, offer, region, keys)
			if err != nil {
				return nil, nil, err
			}
			for _, k := range keys {
				p, ok := found[k]
				old, had := prices[k]
				switch {
				case !ok:
					missing = append(missing, fmt.Sprintf("%s %s (no product of the %s offer file matches)", region, k, offer))
				case had && old.USD > 0 && (p.USD > old.USD*suspectFactor || p.USD < old.USD/suspectFactor):
					// A filter matching the wrong product, or a unit the
					// offer file states differently: keep the old price.
					missing = append(missing, fmt.Sprintf("%s %s (the offer file says $%g, the table $%g/%s: check the filter)", region, k, p.USD, old.USD, old.Unit))
				default:
					prices[k] = p
				}
			}
		}
	}
	out.Date = ""
	for _, prices := range out.Regions {
		for _, p := range prices {
			if out.Date == "" || p.Date < out.Date {
				out.Date = p.Date
			}
		}
	}
	sort.Strings(missing)
	return out, missing, nil
}

func clonePrices(m map[string]Price) map[string]Price {
	out := make(map[string]Price, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

type offerProduct struct {
	SKU           string            `json:"sku"`
	ProductFamily string            `json:"productFamily"`
	Attributes    map[string]string `json:"attributes"`
}

type offerTerm struct {
	PriceDimensions map[string]struct {
		Unit         string            `json:"unit"`
		BeginRange   string            `json:"beginRange"`
		PricePerUnit map[string]string `json:"pricePerUnit"`
	} `json:"priceDimensions"`
}

// readOffer streams one offer file (products before terms, as AWS writes
// them) and returns the on-demand prices of keys it has.
func readOffer(open OpenOffer, offer, region string, keys []string) (map[string]Price, error) {
	rc, source, err := open(offer, region)
	if err != nil {
		return nil, fmt.Errorf("opening the %s offer file of %s: %w", offer, region, err)
	}
	defer rc.Close()
	dec := json.NewDecoder(rc)
	fail := func(err error) (map[string]Price, error) {
		return nil, fmt.Errorf("reading %s: %w", source, err)
	}
	if err := expectDelim(dec, '{'); err != nil {
		return fail(err)
	}
	var date string
	skuKeys := map[string][]string{} // sku → keys it prices
	skuVCPU := map[string]int{}
	found := map[string]Price{}
	for dec.More() {
		name, err := stringToken(dec)
		if err != nil {
			return fail(err)
		}
		switch name {
		case "publicationDate":
			var s string
			if err := dec.Decode(&s); err != nil {
				return fail(err)
			}
			if len(s) < 10 {
				return fail(fmt.Errorf("publicationDate %q", s))
			}
			date = s[:10]
		case "products":
			if err := expectDelim(dec, '{'); err != nil {
				return fail(err)
			}
			for dec.More() {
				if _, err := stringToken(dec); err != nil {
					return fail(err)
				}
				var p offerProduct
				if err := dec.Decode(&p); err != nil {
					return fail(err)
				}
				for _, k := range keys {
					f, _ := filterFor(k)
					if f.matches(p) {
						skuKeys[p.SKU] = append(skuKeys[p.SKU], k)
						skuVCPU[p.SKU], _ = strconv.Atoi(p.Attributes["vcpu"])
					}
				}
			}
			if err := expectDelim(dec, '}'); err != nil {
				return fail(err)
			}
		case "terms":
			if err := expectDelim(dec, '{'); err != nil {
				return fail(err)
			}
			for dec.More() {
				kind, err := stringToken(dec)
				if err != nil {
					return fail(err)
				}
				if kind != "OnDemand" {
					if err := skipValue(dec); err != nil {
						return fail(err)
					}
					continue
				}
				if err := expectDelim(dec, '{'); err != nil {
					return fail(err)
				}
				for dec.More() {
					sku, err := stringToken(dec)
					if err != nil {
						return fail(err)
					}
					ks := skuKeys[sku]
					if len(ks) == 0 {
						if err := skipValue(dec); err != nil {
							return fail(err)
						}
						continue
					}
					var terms map[string]offerTerm
					if err := dec.Decode(&terms); err != nil {
						return fail(err)
					}
					usd, ok := firstTierUSD(terms)
					if !ok {
						continue
					}
					for _, k := range ks {
						f, _ := filterFor(k)
						scale := f.Scale
						if scale == 0 {
							scale = 1
						}
						found[k] = Price{USD: roundPrice(usd * scale), Unit: f.Unit, Date: date, Source: source, VCPU: skuVCPU[sku]}
					}
				}
				if err := expectDelim(dec, '}'); err != nil {
					return fail(err)
				}
			}
			if err := expectDelim(dec, '}'); err != nil {
				return fail(err)
			}
		default:
			if err := skipValue(dec); err != nil {
				return fail(err)
			}
		}
	}
	if date == "" {
		return fail(errors.New("no publicationDate"))
	}
	for k, p := range found {
		p.Date = date
		found[k] = p
	}
	return found, nil
}

// firstTierUSD is the USD price of the first tier (beginRange 0) of a
// product's on-demand terms.
func firstTierUSD(terms map[string]offerTerm) (float64, bool) {
	for _, t := range terms {
		for _, d := range t.PriceDimensions {
			if d.BeginRange != "" && d.BeginRange != "0" {
				continue
			}
			v, err := strconv.ParseFloat(d.PricePerUnit["USD"], 64)
			if err == nil {
				return v, true
			}
		}
	}
	return 0, false
}

func roundPrice(x float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 10, 64), 64)
	return v
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("offer file: got %v, want %v", tok, want)
	}
	return nil
}

func stringToken(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	s, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("offer file: got %v, want a key", tok)
	}
	return s, nil
}

// skipValue consumes one JSON value token by token (the Reserved terms of
// a large offer file are never held in memory).
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// MarshalTable writes the table as prices.json holds it.
func MarshalTable(t *Table) ([]byte, error) {
	data, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}
