package aws

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/wafv2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// WAFManagedRuleGroups are the AWS managed rule groups of the web ACL, in
// evaluation order after the IP reputation list and the rate limit: the
// common rule set (OWASP top 10 style checks) and known bad inputs (Log4j,
// Java deserialization, …).
var WAFManagedRuleGroups = []string{"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"}

// WAFIPReputationGroup blocks addresses Amazon threat intelligence lists as
// bots and attackers; it is evaluated first.
const WAFIPReputationGroup = "AWSManagedRulesAmazonIpReputationList"

// wafCountedRules are rules of the managed groups that only count: the
// app enforces its own request body limit (MAX_BODY_BYTES, 1 MiB by
// default), which the common rule set's 8 KB SizeRestrictions_BODY would
// undercut.
var wafCountedRules = map[string][]string{"AWSManagedRulesCommonRuleSet": {"SizeRestrictions_BODY"}}

// WAFArgs configures the web ACL in front of the ALB.
type WAFArgs struct {
	// Name is the web ACL's name: "shipyard-<stack>".
	Name string
	// RateLimitPer5Min is loadBalancer.waf.rateLimitPer5Min.
	RateLimitPer5Min int
	// LoadBalancerArn is the ALB the web ACL is associated with.
	LoadBalancerArn pulumi.StringInput
	// Logging creates the log group of the blocked and counted requests
	// (WAFLogGroup), with the stack's key and retention.
	Logging *Logging
}

// WAFLogGroup is the web ACL's log group; AWS WAF only logs to groups whose
// name starts with "aws-waf-logs-".
func WAFLogGroup(acl string) string { return "aws-waf-logs-" + acl }

// WAFRedactedHeaders are left out of the WAF logs: they carry the clients'
// bearer tokens and session cookies.
var WAFRedactedHeaders = []string{"authorization", "cookie"}

// WAF is a regional AWS WAF web ACL associated with the ALB (ELB.16): AWS
// managed rule groups and a per-IP rate limit, the backstop of the app's
// own rate limiting (docs/app.md).
type WAF struct {
	pulumi.ResourceState

	WebAclArn pulumi.StringOutput
}

