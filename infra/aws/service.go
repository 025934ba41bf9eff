package aws

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/appautoscaling"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecs"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shipyard-kit/shipyard/app/appmetrics"
	"github.com/shipyard-kit/shipyard/infra/drift"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// Endpoints are the attached resources' addresses, as outputs.
type Endpoints struct {
	DatabaseAddress pulumi.StringOutput
	DatabasePort    pulumi.IntOutput
	RedisAddress    pulumi.StringOutput
	RedisPort       pulumi.IntOutput
}

// TaskArgs is what every task definition of the stack shares.
type TaskArgs struct {
	Config    *stackconfig.Config
	Region    string
	AccountID string
	// Image is "<repositoryUrl>@<digest>".
	Image         pulumi.StringInput
	RepositoryArn pulumi.StringInput
	Endpoints     Endpoints
	// Secrets maps each secret env var (Config.SecretNames) to its
	// valueFrom; SecretArns are the secrets themselves, for IAM.
	Secrets    map[string]pulumi.StringInput
	SecretArns []pulumi.StringInput
	Logging    *Logging
	// Env, when set, replaces Config.Env as the app containers'
	// environment (a PR environment's admin task: the base's DATABASE_URL
	// and the PR's database to create).
	Env func(stackconfig.Endpoints) []stackconfig.EnvVar
	// Ephemeral deregisters the task definitions when they are replaced or
	// destroyed: a PR environment leaves no revision behind. A stack's own
	// keep theirs for rollbacks.
	Ephemeral bool
}

// ServiceArgs configures one process type's ECS service.
type ServiceArgs struct {
	Task    TaskArgs
	Process stackconfig.Process
	// Name is the ECS service name and task family: "shipyard-<stack>-<process>".
	Name               string
	ClusterArn         pulumi.StringInput
	ClusterName        pulumi.StringInput
	PrivateSubnetIds   pulumi.StringArrayInput
	AppSecurityGroupId pulumi.StringInput
	// TargetGroupArn and RequestCountLabel ("<alb suffix>/<target group
	// suffix>") are set for the web process only.
	TargetGroupArn    pulumi.StringInput
	RequestCountLabel pulumi.StringInput
	// After are resources the service waits for: web's HTTPS listener
	// (it attaches the target group to the ALB), and for worker and clock
	// web's service (its deployment reaches a steady state first).
	After []pulumi.Resource
	// DeploymentAlarms are the CloudWatch alarms that roll a deployment of
	// this service back when they go off while it is in progress
	// (signals.DeploymentAlarms); none for the clock.
	DeploymentAlarms pulumi.StringArray
	// RedeployOn forces a new deployment whenever one of its values
	// changes, once RedeployAfter are updated: a new Redis AUTH token
	// generation restarts the tasks after the secret holds the new token.
	RedeployOn    map[string]string
	RedeployAfter []pulumi.Resource
	// Stack is the Stack dimension of the app's own metrics (the worker
	// scales on its job queue's backlog).
	Stack string
	// CodeDeploy makes the service's deployment controller CODE_DEPLOY
	// (web with a progressive deploy.strategy): CodeDeploy then owns its
	// task definition and load balancer (Pulumi ignores them, and the
	// releases deploy through CodeDeploy), and rolls back on failure and
	// on the gate alarms instead of ECS's circuit breaker and deployment
	// alarms.
	CodeDeploy bool
	// Spot runs the tasks on FARGATE_SPOT (a capacity provider strategy
	// instead of the FARGATE launch type): a PR environment's services.
	Spot bool
	// NoSteadyStateWait lets the deploy go on without waiting for the
	// tasks to be healthy: a PR environment's tasks start before its
	// database exists (`shipyard pr-up` creates it, migrates, then waits
	// for the services itself).
	NoSteadyStateWait bool
}

// Service is one process type: roles, task definition (with the migrate
// init container and the log router), ECS service and autoscaling.
type Service struct {
	pulumi.ResourceState

	ServiceName       pulumi.StringOutput
	TaskDefinitionArn pulumi.StringOutput
	ExecutionRoleArn  pulumi.StringOutput
	TaskRoleArn       pulumi.StringOutput
	LogGroupName      pulumi.StringOutput
	// ECSService is the ECS service itself, for ServiceArgs.After.
	ECSService *ecs.Service
}

