package aws

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// LoggingArgs configures the stack's log storage.
type LoggingArgs struct {
	// Prefix starts every log group name: "/shipyard/<stack>".
	Prefix    string
	Region    string
	AccountID string
	// RetentionDays applies to every log group and the S3 archive.
	RetentionDays int
	// Archive adds the encrypted S3 archive bucket (logging.destinations
	// contains "s3").
	Archive bool
	// Protect marks the key, the log groups and the archive as protected.
	Protect bool
	// AlarmPrefix names the stack's CloudWatch alarms (AlarmName); the key
	// policy lets CloudWatch use the key for those alarms only, to publish
	// to the alarm topic the key encrypts.
	AlarmPrefix string
}

// Logging is the KMS key that encrypts every log group, the app's log group
// per process type, the log router's own log group and the optional S3
// archive of the app's logs.
type Logging struct {
	pulumi.ResourceState

	KeyArn pulumi.StringOutput
	// AppLogGroupNames and AppLogGroupArns are keyed by process type.
	AppLogGroupNames   map[stackconfig.Process]pulumi.StringOutput
	AppLogGroupArns    map[stackconfig.Process]pulumi.StringOutput
	RouterLogGroupName pulumi.StringOutput
	RouterLogGroupArn  pulumi.StringOutput
	// ArchiveBucket and ArchiveBucketArn are empty unless Archive.
	ArchiveBucket    pulumi.StringOutput
	ArchiveBucketArn pulumi.StringOutput
	// ArchiveConfigArn is the S3 ARN of the log router's extra Fluent Bit
	// config (the S3 output), loaded by the init image; empty unless Archive.
	ArchiveConfigArn pulumi.StringOutput

	args LoggingArgs
}

