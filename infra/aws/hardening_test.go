package aws_test

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	awsinfra "github.com/shipyard-kit/shipyard/infra/aws"
	"github.com/shipyard-kit/shipyard/infra/aws/awsmock"
	"github.com/shipyard-kit/shipyard/infra/pulumitest"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// runEdited runs a stack's released config after edit.
func runEdited(t *testing.T, stack string, edit func(c *stackconfig.Config)) *pulumitest.Graph {
	t.Helper()
	cfg := awsmock.Released(loadConfig(t, stack))
	edit(cfg)
	g, err := awsmock.RunConfig(cfg)
	if err != nil {
		t.Fatalf("run %s: %v", stack, err)
	}
	return g
}

func dependsOn(r pulumitest.Resource, urn string) bool { return slices.Contains(r.Dependencies, urn) }

func TestTheDatabaseHasPerformanceInsightsAndEnhancedMonitoringThroughItsOwnRole(t *testing.T) {
	for _, stack := range awsStacks {
		cfg := loadConfig(t, stack)
		g := graph(t, stack, true)
		db := pick(t, g, tRDS, "")
		if !db.Bool("performanceInsightsEnabled") || db.Number("performanceInsightsRetentionPeriod") != float64(cfg.Database.PerformanceInsightsRetentionDays) {
			t.Errorf("%s: performance insights %v, retention %v", stack, db.Bool("performanceInsightsEnabled"), db.Number("performanceInsightsRetentionPeriod"))
		}
		if db.Number("monitoringInterval") != 60 {
			t.Errorf("%s: monitoringInterval %v", stack, db.Number("monitoringInterval"))
		}
		role := pick(t, g, "aws:iam/role:Role", "database-monitoring")
		trust := role.String("assumeRolePolicy")
		if !strings.Contains(trust, `"monitoring.rds.amazonaws.com"`) || !strings.Contains(trust, `"aws:SourceAccount":"`+awsmock.AccountID+`"`) {
			t.Errorf("%s: monitoring role trust %s", stack, trust)
		}
		if !strings.HasSuffix(db.String("monitoringRoleArn"), ":role/"+role.Name) {
			t.Errorf("%s: monitoringRoleArn %q is not the monitoring role %s", stack, db.String("monitoringRoleArn"), role.Name)
		}
		attachment := pick(t, g, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "database-monitoring")
		if attachment.String("policyArn") != awsinfra.EnhancedMonitoringPolicyArn {
			t.Errorf("%s: monitoring policy %q", stack, attachment.String("policyArn"))
		}
		if !dependsOn(*db, attachment.URN) {
			t.Errorf("%s: the instance does not wait for the monitoring policy: %v", stack, db.Dependencies)
		}
	}
	g := runEdited(t, "dev", func(c *stackconfig.Config) {
		c.Database.PerformanceInsights, c.Database.MonitoringIntervalSeconds = false, 0
	})
	db := pick(t, g, tRDS, "")
	if db.Bool("performanceInsightsEnabled") || hasInput(*db, "performanceInsightsKmsKeyId") || db.Number("monitoringInterval") != 0 || hasInput(*db, "monitoringRoleArn") {
		t.Errorf("dev with both off: %v", db.Inputs)
	}
	if roles := g.ByType("aws:iam/role:Role"); slices.ContainsFunc(roles, func(r pulumitest.Resource) bool { return strings.Contains(r.Name, "monitoring") }) {
		t.Errorf("dev without enhanced monitoring still has its role")
	}
}

func TestTheParameterGroupLogsSlowStatementsAndSchemaChangesAsConfigured(t *testing.T) {
	g := runEdited(t, "staging", func(c *stackconfig.Config) {
		c.Database.LogMinDurationMs, c.Database.LogStatement = 250, "mod"
	})
	params := map[string]string{}
	for _, p := range pick(t, g, tParams, "").Inputs["parameters"].ArrayValue() {
		m := p.ObjectValue()
		params[m["name"].StringValue()] = m["value"].StringValue() + "/" + m["applyMethod"].StringValue()
	}
	if params["log_min_duration_statement"] != "250/immediate" || params["log_statement"] != "mod/immediate" || params["rds.force_ssl"] != "1/pending-reboot" {
		t.Errorf("parameters %v", params)
	}
}

