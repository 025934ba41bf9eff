package cost_test

import (
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/infra/aws/awsmock"
	"github.com/shipyard-kit/shipyard/infra/cost"
	"github.com/shipyard-kit/shipyard/infra/pulumitest"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// TestEveryLineCountsWhatTheProgramCreates runs the aws stack program
// (infra/aws.NewStack, released) under mocks for every aws stack and checks
// that each priced quantity is what the program creates: the cost follows
// the config the way the stack does.
func TestEveryLineCountsWhatTheProgramCreates(t *testing.T) {
	table := mustTable(t)
	for _, stack := range awsStacks(t) {
		t.Run(stack, func(t *testing.T) {
			cfg := loadStack(t, stack)
			g, err := awsmock.RunConfig(awsmock.Released(cfg))
			if err != nil {
				t.Fatal(err)
			}
			est, err := table.Estimate(cfg)
			if err != nil {
				t.Fatal(err)
			}
			lines := byID(est)
			qty := func(id string) float64 {
				l, ok := lines[id]
				if !ok {
					t.Fatalf("no line %s", id)
				}
				return *l.Quantity
			}
			hours := table.HoursPerMonth

			// Fargate: desired tasks × task size, per service.
			for _, p := range stackconfig.Processes {
				var svc, td pulumitest.Resource
				for _, r := range g.ByType("aws:ecs/service:Service") {
					if strings.HasSuffix(r.String("name"), "-"+string(p)) {
						svc = r
					}
				}
				for _, r := range g.ByType("aws:ecs/taskDefinition:TaskDefinition") {
					if r.String("family") == "shipyard-"+stack+"-"+string(p) {
						td = r
					}
				}
				if svc.URN == "" || td.URN == "" {
					t.Fatalf("no service or task definition for %s", p)
				}
				tasks := svc.Number("desiredCount")
				cpu, mem := atof(t, td.String("cpu")), atof(t, td.String("memory"))
				if got, want := qty("fargate/"+string(p)+"/vcpu"), tasks*cpu/1024*hours; got != want {
					t.Errorf("%s vCPU-hours %g, the program runs %g tasks of %g CPU units: %g", p, got, tasks, cpu, want)
				}
				if got, want := qty("fargate/"+string(p)+"/memory"), tasks*mem/1024*hours; got != want {
					t.Errorf("%s GB-hours %g, the program runs %g tasks of %g MiB: %g", p, got, tasks, mem, want)
				}
			}

			db := only(t, g, "aws:rds/instance:Instance")
			wantDB := cost.RDSInstanceKey(db.String("instanceClass"), db.Bool("multiAz"))
			if lines["rds/instance"].PriceKey != wantDB {
				t.Errorf("RDS priced as %s, the program creates %s", lines["rds/instance"].PriceKey, wantDB)
			}
			if got := qty("rds/storage"); got != db.Number("allocatedStorage") {
				t.Errorf("RDS storage %g GB, the program allocates %g", got, db.Number("allocatedStorage"))
			}

			rg := only(t, g, "aws:elasticache/replicationGroup:ReplicationGroup")
			if got, want := qty("elasticache/nodes"), rg.Number("numCacheClusters")*hours; got != want {
				t.Errorf("cache node-hours %g, the program creates %g nodes: %g", got, rg.Number("numCacheClusters"), want)
			}
			if lines["elasticache/nodes"].PriceKey != cost.CacheNodeKey(rg.String("nodeType")) {
				t.Errorf("cache priced as %s, the program creates %s", lines["elasticache/nodes"].PriceKey, rg.String("nodeType"))
			}

			nats := float64(len(g.ByType("aws:ec2/natGateway:NatGateway")))
			if got := qty("nat/hours"); got != nats*hours {
				t.Errorf("NAT hours %g, the program creates %g gateways", got, nats)
			}
			eips := float64(len(g.ByType("aws:ec2/eip:Eip")))
			if got, want := qty("vpc/ipv4"), (eips+float64(cfg.Network.AZCount))*hours; got != want {
				t.Errorf("public IPv4 address-hours %g, want %g (%g Elastic IPs, one ALB address per zone)", got, want, eips)
			}

			var eni float64
			for _, r := range g.ByType("aws:ec2/vpcEndpoint:VpcEndpoint") {
				if r.String("vpcEndpointType") == "Interface" {
					if v, ok := r.Input("subnetIds"); ok && v.IsArray() {
						eni += float64(len(v.ArrayValue()))
					} else {
						eni += float64(cfg.Network.AZCount) // unknown until the subnets exist
					}
				}
			}
			if eni == 0 {
				if _, ok := lines["vpce/hours"]; ok {
					t.Error("VPC endpoints priced, but the program creates none")
				}
			} else if got := qty("vpce/hours"); got != eni*hours {
				t.Errorf("endpoint-AZ-hours %g, the program creates %g endpoint network interfaces", got, eni)
			}

			acls := g.ByType("aws:wafv2/webAcl:WebAcl")
			if len(acls) == 0 {
				if _, ok := lines["waf/acl"]; ok {
					t.Error("WAF priced, but the program creates no web ACL")
				}
			} else {
				rules, _ := acls[0].Input("rules")
				if got := qty("waf/rules"); got != float64(len(rules.ArrayValue())) {
					t.Errorf("WAF rules %g, the web ACL has %d", got, len(rules.ArrayValue()))
				}
			}

			var metrics int
			for _, a := range g.ByType("aws:cloudwatch/metricAlarm:MetricAlarm") {
				if a.String("metricName") != "" {
					metrics++
					continue
				}
				qs, _ := a.Input("metricQueries")
				for _, q := range qs.ArrayValue() {
					if _, ok := q.ObjectValue()["metric"]; ok {
						metrics++
					}
				}
			}
			alarms, err := cost.StackAlarms(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(g.ByType("aws:cloudwatch/metricAlarm:MetricAlarm")); n != len(alarms) {
				t.Errorf("the program creates %d alarms, the cost counts %d", n, len(alarms))
			}
			if got := qty("cloudwatch/alarms"); got != float64(metrics) {
				t.Errorf("alarm metrics %g, the program's alarms read %d", got, metrics)
			}
			if got, n := qty("cloudwatch/dashboards"), len(g.ByType("aws:cloudwatch/dashboard:Dashboard")); got != float64(n) {
				t.Errorf("dashboards %g, the program creates %d", got, n)
			}
			if got, n := qty("kms/keys"), len(g.ByType("aws:kms/key:Key")); got != float64(n) {
				t.Errorf("KMS keys %g, the program creates %d", got, n)
			}
			secrets := len(g.ByType("aws:secretsmanager/secret:Secret"))
			if db.Bool("manageMasterUserPassword") {
				secrets++ // RDS keeps the master password in a secret of its own
			}
			if got := qty("secretsmanager/secrets"); got != float64(secrets) {
				t.Errorf("secrets %g, the program creates %d", got, secrets)
			}
		})
	}
}

func only(t *testing.T, g *pulumitest.Graph, typ string) pulumitest.Resource {
	t.Helper()
	rs := g.ByType(typ)
	if len(rs) != 1 {
		t.Fatalf("%d %s, want 1", len(rs), typ)
	}
	return rs[0]
}