// NewWAF creates the web ACL and associates it with the load balancer.
func NewWAF(ctx *pulumi.Context, name string, args WAFArgs, opts ...pulumi.ResourceOption) (*WAF, error) {
	comp := &WAF{}
	if err := ctx.RegisterComponentResource(typePrefix+"WAF", name, comp, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(comp)

	visibility := func(metric string) wafv2.WebAclRuleVisibilityConfigArgs {
		return wafv2.WebAclRuleVisibilityConfigArgs{
			CloudwatchMetricsEnabled: pulumi.Bool(true),
			MetricName:               pulumi.String(metric),
			SampledRequestsEnabled:   pulumi.Bool(true),
		}
	}
	managed := func(group string, priority int) wafv2.WebAclRuleArgs {
		var overrides wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideArray
		for _, r := range wafCountedRules[group] {
			overrides = append(overrides, wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideArgs{
				Name:        pulumi.String(r),
				ActionToUse: wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseArgs{Count: wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseCountArgs{}},
			})
		}
		return wafv2.WebAclRuleArgs{
			Name:     pulumi.String(group),
			Priority: pulumi.Int(priority),
			// The group's own actions (block) apply.
			OverrideAction: wafv2.WebAclRuleOverrideActionArgs{None: wafv2.WebAclRuleOverrideActionNoneArgs{}},
			Statement: wafv2.WebAclRuleStatementArgs{
				ManagedRuleGroupStatement: wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs{
					VendorName:          pulumi.String("AWS"),
					Name:                pulumi.String(group),
					RuleActionOverrides: overrides,
				},
			},
			VisibilityConfig: visibility(group),
		}
	}
	rules := wafv2.WebAclRuleArray{
		managed(WAFIPReputationGroup, 0),
		wafv2.WebAclRuleArgs{
			Name:     pulumi.String("rate-limit-per-ip"),
			Priority: pulumi.Int(1),
			Action:   wafv2.WebAclRuleActionArgs{Block: wafv2.WebAclRuleActionBlockArgs{}},
			Statement: wafv2.WebAclRuleStatementArgs{
				RateBasedStatement: wafv2.WebAclRuleStatementRateBasedStatementArgs{
					AggregateKeyType:    pulumi.String("IP"),
					Limit:               pulumi.Int(args.RateLimitPer5Min),
					EvaluationWindowSec: pulumi.Int(300),
				},
			},
			VisibilityConfig: visibility("rate-limit-per-ip"),
		},
	}
	for i, g := range WAFManagedRuleGroups {
		rules = append(rules, managed(g, 2+i))
	}
	acl, err := wafv2.NewWebAcl(ctx, name+"-acl", &wafv2.WebAclArgs{
		Name:          pulumi.String(args.Name),
		Description:   pulumi.String("Shipyard ALB: AWS managed rules and a per-IP rate limit"),
		Scope:         pulumi.String("REGIONAL"),
		DefaultAction: wafv2.WebAclDefaultActionArgs{Allow: wafv2.WebAclDefaultActionAllowArgs{}},
		Rules:         rules,
		VisibilityConfig: wafv2.WebAclVisibilityConfigArgs{
			CloudwatchMetricsEnabled: pulumi.Bool(true),
			MetricName:               pulumi.String(args.Name),
			SampledRequestsEnabled:   pulumi.Bool(true),
		},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("waf web acl: %w", err)
	}
	// WAF.11: blocked and counted requests are logged (allowed ones are
	// in the ALB's access logs), without credentials.
	group, err := args.Logging.LogGroup(ctx, name+"-logs", WAFLogGroup(args.Name), parent)
	if err != nil {
		return nil, err
	}
	var redacted wafv2.WebAclLoggingConfigurationRedactedFieldArray
	for _, h := range WAFRedactedHeaders {
		redacted = append(redacted, wafv2.WebAclLoggingConfigurationRedactedFieldArgs{
			SingleHeader: wafv2.WebAclLoggingConfigurationRedactedFieldSingleHeaderArgs{Name: pulumi.String(h)},
		})
	}
	keep := func(action string) wafv2.WebAclLoggingConfigurationLoggingFilterFilterConditionArgs {
		return wafv2.WebAclLoggingConfigurationLoggingFilterFilterConditionArgs{
			ActionCondition: wafv2.WebAclLoggingConfigurationLoggingFilterFilterConditionActionConditionArgs{Action: pulumi.String(action)},
		}
	}
	if _, err := wafv2.NewWebAclLoggingConfiguration(ctx, name+"-logging", &wafv2.WebAclLoggingConfigurationArgs{
		ResourceArn:           acl.Arn,
		LogDestinationConfigs: pulumi.StringArray{group.Arn},
		RedactedFields:        redacted,
		LoggingFilter: wafv2.WebAclLoggingConfigurationLoggingFilterArgs{
			DefaultBehavior: pulumi.String("DROP"),
			Filters: wafv2.WebAclLoggingConfigurationLoggingFilterFilterArray{wafv2.WebAclLoggingConfigurationLoggingFilterFilterArgs{
				Behavior:    pulumi.String("KEEP"),
				Requirement: pulumi.String("MEETS_ANY"),
				Conditions: wafv2.WebAclLoggingConfigurationLoggingFilterFilterConditionArray{
					keep("BLOCK"), keep("COUNT"),
				},
			}},
		},
	}, parent); err != nil {
		return nil, fmt.Errorf("waf logging: %w", err)
	}
	if _, err := wafv2.NewWebAclAssociation(ctx, name+"-alb", &wafv2.WebAclAssociationArgs{
		ResourceArn: args.LoadBalancerArn,
		WebAclArn:   acl.Arn,
	}, parent); err != nil {
		return nil, fmt.Errorf("waf association: %w", err)
	}
	comp.WebAclArn = acl.Arn
	return comp, ctx.RegisterResourceOutputs(comp, pulumi.Map{"webAclArn": comp.WebAclArn})
}
