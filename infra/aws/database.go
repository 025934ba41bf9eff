package aws

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/rds"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// DatabaseArgs configures the RDS PostgreSQL instance.
type DatabaseArgs struct {
	// Identifier is the instance identifier: "shipyard-<stack>".
	Identifier         string
	Config             stackconfig.Database
	VpcId              pulumi.StringInput
	PrivateSubnetIds   pulumi.StringArrayInput
	AppSecurityGroupId pulumi.StringInput
	// Logging stores the exported PostgreSQL logs; its key (the stack's
	// customer-managed key) encrypts the storage and the master user secret.
	Logging *Logging
	// AccountID scopes the enhanced monitoring role's trust policy.
	AccountID string
	// Protect protects the instance (prod).
	Protect bool
}

// EnhancedMonitoringPolicyArn is the AWS managed policy that lets RDS
// publish enhanced monitoring metrics to CloudWatch Logs (RDSOSMetrics).
const EnhancedMonitoringPolicyArn = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"

// Database is RDS PostgreSQL in the private subnets whose master password
// RDS generates and keeps in Secrets Manager.
type Database struct {
	pulumi.ResourceState

	Address pulumi.StringOutput
	Port    pulumi.IntOutput
	// Endpoint is "host:port".
	Endpoint pulumi.StringOutput
	// MasterUserSecretArn is the RDS-managed secret holding the master
	// password under the JSON key "password".
	MasterUserSecretArn pulumi.StringOutput
	SecurityGroupId     pulumi.StringOutput
	// Identifier is the instance identifier (what `aws rds
	// create-db-snapshot` takes) and SubnetGroupName its subnet group,
	// where a restore drill puts its temporary instance.
	Identifier      pulumi.StringOutput
	SubnetGroupName pulumi.StringOutput
}

// parameterGroupFamily maps "15.10" to "postgres15".
func parameterGroupFamily(engineVersion string) (string, error) {
	major, _, _ := strings.Cut(engineVersion, ".")
	if _, err := strconv.Atoi(major); err != nil || major == "" {
		return "", fmt.Errorf("database.engineVersion %q: want MAJOR.MINOR", engineVersion)
	}
	return "postgres" + major, nil
}

