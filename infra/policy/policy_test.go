package policy_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/shipyard-kit/shipyard/infra/policy"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

func urn(stack, parentType, typ, name string) string {
	qualified := typ
	if parentType != "" {
		qualified = parentType + "$" + typ
	}
	return "urn:pulumi:" + stack + "::shipyard::" + qualified + "::" + name
}

func openIngress(port float64) resource.PropertyMap {
	return resource.PropertyMap{"ingress": resource.NewArrayProperty([]resource.PropertyValue{resource.NewObjectProperty(resource.PropertyMap{
		"protocol": resource.NewStringProperty("tcp"), "fromPort": resource.NewNumberProperty(port), "toPort": resource.NewNumberProperty(port),
		"cidrBlocks": resource.NewArrayProperty([]resource.PropertyValue{resource.NewStringProperty("0.0.0.0/0")}),
	})})}
}

func TestTheResourceViewReadsURNsAndNestedSecretInputs(t *testing.T) {
	r := policy.Resource{
		Type: policy.TypeLoadBalancer,
		URN:  urn("prod", "shipyard:aws:LoadBalancer", policy.TypeLoadBalancer, "web-alb"),
		Inputs: resource.PropertyMap{"accessLogs": resource.MakeSecret(resource.NewObjectProperty(resource.PropertyMap{
			"enabled": resource.NewBoolProperty(true),
			"bucket":  resource.NewStringProperty("logs"),
		}))},
	}
	if r.Stack() != "prod" || !r.InComponent("shipyard:aws:LoadBalancer") || r.InComponent("shipyard:aws:Network") {
		t.Errorf("stack %q parents %v", r.Stack(), r.ParentTypes())
	}
	if !r.True("accessLogs.enabled") || r.String("accessLogs.bucket") != "logs" {
		t.Errorf("secret-wrapped inputs not read: %v", r.Inputs)
	}
}

