// Package aws holds the Pulumi components of the AWS target and NewStack,
// which composes them from a stack's config. See docs/aws.md.
package aws

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	awssdk "github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shipyard-kit/shipyard/app/appmetrics"
	"github.com/shipyard-kit/shipyard/infra/signals"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// Stack output keys; Terratest and `make promote` read them.
const (
	OutputStack                    = "stack"
	OutputTarget                   = "target"
	OutputURL                      = "url"
	OutputImage                    = "image"
	OutputImageDigest              = "imageDigest"
	OutputDatabaseEndpoint         = "databaseEndpoint"
	OutputRedisEndpoint            = "redisEndpoint"
	OutputClusterName              = "clusterName"
	OutputServiceNames             = "serviceNames"
	OutputTaskDefinitionArns       = "taskDefinitionArns"
	OutputLogGroupNames            = "logGroupNames"
	OutputImageRepositoryURL       = "imageRepositoryUrl"
	OutputAlbDNSName               = "albDnsName"
	OutputMigrateTaskDefinitionArn = "migrateTaskDefinitionArn"
	OutputPrivateSubnetIDs         = "privateSubnetIds"
	OutputAppSecurityGroupID       = "appSecurityGroupId"
	OutputRegion                   = "region"
	// The RDS instance, its subnet group and security group: the
	// pre-migration snapshot and the restore drill use them.
	OutputDatabaseInstanceID      = "databaseInstanceId"
	OutputDatabaseSubnetGroupName = "databaseSubnetGroupName"
	OutputDatabaseSecurityGroupID = "databaseSecurityGroupId"
	// The stack's CloudWatch dashboard (`make dashboard`) and the SNS
	// topic its alarms notify.
	OutputDashboardURL  = "dashboardUrl"
	OutputAlarmTopicARN = "alarmTopicArn"
	// The web service's CodeDeploy application and deployment group, and
	// the container and port its AppSpec names ("" / 0 with a rolling
	// deploy.strategy: ECS deploys the web service itself).
	OutputCodeDeployApplication     = "codeDeployApplication"
	OutputCodeDeployDeploymentGroup = "codeDeployDeploymentGroup"
	OutputWebContainerName          = "webContainerName"
	OutputWebContainerPort          = "webContainerPort"
	// What a stack sharing the ALB (a pull-request environment at
	// pr-<n>.<domain>) needs: the domain, its hosted zone ("" with your
	// own certificate), the listener's certificate (it covers *.<domain>
	// when managed) and the HTTPS listener to add rules to.
	OutputDomain           = "domain"
	OutputHostedZoneID     = "hostedZoneId"
	OutputCertificateARN   = "certificateArn"
	OutputHTTPSListenerARN = "httpsListenerArn"
	// The rest of what a PR environment's stack reads from its base
	// (NewPreviewStack): where its tasks run, the ALB's alias zone, the
	// attached resources and the secrets and key they share.
	OutputVpcID                   = "vpcId"
	OutputClusterArn              = "clusterArn"
	OutputAlbZoneID               = "albZoneId"
	OutputDatabaseAddress         = "databaseAddress"
	OutputDatabasePort            = "databasePort"
	OutputDatabaseMasterSecretArn = "databaseMasterSecretArn"
	OutputRedisAddress            = "redisAddress"
	OutputRedisPort               = "redisPort"
	OutputRedisAuthSecretArn      = "redisAuthSecretArn"
	OutputKMSKeyArn               = "kmsKeyArn"
	OutputImageRepositoryArn      = "imageRepositoryArn"
	OutputAppSecretArns           = "appSecretArns"
	// The generations of the Redis AUTH token the stack was deployed
	// with (cache.authTokenVersion and cache.retiredAuthTokenVersion):
	// `shipyard up` compares them, and when redisAuthSecretArn got its
	// current value, with the running tasks (docs/aws.md, "Rotating the
	// Redis AUTH token").
	OutputRedisAuthTokenVersion        = "redisAuthTokenVersion"
	OutputRedisRetiredAuthTokenVersion = "redisRetiredAuthTokenVersion"
	// OutputTracesURL is X-Ray's trace search in the CloudWatch console
	// (`make traces`); empty when tracing.enabled is false.
	OutputTracesURL = "tracesUrl"
)

