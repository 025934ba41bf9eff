package aws

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/codedeploy"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lb"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shipyard-kit/shipyard/infra/drift"
	"github.com/shipyard-kit/shipyard/infra/signals"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// CodeDeployRolePolicyArn is AWS's managed policy for CodeDeploy's ECS
// blue/green deployments.
const CodeDeployRolePolicyArn = "arn:aws:iam::aws:policy/AWSCodeDeployRoleForECS"

// TestListenerPort is the ALB port of the test listener: CodeDeploy routes
// it to the new tasks first. The load balancer's security group does not
// open it to the internet.
const TestListenerPort = 8443

// GreenAlarmSuffix names the copy of a gate alarm that watches the second
// target group: during a deployment the new tasks are in whichever target
// group production traffic is not on, so each gate row has an alarm on
// both and CodeDeploy rolls back on either.
const GreenAlarmSuffix = "-green"

// CodeDeployConfig is the CodeDeploy deployment config of a deploy
// strategy: one of CodeDeployDefault.ECS… (Custom nil), or a custom one.
type CodeDeployConfig struct {
	// Name is the CodeDeployDefault name, or the custom config's name.
	Name string
	// Custom is the traffic routing of a custom config: "TimeBasedCanary"
	// or "TimeBasedLinear" with Percent every IntervalMinutes.
	Custom          string
	Percent         int
	IntervalMinutes int
	// TerminationWaitMinutes keeps the old tasks after the shift, for an
	// instant rollback (bluegreen: the bake).
	TerminationWaitMinutes int
}

// DeploymentConfigFor maps deploy.* to CodeDeploy: canary and linear use
// the predefined CodeDeployDefault.ECSCanary10Percent5Minutes… when they
// match, else a custom time-based config named after the stack; bluegreen
// is CodeDeployDefault.ECSAllAtOnce with the old tasks kept for the bake.
// bakeSeconds is whole minutes on aws (stackconfig's rule).
func DeploymentConfigFor(prefix string, d stackconfig.Deploy) (CodeDeployConfig, error) {
	minutes := d.BakeSeconds / 60
	if minutes < 1 || d.BakeSeconds%60 != 0 {
		return CodeDeployConfig{}, fmt.Errorf("deploy.bakeSeconds %d: CodeDeploy needs whole minutes", d.BakeSeconds)
	}
	c := CodeDeployConfig{TerminationWaitMinutes: minutes}
	switch d.Strategy {
	case stackconfig.StrategyCanary:
		c.Custom, c.Percent, c.IntervalMinutes = "TimeBasedCanary", d.CanaryPercent, minutes
		if d.CanaryPercent == 10 && (minutes == 5 || minutes == 15) {
			c.Name, c.Custom = fmt.Sprintf("CodeDeployDefault.ECSCanary10Percent%dMinutes", minutes), ""
		}
	case stackconfig.StrategyLinear:
		c.Custom, c.Percent, c.IntervalMinutes = "TimeBasedLinear", d.StepPercent, minutes
		if d.StepPercent == 10 && (minutes == 1 || minutes == 3) {
			c.Name, c.Custom = fmt.Sprintf("CodeDeployDefault.ECSLinear10PercentEvery%dMinutes", minutes), ""
		}
	case stackconfig.StrategyBlueGreen:
		c.Name = "CodeDeployDefault.ECSAllAtOnce"
	default:
		return CodeDeployConfig{}, fmt.Errorf("deploy.strategy %q is not deployed by CodeDeploy; allowed canary, linear, bluegreen", d.Strategy)
	}
	if c.Custom != "" {
		c.Name = fmt.Sprintf("%s-%s%dPercent%dMinutes", prefix, c.Custom[len("TimeBased"):], c.Percent, c.IntervalMinutes)
	}
	return c, nil
}

