package aws_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	awsinfra "github.com/shipyard-kit/shipyard/infra/aws"
	"github.com/shipyard-kit/shipyard/infra/aws/awsmock"
	"github.com/shipyard-kit/shipyard/infra/policy"
	"github.com/shipyard-kit/shipyard/infra/pulumitest"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

const (
	tCert       = "aws:acm/certificate:Certificate"
	tCertValid  = "aws:acm/certificateValidation:CertificateValidation"
	tRecord     = "aws:route53/record:Record"
	tSubnet     = "aws:ec2/subnet:Subnet"
	tRouteTable = "aws:ec2/routeTable:RouteTable"
	tVPC        = "aws:ec2/vpc:Vpc"
)

// iamDoc is an IAM policy document.
type iamDoc struct {
	Statement []struct {
		Action   []string
		Resource []string
	}
}

func policyDoc(t *testing.T, r pulumitest.Resource) iamDoc {
	t.Helper()
	var doc iamDoc
	if err := json.Unmarshal([]byte(r.String("policy")), &doc); err != nil {
		t.Fatalf("%s: policy %v", r.Name, err)
	}
	return doc
}

func TestEveryAWSStackRequestsACertificateValidatesItByDNSAndPointsItsDomainAtTheALB(t *testing.T) {
	for _, stack := range awsStacks {
		t.Run(stack, func(t *testing.T) {
			cfg := loadConfig(t, stack)
			domain, zone := cfg.LoadBalancer.Domain, awsmock.ZoneID(cfg.LoadBalancer.HostedZone.Name)
			g := graph(t, stack, true)

			certs := g.ByType(tCert)
			if len(certs) != 1 {
				t.Fatalf("%d ACM certificates, want 1", len(certs))
			}
			cert := certs[0]
			if cert.String("domainName") != domain || cert.String("validationMethod") != "DNS" ||
				!slices.Equal(inputStrings(cert, "subjectAlternativeNames"), []string{"*." + domain}) {
				t.Errorf("certificate for %q (SANs %v) validated by %q; want %s and *.%s by DNS",
					cert.String("domainName"), inputStrings(cert, "subjectAlternativeNames"), cert.String("validationMethod"), domain, domain)
			}
			certArn := "arn:aws:acm:eu-west-1:123456789012:certificate/certificate-cert-4f2a"

			validation := pick(t, g, tRecord, "certificate-validation")
			if validation.String("zoneId") != zone || validation.String("type") != "CNAME" ||
				validation.String("name") != "_3f1c0e2d9b8a7c6d5e4f3a2b1c0d9e8f."+domain+"." ||
				!slices.Equal(inputStrings(*validation, "records"), []string{"_7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d.mhbtsbpdnt.acm-validations.aws."}) {
				t.Errorf("validation record %v is not ACM's CNAME in zone %s", validation.Inputs, zone)
			}
			waits := g.ByType(tCertValid)
			if len(waits) != 1 || waits[0].String("certificateArn") != certArn ||
				!slices.Equal(inputStrings(waits[0], "validationRecordFqdns"), []string{strings.TrimSuffix(validation.String("name"), ".")}) {
				t.Fatalf("certificate validations %v: want one waiting for %s through the validation record", waits, certArn)
			}

			alb := pick(t, g, tALB, "")
			if alb.String("ipAddressType") != "dualstack" {
				t.Errorf("ALB ipAddressType %q: AAAA records need a dual-stack ALB", alb.String("ipAddressType"))
			}
			for _, typ := range []string{"A", "AAAA"} {
				r := pick(t, g, tRecord, "web-alias-"+strings.ToLower(typ))
				if r.String("type") != typ || r.String("name") != domain || r.String("zoneId") != zone ||
					r.String("aliases.0.name") != "shipyard-"+stack+"-1234567890.eu-west-1.elb.amazonaws.com" ||
					r.String("aliases.0.zoneId") != "Z32O12XQLNTSW2" || !r.Bool("aliases.0.evaluateTargetHealth") {
					t.Errorf("%s record %v is not an alias of %s to the ALB", typ, r.Inputs, domain)
				}
			}
		})
	}
}

// Policy-like: the listener serves the certificate ACM issued, and only
// once it is issued.
func TestTheHTTPSListenerUsesTheValidatedCertificate(t *testing.T) {
	for _, stack := range awsStacks {
		g := graph(t, stack, true)
		https := pick(t, g, tListener, "web-https")
		wait := pick(t, g, tCertValid, "")
		if https.String("certificateArn") != wait.String("certificateArn") || https.String("certificateArn") == "" {
			t.Errorf("%s: listener certificate %q, validated %q", stack, https.String("certificateArn"), wait.String("certificateArn"))
		}
		if !dependsOn(*https, wait.URN) {
			t.Errorf("%s: the HTTPS listener does not wait for the certificate validation (deps %v)", stack, https.Dependencies)
		}
	}
}