// OutputKeys lists every stack output NewStack returns.
var OutputKeys = []string{
	OutputStack, OutputTarget, OutputURL, OutputImage, OutputImageDigest,
	OutputDatabaseEndpoint, OutputRedisEndpoint, OutputClusterName, OutputServiceNames,
	OutputTaskDefinitionArns, OutputLogGroupNames, OutputImageRepositoryURL, OutputAlbDNSName,
	OutputMigrateTaskDefinitionArn, OutputPrivateSubnetIDs, OutputAppSecurityGroupID, OutputRegion,
	OutputDatabaseInstanceID, OutputDatabaseSubnetGroupName, OutputDatabaseSecurityGroupID,
	OutputDashboardURL, OutputAlarmTopicARN, OutputTracesURL,
	OutputCodeDeployApplication, OutputCodeDeployDeploymentGroup, OutputWebContainerName, OutputWebContainerPort,
	OutputDomain, OutputHostedZoneID, OutputCertificateARN, OutputHTTPSListenerARN,
	OutputVpcID, OutputClusterArn, OutputAlbZoneID, OutputDatabaseAddress, OutputDatabasePort,
	OutputDatabaseMasterSecretArn, OutputRedisAddress, OutputRedisPort, OutputRedisAuthSecretArn,
	OutputKMSKeyArn, OutputImageRepositoryArn, OutputAppSecretArns,
	OutputRedisAuthTokenVersion, OutputRedisRetiredAuthTokenVersion,
}

// TracesURL is the CloudWatch console's X-Ray trace search of region,
// filtered to the stack (the deployment.environment.name annotation the
// collector indexes, where X-Ray writes dots as underscores).
func TracesURL(region, stack string) string {
	filter := url.QueryEscape(`annotation.deployment_environment_name = "` + stack + `"`)
	return "https://" + region + ".console.aws.amazon.com/cloudwatch/home?region=" + region + "#xray:traces/query?filter=" + filter
}

// Released reports whether the stack has an image to run. Without one,
// NewStack creates everything but the task definitions and services, so
// the first `make release` can push to the ECR repository.
func Released(cfg *stackconfig.Config) bool { return cfg.Release.ImageDigest != "" }