func TestRedisAuthTokensRotateWithoutDowntime(t *testing.T) {
	cases := []struct {
		name             string
		version, retired int
		strategy, keeper string
	}{
		// No keepers: the token of a stack created before rotation stays.
		{"a stack's first token has no predecessor to retire", 1, 0, "ROTATE", ""},
		{"a new generation is added next to the previous one", 2, 0, "ROTATE", "2"},
		{"retiring the previous generation sets the current one alone", 2, 1, "SET", "2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := runEdited(t, "prod", func(cfg *stackconfig.Config) {
				cfg.Cache.AuthTokenVersion, cfg.Cache.RetiredAuthTokenVersion = c.version, c.retired
			})
			redis := pick(t, g, tRedis, "")
			if got := redis.String("authTokenUpdateStrategy"); got != c.strategy {
				t.Errorf("authTokenUpdateStrategy %q, want %q", got, c.strategy)
			}
			token := pick(t, g, "random:index/randomPassword:RandomPassword", "cache-auth-token")
			if got := token.String("keepers.authTokenVersion"); got != c.keeper || (c.keeper == "" && hasInput(*token, "keepers")) {
				t.Errorf("token keepers %v, want authTokenVersion %q", token.Inputs["keepers"], c.keeper)
			}
			version := pick(t, g, "aws:secretsmanager/secretVersion:SecretVersion", "cache-auth-token")
			if !dependsOn(*version, redis.URN) {
				t.Errorf("the secret gets the token before Redis accepts it: %v", version.Dependencies)
			}
			for _, p := range stackconfig.Processes {
				svc := pick(t, g, tService, string(p)+"-service")
				if svc.String("deploymentController.type") == "CODE_DEPLOY" {
					// ECS refuses a forced deployment of a CODE_DEPLOY
					// service: `shipyard up` redeploys it through
					// CodeDeploy after the update (cmd/shipyard
					// rotation.go, TestRedisAuthTokenRotation).
					if hasInput(*svc, "forceNewDeployment") || hasInput(*svc, "triggers") {
						t.Errorf("%s: a CodeDeploy-controlled service with forceNewDeployment %v, triggers %v", p, svc.Bool("forceNewDeployment"), svc.Inputs["triggers"])
					}
					continue
				}
				if !svc.Bool("forceNewDeployment") || svc.String("triggers.redisAuthTokenVersion") != strconv.Itoa(c.version) || !dependsOn(*svc, version.URN) {
					t.Errorf("%s: forceNewDeployment %v, triggers %v, after the secret %v", p, svc.Bool("forceNewDeployment"), svc.Inputs["triggers"], dependsOn(*svc, version.URN))
				}
			}
		})
	}
}

func TestContainerInsightsWritesToALogGroupOfTheStack(t *testing.T) {
	for _, stack := range awsStacks {
		cfg := loadConfig(t, stack)
		g := graph(t, stack, true)
		cluster := pick(t, g, tCluster, "")
		group := pick(t, g, tLogGroup, "cluster-insights")
		if want := awsinfra.ContainerInsightsLogGroup("shipyard-" + stack); group.String("name") != want {
			t.Errorf("%s: log group %q, want %q", stack, group.String("name"), want)
		}
		if group.Number("retentionInDays") != float64(cfg.Logging.RetentionDays) || !strings.Contains(group.String("kmsKeyId"), "key/logs-key") {
			t.Errorf("%s: insights log group retention %v key %q", stack, group.Number("retentionInDays"), group.String("kmsKeyId"))
		}
		if group.Protect != (stack == "prod") {
			t.Errorf("%s: insights log group protect %v", stack, group.Protect)
		}
		if !dependsOn(*cluster, group.URN) {
			t.Errorf("%s: the cluster may start before its log group exists: %v", stack, cluster.Dependencies)
		}
	}
}

func TestVPCEndpointsKeepAWSAPITrafficInTheVPCWhereConfigured(t *testing.T) {
	for _, stack := range awsStacks {
		cfg := loadConfig(t, stack)
		g := graph(t, stack, true)
		endpoints := g.ByType("aws:ec2/vpcEndpoint:VpcEndpoint")
		if !cfg.Network.VPCEndpoints {
			if len(endpoints) != 0 {
				t.Errorf("%s: %d endpoints with network.vpcEndpoints off", stack, len(endpoints))
			}
			continue
		}
		sg := pick(t, g, tSG, "endpoints-sg")
		app := pick(t, g, tSG, "app-sg")
		if sg.Number("ingress.0.fromPort") != 443 || sg.String("ingress.0.securityGroups.0") != app.Name+"-id" || len(sg.Inputs["ingress"].ArrayValue()) != 1 || hasInput(*sg, "egress") {
			t.Errorf("%s: endpoints security group %v", stack, sg.Inputs)
		}
		var services []string
		for _, e := range endpoints {
			svc := strings.TrimPrefix(e.String("serviceName"), "com.amazonaws."+awsmock.Region+".")
			services = append(services, svc)
			switch e.String("vpcEndpointType") {
			case "Gateway":
				if svc != "s3" || len(e.Inputs["routeTableIds"].ArrayValue()) != cfg.Network.AZCount {
					t.Errorf("%s: gateway endpoint %s on %v", stack, svc, e.Inputs["routeTableIds"])
				}
			case "Interface":
				if !e.Bool("privateDnsEnabled") || len(e.Inputs["subnetIds"].ArrayValue()) != cfg.Network.AZCount || e.String("securityGroupIds.0") != sg.Name+"-id" {
					t.Errorf("%s: interface endpoint %s: %v", stack, svc, e.Inputs)
				}
			default:
				t.Errorf("%s: endpoint %s of type %q", stack, svc, e.String("vpcEndpointType"))
			}
		}
		sort.Strings(services)
		if want := []string{"ecr.api", "ecr.dkr", "kms", "logs", "s3", "secretsmanager"}; !slices.Equal(services, want) {
			t.Errorf("%s: endpoints %v, want %v", stack, services, want)
		}
	}
}