func TestDeliberateExceptionsAreNarrow(t *testing.T) {
	cases := []struct {
		name string
		rule string
		r    policy.Resource
		fail bool
	}{
		{"the ALB's security group may accept the internet on 443", "EC2.18",
			policy.Resource{Type: policy.TypeSecurityGroup, URN: urn("prod", policy.LoadBalancerComponent, policy.TypeSecurityGroup, "web-sg"), Inputs: openIngress(443)}, false},
		{"the ALB's security group may not accept the internet on 8080", "EC2.18",
			policy.Resource{Type: policy.TypeSecurityGroup, URN: urn("prod", policy.LoadBalancerComponent, policy.TypeSecurityGroup, "web-sg"), Inputs: openIngress(8080)}, true},
		{"another component's security group may not accept the internet on 443", "EC2.18",
			policy.Resource{Type: policy.TypeSecurityGroup, URN: urn("prod", "shipyard:aws:Network", policy.TypeSecurityGroup, "network-app-sg"), Inputs: openIngress(443)}, true},
		{"the FireLens router may run as root", "ECS.20", taskDef(`[{"name":"log_router","user":"0","firelensConfiguration":{"type":"fluentbit"}}]`), false},
		{"an app container may not run as root", "ECS.20", taskDef(`[{"name":"app","user":"0"}]`), true},
		{"a container without a user runs as root", "ECS.20", taskDef(`[{"name":"app"}]`), true},
		{"the init-image router may have a writable root", "ECS.5", taskDef(`[{"name":"log_router","image":"public.ecr.aws/aws-observability/aws-for-fluent-bit:init-2.32.4","readonlyRootFilesystem":false,"firelensConfiguration":{"type":"fluentbit"}}]`), false},
		{"a plain router may not have a writable root", "ECS.5", taskDef(`[{"name":"log_router","image":"public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.4","readonlyRootFilesystem":false,"firelensConfiguration":{"type":"fluentbit"}}]`), true},
		{"a key policy may give the account root kms:*", "IAM.21", keyPolicy(`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"kms:*","Resource":"*"}]}`), false},
		{"a key policy may not give a role kms:*", "IAM.21", keyPolicy(`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/app"},"Action":"kms:*","Resource":"*"}]}`), true},
		{"a deny with a wildcard is not a grant", "IAM.21", policy.Resource{Type: policy.TypeBucketPolicy, URN: urn("dev", "", policy.TypeBucketPolicy, "p"),
			Inputs: resource.PropertyMap{"policy": resource.NewStringProperty(`{"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}}`)}}, false},
		{"a setting named after tokens is not a secret", "ECS.8", taskDef(`[{"name":"app","environment":[{"name":"TOKEN_PURGE_INTERVAL","value":"1h"}]}]`), false},
		{"an env var ending in _SECRET is a secret", "ECS.8", taskDef(`[{"name":"app","environment":[{"name":"SESSION_SECRET","value":"x"}]}]`), true},
		{"an env var named like an injected secret is refused", "ECS.8", taskDef(`[{"name":"app","environment":[{"name":"SIGNING","value":"x"}],"secrets":[{"name":"SIGNING","valueFrom":"arn"}]}]`), true},
		{"an execution role may pull auth tokens on every resource", "SHIPYARD-IAM-1", rolePolicy(`{"Statement":[{"Effect":"Allow","Action":["ecr:GetAuthorizationToken"],"Resource":"*"}]}`), false},
		{"a dev log group may keep 14 days", "CloudWatch.16", logGroup("dev", 14), false},
		{"a staging log group may not keep 30 days", "CloudWatch.16", logGroup("staging", 30), true},
		{"a prod log group may not keep 364 days", "CloudWatch.16", logGroup("prod", 364), true},
		{"a prod log group may keep 365 days", "CloudWatch.16", logGroup("prod", 365), false},
		{"the clock may deploy without alarms", "SHIPYARD-REL-5", ecsService("shipyard-prod-clock", nil), false},
		{"the worker may not deploy without alarms", "SHIPYARD-REL-5", ecsService("shipyard-prod-worker", nil), true},
		{"a service named after the clock in the middle is not the clock", "SHIPYARD-REL-5", ecsService("shipyard-prod-clockwork", nil), true},
		{"the worker may deploy with alarms that roll back", "SHIPYARD-REL-5", ecsService("shipyard-prod-worker", []string{"shipyard-prod-queueLatency"}), false},
		{"a role may not read every secret", "SHIPYARD-IAM-1", rolePolicy(`{"Statement":[{"Effect":"Allow","Action":["secretsmanager:GetSecretValue"],"Resource":"*"}]}`), true},
		{"a dev database may go without enhanced monitoring", "RDS.6", database("dev", 0), false},
		{"a staging database may not go without enhanced monitoring", "RDS.6", database("staging", 0), true},
		{"a dev database may go without Performance Insights", "CKV_AWS_353", database("dev", 0), false},
		{"a prod database may not go without Performance Insights", "CKV_AWS_353", database("prod", 0), true},
		{"the ALB's ip targets may get plain HTTP", "ELB.22", targetGroup(policy.LoadBalancerComponent, "ip", "HTTP"), false},
		{"instance targets may not get plain HTTP", "ELB.22", targetGroup(policy.LoadBalancerComponent, "instance", "HTTP"), true},
		{"another component's ip targets may not get plain HTTP", "ELB.22", targetGroup("shipyard:aws:Service", "ip", "HTTP"), true},
		{"the ALB's ip targets may not be health-checked over plain TCP", "ELB.21", targetGroup(policy.LoadBalancerComponent, "ip", "TCP"), true},
		{"the app may reach the internet on 443", "AVD-AWS-0104", securityGroup(policy.NetworkComponent, "tcp", 443), false},
		{"the app may not reach the internet on 80", "AVD-AWS-0104", securityGroup(policy.NetworkComponent, "tcp", 80), true},
		{"the app may not reach the internet on every protocol", "AVD-AWS-0104", securityGroup(policy.NetworkComponent, "-1", 0), true},
		{"another component's group may not reach the internet on 443", "AVD-AWS-0104", securityGroup("shipyard:aws:VPCEndpoints", "tcp", 443), true},
		{"a dev ALB may go without a web ACL", "ELB.16", alb("dev"), false},
		{"a staging ALB may not go without a web ACL", "ELB.16", alb("staging"), true},
		{"a PR environment's log group may keep 3 days", "CloudWatch.16", logGroup("dev-pr-7", 3), false},
		{"a stack named like a PR environment without its number is not one", "CloudWatch.16", logGroup("staging-pr-x", 3), true},
		{"a PR environment's worker may deploy without alarms", "SHIPYARD-REL-5", inStack(ecsService("shipyard-dev-pr-7-worker", nil), "dev-pr-7"), false},
		{"a PR environment's ip targets may get plain HTTP", "ELB.22", targetGroup(policy.PreviewRoutingComponent, "ip", "HTTP"), false},
		{"a PR stack may not create a VPC", "SHIPYARD-PR-1", inStack(policy.Resource{Type: policy.TypeVPC, URN: urn("prod", "", policy.TypeVPC, "vpc")}, "dev-pr-7"), true},
		{"a PR stack may not create a database instance", "SHIPYARD-PR-1", inStack(database("dev", 60), "staging-pr-12"), true},
		{"a PR stack may not create a cache cluster", "SHIPYARD-PR-1", inStack(policy.Resource{Type: "aws:elasticache/cluster:Cluster", URN: urn("prod", "", "aws:elasticache/cluster:Cluster", "c")}, "dev-pr-7"), true},
		{"a PR stack may not create a load balancer", "SHIPYARD-PR-1", inStack(alb("dev"), "dev-pr-7"), true},
		{"the dev stack creates the database PRs share", "SHIPYARD-PR-1", database("dev", 60), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rule, ok := policy.ByID(c.rule)
			if !ok {
				t.Fatalf("no rule %s", c.rule)
			}
			vs := policy.Evaluate([]policy.Rule{rule}, []policy.Resource{c.r})
			if (len(vs) > 0) != c.fail {
				t.Errorf("violations %v, want failure %v", vs, c.fail)
			}
		})
	}
}

