package aws

import (
	"errors"
	"fmt"
	"strconv"

	awssdk "github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// A pull-request environment on aws (docs/operations.md, "PR
// environments"): the stack "<base>-pr-<n>" reads its base stack's shared
// infrastructure (network, cluster, ALB and its HTTPS listener, database
// instance, Redis, key, image repository) through a StackReference and
// creates only what is the PR's own: its web, worker and clock services on
// Fargate Spot at the smallest size, their task definitions and roles, a
// target group with a host-header rule on the base's listener and its DNS
// records, its log groups, the password of its database user, and the
// admin and migrate task definitions `shipyard pr-up` and `pr-down` run.
// The policy rule SHIPYARD-PR-1 checks that it never creates a VPC, load
// balancer, database instance or cache cluster.

// Outputs of a PR stack besides those it shares with NewStack's (stack,
// target, url, image, clusterName, serviceNames, taskDefinitionArns,
// logGroupNames, migrateTaskDefinitionArn, privateSubnetIds,
// appSecurityGroupId, region).
const (
	OutputPreviewSlot            = "previewSlot"
	OutputPR                     = "pr"
	OutputBaseStack              = "baseStack"
	OutputDatabaseName           = "databaseName"
	OutputAdminTaskDefinitionArn = "adminTaskDefinitionArn"
	// OutputAdminLogGroupName is where the admin and migrate tasks log
	// (streams "admin/…" and "migrate/…").
	OutputAdminLogGroupName = "adminLogGroupName"
)

// PreviewOutputKeys lists every output NewPreviewStack returns.
var PreviewOutputKeys = []string{
	OutputStack, OutputTarget, OutputURL, OutputImage, OutputPreviewSlot, OutputPR, OutputBaseStack,
	OutputDatabaseName, OutputClusterName, OutputServiceNames, OutputTaskDefinitionArns, OutputLogGroupNames,
	OutputMigrateTaskDefinitionArn, OutputAdminTaskDefinitionArn, OutputAdminLogGroupName,
	OutputPrivateSubnetIDs, OutputAppSecurityGroupID, OutputRegion,
}

// Previews run at Fargate's smallest size, one task per process type.
const (
	PreviewCPU    = 256
	PreviewMemory = 512
)

// NewPreviewStack builds the PR environment cfg (a config Load returned for
// "<base>-pr-<n>", its slot and image set: SetPreviewSlot,
// SetPreviewImage) and returns its outputs. The image is the digest
// `shipyard pr-up` pushed to the base's repository.
func NewPreviewStack(ctx *pulumi.Context, cfg *stackconfig.Config) (pulumi.Map, error) {
	if cfg.Target != stackconfig.TargetAWS {
		return nil, fmt.Errorf("infra/aws: stack %s has target %q", cfg.Stack, cfg.Target)
	}
	pr := cfg.Preview
	if pr == nil {
		return nil, fmt.Errorf("infra/aws: stack %s is not a PR environment (<base>-pr-<n>)", cfg.Stack)
	}
	if pr.Slot < 1 {
		return nil, fmt.Errorf("infra/aws: stack %s has no slot (%s); deploy it with `make pr-up PR=%d STACK=%s`", cfg.Stack, stackconfig.PreviewSlotEnv, pr.Number, pr.Base)
	}
	digest := cfg.Release.ImageDigest
	if digest == "" {
		return nil, fmt.Errorf("infra/aws: stack %s has no image (%s); deploy it with `make pr-up PR=%d STACK=%s`, which builds and pushes it", cfg.Stack, stackconfig.PreviewImageEnv, pr.Number, pr.Base)
	}
	region := cfg.AWS.Region
	if region == "" {
		return nil, errors.New("infra/aws: aws.region is required")
	}
	provider, err := newProvider(ctx, cfg, map[string]string{"shipyard:preview-of": pr.Base})
	if err != nil {
		return nil, err
	}
	with := pulumi.Providers(provider)
	identity, err := awssdk.GetCallerIdentity(ctx, &awssdk.GetCallerIdentityArgs{}, pulumi.Provider(provider))
	if err != nil {
		return nil, fmt.Errorf("caller identity: %w", err)
	}
	account := identity.AccountId

	b, err := readPreviewBase(ctx, "base", pr.Base)
	if err != nil {
		return nil, err
	}
	if b.Region != region {
		return nil, fmt.Errorf("stack %s is in %s, its base %s in %s: they must share the region (aws.region)", cfg.Stack, region, pr.Base, b.Region)
	}
	// The base's repository: the only one its execution roles may pull from.
	image := b.RepositoryURL + "@" + digest
	if b.Domain == "" {
		return nil, fmt.Errorf("stack %s: PR environments are served at pr-<n>.<loadBalancer.domain> of %s, which has no loadBalancer.domain", cfg.Stack, pr.Base)
	}
	pc := previewConfig(cfg)
	base := "shipyard-" + cfg.Stack
	host := pr.Host() + "." + b.Domain

	logging, err := newPreviewLogging(ctx, "logs", "/shipyard/"+cfg.Stack, b.KMSKeyArn, cfg.Previews.LogRetentionDays, with)
	if err != nil {
		return nil, err
	}
	dbSecret, err := NewPreviewDatabaseSecret(ctx, "database-password", cfg.Stack, b.KMSKeyArn, with)
	if err != nil {
		return nil, err
	}
	routing, err := NewPreviewRouting(ctx, "web", PreviewRoutingArgs{
		Host:                       host,
		Slot:                       pr.Slot,
		TargetGroupName:            serviceName(base, stackconfig.Web),
		VpcId:                      b.VpcID,
		ListenerArn:                b.HTTPSListenerArn,
		HostedZoneId:               b.HostedZoneID,
		AlbDNSName:                 b.AlbDNSName,
		AlbZoneId:                  b.AlbZoneID,
		AppPort:                    pc.Services.Web.Port,
		HealthCheckPath:            pc.Services.Web.HealthCheckPath,
		DeregistrationDelaySeconds: pc.LoadBalancer.DeregistrationDelaySeconds,
	}, with)
	if err != nil {
		return nil, err
	}

	appArns := map[string]pulumi.StringInput{}
	for n, arn := range b.AppSecretArns {
		appArns[n] = pulumi.String(arn)
	}
	redisAuth := pulumi.String(b.RedisAuthSecretArn)
	secrets, secretArns, err := taskSecrets(pc, secretSource{ValueFrom: dbSecret.Arn, Arn: dbSecret.Arn}, secretSource{ValueFrom: redisAuth, Arn: redisAuth}, appArns)
	if err != nil {
		return nil, fmt.Errorf("stack %s (output %s of %s; deploy %s with this config first): %w", cfg.Stack, OutputAppSecretArns, pr.Base, pr.Base, err)
	}
	endpoints := Endpoints{
		DatabaseAddress: pulumi.String(b.DatabaseAddress).ToStringOutput(), DatabasePort: pulumi.Int(b.DatabasePort).ToIntOutput(),
		RedisAddress: pulumi.String(b.RedisAddress).ToStringOutput(), RedisPort: pulumi.Int(b.RedisPort).ToIntOutput(),
	}
	task := TaskArgs{
		Config:        pc,
		Region:        region,
		AccountID:     account,
		Image:         pulumi.String(image),
		RepositoryArn: pulumi.String(b.RepositoryArn),
		Endpoints:     endpoints,
		Secrets:       secrets,
		SecretArns:    secretArns,
		Logging:       logging,
		Ephemeral:     true,
	}
	admin, err := NewPreviewAdmin(ctx, "admin", PreviewAdminArgs{
		Task:               task,
		Family:             base + "-admin",
		MasterSecretArn:    b.DatabaseMasterSecretArn,
		RedisAuthSecretArn: b.RedisAuthSecretArn,
		DatabaseSecret:     dbSecret.Arn,
	}, with)
	if err != nil {
		return nil, err
	}
	release, err := NewRelease(ctx, "release", ReleaseArgs{Task: task, Family: base + "-migrate"}, with)
	if err != nil {
		return nil, err
	}

	services, err := newServices(ctx, func(p stackconfig.Process, web *Service) ServiceArgs {
		args := ServiceArgs{
			Task:               task,
			Process:            p,
			Name:               serviceName(base, p),
			ClusterArn:         pulumi.String(b.ClusterArn),
			ClusterName:        pulumi.String(b.ClusterName),
			PrivateSubnetIds:   pulumi.ToStringArray(b.PrivateSubnetIDs),
			AppSecurityGroupId: pulumi.String(b.AppSecurityGroupID),
			RedeployOn:         map[string]string{"redisAuthTokenVersion": strconv.Itoa(pc.Cache.AuthTokenVersion)},
			Stack:              cfg.Stack,
			Spot:               true,
			NoSteadyStateWait:  true,
		}
		if p == stackconfig.Web {
			args.TargetGroupArn = routing.TargetGroupArn
			// The rule attaches the target group to the ALB.
			args.After = []pulumi.Resource{routing.Rule}
		} else {
			args.After = []pulumi.Resource{web.ECSService}
		}
		return args
	}, with)
	if err != nil {
		return nil, err
	}
	logGroups := pulumi.StringMap{}
	for _, p := range stackconfig.Processes {
		logGroups[string(p)] = logging.AppLogGroupNames[p]
	}
	return pulumi.Map{
		OutputStack:                    pulumi.String(cfg.Stack),
		OutputTarget:                   pulumi.String(string(stackconfig.TargetAWS)),
		OutputURL:                      pulumi.String("https://" + host),
		OutputImage:                    pulumi.String(image),
		OutputPreviewSlot:              pulumi.Int(pr.Slot),
		OutputPR:                       pulumi.Int(pr.Number),
		OutputBaseStack:                pulumi.String(pr.Base),
		OutputDatabaseName:             pulumi.String(pr.Database()),
		OutputClusterName:              pulumi.String(b.ClusterName),
		OutputServiceNames:             services.names,
		OutputTaskDefinitionArns:       services.taskDefinitions,
		OutputLogGroupNames:            logGroups,
		OutputMigrateTaskDefinitionArn: release.TaskDefinitionArn,
		OutputAdminTaskDefinitionArn:   admin.TaskDefinitionArn,
		OutputAdminLogGroupName:        logging.AppLogGroupNames[stackconfig.Web],
		OutputPrivateSubnetIDs:         pulumi.ToStringArray(b.PrivateSubnetIDs),
		OutputAppSecurityGroupID:       pulumi.String(b.AppSecurityGroupID),
		OutputRegion:                   pulumi.String(region),
	}, nil
}

// previewConfig is cfg with every process at the smallest Fargate size,
// one task each, without autoscaling.
func previewConfig(cfg *stackconfig.Config) *stackconfig.Config {
	c := *cfg
	for _, s := range []*stackconfig.Service{&c.Services.Web, &c.Services.Worker, &c.Services.Clock} {
		s.CPU, s.Memory = PreviewCPU, PreviewMemory
		s.DesiredCount, s.MinCount, s.MaxCount = 1, 1, 1
		s.Autoscaling = stackconfig.Autoscaling{}
	}
	return &c
}