// BlueGreenArgs configures CodeDeploy for the web service.
type BlueGreenArgs struct {
	// Prefix is "shipyard-<stack>": the application, deployment group and
	// custom config are named from it.
	Prefix string
	Deploy stackconfig.Deploy
	// AccountID restricts CodeDeploy's role to the account.
	AccountID string
	// The second target group copies the first one's settings.
	VpcId                      pulumi.StringInput
	AppPort                    int
	HealthCheckPath            string
	DeregistrationDelaySeconds int
	// LoadBalancerArn, ProdListenerArn and BlueTargetGroupName are the
	// ALB, its HTTPS listener and the web service's target group.
	LoadBalancerArn     pulumi.StringInput
	ProdListenerArn     pulumi.StringInput
	BlueTargetGroupName pulumi.StringInput
	CertificateArn      pulumi.StringInput
	SSLPolicy           string
	// ClusterName and ServiceName are the web service (deployment
	// controller CODE_DEPLOY); Service is its resource.
	ClusterName pulumi.StringInput
	ServiceName pulumi.StringInput
	Service     pulumi.Resource
	// Alarms creates the gate alarms on the second target group; Gates
	// are the stack's gate rows. DeploymentAlarmNames are the table's
	// alarms that roll web deployments back (signals.DeploymentAlarms,
	// the gates' alarms on the first target group among them): the
	// deployment group rolls back on them and on the gates' copies.
	Alarms               AlarmsArgs
	AlarmActions         pulumi.Array
	Gates                []signals.Instance
	DeploymentAlarmNames []pulumi.StringInput
}

// BlueGreen is the web service's CodeDeploy setup: a second target group
// and a test listener, the application, the deployment config and the
// deployment group with auto-rollback on failure and on the gate alarms.
type BlueGreen struct {
	pulumi.ResourceState

	GreenTargetGroupArn  pulumi.StringOutput
	TestListenerArn      pulumi.StringOutput
	ApplicationName      pulumi.StringOutput
	DeploymentGroupName  pulumi.StringOutput
	DeploymentConfigName pulumi.StringOutput
	// RollbackAlarms are the alarms the deployment group rolls back on.
	RollbackAlarms pulumi.StringArray
}