// inStack moves r to stack (its URN's stack part).
func inStack(r policy.Resource, stack string) policy.Resource {
	_, rest, _ := strings.Cut(strings.TrimPrefix(r.URN, "urn:pulumi:"), "::")
	r.URN = "urn:pulumi:" + stack + "::" + rest
	return r
}

func taskDef(containers string) policy.Resource {
	return policy.Resource{Type: policy.TypeTaskDefinition, URN: urn("prod", "shipyard:aws:Service", policy.TypeTaskDefinition, "web-task"),
		Inputs: resource.PropertyMap{"containerDefinitions": resource.NewStringProperty(containers)}}
}

func ecsService(name string, alarms []string) policy.Resource {
	in := resource.PropertyMap{"name": resource.NewStringProperty(name)}
	if alarms != nil {
		var names []resource.PropertyValue
		for _, a := range alarms {
			names = append(names, resource.NewStringProperty(a))
		}
		in["alarms"] = resource.NewObjectProperty(resource.PropertyMap{
			"alarmNames": resource.NewArrayProperty(names),
			"enable":     resource.NewBoolProperty(true),
			"rollback":   resource.NewBoolProperty(true),
		})
	}
	return policy.Resource{Type: policy.TypeECSService, URN: urn("prod", "shipyard:aws:Service", policy.TypeECSService, "worker-service"), Inputs: in}
}

func keyPolicy(doc string) policy.Resource {
	return policy.Resource{Type: policy.TypeKMSKey, URN: urn("prod", "shipyard:aws:Logging", policy.TypeKMSKey, "logs-key"),
		Inputs: resource.PropertyMap{"policy": resource.NewStringProperty(doc)}}
}

func logGroup(stack string, days float64) policy.Resource {
	return policy.Resource{Type: policy.TypeLogGroup, URN: urn(stack, "shipyard:aws:Logging", policy.TypeLogGroup, "logs-web"),
		Inputs: resource.PropertyMap{"retentionInDays": resource.NewNumberProperty(days)}}
}