func TestTheDualStackALBHasIPv6PublicSubnetsAndRouteOnly(t *testing.T) {
	g := graph(t, "prod", true)
	if !pick(t, g, tVPC, "").Bool("assignGeneratedIpv6CidrBlock") {
		t.Error("the VPC has no IPv6 block")
	}
	seen := map[string]bool{}
	for _, sn := range g.ByType(tSubnet) {
		v6 := sn.String("ipv6CidrBlock")
		switch {
		case strings.Contains(sn.Name, "public"):
			if !strings.HasPrefix(v6, "2a05:d018:1c4:9f0") || !strings.HasSuffix(v6, "::/64") || seen[v6] {
				t.Errorf("public subnet %s: IPv6 block %q, want its own /64 of %s", sn.Name, v6, awsmock.VPCIPv6Block)
			}
			seen[v6] = true
			if sn.Bool("assignIpv6AddressOnCreation") || sn.Bool("mapPublicIpOnLaunch") {
				t.Errorf("public subnet %s gives addresses on launch", sn.Name)
			}
		default:
			if v6 != "" {
				t.Errorf("private subnet %s has IPv6 block %q", sn.Name, v6)
			}
		}
	}
	if len(seen) != 3 {
		t.Errorf("%d public IPv6 subnets, want 3", len(seen))
	}
	rt := pick(t, g, tRouteTable, "public-rt")
	if rt.String("routes.1.ipv6CidrBlock") != "::/0" || rt.String("routes.1.gatewayId") == "" {
		t.Errorf("public route table %v has no IPv6 default route to the internet gateway", rt.Inputs["routes"])
	}
	for _, r := range []string{"ingress.0.ipv6CidrBlocks.0", "ingress.1.ipv6CidrBlocks.0"} {
		if got := pick(t, g, tSG, "web-sg").String(r); got != "::/0" {
			t.Errorf("ALB security group %s = %q", r, got)
		}
	}
}

func TestYourOwnCertificateGetsNoManagedCertificateNorRecords(t *testing.T) {
	cfg := awsmock.Released(loadConfig(t, "staging"))
	byo := *cfg
	byo.LoadBalancer.HostedZone = nil
	byo.LoadBalancer.CertificateARN = "arn:aws:acm:eu-west-1:480193847560:certificate/8f1c2d3e-aaaa-4b5c-9d8e-7f6a5b4c3d2e"
	g, err := awsmock.RunConfig(&byo)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{tCert, tCertValid, tRecord} {
		if n := len(g.ByType(typ)); n != 0 {
			t.Errorf("%d %s with your own certificate", n, typ)
		}
	}
	if got := pick(t, g, tListener, "web-https").String("certificateArn"); got != byo.LoadBalancer.CertificateARN {
		t.Errorf("listener certificate %q", got)
	}
	if g.Outputs["certificateArn"] != byo.LoadBalancer.CertificateARN || g.Outputs["hostedZoneId"] != "" || g.Outputs["domain"] != byo.LoadBalancer.Domain {
		t.Errorf("outputs certificateArn %v, hostedZoneId %v, domain %v", g.Outputs["certificateArn"], g.Outputs["hostedZoneId"], g.Outputs["domain"])
	}
	for _, rule := range policy.All() {
		if vs := policy.Evaluate([]policy.Rule{rule}, policy.FromGraph(g)); len(vs) != 0 {
			t.Errorf("%s: %v", rule.ID, vs)
		}
	}
}

func TestAHostedZoneByIDIsUsedWithoutALookup(t *testing.T) {
	cfg := awsmock.Released(loadConfig(t, "dev"))
	c := *cfg
	c.LoadBalancer.HostedZone = &stackconfig.HostedZone{ID: "Z2FDTNDATAQYW2"}
	g, err := awsmock.RunConfig(&c)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range g.ByType(tRecord) {
		if r.String("zoneId") != "Z2FDTNDATAQYW2" {
			t.Errorf("%s in zone %q", r.Name, r.String("zoneId"))
		}
	}
	if g.Outputs["hostedZoneId"] != "Z2FDTNDATAQYW2" {
		t.Errorf("hostedZoneId output %v", g.Outputs["hostedZoneId"])
	}
}

// Item 7 of issue 19: CreateService must not race the listener that
// attaches the target group, nor the roles' inline policies.
func TestECSServicesWaitForTheHTTPSListenerAndTheirRolesPolicies(t *testing.T) {
	for _, stack := range awsStacks {
		g := graph(t, stack, true)
		https := pick(t, g, tListener, "web-https")
		web := pick(t, g, tService, "web-service")
		if !dependsOn(*web, https.URN) {
			t.Errorf("%s: the web service does not depend on the HTTPS listener", stack)
		}
		for _, p := range stackconfig.Processes {
			svc := pick(t, g, tService, string(p)+"-service")
			for _, suffix := range []string{"-execution", "-task"} {
				pol := pick(t, g, tRolePol, string(p)+suffix)
				if !dependsOn(*svc, pol.URN) {
					t.Errorf("%s: service %s does not depend on role policy %s", stack, p, pol.Name)
				}
			}
			if p != stackconfig.Web && !dependsOn(*svc, web.URN) {
				t.Errorf("%s: %s does not wait for web (and so for the listener)", stack, p)
			}
		}
	}
}

// Item 6 of issue 19: the VPC guide's permissions for the flow-log role.
func TestTheFlowLogRoleHasThePermissionsTheVPCGuideLists(t *testing.T) {
	g := graph(t, "dev", true)
	doc := policyDoc(t, *pick(t, g, tRolePol, "network-flow-logs"))
	granted := map[string][]string{}
	for _, st := range doc.Statement {
		for _, a := range st.Action {
			granted[a] = append(granted[a], st.Resource...)
		}
	}
	for _, a := range awsinfra.FlowLogActions {
		if len(granted[a]) == 0 {
			t.Errorf("the flow-log role lacks %s", a)
		}
	}
	if want := "arn:aws:logs:eu-west-1:123456789012:log-group:*"; !slices.Equal(granted["logs:DescribeLogGroups"], []string{want}) {
		t.Errorf("logs:DescribeLogGroups on %v, want %s", granted["logs:DescribeLogGroups"], want)
	}
	if want := []string{"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogGroups", "logs:DescribeLogStreams"}; !slices.Equal(awsinfra.FlowLogActions, want) {
		t.Errorf("FlowLogActions %v, want the guide's %v", awsinfra.FlowLogActions, want)
	}
}
