package aws

import (
	"fmt"
	"strconv"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/elasticache"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/secretsmanager"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// CacheArgs configures the Redis replication group.
type CacheArgs struct {
	// ReplicationGroupId is "shipyard-<stack>" (≤ 40 characters).
	ReplicationGroupId string
	Config             stackconfig.Cache
	VpcId              pulumi.StringInput
	PrivateSubnetIds   pulumi.StringArrayInput
	AppSecurityGroupId pulumi.StringInput
	// SecretName names the Secrets Manager secret of the auth token.
	SecretName string
	// KMSKeyArn is the stack's customer-managed key: it encrypts the
	// replication group at rest and the auth token secret.
	KMSKeyArn pulumi.StringInput
	Protect   bool
}

// Cache is an encrypted ElastiCache Redis replication group whose AUTH
// token is generated and kept in Secrets Manager.
type Cache struct {
	pulumi.ResourceState

	PrimaryEndpoint pulumi.StringOutput
	Port            pulumi.IntOutput
	// Endpoint is "host:port".
	Endpoint pulumi.StringOutput
	// AuthSecretArn holds the AUTH token as a plain string.
	AuthSecretArn   pulumi.StringOutput
	SecurityGroupId pulumi.StringOutput
	// AuthTokenSecretVersion is the secret's current value: services that
	// read the token redeploy after it (see ServiceArgs.RedeployAfter).
	AuthTokenSecretVersion pulumi.Resource
}

// AuthTokenUpdateStrategy is how ElastiCache applies the stack's AUTH token:
// "SET" once the previous generation is retired
// (cache.retiredAuthTokenVersion = authTokenVersion-1 after a rotation),
// which drops every other token, and "ROTATE" otherwise: while the previous
// generation is still accepted (authTokenVersion-2), so tasks that still
// hold it keep working, and for a stack's first token (1 and 0), which has
// no predecessor (and so keeps stacks created with ROTATE free of a diff).
// See docs/aws.md.
func AuthTokenUpdateStrategy(c stackconfig.Cache) string {
	if c.AuthTokenVersion > 1 && c.AuthTokenVersion-c.RetiredAuthTokenVersion == 1 {
		return "SET"
	}
	return "ROTATE"
}

// NewCache creates the replication group, its auth token secret, subnet
// group and security group.
func NewCache(ctx *pulumi.Context, name string, args CacheArgs, opts ...pulumi.ResourceOption) (*Cache, error) {
	comp := &Cache{}
	if err := ctx.RegisterComponentResource(typePrefix+"Cache", name, comp, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(comp)
	c := args.Config

	sg, err := ec2.NewSecurityGroup(ctx, name+"-sg", &ec2.SecurityGroupArgs{
		VpcId:       args.VpcId,
		Description: pulumi.String("Shipyard Redis"),
		Ingress: ec2.SecurityGroupIngressArray{ec2.SecurityGroupIngressArgs{
			Description:    pulumi.String("app tasks"),
			Protocol:       pulumi.String("tcp"),
			FromPort:       pulumi.Int(RedisPort),
			ToPort:         pulumi.Int(RedisPort),
			SecurityGroups: pulumi.StringArray{args.AppSecurityGroupId},
		}},
		Tags: pulumi.StringMap{"Name": pulumi.String(name)},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("cache security group: %w", err)
	}
	comp.SecurityGroupId = sg.ID().ToStringOutput()

	subnets, err := elasticache.NewSubnetGroup(ctx, name+"-subnets", &elasticache.SubnetGroupArgs{
		Description: pulumi.String("Shipyard private subnets"),
		SubnetIds:   args.PrivateSubnetIds,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("cache subnet group: %w", err)
	}

	// AUTH tokens: 16–128 printable characters without / " @ or spaces.
	// Keepers: a new cache.authTokenVersion generates a new token. The
	// first generation has none, like tokens generated before rotation
	// existed, so those stacks keep their token.
	var keepers pulumi.StringMapInput
	if c.AuthTokenVersion > 1 {
		keepers = pulumi.StringMap{"authTokenVersion": pulumi.String(strconv.Itoa(c.AuthTokenVersion))}
	}
	token, err := random.NewRandomPassword(ctx, name+"-auth-token", &random.RandomPasswordArgs{
		Length:          pulumi.Int(48),
		Special:         pulumi.Bool(true),
		OverrideSpecial: pulumi.String("!&#$^<>-"),
		Keepers:         keepers,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("cache auth token: %w", err)
	}
	secret, err := secretsmanager.NewSecret(ctx, name+"-auth-token", &secretsmanager.SecretArgs{
		Name:                 pulumi.String(args.SecretName),
		Description:          pulumi.String("Redis AUTH token (REDIS_PASSWORD)"),
		KmsKeyId:             args.KMSKeyArn,
		RecoveryWindowInDays: pulumi.Int(recoveryWindow(args.Protect)),
	}, withOpts(protect(args.Protect), parent)...)
	if err != nil {
		return nil, fmt.Errorf("cache auth secret: %w", err)
	}
	comp.AuthSecretArn = secret.Arn

	ha := c.Replicas >= 1
	// KmsKeyId: changing the key replaces the group (docs/aws.md).
	// TransitEncryptionMode "required": "preferred" would also accept
	// plaintext connections.
	rg, err := elasticache.NewReplicationGroup(ctx, name+"-redis", &elasticache.ReplicationGroupArgs{
		ReplicationGroupId:       pulumi.String(args.ReplicationGroupId),
		Description:              pulumi.String("Shipyard Redis"),
		Engine:                   pulumi.String("redis"),
		EngineVersion:            pulumi.String(c.EngineVersion),
		NodeType:                 pulumi.String(c.NodeType),
		NumCacheClusters:         pulumi.Int(1 + c.Replicas),
		Port:                     pulumi.Int(RedisPort),
		AutomaticFailoverEnabled: pulumi.Bool(ha),
		MultiAzEnabled:           pulumi.Bool(ha),
		AtRestEncryptionEnabled:  pulumi.Bool(true),
		KmsKeyId:                 args.KMSKeyArn,
		TransitEncryptionEnabled: pulumi.Bool(true),
		TransitEncryptionMode:    pulumi.String("required"),
		AuthToken:                token.Result,
		AuthTokenUpdateStrategy:  pulumi.String(AuthTokenUpdateStrategy(c)),
		AutoMinorVersionUpgrade:  pulumi.Bool(true),
		SnapshotRetentionLimit:   pulumi.Int(7),
		SubnetGroupName:          subnets.Name,
		SecurityGroupIds:         pulumi.StringArray{sg.ID()},
		ApplyImmediately:         pulumi.Bool(false),
	}, withOpts(protect(args.Protect), parent)...)
	if err != nil {
		return nil, fmt.Errorf("cache replication group: %w", err)
	}
	// The secret gets a new token only once Redis accepts it: tasks that
	// start in between read a token Redis already knows.
	version, err := secretsmanager.NewSecretVersion(ctx, name+"-auth-token", &secretsmanager.SecretVersionArgs{
		SecretId:     secret.ID(),
		SecretString: token.Result,
	}, withOpts(nil, parent, pulumi.DependsOn([]pulumi.Resource{rg}))...)
	if err != nil {
		return nil, fmt.Errorf("cache auth secret version: %w", err)
	}
	comp.AuthTokenSecretVersion = version
	comp.PrimaryEndpoint = rg.PrimaryEndpointAddress
	comp.Port = rg.Port.ApplyT(func(p *int) int {
		if p == nil {
			return RedisPort
		}
		return *p
	}).(pulumi.IntOutput)
	comp.Endpoint = pulumi.Sprintf("%s:%d", comp.PrimaryEndpoint, comp.Port)

	return comp, ctx.RegisterResourceOutputs(comp, pulumi.Map{
		"endpoint":      comp.Endpoint,
		"authSecretArn": comp.AuthSecretArn,
	})
}