// database is an RDS instance with enhanced monitoring every interval
// seconds (0: off) and Performance Insights on when interval > 0.
func database(stack string, interval float64) policy.Resource {
	return policy.Resource{Type: policy.TypeRDSInstance, URN: urn(stack, "shipyard:aws:Database", policy.TypeRDSInstance, "database-instance"),
		Inputs: resource.PropertyMap{"monitoringInterval": resource.NewNumberProperty(interval), "performanceInsightsEnabled": resource.NewBoolProperty(interval > 0)}}
}

func targetGroup(component, targetType, protocol string) policy.Resource {
	return policy.Resource{Type: policy.TypeTargetGroup, URN: urn("prod", component, policy.TypeTargetGroup, "web-web"),
		Inputs: resource.PropertyMap{"targetType": resource.NewStringProperty(targetType), "protocol": resource.NewStringProperty(protocol),
			"healthCheck": resource.NewObjectProperty(resource.PropertyMap{"protocol": resource.NewStringProperty(protocol)})}}
}

func securityGroup(component, protocol string, port float64) policy.Resource {
	return policy.Resource{Type: policy.TypeSecurityGroup, URN: urn("prod", component, policy.TypeSecurityGroup, "sg"),
		Inputs: resource.PropertyMap{"egress": resource.NewArrayProperty([]resource.PropertyValue{resource.NewObjectProperty(resource.PropertyMap{
			"protocol": resource.NewStringProperty(protocol), "fromPort": resource.NewNumberProperty(port), "toPort": resource.NewNumberProperty(port),
			"cidrBlocks": resource.NewArrayProperty([]resource.PropertyValue{resource.NewStringProperty("0.0.0.0/0")}),
		})})}}
}

func alb(stack string) policy.Resource {
	return policy.Resource{Type: policy.TypeLoadBalancer, URN: urn(stack, policy.LoadBalancerComponent, policy.TypeLoadBalancer, "web-alb")}
}

func rolePolicy(doc string) policy.Resource {
	return policy.Resource{Type: policy.TypeIAMRolePolicy, URN: urn("prod", "shipyard:aws:Service", policy.TypeIAMRolePolicy, "web-execution"),
		Inputs: resource.PropertyMap{"policy": resource.NewStringProperty(doc)}}
}

func TestXRayPermissionsAreExactlyWhatTheCollectorCalls(t *testing.T) {
	const collector = `[{"name":"otel_collector","image":"public.ecr.aws/aws-observability/aws-otel-collector:v0.45.1"}]`
	const app = `[{"name":"app","image":"app"}]`
	traces := func(actions string) policy.Resource {
		return rolePolicy(`{"Version":"2012-10-17","Statement":[{"Sid":"Traces","Effect":"Allow","Action":[` + actions + `],"Resource":["*"]}]}`)
	}
	cases := []struct {
		name string
		rs   []policy.Resource
		rule string
		fail bool
	}{
		{"PutTraceSegments alone is allowed", []policy.Resource{traces(`"xray:PutTraceSegments"`)}, "SHIPYARD-TRACE-1", false},
		{"sampling rules are not needed", []policy.Resource{traces(`"xray:PutTraceSegments","xray:GetSamplingRules"`)}, "SHIPYARD-TRACE-1", true},
		{"reading traces is not needed", []policy.Resource{traces(`"xray:BatchGetTraces"`)}, "SHIPYARD-TRACE-1", true},
		{"PutTraceSegments on * is not a resource wildcard violation", []policy.Resource{traces(`"xray:PutTraceSegments"`)}, "SHIPYARD-IAM-1", false},
		{"a collector with a role that may write traces", []policy.Resource{taskDef(collector), traces(`"xray:PutTraceSegments"`)}, "SHIPYARD-TRACE-2", false},
		{"a collector without it drops every span", []policy.Resource{taskDef(collector)}, "SHIPYARD-TRACE-2", true},
		{"the permission without a collector is unused", []policy.Resource{taskDef(app), traces(`"xray:PutTraceSegments"`)}, "SHIPYARD-TRACE-2", true},
		{"neither is fine (tracing off)", []policy.Resource{taskDef(app)}, "SHIPYARD-TRACE-2", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rule, ok := policy.ByID(c.rule)
			if !ok {
				t.Fatalf("no rule %s", c.rule)
			}
			vs := policy.Evaluate([]policy.Rule{rule}, c.rs)
			if (len(vs) > 0) != c.fail {
				t.Errorf("violations %v, want failure %v", vs, c.fail)
			}
		})
	}
}