// NewStack builds the AWS topology of a stack and returns its outputs.
func NewStack(ctx *pulumi.Context, cfg *stackconfig.Config) (pulumi.Map, error) {
	if cfg.Target != stackconfig.TargetAWS {
		return nil, fmt.Errorf("infra/aws: stack %s has target %q", cfg.Stack, cfg.Target)
	}
	region := cfg.AWS.Region
	if region == "" {
		return nil, errors.New("infra/aws: aws.region is required")
	}
	web := cfg.Services.Web
	for _, p := range stackconfig.Processes {
		// Env gives every process PORT=services.web.port.
		if port := cfg.Services.Get(p).Port; port != web.Port {
			return nil, fmt.Errorf("infra/aws: services.%s.port %d: every process listens on PORT=%d (services.web.port)", p, port, web.Port)
		}
	}
	prod := cfg.Stack == stackconfig.ProdStack
	base := "shipyard-" + cfg.Stack
	alarms, err := signals.Resolve(cfg)
	if err != nil {
		return nil, fmt.Errorf("infra/aws: %w", err)
	}

	provider, err := newProvider(ctx, cfg, nil)
	if err != nil {
		return nil, err
	}
	invoke := pulumi.Provider(provider)
	with := pulumi.Providers(provider)

	identity, err := awssdk.GetCallerIdentity(ctx, &awssdk.GetCallerIdentityArgs{}, invoke)
	if err != nil {
		return nil, fmt.Errorf("caller identity: %w", err)
	}
	zones, err := awssdk.GetAvailabilityZones(ctx, &awssdk.GetAvailabilityZonesArgs{State: pulumi.StringRef("available")}, invoke)
	if err != nil {
		return nil, fmt.Errorf("availability zones: %w", err)
	}
	if len(zones.Names) < cfg.Network.AZCount {
		return nil, fmt.Errorf("network.azCount %d: region %s has %d available zones", cfg.Network.AZCount, region, len(zones.Names))
	}
	azs := zones.Names[:cfg.Network.AZCount]
	account := identity.AccountId

	logging, err := NewLogging(ctx, "logs", LoggingArgs{
		Prefix:        "/shipyard/" + cfg.Stack,
		Region:        region,
		AccountID:     account,
		RetentionDays: cfg.Logging.RetentionDays,
		Archive:       hasDestination(cfg, stackconfig.LogToS3),
		Protect:       prod,
		AlarmPrefix:   base,
	}, with)
	if err != nil {
		return nil, err
	}
	network, err := NewNetwork(ctx, "network", NetworkArgs{
		CIDR:              cfg.Network.CIDR,
		AvailabilityZones: azs,
		NATPerAZ:          cfg.Network.NATGateways == stackconfig.NATPerAZ,
		AccountID:         account,
		Logging:           logging,
		FlowLogGroupName:  "/shipyard/" + cfg.Stack + "/vpc-flow-logs",
		Protect:           prod,
	}, with)
	if err != nil {
		return nil, err
	}
	if cfg.Network.VPCEndpoints {
		if _, err := NewVPCEndpoints(ctx, "endpoints", VPCEndpointsArgs{
			Region:               region,
			VpcId:                network.VpcId,
			PrivateSubnetIds:     network.PrivateSubnetIds,
			PrivateRouteTableIds: network.PrivateRouteTableIds,
			AppSecurityGroupId:   network.AppSecurityGroupId,
		}, with); err != nil {
			return nil, err
		}
	}
	registry, err := NewRegistry(ctx, "registry", RegistryArgs{
		RepositoryName: cfg.RepositoryName(),
		Keep:           ImageRetainCount,
		PreviewKeep:    previewImagesKept(cfg),
		Protect:        prod,
	}, with)
	if err != nil {
		return nil, err
	}
	// The HTTPS listener's certificate: requested and validated in the
	// hosted zone, or brought (loadBalancer.certificateArn).
	var certArn, zoneID pulumi.StringOutput
	var zoneIDInput pulumi.StringInput
	if zone := cfg.LoadBalancer.HostedZone; zone != nil {
		id, err := hostedZoneID(ctx, zone, invoke)
		if err != nil {
			return nil, err
		}
		cert, err := NewCertificate(ctx, "certificate", CertificateArgs{Domain: cfg.LoadBalancer.Domain, ZoneId: pulumi.String(id)}, with)
		if err != nil {
			return nil, err
		}
		certArn, zoneID, zoneIDInput = cert.Arn, cert.ZoneId, pulumi.String(id)
	} else {
		certArn, zoneID = pulumi.String(cfg.LoadBalancer.CertificateARN).ToStringOutput(), pulumi.String("").ToStringOutput()
	}
	alb, err := NewLoadBalancer(ctx, "web", LoadBalancerArgs{
		Name:                       base,
		VpcId:                      network.VpcId,
		PublicSubnetIds:            network.PublicSubnetIds,
		AppSecurityGroupId:         network.AppSecurityGroupId,
		AppPort:                    web.Port,
		HealthCheckPath:            web.HealthCheckPath,
		CertificateArn:             certArn,
		Domain:                     cfg.LoadBalancer.Domain,
		HostedZoneId:               zoneIDInput,
		SSLPolicy:                  SSLPolicy,
		IdleTimeoutSeconds:         cfg.LoadBalancer.IdleTimeoutSeconds,
		DeregistrationDelaySeconds: cfg.LoadBalancer.DeregistrationDelaySeconds,
		DeletionProtection:         prod,
		Region:                     region,
		AccountID:                  account,
		LogRetentionDays:           cfg.Logging.RetentionDays,
		Protect:                    prod,
		CodeDeploy:                 cfg.Deploy.Progressive(),
	}, with)
	if err != nil {
		return nil, err
	}
	if w := cfg.LoadBalancer.WAF; w.Enabled {
		if _, err := NewWAF(ctx, "waf", WAFArgs{Name: base, RateLimitPer5Min: w.RateLimitPer5Min, LoadBalancerArn: alb.Arn, Logging: logging}, with); err != nil {
			return nil, err
		}
	}
	db, err := NewDatabase(ctx, "database", DatabaseArgs{
		Identifier:         base,
		Config:             cfg.Database,
		VpcId:              network.VpcId,
		PrivateSubnetIds:   network.PrivateSubnetIds,
		AppSecurityGroupId: network.AppSecurityGroupId,
		Logging:            logging,
		AccountID:          account,
		Protect:            prod,
	}, with)
	if err != nil {
		return nil, err
	}
	cache, err := NewCache(ctx, "cache", CacheArgs{
		ReplicationGroupId: base,
		Config:             cfg.Cache,
		VpcId:              network.VpcId,
		PrivateSubnetIds:   network.PrivateSubnetIds,
		AppSecurityGroupId: network.AppSecurityGroupId,
		SecretName:         "shipyard/" + cfg.Stack + "/" + stackconfig.SecretRedisPassword,
		KMSKeyArn:          logging.KeyArn,
		Protect:            prod,
	}, with)
	if err != nil {
		return nil, err
	}
	appSecrets, err := NewAppSecrets(ctx, "app-secrets", AppSecretsArgs{Stack: cfg.Stack, Names: cfg.App.Secrets, Protect: prod, KMSKeyArn: logging.KeyArn}, with)
	if err != nil {
		return nil, err
	}
	cluster, err := NewCluster(ctx, "cluster", ClusterArgs{Name: base, Logging: logging}, with)
	if err != nil {
		return nil, err
	}

	serviceNames := map[stackconfig.Process]pulumi.StringInput{}
	for _, p := range stackconfig.Processes {
		serviceNames[p] = pulumi.String(serviceName(base, p))
	}
	targets := Targets[pulumi.StringInput]{
		LoadBalancer: alb.ArnSuffix,
		TargetGroup:  alb.TargetGroupArnSuffix,
		Cluster:      cluster.Name,
		Services:     serviceNames,
		Database:     db.Identifier,
		Stack:        pulumi.String(cfg.Stack),
		Queue:        pulumi.String(appmetrics.QueueDefault),
	}
	for _, id := range cacheNodeIDs(base, 1+cfg.Cache.Replicas) {
		targets.CacheNodes = append(targets.CacheNodes, pulumi.String(id))
	}
	alarmsArgs := AlarmsArgs{
		Prefix:    base,
		Region:    region,
		AccountID: account,
		Instances: alarms,
		Targets:   targets,
		Notify:    cfg.Alarms.Notify,
		KMSKeyArn: logging.KeyArn,
	}
	alarming, err := NewAlarms(ctx, "alarms", alarmsArgs, with)
	if err != nil {
		return nil, err
	}
	var greenAlarms []string
	if cfg.Deploy.Progressive() && Released(cfg) {
		for _, g := range cfg.Deploy.Gates {
			greenAlarms = append(greenAlarms, g+GreenAlarmSuffix)
		}
	}
	dashboard, err := NewDashboard(ctx, "dashboard", DashboardArgs{
		Name:         base,
		Region:       region,
		AccountID:    account,
		Prefix:       base,
		Instances:    alarms,
		Targets:      targets,
		MoreAlarmIDs: greenAlarms,
	}, with)
	if err != nil {
		return nil, err
	}

	url := pulumi.Sprintf("https://%s", alb.DnsName)
	if d := cfg.LoadBalancer.Domain; d != "" {
		url = pulumi.Sprintf("https://%s", d)
	}
	appSecretArns := pulumi.StringMap{}
	for n, arn := range appSecrets.Arns {
		appSecretArns[n] = arn
	}
	logGroups := pulumi.StringMap{}
	for _, p := range stackconfig.Processes {
		logGroups[string(p)] = logging.AppLogGroupNames[p]
	}
	outputs := pulumi.Map{
		OutputStack:                        pulumi.String(cfg.Stack),
		OutputTarget:                       pulumi.String(string(stackconfig.TargetAWS)),
		OutputURL:                          url,
		OutputImage:                        pulumi.String(""),
		OutputImageDigest:                  pulumi.String(cfg.Release.ImageDigest),
		OutputDatabaseEndpoint:             db.Endpoint,
		OutputRedisEndpoint:                cache.Endpoint,
		OutputClusterName:                  cluster.Name,
		OutputServiceNames:                 pulumi.StringMap{},
		OutputTaskDefinitionArns:           pulumi.StringMap{},
		OutputLogGroupNames:                logGroups,
		OutputImageRepositoryURL:           registry.RepositoryUrl,
		OutputAlbDNSName:                   alb.DnsName,
		OutputMigrateTaskDefinitionArn:     pulumi.String(""),
		OutputPrivateSubnetIDs:             network.PrivateSubnetIds,
		OutputAppSecurityGroupID:           network.AppSecurityGroupId,
		OutputRegion:                       pulumi.String(region),
		OutputDatabaseInstanceID:           db.Identifier,
		OutputDatabaseSubnetGroupName:      db.SubnetGroupName,
		OutputDatabaseSecurityGroupID:      db.SecurityGroupId,
		OutputDashboardURL:                 dashboard.URL,
		OutputAlarmTopicARN:                alarming.TopicArn,
		OutputCodeDeployApplication:        pulumi.String(""),
		OutputCodeDeployDeploymentGroup:    pulumi.String(""),
		OutputWebContainerName:             pulumi.String(AppContainer),
		OutputWebContainerPort:             pulumi.Int(web.Port),
		OutputDomain:                       pulumi.String(cfg.LoadBalancer.Domain),
		OutputHostedZoneID:                 zoneID,
		OutputCertificateARN:               certArn,
		OutputHTTPSListenerARN:             alb.HttpsListenerArn,
		OutputTracesURL:                    pulumi.String(""),
		OutputVpcID:                        network.VpcId,
		OutputClusterArn:                   cluster.Arn,
		OutputAlbZoneID:                    alb.ZoneId,
		OutputDatabaseAddress:              db.Address,
		OutputDatabasePort:                 db.Port,
		OutputDatabaseMasterSecretArn:      db.MasterUserSecretArn,
		OutputRedisAddress:                 cache.PrimaryEndpoint,
		OutputRedisPort:                    cache.Port,
		OutputRedisAuthSecretArn:           cache.AuthSecretArn,
		OutputKMSKeyArn:                    logging.KeyArn,
		OutputImageRepositoryArn:           registry.RepositoryArn,
		OutputAppSecretArns:                appSecretArns,
		OutputRedisAuthTokenVersion:        pulumi.Int(cfg.Cache.AuthTokenVersion),
		OutputRedisRetiredAuthTokenVersion: pulumi.Int(cfg.Cache.RetiredAuthTokenVersion),
	}
	if cfg.Tracing.Enabled {
		outputs[OutputTracesURL] = pulumi.String(TracesURL(region, cfg.Stack))
	}
	if !Released(cfg) {
		return outputs, nil
	}

	image := pulumi.Sprintf("%s@%s", registry.RepositoryUrl, cfg.Release.ImageDigest)
	appArns := map[string]pulumi.StringInput{}
	for n, arn := range appSecrets.Arns {
		appArns[n] = arn
	}
	secrets, secretArns, err := taskSecrets(cfg,
		// The RDS-managed secret is JSON; inject its "password" key.
		secretSource{ValueFrom: pulumi.Sprintf("%s:password::", db.MasterUserSecretArn), Arn: db.MasterUserSecretArn},
		secretSource{ValueFrom: cache.AuthSecretArn, Arn: cache.AuthSecretArn}, appArns)
	if err != nil {
		return nil, err
	}
	task := TaskArgs{
		Config:        cfg,
		Region:        region,
		AccountID:     account,
		Image:         image,
		RepositoryArn: registry.RepositoryArn,
		Endpoints: Endpoints{
			DatabaseAddress: db.Address, DatabasePort: db.Port,
			RedisAddress: cache.PrimaryEndpoint, RedisPort: cache.Port,
		},
		Secrets:    secrets,
		SecretArns: secretArns,
		Logging:    logging,
	}
	release, err := NewRelease(ctx, "release", ReleaseArgs{Task: task, Family: base + "-migrate"}, with)
	if err != nil {
		return nil, err
	}
	services, err := newServices(ctx, func(p stackconfig.Process, webService *Service) ServiceArgs {
		args := ServiceArgs{
			Task:               task,
			Process:            p,
			Name:               serviceName(base, p),
			ClusterArn:         cluster.Arn,
			ClusterName:        cluster.Name,
			PrivateSubnetIds:   network.PrivateSubnetIds,
			AppSecurityGroupId: network.AppSecurityGroupId,
			// A new AUTH token generation restarts every process once
			// the secret holds it.
			RedeployOn:    map[string]string{"redisAuthTokenVersion": strconv.Itoa(cfg.Cache.AuthTokenVersion)},
			RedeployAfter: []pulumi.Resource{cache.AuthTokenSecretVersion},
			Stack:         cfg.Stack,
		}
		for _, id := range signals.DeploymentAlarms(alarms, p) {
			args.DeploymentAlarms = append(args.DeploymentAlarms, alarming.Names[id])
		}
		if p == stackconfig.Web {
			args.CodeDeploy = cfg.Deploy.Progressive()
			args.TargetGroupArn = alb.TargetGroupArn
			// CreateService fails with "target group … does not have an
			// associated load balancer" until the listener attaches it.
			args.After = []pulumi.Resource{alb.HttpsListener}
			args.RequestCountLabel = pulumi.Sprintf("%s/%s", alb.ArnSuffix, alb.TargetGroupArnSuffix)
		} else {
			// Worker and clock roll out after web's deployment (and so
			// its migration) has reached a steady state.
			args.After = []pulumi.Resource{webService.ECSService}
		}
		return args
	}, with)
	if err != nil {
		return nil, err
	}
	if cfg.Deploy.Progressive() {
		bg, err := newWebBlueGreen(ctx, cfg, base, account, alb, certArn, network, cluster, services.web, alarms, alarmsArgs, alarming, with)
		if err != nil {
			return nil, err
		}
		outputs[OutputCodeDeployApplication] = bg.ApplicationName
		outputs[OutputCodeDeployDeploymentGroup] = bg.DeploymentGroupName
	}
	outputs[OutputImage] = image
	outputs[OutputServiceNames] = services.names
	outputs[OutputTaskDefinitionArns] = services.taskDefinitions
	outputs[OutputMigrateTaskDefinitionArn] = release.TaskDefinitionArn
	return outputs, nil
}

// serviceName is the ECS service name (and task family) of p:
// "shipyard-<stack>-<process>".
func serviceName(base string, p stackconfig.Process) string { return base + "-" + string(p) }

func hasDestination(cfg *stackconfig.Config, d string) bool {
	for _, x := range cfg.Logging.Destinations {
		if strings.EqualFold(x, d) {
			return true
		}
	}
	return false
}

// previewImagesKept is RegistryArgs.PreviewKeep: PR images are kept apart
// on a stack with previews.
func previewImagesKept(cfg *stackconfig.Config) int {
	if !cfg.Previews.Enabled {
		return 0
	}
	return PreviewImageRetainCount
}