// NewLogging creates the key, log groups and archive.
func NewLogging(ctx *pulumi.Context, name string, args LoggingArgs, opts ...pulumi.ResourceOption) (*Logging, error) {
	comp := &Logging{args: args}
	if err := ctx.RegisterComponentResource(typePrefix+"Logging", name, comp, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(comp)
	keep := protect(args.Protect)

	keyPolicy, err := logsKeyPolicy(args.Region, args.AccountID, args.AlarmPrefix)
	if err != nil {
		return nil, err
	}
	key, err := kms.NewKey(ctx, name+"-key", &kms.KeyArgs{
		Description:          pulumi.Sprintf("%s logs", args.Prefix),
		EnableKeyRotation:    pulumi.Bool(true),
		DeletionWindowInDays: pulumi.Int(30),
		Policy:               pulumi.String(keyPolicy),
	}, withOpts(keep, parent)...)
	if err != nil {
		return nil, fmt.Errorf("logs key: %w", err)
	}
	if _, err := kms.NewAlias(ctx, name+"-key-alias", &kms.AliasArgs{
		Name:        pulumi.String("alias" + args.Prefix + "/logs"),
		TargetKeyId: key.KeyId,
	}, parent); err != nil {
		return nil, fmt.Errorf("logs key alias: %w", err)
	}
	comp.KeyArn = key.Arn

	comp.AppLogGroupNames = map[stackconfig.Process]pulumi.StringOutput{}
	comp.AppLogGroupArns = map[stackconfig.Process]pulumi.StringOutput{}
	for _, p := range stackconfig.Processes {
		g, err := comp.LogGroup(ctx, name+"-"+string(p), args.Prefix+"/"+string(p), parent)
		if err != nil {
			return nil, err
		}
		comp.AppLogGroupNames[p] = g.Name
		comp.AppLogGroupArns[p] = g.Arn
	}
	router, err := comp.LogGroup(ctx, name+"-router", args.Prefix+"/log-router", parent)
	if err != nil {
		return nil, err
	}
	comp.RouterLogGroupName, comp.RouterLogGroupArn = router.Name, router.Arn

	comp.ArchiveBucket = pulumi.String("").ToStringOutput()
	comp.ArchiveBucketArn = pulumi.String("").ToStringOutput()
	comp.ArchiveConfigArn = pulumi.String("").ToStringOutput()
	if args.Archive {
		b, err := newPrivateBucket(ctx, name+"-archive", privateBucketArgs{
			KMSKeyArn:      key.Arn,
			ExpirationDays: args.RetentionDays,
			Protect:        args.Protect,
		}, parent)
		if err != nil {
			return nil, err
		}
		comp.ArchiveBucket, comp.ArchiveBucketArn = b.Bucket, b.Arn
		obj, err := s3.NewBucketObjectv2(ctx, name+"-archive-config", &s3.BucketObjectv2Args{
			Bucket:               b.ID(),
			Key:                  pulumi.String(archiveConfigKey),
			Content:              b.Bucket.ApplyT(func(bucket string) string { return archiveOutputConfig(bucket, args.Region) }).(pulumi.StringOutput),
			ContentType:          pulumi.String("text/plain"),
			ServerSideEncryption: pulumi.String("aws:kms"),
			KmsKeyId:             key.Arn,
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("log archive config: %w", err)
		}
		comp.ArchiveConfigArn = pulumi.Sprintf("%s/%s", b.Arn, obj.Key)
	}

	return comp, ctx.RegisterResourceOutputs(comp, pulumi.Map{
		"keyArn":             comp.KeyArn,
		"routerLogGroupName": comp.RouterLogGroupName,
		"archiveBucket":      comp.ArchiveBucket,
	})
}

// LogGroup creates a log group encrypted with the stack's key and retained
// for the configured days, protected like the others.
func (l *Logging) LogGroup(ctx *pulumi.Context, resourceName, groupName string, opts ...pulumi.ResourceOption) (*cloudwatch.LogGroup, error) {
	g, err := cloudwatch.NewLogGroup(ctx, resourceName, &cloudwatch.LogGroupArgs{
		Name:            pulumi.String(groupName),
		RetentionInDays: pulumi.Int(l.args.RetentionDays),
		KmsKeyId:        l.KeyArn,
	}, withOpts(protect(l.args.Protect), opts...)...)
	if err != nil {
		return nil, fmt.Errorf("log group %s: %w", groupName, err)
	}
	return g, nil
}

// Where the archive's objects go in the archive bucket.
const (
	archiveConfigKey = "fluent-bit/archive.conf"
	archiveLogPrefix = "logs"
)

// archiveOutputConfig is the Fluent Bit [OUTPUT] section that copies every
// record the log router receives to the S3 archive (Fluent Bit's classic
// config format; the init image @INCLUDEs it).
func archiveOutputConfig(bucket, region string) string {
	lines := []string{
		"[OUTPUT]",
		"    Name            s3",
		"    Match           *",
		"    bucket          " + bucket,
		"    region          " + region,
		"    total_file_size 50M",
		"    upload_timeout  5m",
		"    use_put_object  On",
		"    compression     gzip",
		"    store_dir       /tmp/fluent-bit/s3",
		"    s3_key_format   /" + archiveLogPrefix + "/$TAG/%Y/%m/%d/%H%M%S-$UUID.gz",
	}
	return strings.Join(lines, "\n") + "\n"
}

// logsKeyPolicy is the key policy: the account administers the key through
// IAM (the default key policy), CloudWatch Logs in this region may use it
// for this account's log groups only, and CloudWatch may use it for the
// stack's alarms (named alarmPrefix-*) only, to publish to the encrypted
// alarm topic. SNS asks for a data key and decrypts it on the alarm's
// behalf: kms:GenerateDataKey and kms:Decrypt, named (IAM.21) rather than
// the kms:GenerateDataKey* of AWS's example.
func logsKeyPolicy(region, accountID, alarmPrefix string) (string, error) {
	if alarmPrefix == "" {
		return "", fmt.Errorf("logs key policy: no alarm prefix")
	}
	return newPolicy(
		statement{
			Sid:       "AccountAdministersKeyThroughIAM",
			Effect:    "Allow",
			Principal: &principal{AWS: []string{"arn:aws:iam::" + accountID + ":root"}},
			Action:    []string{"kms:*"},
			Resource:  []string{"*"},
		},
		statement{
			Sid:       "CloudWatchLogsUsesKey",
			Effect:    "Allow",
			Principal: &principal{Service: []string{"logs." + region + ".amazonaws.com"}},
			Action: []string{
				"kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
				"kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey",
			},
			Resource: []string{"*"},
			Condition: map[string]map[string]string{"ArnLike": {
				"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:" + region + ":" + accountID + ":log-group:*",
			}},
		},
		statement{
			Sid:       "CloudWatchAlarmsPublishToTheEncryptedTopic",
			Effect:    "Allow",
			Principal: &principal{Service: []string{"cloudwatch.amazonaws.com"}},
			Action:    []string{"kms:Decrypt", "kms:GenerateDataKey"},
			Resource:  []string{"*"},
			Condition: alarmSourceCondition(region, accountID, alarmPrefix),
		},
	).json()
}

// privateBucketArgs configures an encrypted, non-public bucket.
type privateBucketArgs struct {
	// KMSKeyArn selects SSE-KMS; empty means SSE-S3 (AES256), which is what
	// ALB access logs require.
	KMSKeyArn      pulumi.StringInput
	ExpirationDays int
	Protect        bool
	// Policy, when set, builds the bucket policy from the bucket ARN; a
	// statement denying non-TLS requests is always added.
	Policy func(bucketArn string) []statement
}

// privateBucket is a bucket and the resources that make it usable.
type privateBucket struct {
	*s3.BucketV2
	// Ready are the policy, encryption and public access block: depend
	// on them before writing to the bucket.
	Ready []pulumi.Resource
}

// NoncurrentVersionDays is how long a versioned bucket keeps an overwritten
// or deleted object's previous version.
const NoncurrentVersionDays = 30

// newPrivateBucket creates a bucket with public access blocked, owner-enforced
// object ownership, default encryption, versioning, expiration and a TLS-only
// policy.
// Unprotected (non-prod) buckets may be destroyed with their objects.
func newPrivateBucket(ctx *pulumi.Context, name string, args privateBucketArgs, opts ...pulumi.ResourceOption) (*privateBucket, error) {
	b, err := s3.NewBucketV2(ctx, name, &s3.BucketV2Args{
		ForceDestroy: pulumi.Bool(!args.Protect),
	}, withOpts(protect(args.Protect), opts...)...)
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", name, err)
	}
	out := &privateBucket{BucketV2: b}
	rule := s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs{
		SseAlgorithm: pulumi.String("AES256"),
	}
	if args.KMSKeyArn != nil {
		rule = s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs{
			SseAlgorithm:   pulumi.String("aws:kms"),
			KmsMasterKeyId: args.KMSKeyArn,
		}
	}
	enc, err := s3.NewBucketServerSideEncryptionConfigurationV2(ctx, name+"-encryption", &s3.BucketServerSideEncryptionConfigurationV2Args{
		Bucket: b.ID(),
		Rules: s3.BucketServerSideEncryptionConfigurationV2RuleArray{
			s3.BucketServerSideEncryptionConfigurationV2RuleArgs{
				ApplyServerSideEncryptionByDefault: rule,
				BucketKeyEnabled:                   pulumi.Bool(args.KMSKeyArn != nil),
			},
		},
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("bucket %s encryption: %w", name, err)
	}
	pab, err := s3.NewBucketPublicAccessBlock(ctx, name+"-public-access-block", &s3.BucketPublicAccessBlockArgs{
		Bucket:                b.ID(),
		BlockPublicAcls:       pulumi.Bool(true),
		BlockPublicPolicy:     pulumi.Bool(true),
		IgnorePublicAcls:      pulumi.Bool(true),
		RestrictPublicBuckets: pulumi.Bool(true),
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("bucket %s public access block: %w", name, err)
	}
	if _, err := s3.NewBucketOwnershipControls(ctx, name+"-ownership", &s3.BucketOwnershipControlsArgs{
		Bucket: b.ID(),
		Rule:   s3.BucketOwnershipControlsRuleArgs{ObjectOwnership: pulumi.String("BucketOwnerEnforced")},
	}, opts...); err != nil {
		return nil, fmt.Errorf("bucket %s ownership: %w", name, err)
	}
	// S3.14: versioning keeps overwritten and deleted objects recoverable
	// for NoncurrentVersionDays.
	versioning, err := s3.NewBucketVersioningV2(ctx, name+"-versioning", &s3.BucketVersioningV2Args{
		Bucket: b.ID(),
		VersioningConfiguration: s3.BucketVersioningV2VersioningConfigurationArgs{
			Status: pulumi.String("Enabled"),
		},
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("bucket %s versioning: %w", name, err)
	}
	if args.ExpirationDays > 0 {
		if _, err := s3.NewBucketLifecycleConfigurationV2(ctx, name+"-lifecycle", &s3.BucketLifecycleConfigurationV2Args{
			Bucket: b.ID(),
			Rules: s3.BucketLifecycleConfigurationV2RuleArray{
				s3.BucketLifecycleConfigurationV2RuleArgs{
					Id:         pulumi.String("expire"),
					Status:     pulumi.String("Enabled"),
					Filter:     s3.BucketLifecycleConfigurationV2RuleFilterArgs{Prefix: pulumi.String("")},
					Expiration: s3.BucketLifecycleConfigurationV2RuleExpirationArgs{Days: pulumi.Int(args.ExpirationDays)},
					NoncurrentVersionExpiration: s3.BucketLifecycleConfigurationV2RuleNoncurrentVersionExpirationArgs{
						NoncurrentDays: pulumi.Int(NoncurrentVersionDays),
					},
				},
			},
		}, withOpts(opts, pulumi.DependsOn([]pulumi.Resource{versioning}))...); err != nil {
			return nil, fmt.Errorf("bucket %s lifecycle: %w", name, err)
		}
	}
	policy := policyJSON(func(arns []string) policyDocument {
		bucketArn := arns[0]
		stmts := []statement{{
			Sid:       "DenyInsecureTransport",
			Effect:    "Deny",
			Principal: &principal{AWS: []string{"*"}},
			// S3.5: every action, not a list that leaves others open.
			Action:    []string{"s3:*"},
			Resource:  []string{bucketArn, bucketArn + "/*"},
			Condition: map[string]map[string]string{"Bool": {"aws:SecureTransport": "false"}},
		}}
		if args.Policy != nil {
			stmts = append(stmts, args.Policy(bucketArn)...)
		}
		return newPolicy(stmts...)
	}, b.Arn)
	bp, err := s3.NewBucketPolicy(ctx, name+"-policy", &s3.BucketPolicyArgs{
		Bucket: b.ID(),
		Policy: policy,
	}, withOpts(opts, pulumi.DependsOn([]pulumi.Resource{pab}))...)
	if err != nil {
		return nil, fmt.Errorf("bucket %s policy: %w", name, err)
	}
	out.Ready = []pulumi.Resource{enc, pab, bp, versioning}
	return out, nil
}