func TestProdOnlyRulesSkipOtherStacks(t *testing.T) {
	rule, _ := policy.ByID("RDS.8")
	db := func(stack string) policy.Resource {
		return policy.Resource{Type: policy.TypeRDSInstance, URN: urn(stack, "shipyard:aws:Database", policy.TypeRDSInstance, "database-instance"),
			Inputs: resource.PropertyMap{"deletionProtection": resource.NewBoolProperty(false)}}
	}
	if vs := policy.Evaluate([]policy.Rule{rule}, []policy.Resource{db("dev")}); len(vs) != 0 {
		t.Errorf("dev: %v", vs)
	}
	if vs := policy.Evaluate([]policy.Rule{rule}, []policy.Resource{db("prod")}); len(vs) != 1 {
		t.Errorf("prod: %v", vs)
	}
}

func TestRulesAreIdentifiedAndExplained(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range policy.All() {
		if seen[r.ID] {
			t.Errorf("duplicate rule ID %s", r.ID)
		}
		seen[r.ID] = true
		if r.Title == "" || r.Reason == "" || strings.Contains(r.Reason, "\n") || len(r.Types) == 0 || (r.Check == nil) == (r.CheckStack == nil) {
			t.Errorf("%s: title %q, reason %q, types %v, one of Check/CheckStack", r.ID, r.Title, r.Reason, r.Types)
		}
	}
	for _, e := range policy.Exceptions {
		for _, id := range strings.Split(e.RuleID, ", ") {
			if !seen[id] {
				t.Errorf("exception for unknown rule %s", id)
			}
		}
		if e.Reason == "" {
			t.Errorf("exception %q has no reason", e.What)
		}
	}
}