// taskRoles creates a task's execution role (pull the image, read its
// secrets, write the router's logs) and task role (what the containers,
// including the log router, call: write the app logs and the archive), and
// returns their inline policies too: a service must not start tasks before
// the roles may do their work.
func taskRoles(ctx *pulumi.Context, name string, t TaskArgs, p stackconfig.Process, tracing bool, opts ...pulumi.ResourceOption) (execRole, taskRole *iam.Role, policies []pulumi.Resource, err error) {
	trust, err := assumeRolePolicy("ecs-tasks.amazonaws.com", t.AccountID)
	if err != nil {
		return nil, nil, nil, err
	}
	execRole, err = iam.NewRole(ctx, name+"-execution", &iam.RoleArgs{
		Description:      pulumi.Sprintf("ECS execution role of %s", name),
		AssumeRolePolicy: pulumi.String(trust),
	}, opts...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("execution role: %w", err)
	}
	arns := []pulumi.StringInput{t.RepositoryArn, t.Logging.RouterLogGroupArn, t.Logging.KeyArn}
	arns = append(arns, t.SecretArns...)
	execPolicy, err := iam.NewRolePolicy(ctx, name+"-execution", &iam.RolePolicyArgs{
		Role: execRole.ID(),
		Policy: policyJSON(func(a []string) policyDocument {
			repo, router, key, secrets := a[0], a[1], a[2], a[3:]
			return newPolicy(
				statement{
					Sid:    "PullAuth",
					Effect: "Allow",
					Action: []string{"ecr:GetAuthorizationToken"},
					// GetAuthorizationToken has no resource-level permissions.
					Resource: []string{"*"},
				},
				statement{
					Sid:      "PullImage",
					Effect:   "Allow",
					Action:   []string{"ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"},
					Resource: []string{repo},
				},
				statement{
					Sid:      "RouterLogs",
					Effect:   "Allow",
					Action:   []string{"logs:CreateLogStream", "logs:PutLogEvents"},
					Resource: []string{router + ":*"},
				},
				statement{
					Sid:      "Secrets",
					Effect:   "Allow",
					Action:   []string{"secretsmanager:GetSecretValue"},
					Resource: secrets,
				},
				statement{
					// The secrets are encrypted with the stack's key;
					// only Secrets Manager may decrypt with it for the role.
					Sid:       "SecretsKey",
					Effect:    "Allow",
					Action:    []string{"kms:Decrypt"},
					Resource:  []string{key},
					Condition: map[string]map[string]string{"StringEquals": {"kms:ViaService": "secretsmanager." + t.Region + ".amazonaws.com"}},
				},
			)
		}, arns...),
	}, opts...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("execution role policy: %w", err)
	}

	taskRole, err = iam.NewRole(ctx, name+"-task", &iam.RoleArgs{
		Description:      pulumi.Sprintf("ECS task role of %s", name),
		AssumeRolePolicy: pulumi.String(trust),
	}, opts...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("task role: %w", err)
	}
	taskPolicy, err := iam.NewRolePolicy(ctx, name+"-task", &iam.RolePolicyArgs{
		Role: taskRole.ID(),
		Policy: policyJSON(func(a []string) policyDocument {
			group, bucket, config, key := a[0], a[1], a[2], a[3]
			stmts := []statement{{
				Sid:      "AppLogs",
				Effect:   "Allow",
				Action:   []string{"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"},
				Resource: []string{group, group + ":*"},
			}}
			if tracing {
				// The collector sidecar's awsxray exporter; X-Ray has no
				// resource-level permissions for it.
				stmts = append(stmts, statement{Sid: "Traces", Effect: "Allow", Action: XRayActions, Resource: []string{"*"}})
			}
			if bucket != "" {
				stmts = append(stmts,
					statement{
						Sid:      "ArchiveWrite",
						Effect:   "Allow",
						Action:   []string{"s3:PutObject"},
						Resource: []string{bucket + "/" + archiveLogPrefix + "/*"},
					},
					statement{
						Sid:      "ArchiveConfig",
						Effect:   "Allow",
						Action:   []string{"s3:GetObject", "s3:GetBucketLocation"},
						Resource: []string{bucket, config},
					},
					statement{
						Sid:      "ArchiveKey",
						Effect:   "Allow",
						Action:   []string{"kms:GenerateDataKey", "kms:Decrypt"},
						Resource: []string{key},
					},
				)
			}
			return newPolicy(stmts...)
		}, t.Logging.AppLogGroupArns[p], t.Logging.ArchiveBucketArn, t.Logging.ArchiveConfigArn, t.Logging.KeyArn),
	}, opts...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("task role policy: %w", err)
	}
	return execRole, taskRole, []pulumi.Resource{execPolicy, taskPolicy}, nil
}

