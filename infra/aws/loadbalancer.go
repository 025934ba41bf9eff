package aws

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lb"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shipyard-kit/shipyard/infra/drift"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// LoadBalancerArgs configures the public entry point.
type LoadBalancerArgs struct {
	// Name is the ALB's name (≤ 32 characters): "shipyard-<stack>".
	Name            string
	VpcId           pulumi.StringInput
	PublicSubnetIds pulumi.StringArrayInput
	// AppSecurityGroupId receives the ALB's traffic on AppPort.
	AppSecurityGroupId pulumi.StringInput
	AppPort            int
	// HealthCheckPath is services.web.healthCheckPath.
	HealthCheckPath string
	// CertificateArn is the HTTPS listener's certificate: the managed
	// one's validated ARN (Certificate.Arn) or loadBalancer.certificateArn.
	CertificateArn pulumi.StringInput
	// Domain and HostedZoneId, when HostedZoneId is set, get alias A and
	// AAAA records for Domain pointing at the ALB.
	Domain       string
	HostedZoneId pulumi.StringInput
	// SSLPolicy is the HTTPS listener's TLS policy.
	SSLPolicy                  string
	IdleTimeoutSeconds         int
	DeregistrationDelaySeconds int
	// DeletionProtection is on in prod (ELB.6).
	DeletionProtection bool
	Region             string
	AccountID          string
	// LogRetentionDays expires access logs.
	LogRetentionDays int
	// Protect protects the access log bucket.
	Protect bool
	// CodeDeploy owns the HTTPS listener's default action (it moves it
	// between the web target groups): Pulumi ignores its changes.
	CodeDeploy bool
}

// LoadBalancer is an internet-facing, dual-stack (IPv4 and IPv6) ALB with
// an HTTPS listener, an HTTP→HTTPS redirect, an ip target group for the web
// service and, with a hosted zone, alias A and AAAA records for the domain.
type LoadBalancer struct {
	pulumi.ResourceState

	Arn       pulumi.StringOutput
	ArnSuffix pulumi.StringOutput
	DnsName   pulumi.StringOutput
	// ZoneId is the ALB's canonical hosted zone, for alias records.
	ZoneId               pulumi.StringOutput
	SecurityGroupId      pulumi.StringOutput
	TargetGroupArn       pulumi.StringOutput
	TargetGroupArnSuffix pulumi.StringOutput
	TargetGroupName      pulumi.StringOutput
	HttpsListenerArn     pulumi.StringOutput
	LogBucket            pulumi.StringOutput
	// HttpsListener is the listener that attaches the target group to the
	// ALB: ECS services of the target group wait for it.
	HttpsListener *lb.Listener
}

// elbLogAccounts are the Elastic Load Balancing accounts that deliver access
// logs in regions available before August 2022; newer regions use the
// logdelivery.elasticloadbalancing.amazonaws.com service principal.
var elbLogAccounts = map[string]string{
	"us-east-1": "127311923021", "us-east-2": "033677994240", "us-west-1": "027434742980",
	"us-west-2": "797873946194", "af-south-1": "098369216593", "ap-east-1": "754344448648",
	"ap-southeast-3": "589379963580", "ap-south-1": "718504428378", "ap-northeast-3": "383597477331",
	"ap-northeast-2": "600734575887", "ap-southeast-1": "114774131450", "ap-southeast-2": "783225319266",
	"ap-northeast-1": "582318560864", "ca-central-1": "985666609251", "eu-central-1": "054676820928",
	"eu-west-1": "156460612806", "eu-west-2": "652711504416", "eu-south-1": "635631232127",
	"eu-west-3": "009996457667", "eu-north-1": "897822967062", "me-south-1": "076674570225",
	"sa-east-1": "507241528517",
}

// accessLogPrefix is the key prefix of the ALB's access logs.
const accessLogPrefix = "alb"