func TestRulesSkipValuesAPreviewDoesNotKnowYet(t *testing.T) {
	computed := resource.MakeComputed(resource.NewStringProperty(""))
	cases := []struct {
		rule string
		r    policy.Resource
	}{
		{"ELB.5", policy.Resource{Type: policy.TypeLoadBalancer, URN: urn("dev", "", policy.TypeLoadBalancer, "alb"),
			Inputs: resource.PropertyMap{"accessLogs": resource.NewObjectProperty(resource.PropertyMap{"enabled": resource.NewBoolProperty(true), "bucket": computed})}}},
		{"ELB.13", policy.Resource{Type: policy.TypeLoadBalancer, URN: urn("dev", "", policy.TypeLoadBalancer, "alb"),
			Inputs: resource.PropertyMap{"subnets": computed}}},
		{"ElastiCache.7", policy.Resource{Type: policy.TypeReplicationGroup, URN: urn("dev", "", policy.TypeReplicationGroup, "redis"),
			Inputs: resource.PropertyMap{"subnetGroupName": computed}}},
		{"ECS.20", policy.Resource{Type: policy.TypeTaskDefinition, URN: urn("dev", "", policy.TypeTaskDefinition, "task"),
			Inputs: resource.PropertyMap{"containerDefinitions": computed}}},
		{"SNS.1", policy.Resource{Type: policy.TypeSNSTopic, URN: urn("dev", "", policy.TypeSNSTopic, "alarms-topic"),
			Inputs: resource.PropertyMap{"kmsMasterKeyId": computed}}},
		{"SHIPYARD-REL-5", policy.Resource{Type: policy.TypeECSService, URN: urn("dev", "", policy.TypeECSService, "web-service"),
			Inputs: resource.PropertyMap{"name": resource.NewStringProperty("shipyard-dev-web"), "alarms": resource.NewObjectProperty(resource.PropertyMap{
				"alarmNames": computed, "enable": resource.NewBoolProperty(true), "rollback": resource.NewBoolProperty(true)})}}},
		{"CloudWatch.15", policy.Resource{Type: policy.TypeMetricAlarm, URN: urn("dev", "", policy.TypeMetricAlarm, "alarms-cpuHigh-web"),
			Inputs: resource.PropertyMap{"alarmActions": computed, "okActions": computed}}},
		{"RDS.6", policy.Resource{Type: policy.TypeRDSInstance, URN: urn("prod", "", policy.TypeRDSInstance, "db"),
			Inputs: resource.PropertyMap{"monitoringInterval": resource.NewNumberProperty(60), "monitoringRoleArn": computed}}},
		{"CKV_AWS_354", policy.Resource{Type: policy.TypeRDSInstance, URN: urn("prod", "", policy.TypeRDSInstance, "db"),
			Inputs: resource.PropertyMap{"performanceInsightsEnabled": resource.NewBoolProperty(true), "performanceInsightsKmsKeyId": computed}}},
		{"SHIPYARD-LOGS-1", policy.Resource{Type: policy.TypeECSCluster, URN: urn("prod", "", policy.TypeECSCluster, "cluster"),
			Inputs: resource.PropertyMap{"name": computed, "settings": resource.NewArrayProperty([]resource.PropertyValue{resource.NewObjectProperty(resource.PropertyMap{
				"name": resource.NewStringProperty("containerInsights"), "value": resource.NewStringProperty("enabled")})})}}},
	}
	for _, c := range cases {
		t.Run(c.rule+" skips an unknown value", func(t *testing.T) {
			rule, _ := policy.ByID(c.rule)
			if vs := policy.Evaluate([]policy.Rule{rule}, []policy.Resource{c.r}); len(vs) != 0 {
				t.Errorf("%v", vs)
			}
		})
	}
}

func TestDocsListEveryRule(t *testing.T) {
	b, err := os.ReadFile("../../docs/aws.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range policy.IDs() {
		if !strings.Contains(string(b), "| `"+id+"` |") {
			t.Errorf("docs/aws.md does not list %s", id)
		}
	}
}

// TestTheRDSCertificateAuthorityRuleAllowsExactlyTheStackConfigs: the rule
// reads stackconfig.RDSCACertIdentifiers (the CAs config/schema.json allows
// and the app image's bundle holds), and names them when it refuses one.
func TestTheRDSCertificateAuthorityRuleAllowsExactlyTheStackConfigs(t *testing.T) {
	rule, ok := policy.ByID("SHIPYARD-RDS-2")
	if !ok {
		t.Fatal("no rule SHIPYARD-RDS-2")
	}
	db := func(ca string) policy.Resource {
		return policy.Resource{Type: policy.TypeRDSInstance, URN: urn("prod", "shipyard:aws:Database", policy.TypeRDSInstance, "database-instance"),
			Inputs: resource.PropertyMap{"caCertIdentifier": resource.NewStringProperty(ca)}}
	}
	for _, ca := range stackconfig.RDSCACertIdentifiers {
		if vs := policy.Evaluate([]policy.Rule{rule}, []policy.Resource{db(ca)}); len(vs) != 0 {
			t.Errorf("%s, one of stackconfig.RDSCACertIdentifiers, refused: %v", ca, vs)
		}
	}
	for _, ca := range []string{"rds-ca-2019", ""} {
		vs := policy.Evaluate([]policy.Rule{rule}, []policy.Resource{db(ca)})
		if len(vs) != 1 || !strings.Contains(fmt.Sprint(vs), strings.Join(stackconfig.RDSCACertIdentifiers, ", ")) {
			t.Errorf("caCertIdentifier %q: %v, want one violation naming the allowed %v", ca, vs, stackconfig.RDSCACertIdentifiers)
		}
	}
}