// NewDatabase creates the instance, its parameter group, subnet group,
// security group and the log groups its logs are exported to.
func NewDatabase(ctx *pulumi.Context, name string, args DatabaseArgs, opts ...pulumi.ResourceOption) (*Database, error) {
	family, err := parameterGroupFamily(args.Config.EngineVersion)
	if err != nil {
		return nil, err
	}
	comp := &Database{}
	if err := ctx.RegisterComponentResource(typePrefix+"Database", name, comp, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(comp)
	c := args.Config

	sg, err := ec2.NewSecurityGroup(ctx, name+"-sg", &ec2.SecurityGroupArgs{
		VpcId:       args.VpcId,
		Description: pulumi.String("Shipyard PostgreSQL"),
		Ingress: ec2.SecurityGroupIngressArray{ec2.SecurityGroupIngressArgs{
			Description:    pulumi.String("app tasks"),
			Protocol:       pulumi.String("tcp"),
			FromPort:       pulumi.Int(PostgresPort),
			ToPort:         pulumi.Int(PostgresPort),
			SecurityGroups: pulumi.StringArray{args.AppSecurityGroupId},
		}},
		Tags: pulumi.StringMap{"Name": pulumi.String(name)},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("database security group: %w", err)
	}
	comp.SecurityGroupId = sg.ID().ToStringOutput()

	subnets, err := rds.NewSubnetGroup(ctx, name+"-subnets", &rds.SubnetGroupArgs{
		Description: pulumi.String("Shipyard private subnets"),
		SubnetIds:   args.PrivateSubnetIds,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("database subnet group: %w", err)
	}
	params, err := rds.NewParameterGroup(ctx, name+"-params", &rds.ParameterGroupArgs{
		Family:      pulumi.String(family),
		Description: pulumi.String("Shipyard: TLS only"),
		Parameters: rds.ParameterGroupParameterArray{
			rds.ParameterGroupParameterArgs{Name: pulumi.String("rds.force_ssl"), Value: pulumi.String("1"), ApplyMethod: pulumi.String("pending-reboot")},
			rds.ParameterGroupParameterArgs{Name: pulumi.String("max_connections"), Value: pulumi.String(strconv.Itoa(c.MaxConnections)), ApplyMethod: pulumi.String("pending-reboot")},
			// Slow statements (with their duration) and every schema
			// change go to the exported postgresql log. Both are dynamic.
			rds.ParameterGroupParameterArgs{Name: pulumi.String("log_min_duration_statement"), Value: pulumi.String(strconv.Itoa(c.LogMinDurationMs)), ApplyMethod: pulumi.String("immediate")},
			rds.ParameterGroupParameterArgs{Name: pulumi.String("log_statement"), Value: pulumi.String(c.LogStatement), ApplyMethod: pulumi.String("immediate")},
		},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("database parameter group: %w", err)
	}

	// RDS.9: PostgreSQL and upgrade logs go to log groups we own, so they
	// are encrypted and retained like the others.
	exports := []string{"postgresql", "upgrade"}
	var logGroups []pulumi.Resource
	for _, e := range exports {
		g, err := args.Logging.LogGroup(ctx, name+"-log-"+e, "/aws/rds/instance/"+args.Identifier+"/"+e, parent)
		if err != nil {
			return nil, err
		}
		logGroups = append(logGroups, g)
	}

	// RDS.6: enhanced monitoring publishes OS metrics through a role RDS
	// assumes (confused-deputy protection: this account only).
	var monitoringRole pulumi.StringPtrInput
	dependsOn := logGroups
	if c.MonitoringIntervalSeconds > 0 {
		trust, err := assumeRolePolicy("monitoring.rds.amazonaws.com", args.AccountID)
		if err != nil {
			return nil, err
		}
		role, err := iam.NewRole(ctx, name+"-monitoring", &iam.RoleArgs{
			Description:      pulumi.String("RDS enhanced monitoring of " + args.Identifier),
			AssumeRolePolicy: pulumi.String(trust),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("database monitoring role: %w", err)
		}
		attachment, err := iam.NewRolePolicyAttachment(ctx, name+"-monitoring", &iam.RolePolicyAttachmentArgs{
			Role:      role.Name,
			PolicyArn: pulumi.String(EnhancedMonitoringPolicyArn),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("database monitoring policy: %w", err)
		}
		// The instance waits for the attachment: RDS checks the role's
		// permissions when monitoring is turned on.
		monitoringRole = role.Arn
		dependsOn = append(dependsOn, attachment)
	}
	// CKV_AWS_353/354: Performance Insights, encrypted with the stack key.
	var piKey pulumi.StringPtrInput
	var piRetention pulumi.IntPtrInput
	if c.PerformanceInsights {
		piKey, piRetention = args.Logging.KeyArn, pulumi.Int(c.PerformanceInsightsRetentionDays)
	}

	var finalSnapshot pulumi.StringPtrInput
	if args.Protect {
		finalSnapshot = pulumi.String(args.Identifier + "-final")
	}
	// KmsKeyId and MasterUserSecretKmsKeyId: the stack's customer-managed
	// key encrypts the storage (changing it replaces the instance, see
	// docs/aws.md) and the RDS-managed master user secret.
	db, err := rds.NewInstance(ctx, name+"-instance", &rds.InstanceArgs{
		Identifier:                       pulumi.String(args.Identifier),
		Engine:                           pulumi.String("postgres"),
		EngineVersion:                    pulumi.String(c.EngineVersion),
		InstanceClass:                    pulumi.String(c.InstanceClass),
		AllocatedStorage:                 pulumi.Int(c.AllocatedStorageGB),
		MaxAllocatedStorage:              pulumi.Int(c.MaxAllocatedStorageGB),
		StorageType:                      pulumi.String("gp3"),
		DbName:                           pulumi.String(c.Name),
		Username:                         pulumi.String(c.Username),
		Port:                             pulumi.Int(PostgresPort),
		ManageMasterUserPassword:         pulumi.Bool(true),
		StorageEncrypted:                 pulumi.Bool(true),
		KmsKeyId:                         args.Logging.KeyArn,
		MasterUserSecretKmsKeyId:         args.Logging.KeyArn,
		PubliclyAccessible:               pulumi.Bool(false),
		MultiAz:                          pulumi.Bool(c.MultiAZ),
		BackupRetentionPeriod:            pulumi.Int(c.BackupRetentionDays),
		DeletionProtection:               pulumi.Bool(c.DeletionProtection),
		CopyTagsToSnapshot:               pulumi.Bool(true),
		AutoMinorVersionUpgrade:          pulumi.Bool(true),
		AllowMajorVersionUpgrade:         pulumi.Bool(false),
		IamDatabaseAuthenticationEnabled: pulumi.Bool(true),
		// The CA of the server certificate, chosen rather than left to the
		// region's default; the app verifies it against the bundle in its
		// image (DATABASE_URL sslmode=verify-full, SHIPYARD-RDS-2).
		CaCertIdentifier:             pulumi.String(c.CACertIdentifier),
		EnabledCloudwatchLogsExports: pulumi.ToStringArray(exports),
		DbSubnetGroupName:            subnets.Name,
		VpcSecurityGroupIds:          pulumi.StringArray{sg.ID()},
		ParameterGroupName:           params.Name,

		// RDS.6 and Performance Insights (CKV_AWS_353/354).
		MonitoringInterval:                 pulumi.Int(c.MonitoringIntervalSeconds),
		MonitoringRoleArn:                  monitoringRole,
		PerformanceInsightsEnabled:         pulumi.Bool(c.PerformanceInsights),
		PerformanceInsightsKmsKeyId:        piKey,
		PerformanceInsightsRetentionPeriod: piRetention,

		// Disposable (unprotected) stacks skip the final snapshot, so
		// destroy and re-create cycles do not collide on its name.
		SkipFinalSnapshot:       pulumi.Bool(!args.Protect),
		FinalSnapshotIdentifier: finalSnapshot,
		DeleteAutomatedBackups:  pulumi.Bool(false),
	}, withOpts(protect(args.Protect), parent, pulumi.DependsOn(dependsOn))...)
	if err != nil {
		return nil, fmt.Errorf("database instance: %w", err)
	}
	comp.Address, comp.Port = db.Address, db.Port
	comp.Identifier, comp.SubnetGroupName = db.Identifier, subnets.Name
	comp.Endpoint = pulumi.Sprintf("%s:%d", db.Address, db.Port)
	comp.MasterUserSecretArn = db.MasterUserSecrets.ApplyT(func(s []rds.InstanceMasterUserSecret) (string, error) {
		if len(s) == 0 || s[0].SecretArn == nil {
			return "", fmt.Errorf("database: RDS returned no master user secret")
		}
		return *s[0].SecretArn, nil
	}).(pulumi.StringOutput)

	return comp, ctx.RegisterResourceOutputs(comp, pulumi.Map{
		"endpoint":            comp.Endpoint,
		"masterUserSecretArn": comp.MasterUserSecretArn,
	})
}
