package cost_test

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/infra/aws/awsmock"
)

// A PR environment costs what its own program creates: its three tasks
// and its secret; everything else it uses is its base's and is priced
// there. The test runs the base and the PR program under mocks.
func TestAPREnvironmentCostsOnlyWhatItsProgramCreates(t *testing.T) {
	table := mustTable(t)
	base, err := awsmock.RunConfig(awsmock.Released(loadStack(t, "dev")))
	if err != nil {
		t.Fatal(err)
	}
	cfg := loadStack(t, "dev-pr-7")
	if err := cfg.SetPreviewSlot("1"); err != nil {
		t.Fatal(err)
	}
	if err := cfg.SetPreviewImage(awsmock.Digest); err != nil {
		t.Fatal(err)
	}
	g, err := awsmock.RunPreview(cfg, base)
	if err != nil {
		t.Fatal(err)
	}
	est, err := table.Estimate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	lines := byID(est)
	hours := table.HoursPerMonth
	var vcpu, gb float64
	for _, svc := range g.ByType("aws:ecs/service:Service") {
		for _, td := range g.ByType("aws:ecs/taskDefinition:TaskDefinition") {
			if td.String("family") == svc.String("name") {
				vcpu += svc.Number("desiredCount") * atof(t, td.String("cpu")) / 1024 * hours
				gb += svc.Number("desiredCount") * atof(t, td.String("memory")) / 1024 * hours
			}
		}
	}
	var priced, pricedGB float64
	for id, l := range lines {
		switch {
		case strings.HasSuffix(id, "/vcpu"):
			priced += *l.Quantity
		case strings.HasSuffix(id, "/memory"):
			pricedGB += *l.Quantity
		}
	}
	if vcpu == 0 || priced != vcpu || pricedGB != gb {
		t.Errorf("priced %g vCPU-hours and %g GB-hours, the program runs %g and %g", priced, pricedGB, vcpu, gb)
	}
	if got, want := *lines["secretsmanager/secrets"].Quantity, float64(len(g.ByType("aws:secretsmanager/secret:Secret"))); got != want {
		t.Errorf("%g secrets priced, the program creates %g", got, want)
	}
	for _, typ := range []string{"aws:lb/loadBalancer:LoadBalancer", "aws:ec2/natGateway:NatGateway", "aws:rds/instance:Instance",
		"aws:elasticache/replicationGroup:ReplicationGroup", "aws:kms/key:Key", "aws:cloudwatch/metricAlarm:MetricAlarm", "aws:cloudwatch/dashboard:Dashboard"} {
		if n := len(g.ByType(typ)); n != 0 {
			t.Errorf("the PR creates %d %s, which its estimate does not price", n, typ)
		}
	}
	if est.PreviewOf != "dev" || math.Abs(est.Hourly-est.Total/hours) > 1e-6 || est.Hourly <= 0 {
		t.Errorf("previewOf %q, hourly %g, total %g", est.PreviewOf, est.Hourly, est.Total)
	}
	var b bytes.Buffer
	if err := est.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"PR environment dev-pr-7", "beyond its base stack dev's", "Per hour", "the PR's own log volume"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "config/dev-pr-7.json") {
		t.Errorf("the text names a config file the PR does not have:\n%s", b.String())
	}
}

// docs/operations.md quotes the hourly cost of a PR environment on dev.
func TestTheDocsQuoteWhatAPREnvironmentOnDevCostsAnHour(t *testing.T) {
	est, err := mustTable(t).Estimate(loadStack(t, "dev-pr-7"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(configDir(t), "..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("$%.4f an hour", est.Hourly); !strings.Contains(string(doc), want) {
		t.Errorf("docs/operations.md does not quote %q (PR environments, On AWS)", want)
	}
}