// NewBlueGreen creates the CodeDeploy setup of the web service.
func NewBlueGreen(ctx *pulumi.Context, name string, args BlueGreenArgs, opts ...pulumi.ResourceOption) (*BlueGreen, error) {
	comp := &BlueGreen{}
	if err := ctx.RegisterComponentResource(typePrefix+"BlueGreen", name, comp, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(comp)
	dc, err := DeploymentConfigFor(args.Prefix, args.Deploy)
	if err != nil {
		return nil, err
	}

	green, err := lb.NewTargetGroup(ctx, name+"-green", webTargetGroupArgs(args.VpcId, args.AppPort, args.HealthCheckPath, args.DeregistrationDelaySeconds), parent)
	if err != nil {
		return nil, fmt.Errorf("green target group: %w", err)
	}
	comp.GreenTargetGroupArn = green.Arn
	// CodeDeploy moves this listener between the target groups: its
	// default action is CodeDeploy's (ignored here, like the production
	// listener's).
	test, err := lb.NewListener(ctx, name+"-test", &lb.ListenerArgs{
		LoadBalancerArn: args.LoadBalancerArn,
		Port:            pulumi.Int(TestListenerPort),
		Protocol:        pulumi.String("HTTPS"),
		SslPolicy:       pulumi.String(args.SSLPolicy),
		CertificateArn:  args.CertificateArn,
		// The same HSTS header as the production listener.
		RoutingHttpResponseStrictTransportSecurityHeaderValue: pulumi.String(stackconfig.StrictTransportSecurity),
		DefaultActions: lb.ListenerDefaultActionArray{lb.ListenerDefaultActionArgs{
			Type:           pulumi.String("forward"),
			TargetGroupArn: green.Arn,
		}},
	}, parent, pulumi.IgnoreChanges(drift.IgnoreChanges("aws:lb/listener:Listener", drift.CodeDeploy)))
	if err != nil {
		return nil, fmt.Errorf("test listener: %w", err)
	}
	comp.TestListenerArn = test.Arn

	// The gate rows on the second target group.
	greenArgs := args.Alarms
	greenArgs.Targets.TargetGroup = green.ArnSuffix
	rollback := pulumi.StringArray{}
	for _, n := range args.DeploymentAlarmNames {
		rollback = append(rollback, n)
	}
	for _, g := range args.Gates {
		a := g
		a.ID = g.ID + GreenAlarmSuffix
		alarm, err := newMetricAlarm(ctx, name+"-"+a.ID, greenArgs, a, args.AlarmActions, parent)
		if err != nil {
			return nil, err
		}
		rollback = append(rollback, alarm.Name)
	}
	comp.RollbackAlarms = rollback

	trust, err := assumeRolePolicy("codedeploy.amazonaws.com", args.AccountID)
	if err != nil {
		return nil, err
	}
	role, err := iam.NewRole(ctx, name+"-codedeploy", &iam.RoleArgs{
		Description:      pulumi.String("CodeDeploy blue/green deployments of " + args.Prefix + "-web"),
		AssumeRolePolicy: pulumi.String(trust),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("codedeploy role: %w", err)
	}
	attachment, err := iam.NewRolePolicyAttachment(ctx, name+"-codedeploy", &iam.RolePolicyAttachmentArgs{
		Role:      role.Name,
		PolicyArn: pulumi.String(CodeDeployRolePolicyArn),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("codedeploy role policy: %w", err)
	}
	app, err := codedeploy.NewApplication(ctx, name+"-app", &codedeploy.ApplicationArgs{
		Name:            pulumi.String(args.Prefix + "-web"),
		ComputePlatform: pulumi.String("ECS"),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("codedeploy application: %w", err)
	}
	comp.ApplicationName = app.Name
	configName := pulumi.String(dc.Name).ToStringOutput()
	if dc.Custom != "" {
		routing := codedeploy.DeploymentConfigTrafficRoutingConfigArgs{Type: pulumi.String(dc.Custom)}
		step := pulumi.Int(dc.Percent)
		every := pulumi.Int(dc.IntervalMinutes)
		if dc.Custom == "TimeBasedCanary" {
			routing.TimeBasedCanary = codedeploy.DeploymentConfigTrafficRoutingConfigTimeBasedCanaryArgs{Percentage: step, Interval: every}
		} else {
			routing.TimeBasedLinear = codedeploy.DeploymentConfigTrafficRoutingConfigTimeBasedLinearArgs{Percentage: step, Interval: every}
		}
		cfg, err := codedeploy.NewDeploymentConfig(ctx, name+"-config", &codedeploy.DeploymentConfigArgs{
			DeploymentConfigName: pulumi.String(dc.Name),
			ComputePlatform:      pulumi.String("ECS"),
			TrafficRoutingConfig: routing,
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("codedeploy deployment config: %w", err)
		}
		configName = cfg.DeploymentConfigName
	}
	comp.DeploymentConfigName = configName
	group, err := codedeploy.NewDeploymentGroup(ctx, name+"-group", &codedeploy.DeploymentGroupArgs{
		AppName:              app.Name,
		DeploymentGroupName:  pulumi.String(args.Prefix + "-web"),
		DeploymentConfigName: configName,
		ServiceRoleArn:       role.Arn,
		DeploymentStyle: codedeploy.DeploymentGroupDeploymentStyleArgs{
			DeploymentType:   pulumi.String("BLUE_GREEN"),
			DeploymentOption: pulumi.String("WITH_TRAFFIC_CONTROL"),
		},
		BlueGreenDeploymentConfig: codedeploy.DeploymentGroupBlueGreenDeploymentConfigArgs{
			DeploymentReadyOption: codedeploy.DeploymentGroupBlueGreenDeploymentConfigDeploymentReadyOptionArgs{
				ActionOnTimeout: pulumi.String("CONTINUE_DEPLOYMENT"),
			},
			TerminateBlueInstancesOnDeploymentSuccess: codedeploy.DeploymentGroupBlueGreenDeploymentConfigTerminateBlueInstancesOnDeploymentSuccessArgs{
				Action:                       pulumi.String("TERMINATE"),
				TerminationWaitTimeInMinutes: pulumi.Int(dc.TerminationWaitMinutes),
			},
		},
		EcsService: codedeploy.DeploymentGroupEcsServiceArgs{ClusterName: args.ClusterName, ServiceName: args.ServiceName},
		LoadBalancerInfo: codedeploy.DeploymentGroupLoadBalancerInfoArgs{
			TargetGroupPairInfo: codedeploy.DeploymentGroupLoadBalancerInfoTargetGroupPairInfoArgs{
				ProdTrafficRoute: codedeploy.DeploymentGroupLoadBalancerInfoTargetGroupPairInfoProdTrafficRouteArgs{
					ListenerArns: pulumi.StringArray{args.ProdListenerArn},
				},
				TestTrafficRoute: codedeploy.DeploymentGroupLoadBalancerInfoTargetGroupPairInfoTestTrafficRouteArgs{
					ListenerArns: pulumi.StringArray{test.Arn},
				},
				TargetGroups: codedeploy.DeploymentGroupLoadBalancerInfoTargetGroupPairInfoTargetGroupArray{
					codedeploy.DeploymentGroupLoadBalancerInfoTargetGroupPairInfoTargetGroupArgs{Name: args.BlueTargetGroupName},
					codedeploy.DeploymentGroupLoadBalancerInfoTargetGroupPairInfoTargetGroupArgs{Name: green.Name},
				},
			},
		},
		AutoRollbackConfiguration: codedeploy.DeploymentGroupAutoRollbackConfigurationArgs{
			Enabled: pulumi.Bool(true),
			Events:  pulumi.StringArray{pulumi.String("DEPLOYMENT_FAILURE"), pulumi.String("DEPLOYMENT_STOP_ON_ALARM")},
		},
		AlarmConfiguration: codedeploy.DeploymentGroupAlarmConfigurationArgs{
			Enabled: pulumi.Bool(true),
			Alarms:  rollback,
		},
	}, parent, pulumi.DependsOn([]pulumi.Resource{args.Service, attachment}))
	if err != nil {
		return nil, fmt.Errorf("codedeploy deployment group: %w", err)
	}
	comp.DeploymentGroupName = group.DeploymentGroupName
	return comp, ctx.RegisterResourceOutputs(comp, pulumi.Map{
		"applicationName":      comp.ApplicationName,
		"deploymentGroupName":  comp.DeploymentGroupName,
		"deploymentConfigName": comp.DeploymentConfigName,
		"greenTargetGroupArn":  comp.GreenTargetGroupArn,
		"testListenerArn":      comp.TestListenerArn,
	})
}

// webTargetGroupArgs are the web service's target group settings: ip
// targets (Fargate tasks) on the app port, health-checked on the web
// health path. Both target groups of a blue/green pair use them.
func webTargetGroupArgs(vpc pulumi.StringInput, port int, healthPath string, deregistrationDelay int) *lb.TargetGroupArgs {
	return &lb.TargetGroupArgs{
		TargetType:          pulumi.String("ip"),
		Port:                pulumi.Int(port),
		Protocol:            pulumi.String("HTTP"),
		VpcId:               vpc,
		DeregistrationDelay: pulumi.Int(deregistrationDelay),
		HealthCheck: lb.TargetGroupHealthCheckArgs{
			Enabled:            pulumi.Bool(true),
			Path:               pulumi.String(healthPath),
			Protocol:           pulumi.String("HTTP"),
			Matcher:            pulumi.String("200"),
			Interval:           pulumi.Int(10),
			Timeout:            pulumi.Int(5),
			HealthyThreshold:   pulumi.Int(2),
			UnhealthyThreshold: pulumi.Int(3),
		},
	}
}

// newWebBlueGreen sets up CodeDeploy for the web service of a stack with a
// progressive deploy.strategy, with the gates' alarms on both target groups.
func newWebBlueGreen(ctx *pulumi.Context, cfg *stackconfig.Config, base, account string, alb *LoadBalancer, certArn pulumi.StringInput, network *Network,
	cluster *Cluster, web *Service, alarms []signals.Instance, alarmsArgs AlarmsArgs, alarming *Alarms, opts ...pulumi.ResourceOption) (*BlueGreen, error) {
	var gates []signals.Instance
	for _, name := range cfg.Deploy.Gates {
		i := slices.IndexFunc(alarms, func(a signals.Instance) bool { return a.Name == name && a.Gate != "" })
		if i < 0 {
			return nil, fmt.Errorf("deploy.gates: %q is not a gate; allowed %s", name, strings.Join(signals.GateNames(), ", "))
		}
		gates = append(gates, alarms[i])
	}
	var deployment []pulumi.StringInput
	for _, id := range signals.DeploymentAlarms(alarms, stackconfig.Web) {
		deployment = append(deployment, alarming.Names[id])
	}
	return NewBlueGreen(ctx, "web-deploy", BlueGreenArgs{
		Prefix:                     base,
		Deploy:                     cfg.Deploy,
		AccountID:                  account,
		VpcId:                      network.VpcId,
		AppPort:                    cfg.Services.Web.Port,
		HealthCheckPath:            cfg.Services.Web.HealthCheckPath,
		DeregistrationDelaySeconds: cfg.LoadBalancer.DeregistrationDelaySeconds,
		LoadBalancerArn:            alb.Arn,
		ProdListenerArn:            alb.HttpsListenerArn,
		BlueTargetGroupName:        alb.TargetGroupName,
		CertificateArn:             certArn,
		SSLPolicy:                  SSLPolicy,
		ClusterName:                cluster.Name,
		ServiceName:                web.ServiceName,
		Service:                    web.ECSService,
		Alarms:                     alarmsArgs,
		AlarmActions:               pulumi.Array{alarming.TopicArn},
		Gates:                      gates,
		DeploymentAlarmNames:       deployment,
	}, opts...)
}