func TestTheAppSecurityGroupReachesOnlyHTTPSAndTheDataStores(t *testing.T) {
	for _, stack := range awsStacks {
		cfg := loadConfig(t, stack)
		app := pick(t, graph(t, stack, true), tSG, "app-sg")
		var got []string
		for i := range app.Inputs["egress"].ArrayValue() {
			p := fmt.Sprintf("egress.%d.", i)
			got = append(got, fmt.Sprintf("%s %s %v-%v", app.String(p+"protocol"), app.String(p+"cidrBlocks.0"), app.Number(p+"fromPort"), app.Number(p+"toPort")))
		}
		want := []string{"tcp 0.0.0.0/0 443-443", "tcp " + cfg.Network.CIDR + " 5432-5432", "tcp " + cfg.Network.CIDR + " 6379-6379"}
		if !slices.Equal(got, want) {
			t.Errorf("%s: app egress %v, want %v", stack, got, want)
		}
	}
}

func TestAWebACLGuardsTheALBWhereConfigured(t *testing.T) {
	for _, stack := range awsStacks {
		cfg := loadConfig(t, stack)
		g := graph(t, stack, true)
		acls, associations := g.ByType(tWebACL), g.ByType("aws:wafv2/webAclAssociation:WebAclAssociation")
		if !cfg.LoadBalancer.WAF.Enabled {
			if len(acls)+len(associations) != 0 {
				t.Errorf("%s: %d web ACLs, %d associations with the WAF off", stack, len(acls), len(associations))
			}
			continue
		}
		if len(acls) != 1 || len(associations) != 1 {
			t.Fatalf("%s: %d web ACLs, %d associations", stack, len(acls), len(associations))
		}
		acl, assoc := acls[0], associations[0]
		alb := pick(t, g, tALB, "")
		if acl.String("scope") != "REGIONAL" || !dependsOn(assoc, acl.URN) || !dependsOn(assoc, alb.URN) {
			t.Errorf("%s: web ACL scope %q, association depends on %v", stack, acl.String("scope"), assoc.Dependencies)
		}
		if got := acl.Number("rules.1.statement.rateBasedStatement.limit"); got != float64(cfg.LoadBalancer.WAF.RateLimitPer5Min) || acl.String("rules.1.statement.rateBasedStatement.aggregateKeyType") != "IP" {
			t.Errorf("%s: rate limit %v", stack, acl.Inputs["rules"])
		}
		var groups []string
		for i := range acl.Inputs["rules"].ArrayValue() {
			if name := acl.String(fmt.Sprintf("rules.%d.statement.managedRuleGroupStatement.name", i)); name != "" {
				groups = append(groups, name)
			}
		}
		if want := append([]string{awsinfra.WAFIPReputationGroup}, awsinfra.WAFManagedRuleGroups...); !slices.Equal(groups, want) {
			t.Errorf("%s: managed groups %v, want %v", stack, groups, want)
		}
		logging := pick(t, g, "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration", "")
		group := pick(t, g, tLogGroup, "waf-logs")
		if group.String("name") != "aws-waf-logs-shipyard-"+stack || !strings.Contains(group.String("kmsKeyId"), "key/logs-key") || group.Number("retentionInDays") != float64(cfg.Logging.RetentionDays) {
			t.Errorf("%s: waf log group %v", stack, group.Inputs)
		}
		if !dependsOn(*logging, group.URN) || !dependsOn(*logging, acl.URN) || logging.String("loggingFilter.defaultBehavior") != "DROP" ||
			logging.String("loggingFilter.filters.0.behavior") != "KEEP" || logging.String("loggingFilter.filters.0.conditions.0.actionCondition.action") != "BLOCK" {
			t.Errorf("%s: waf logging %v", stack, logging.Inputs)
		}
		// The app's own body limit (1 MiB) stands; the 8 KB body rule only counts.
		if acl.String("rules.2.statement.managedRuleGroupStatement.ruleActionOverrides.0.name") != "SizeRestrictions_BODY" ||
			!hasInput(acl, "rules.2.statement.managedRuleGroupStatement.ruleActionOverrides.0.actionToUse.count") {
			t.Errorf("%s: common rule set overrides %v", stack, acl.Inputs["rules"].ArrayValue()[2])
		}
	}
}
