package aws

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lb"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// PreviewRulePriorityBase is added to a PR environment's slot to make its
// listener rule's priority: slots are unique among a base's live PR
// environments, so their rules never collide, and they come after the
// base's own rules (priority 1 answers /metrics itself, for every host).
const PreviewRulePriorityBase = 100

// PreviewRoutingArgs configures a PR environment's way in through the
// base stack's ALB.
type PreviewRoutingArgs struct {
	// Host is "pr-<n>.<domain>".
	Host string
	// Slot makes the listener rule's priority (PreviewRulePriorityBase+Slot).
	Slot int
	// TargetGroupName is "shipyard-<stack>-web" (≤ 32 characters).
	TargetGroupName string
	VpcId           string
	// ListenerArn is the base's HTTPS listener.
	ListenerArn string
	// HostedZoneId, when set, gets alias A and AAAA records for Host
	// pointing at the base's ALB (AlbDNSName, AlbZoneId).
	HostedZoneId, AlbDNSName, AlbZoneId string
	AppPort                             int
	HealthCheckPath                     string
	DeregistrationDelaySeconds          int
}

// PreviewRouting is a PR environment's target group, the listener rule
// that forwards its host to it, and its DNS records.
type PreviewRouting struct {
	pulumi.ResourceState

	TargetGroupArn pulumi.StringOutput
	// Rule attaches the target group to the ALB: the web service waits
	// for it.
	Rule *lb.ListenerRule
}

// NewPreviewRouting creates the target group, the host-header rule on the
// base's HTTPS listener and the alias records.
func NewPreviewRouting(ctx *pulumi.Context, name string, args PreviewRoutingArgs, opts ...pulumi.ResourceOption) (*PreviewRouting, error) {
	comp := &PreviewRouting{}
	if err := ctx.RegisterComponentResource(typePrefix+"PreviewRouting", name, comp, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(comp)
	tgArgs := webTargetGroupArgs(pulumi.String(args.VpcId), args.AppPort, args.HealthCheckPath, args.DeregistrationDelaySeconds)
	tgArgs.Name = pulumi.String(args.TargetGroupName)
	tg, err := lb.NewTargetGroup(ctx, name+"-tg", tgArgs, parent)
	if err != nil {
		return nil, fmt.Errorf("target group: %w", err)
	}
	rule, err := lb.NewListenerRule(ctx, name+"-rule", &lb.ListenerRuleArgs{
		ListenerArn: pulumi.String(args.ListenerArn),
		Priority:    pulumi.Int(PreviewRulePriorityBase + args.Slot),
		Conditions: lb.ListenerRuleConditionArray{lb.ListenerRuleConditionArgs{
			HostHeader: lb.ListenerRuleConditionHostHeaderArgs{Values: pulumi.StringArray{pulumi.String(args.Host)}},
		}},
		Actions: lb.ListenerRuleActionArray{lb.ListenerRuleActionArgs{
			Type:           pulumi.String("forward"),
			TargetGroupArn: tg.Arn,
		}},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("listener rule: %w", err)
	}
	if args.HostedZoneId != "" {
		for _, typ := range []string{"A", "AAAA"} {
			if _, err := route53.NewRecord(ctx, name+"-alias-"+strings.ToLower(typ), &route53.RecordArgs{
				ZoneId: pulumi.String(args.HostedZoneId),
				Name:   pulumi.String(args.Host),
				Type:   pulumi.String(typ),
				Aliases: route53.RecordAliasArray{route53.RecordAliasArgs{
					Name:                 pulumi.String(args.AlbDNSName),
					ZoneId:               pulumi.String(args.AlbZoneId),
					EvaluateTargetHealth: pulumi.Bool(true),
				}},
			}, parent); err != nil {
				return nil, fmt.Errorf("alias %s record: %w", typ, err)
			}
		}
	}
	comp.TargetGroupArn, comp.Rule = tg.Arn, rule
	return comp, ctx.RegisterResourceOutputs(comp, pulumi.Map{"targetGroupArn": comp.TargetGroupArn, "ruleArn": rule.Arn})
}