// NewLoadBalancer creates the ALB.
func NewLoadBalancer(ctx *pulumi.Context, name string, args LoadBalancerArgs, opts ...pulumi.ResourceOption) (*LoadBalancer, error) {
	if args.CertificateArn == nil {
		return nil, fmt.Errorf("load balancer: a certificate is required on aws (HTTPS only): loadBalancer.hostedZone or loadBalancer.certificateArn")
	}
	if args.HostedZoneId != nil && args.Domain == "" {
		return nil, fmt.Errorf("load balancer: loadBalancer.domain is required with loadBalancer.hostedZone")
	}
	comp := &LoadBalancer{}
	if err := ctx.RegisterComponentResource(typePrefix+"LoadBalancer", name, comp, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(comp)

	// Access logs: ALB log delivery supports SSE-S3 only.
	logPrincipal := &principal{Service: []string{"logdelivery.elasticloadbalancing.amazonaws.com"}}
	if acct, ok := elbLogAccounts[args.Region]; ok {
		logPrincipal = &principal{AWS: []string{"arn:aws:iam::" + acct + ":root"}}
	}
	bucket, err := newPrivateBucket(ctx, name+"-logs", privateBucketArgs{
		ExpirationDays: args.LogRetentionDays,
		Protect:        args.Protect,
		Policy: func(bucketArn string) []statement {
			return []statement{{
				Sid:       "ELBAccessLogDelivery",
				Effect:    "Allow",
				Principal: logPrincipal,
				Action:    []string{"s3:PutObject"},
				Resource:  []string{bucketArn + "/" + accessLogPrefix + "/AWSLogs/" + args.AccountID + "/*"},
			}}
		},
	}, parent)
	if err != nil {
		return nil, err
	}
	comp.LogBucket = bucket.Bucket

	// EC2.18: the only 0.0.0.0/0 and ::/0 ingress of the stack, on 443
	// and 80.
	sg, err := ec2.NewSecurityGroup(ctx, name+"-sg", &ec2.SecurityGroupArgs{
		VpcId:       args.VpcId,
		Description: pulumi.String("Shipyard public load balancer"),
		Ingress: ec2.SecurityGroupIngressArray{
			ec2.SecurityGroupIngressArgs{
				Description: pulumi.String("HTTPS"),
				Protocol:    pulumi.String("tcp"), FromPort: pulumi.Int(443), ToPort: pulumi.Int(443),
				CidrBlocks:     pulumi.StringArray{pulumi.String("0.0.0.0/0")},
				Ipv6CidrBlocks: pulumi.StringArray{pulumi.String("::/0")},
			},
			ec2.SecurityGroupIngressArgs{
				Description: pulumi.String("HTTP, redirected to HTTPS"),
				Protocol:    pulumi.String("tcp"), FromPort: pulumi.Int(80), ToPort: pulumi.Int(80),
				CidrBlocks:     pulumi.StringArray{pulumi.String("0.0.0.0/0")},
				Ipv6CidrBlocks: pulumi.StringArray{pulumi.String("::/0")},
			},
		},
		Egress: ec2.SecurityGroupEgressArray{ec2.SecurityGroupEgressArgs{
			Description:    pulumi.String("web tasks"),
			Protocol:       pulumi.String("tcp"),
			FromPort:       pulumi.Int(args.AppPort),
			ToPort:         pulumi.Int(args.AppPort),
			SecurityGroups: pulumi.StringArray{args.AppSecurityGroupId},
		}},
		Tags: pulumi.StringMap{"Name": pulumi.String(name)},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("load balancer security group: %w", err)
	}
	comp.SecurityGroupId = sg.ID().ToStringOutput()
	if _, err := ec2.NewSecurityGroupRule(ctx, name+"-to-app", &ec2.SecurityGroupRuleArgs{
		Type:                  pulumi.String("ingress"),
		Description:           pulumi.String("from the load balancer"),
		SecurityGroupId:       args.AppSecurityGroupId,
		SourceSecurityGroupId: sg.ID(),
		Protocol:              pulumi.String("tcp"),
		FromPort:              pulumi.Int(args.AppPort),
		ToPort:                pulumi.Int(args.AppPort),
	}, parent); err != nil {
		return nil, fmt.Errorf("app ingress rule: %w", err)
	}

	alb, err := lb.NewLoadBalancer(ctx, name+"-alb", &lb.LoadBalancerArgs{
		Name:             pulumi.String(args.Name),
		LoadBalancerType: pulumi.String("application"),
		Internal:         pulumi.Bool(false),
		// Clients reach it over IPv4 and IPv6 (the public subnets have
		// both); targets stay IPv4 in the private subnets.
		IpAddressType:            pulumi.String("dualstack"),
		SecurityGroups:           pulumi.StringArray{sg.ID()},
		Subnets:                  args.PublicSubnetIds,
		IdleTimeout:              pulumi.Int(args.IdleTimeoutSeconds),
		DropInvalidHeaderFields:  pulumi.Bool(true),
		DesyncMitigationMode:     pulumi.String("strictest"),
		EnableDeletionProtection: pulumi.Bool(args.DeletionProtection),
		EnableHttp2:              pulumi.Bool(true),
		AccessLogs: lb.LoadBalancerAccessLogsArgs{
			Bucket:  bucket.Bucket,
			Prefix:  pulumi.String(accessLogPrefix),
			Enabled: pulumi.Bool(true),
		},
	}, withOpts(nil, parent, pulumi.DependsOn(bucket.Ready))...)
	if err != nil {
		return nil, fmt.Errorf("load balancer: %w", err)
	}
	comp.Arn, comp.ArnSuffix, comp.DnsName, comp.ZoneId = alb.Arn, alb.ArnSuffix, alb.DnsName, alb.ZoneId

	tg, err := lb.NewTargetGroup(ctx, name+"-web", webTargetGroupArgs(args.VpcId, args.AppPort, args.HealthCheckPath, args.DeregistrationDelaySeconds), parent)
	if err != nil {
		return nil, fmt.Errorf("target group: %w", err)
	}
	comp.TargetGroupArn, comp.TargetGroupArnSuffix, comp.TargetGroupName = tg.Arn, tg.ArnSuffix, tg.Name
	listenerOpts := []pulumi.ResourceOption{parent}
	if args.CodeDeploy {
		listenerOpts = append(listenerOpts, pulumi.IgnoreChanges(drift.IgnoreChanges("aws:lb/listener:Listener", drift.CodeDeploy)))
	}

	https, err := lb.NewListener(ctx, name+"-https", &lb.ListenerArgs{
		LoadBalancerArn: alb.Arn,
		Port:            pulumi.Int(443),
		Protocol:        pulumi.String("HTTPS"),
		SslPolicy:       pulumi.String(args.SSLPolicy),
		CertificateArn:  args.CertificateArn,
		// The header nginx sends on the local stack too.
		RoutingHttpResponseStrictTransportSecurityHeaderValue: pulumi.String(stackconfig.StrictTransportSecurity),
		DefaultActions: lb.ListenerDefaultActionArray{lb.ListenerDefaultActionArgs{
			Type:           pulumi.String("forward"),
			TargetGroupArn: tg.Arn,
		}},
	}, listenerOpts...)
	if err != nil {
		return nil, fmt.Errorf("https listener: %w", err)
	}
	comp.HttpsListenerArn, comp.HttpsListener = https.Arn, https
	// /metrics is for Prometheus scraping the tasks inside the VPC, never
	// for the internet: the listener answers it itself.
	if _, err := lb.NewListenerRule(ctx, name+"-metrics-blocked", &lb.ListenerRuleArgs{
		ListenerArn: https.Arn,
		Priority:    pulumi.Int(1),
		Conditions: lb.ListenerRuleConditionArray{lb.ListenerRuleConditionArgs{
			PathPattern: lb.ListenerRuleConditionPathPatternArgs{
				Values: pulumi.StringArray{pulumi.String("/metrics"), pulumi.String("/metrics/*")},
			},
		}},
		Actions: lb.ListenerRuleActionArray{lb.ListenerRuleActionArgs{
			Type: pulumi.String("fixed-response"),
			FixedResponse: lb.ListenerRuleActionFixedResponseArgs{
				ContentType: pulumi.String("text/plain"),
				MessageBody: pulumi.String("not found"),
				StatusCode:  pulumi.String("404"),
			},
		}},
	}, parent); err != nil {
		return nil, fmt.Errorf("metrics listener rule: %w", err)
	}
	if _, err := lb.NewListener(ctx, name+"-http", &lb.ListenerArgs{
		LoadBalancerArn: alb.Arn,
		Port:            pulumi.Int(80),
		Protocol:        pulumi.String("HTTP"),
		DefaultActions: lb.ListenerDefaultActionArray{lb.ListenerDefaultActionArgs{
			Type: pulumi.String("redirect"),
			Redirect: lb.ListenerDefaultActionRedirectArgs{
				Protocol:   pulumi.String("HTTPS"),
				Port:       pulumi.String("443"),
				StatusCode: pulumi.String("HTTP_301"),
			},
		}},
	}, parent); err != nil {
		return nil, fmt.Errorf("http listener: %w", err)
	}

	if args.HostedZoneId != nil {
		// Alias records cost nothing per query and follow the ALB's
		// addresses; AAAA answers because the ALB is dual-stack.
		for _, typ := range []string{"A", "AAAA"} {
			if _, err := route53.NewRecord(ctx, name+"-alias-"+strings.ToLower(typ), &route53.RecordArgs{
				ZoneId: args.HostedZoneId,
				Name:   pulumi.String(args.Domain),
				Type:   pulumi.String(typ),
				Aliases: route53.RecordAliasArray{route53.RecordAliasArgs{
					Name:                 alb.DnsName,
					ZoneId:               alb.ZoneId,
					EvaluateTargetHealth: pulumi.Bool(true),
				}},
			}, parent); err != nil {
				return nil, fmt.Errorf("alias %s record: %w", typ, err)
			}
		}
	}

	return comp, ctx.RegisterResourceOutputs(comp, pulumi.Map{
		"arn":            comp.Arn,
		"dnsName":        comp.DnsName,
		"targetGroupArn": comp.TargetGroupArn,
		"logBucket":      comp.LogBucket,
	})
}