// newTaskDefinition registers a Fargate task definition for spec.
func newTaskDefinition(ctx *pulumi.Context, name, family string, t TaskArgs, spec taskSpec, execRole, taskRole pulumi.StringInput, opts ...pulumi.ResourceOption) (*ecs.TaskDefinition, error) {
	cfg := t.Config
	e := t.Endpoints
	defs := pulumi.All(t.Image, t.Logging.AppLogGroupNames[spec.Process], t.Logging.RouterLogGroupName,
		t.Logging.ArchiveConfigArn, secretValues(t.Secrets),
		e.DatabaseAddress, e.DatabasePort, e.RedisAddress, e.RedisPort).ApplyT(func(v []interface{}) (string, error) {
		s := spec
		s.Image, s.AppLogGroup, s.RouterLogGroup, s.ArchiveConfigArn = v[0].(string), v[1].(string), v[2].(string), v[3].(string)
		s.Secrets = v[4].(map[string]string)
		ep := stackconfig.Endpoints{
			DatabaseHost: v[5].(string), DatabasePort: v[6].(int),
			RedisHost: v[7].(string), RedisPort: v[8].(int),
		}
		s.Env = cfg.Env(ep)
		if t.Env != nil {
			s.Env = t.Env(ep)
		}
		return containerDefinitions(s)
	}).(pulumi.StringOutput)
	td, err := ecs.NewTaskDefinition(ctx, name, &ecs.TaskDefinitionArgs{
		Family:                  pulumi.String(family),
		RequiresCompatibilities: pulumi.StringArray{pulumi.String("FARGATE")},
		NetworkMode:             pulumi.String("awsvpc"),
		Cpu:                     pulumi.String(itoa(spec.Service.CPU)),
		Memory:                  pulumi.String(itoa(spec.Service.Memory)),
		RuntimePlatform: ecs.TaskDefinitionRuntimePlatformArgs{
			OperatingSystemFamily: pulumi.String("LINUX"),
			CpuArchitecture:       pulumi.String("X86_64"),
		},
		ExecutionRoleArn:     execRole,
		TaskRoleArn:          taskRole,
		ContainerDefinitions: defs,
		Volumes:              ecs.TaskDefinitionVolumeArray{ecs.TaskDefinitionVolumeArgs{Name: pulumi.String(tmpVolume)}},
		// A new release registers a new revision; the previous one stays
		// ACTIVE so the circuit breaker (and `shipyard rollback`) can go
		// back to it.
		SkipDestroy: pulumi.Bool(!t.Ephemeral),
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("task definition %s: %w", family, err)
	}
	return td, nil
}

// secretValues resolves the valueFrom map.
func secretValues(m map[string]pulumi.StringInput) pulumi.StringMapOutput {
	sm := pulumi.StringMap{}
	for k, v := range m {
		sm[k] = v
	}
	return sm.ToStringMapOutput()
}

// NewService creates one process type's service.
func NewService(ctx *pulumi.Context, name string, args ServiceArgs, opts ...pulumi.ResourceOption) (*Service, error) {
	comp := &Service{}
	if err := ctx.RegisterComponentResource(typePrefix+"Service", name, comp, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(comp)
	cfg := args.Task.Config
	svc := cfg.Services.Get(args.Process)

	tracing := args.Task.Config.Tracing.Enabled
	execRole, taskRole, rolePolicies, err := taskRoles(ctx, name, args.Task, args.Process, tracing, parent)
	if err != nil {
		return nil, err
	}
	comp.ExecutionRoleArn, comp.TaskRoleArn = execRole.Arn, taskRole.Arn

	td, err := newTaskDefinition(ctx, name+"-task", args.Name, args.Task, taskSpec{
		Process: args.Process,
		Migrate: true,
		Region:  args.Task.Region,
		Service: svc,
		Tracing: tracing,
	}, execRole.Arn, taskRole.Arn, parent)
	if err != nil {
		return nil, err
	}
	comp.TaskDefinitionArn = td.Arn
	comp.LogGroupName = args.Task.Logging.AppLogGroupNames[args.Process]

	desired, minHealthy, maxPercent, rebalancing := svc.DesiredCount, 100, 200, "ENABLED"
	if args.Process == stackconfig.Clock {
		// Exactly one clock, and never two during a deployment: the old
		// task stops before the new one starts. A single task has nothing
		// to rebalance across zones.
		desired, minHealthy, maxPercent, rebalancing = 1, ClockMinHealthyPercent, ClockMaxPercent, "DISABLED"
	}
	sa := &ecs.ServiceArgs{
		Name:            pulumi.String(args.Name),
		Cluster:         args.ClusterArn,
		TaskDefinition:  td.Arn,
		DesiredCount:    pulumi.Int(desired),
		LaunchType:      pulumi.String("FARGATE"),
		PlatformVersion: pulumi.String("LATEST"),
		NetworkConfiguration: ecs.ServiceNetworkConfigurationArgs{
			Subnets:        args.PrivateSubnetIds,
			SecurityGroups: pulumi.StringArray{args.AppSecurityGroupId},
			AssignPublicIp: pulumi.Bool(false),
		},
		DeploymentCircuitBreaker:        ecs.ServiceDeploymentCircuitBreakerArgs{Enable: pulumi.Bool(true), Rollback: pulumi.Bool(true)},
		DeploymentMinimumHealthyPercent: pulumi.Int(minHealthy),
		DeploymentMaximumPercent:        pulumi.Int(maxPercent),
		EnableExecuteCommand:            pulumi.Bool(false),
		EnableEcsManagedTags:            pulumi.Bool(true),
		PropagateTags:                   pulumi.String("SERVICE"),
		AvailabilityZoneRebalancing:     pulumi.String(rebalancing),
		// The deploy waits until the new tasks are healthy (and so the
		// migration has run) before it goes on.
		WaitForSteadyState: pulumi.Bool(!args.NoSteadyStateWait),
	}
	if args.Spot {
		sa.LaunchType = nil
		sa.CapacityProviderStrategies = ecs.ServiceCapacityProviderStrategyArray{ecs.ServiceCapacityProviderStrategyArgs{
			CapacityProvider: pulumi.String(CapacityFargateSpot),
			Weight:           pulumi.Int(1),
		}}
	}
	if len(args.DeploymentAlarms) > 0 {
		// Next to the circuit breaker (tasks that never get healthy): a
		// release whose healthy tasks fail requests rolls back too.
		sa.Alarms = ecs.ServiceAlarmsArgs{
			AlarmNames: args.DeploymentAlarms,
			Enable:     pulumi.Bool(true),
			Rollback:   pulumi.Bool(true),
		}
	}
	if args.TargetGroupArn != nil {
		sa.LoadBalancers = ecs.ServiceLoadBalancerArray{ecs.ServiceLoadBalancerArgs{
			TargetGroupArn: args.TargetGroupArn,
			ContainerName:  pulumi.String(AppContainer),
			ContainerPort:  pulumi.Int(svc.Port),
		}}
		sa.HealthCheckGracePeriodSeconds = pulumi.Int(svc.HealthCheckGracePeriodSeconds)
	}
	autoscaled := args.Process != stackconfig.Clock && svc.MaxCount > svc.MinCount
	if len(args.RedeployOn) > 0 {
		// Secrets are read when a task starts: only a new deployment
		// gives the tasks a new secret value.
		sa.ForceNewDeployment = pulumi.Bool(true)
		sa.Triggers = pulumi.ToStringMap(args.RedeployOn)
	}
	// The fields a controller owns (infra/drift.ControllerOwned, the one
	// list, which `make drift` reports as expected).
	var owners []drift.Controller
	if args.CodeDeploy {
		sa.DeploymentController = ecs.ServiceDeploymentControllerArgs{Type: pulumi.String("CODE_DEPLOY")}
		// Neither is available with the CODE_DEPLOY controller: rollback
		// is the deployment group's (on failure and on alarm), and a new
		// deployment is CodeDeploy's, which the releases create (and
		// `shipyard up` after a new Redis AUTH token: cmd/shipyard
		// rotation.go).
		sa.DeploymentCircuitBreaker, sa.Alarms = nil, nil
		sa.ForceNewDeployment, sa.Triggers = nil, nil
		owners = append(owners, drift.CodeDeploy)
	}
	// The task definition only references the roles: without their
	// policies, the first tasks could not pull the image or read secrets.
	after := append(append(append([]pulumi.Resource{}, rolePolicies...), args.After...), args.RedeployAfter...)
	svcOpts := []pulumi.ResourceOption{parent, pulumi.DependsOn(after)}
	if autoscaled {
		// Autoscaling owns the running count between deploys.
		owners = append(owners, drift.Autoscaled)
	}
	if ignore := drift.IgnoreChanges("aws:ecs/service:Service", owners...); len(ignore) > 0 {
		svcOpts = append(svcOpts, pulumi.IgnoreChanges(ignore))
	}
	service, err := ecs.NewService(ctx, name+"-service", sa, svcOpts...)
	if err != nil {
		return nil, fmt.Errorf("ecs service %s: %w", args.Name, err)
	}
	comp.ServiceName, comp.ECSService = service.Name, service

	if autoscaled {
		if err := autoscale(ctx, name, args, svc, service, parent); err != nil {
			return nil, err
		}
	}
	return comp, ctx.RegisterResourceOutputs(comp, pulumi.Map{
		"serviceName":       comp.ServiceName,
		"taskDefinitionArn": comp.TaskDefinitionArn,
	})
}

// autoscale adds target tracking on CPU, and on requests per target for web.
func autoscale(ctx *pulumi.Context, name string, args ServiceArgs, svc stackconfig.Service, service *ecs.Service, parent pulumi.ResourceOption) error {
	target, err := appautoscaling.NewTarget(ctx, name+"-scaling", &appautoscaling.TargetArgs{
		ServiceNamespace:  pulumi.String("ecs"),
		ScalableDimension: pulumi.String("ecs:service:DesiredCount"),
		ResourceId:        pulumi.Sprintf("service/%s/%s", args.ClusterName, service.Name),
		MinCapacity:       pulumi.Int(svc.MinCount),
		MaxCapacity:       pulumi.Int(svc.MaxCount),
	}, parent)
	if err != nil {
		return fmt.Errorf("scaling target: %w", err)
	}
	policy := func(suffix, metric string, value int, label pulumi.StringInput) error {
		spec := appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs{
			PredefinedMetricType: pulumi.String(metric),
		}
		if label != nil {
			spec.ResourceLabel = label
		}
		_, err := appautoscaling.NewPolicy(ctx, name+"-scaling-"+suffix, &appautoscaling.PolicyArgs{
			PolicyType:        pulumi.String("TargetTrackingScaling"),
			ServiceNamespace:  target.ServiceNamespace,
			ScalableDimension: target.ScalableDimension,
			ResourceId:        target.ResourceId,
			TargetTrackingScalingPolicyConfiguration: appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs{
				TargetValue:                   pulumi.Float64(float64(value)),
				PredefinedMetricSpecification: spec,
				ScaleInCooldown:               pulumi.Int(120),
				ScaleOutCooldown:              pulumi.Int(60),
			},
		}, parent)
		if err != nil {
			return fmt.Errorf("scaling policy %s: %w", suffix, err)
		}
		return nil
	}
	if t := svc.Autoscaling.CPUTargetPercent; t > 0 {
		if err := policy("cpu", "ECSServiceAverageCPUUtilization", t, nil); err != nil {
			return err
		}
	}
	if t := svc.Autoscaling.RequestsPerTarget; t > 0 && args.RequestCountLabel != nil {
		if err := policy("requests", "ALBRequestCountPerTarget", t, args.RequestCountLabel); err != nil {
			return err
		}
	}
	if t := svc.Autoscaling.PendingJobsPerTask; t > 0 && args.Process == stackconfig.Worker {
		if err := backlogPolicy(ctx, name, args, t, target, service, parent); err != nil {
			return err
		}
	}
	return nil
}

// BacklogExpression is the value the worker's backlog scaling keeps at
// services.worker.autoscaling.pendingJobsPerTask: the jobs waiting in the
// queue (the worker's and the clock's embedded metrics) per running
// worker task (Container Insights), the waiting jobs themselves when none
// runs.
const BacklogExpression = "IF(running > 0, pending / running, pending)"

// backlogPolicy is target tracking on the job queue's backlog per running
// worker task. Scaling out adds workers when jobs wait; scaling in stops
// tasks, which drain (SIGTERM: stop fetching, finish the jobs in flight
// within stopTimeoutSeconds, requeue the rest), so the scale-in cooldown
// is long and target tracking scales in slowly.
func backlogPolicy(ctx *pulumi.Context, name string, args ServiceArgs, perTask int, target *appautoscaling.Target, service *ecs.Service, parent pulumi.ResourceOption) error {
	type (
		dim  = appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricMetricStatMetricDimensionArgs
		dims = appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricMetricStatMetricDimensionArray
	)
	stat := func(namespace, metric, statistic string, d dims) *appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricMetricStatArgs {
		return &appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricMetricStatArgs{
			Metric: appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricMetricStatMetricArgs{
				Namespace: pulumi.String(namespace), MetricName: pulumi.String(metric), Dimensions: d,
			},
			Stat: pulumi.String(statistic),
		}
	}
	_, err := appautoscaling.NewPolicy(ctx, name+"-scaling-backlog", &appautoscaling.PolicyArgs{
		PolicyType:        pulumi.String("TargetTrackingScaling"),
		ServiceNamespace:  target.ServiceNamespace,
		ScalableDimension: target.ScalableDimension,
		ResourceId:        target.ResourceId,
		TargetTrackingScalingPolicyConfiguration: appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs{
			TargetValue: pulumi.Float64(float64(perTask)),
			CustomizedMetricSpecification: appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationArgs{
				Metrics: appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricArray{
					appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricArgs{
						Id: pulumi.String("pending"), ReturnData: pulumi.Bool(false),
						MetricStat: stat(appmetrics.Namespace, appmetrics.QueuePending, "Maximum", dims{
							dim{Name: pulumi.String(appmetrics.DimensionStack), Value: pulumi.String(args.Stack)},
							dim{Name: pulumi.String(appmetrics.DimensionQueue), Value: pulumi.String(appmetrics.QueueDefault)},
						}),
					},
					appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricArgs{
						Id: pulumi.String("running"), ReturnData: pulumi.Bool(false),
						MetricStat: stat("ECS/ContainerInsights", "RunningTaskCount", "Average", dims{
							dim{Name: pulumi.String("ClusterName"), Value: args.ClusterName},
							dim{Name: pulumi.String("ServiceName"), Value: service.Name},
						}),
					},
					appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricArgs{
						Id: pulumi.String("backlog"), Label: pulumi.String("Jobs waiting per running worker task"),
						Expression: pulumi.String(BacklogExpression), ReturnData: pulumi.Bool(true),
					},
				},
			},
			ScaleOutCooldown: pulumi.Int(60),
			ScaleInCooldown:  pulumi.Int(300),
		},
	}, parent)
	if err != nil {
		return fmt.Errorf("scaling policy backlog: %w", err)
	}
	return nil
}

// ReleaseArgs configures the standalone migrate task.
type ReleaseArgs struct {
	Task TaskArgs
	// Family is "shipyard-<stack>-migrate".
	Family string
}

// Release is a task definition that runs `app migrate` alone, for
// `aws ecs run-task` by an operator (e.g. to migrate without a deploy). The
// deploy itself migrates through the init container of every task.
type Release struct {
	pulumi.ResourceState

	TaskDefinitionArn pulumi.StringOutput
	ExecutionRoleArn  pulumi.StringOutput
	TaskRoleArn       pulumi.StringOutput
}

// NewRelease creates the migrate task definition and its roles.
func NewRelease(ctx *pulumi.Context, name string, args ReleaseArgs, opts ...pulumi.ResourceOption) (*Release, error) {
	comp := &Release{}
	if err := ctx.RegisterComponentResource(typePrefix+"Release", name, comp, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(comp)
	// The migrate task logs to the web log group.
	// The release task runs only `migrate`, which makes no spans.
	execRole, taskRole, _, err := taskRoles(ctx, name, args.Task, stackconfig.Web, false, parent)
	if err != nil {
		return nil, err
	}
	svc := args.Task.Config.Services.Web
	td, err := newTaskDefinition(ctx, name+"-task", args.Family, args.Task, taskSpec{
		Process:     stackconfig.Web,
		OnlyMigrate: true,
		Region:      args.Task.Region,
		Service:     svc,
	}, execRole.Arn, taskRole.Arn, parent)
	if err != nil {
		return nil, err
	}
	comp.TaskDefinitionArn, comp.ExecutionRoleArn, comp.TaskRoleArn = td.Arn, execRole.Arn, taskRole.Arn
	return comp, ctx.RegisterResourceOutputs(comp, pulumi.Map{"taskDefinitionArn": comp.TaskDefinitionArn})
}
