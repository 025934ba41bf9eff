package aws_test

import (
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/shipyard-kit/shipyard/infra/aws/awsmock"
	"github.com/shipyard-kit/shipyard/infra/policy"
	"github.com/shipyard-kit/shipyard/infra/pulumitest"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

const (
	tRDS       = "aws:rds/instance:Instance"
	tParams    = "aws:rds/parameterGroup:ParameterGroup"
	tListener  = "aws:lb/listener:Listener"
	tALB       = "aws:lb/loadBalancer:LoadBalancer"
	tRedis     = "aws:elasticache/replicationGroup:ReplicationGroup"
	tTask      = "aws:ecs/taskDefinition:TaskDefinition"
	tService   = "aws:ecs/service:Service"
	tCluster   = "aws:ecs/cluster:Cluster"
	tRepo      = "aws:ecr/repository:Repository"
	tLogGroup  = "aws:cloudwatch/logGroup:LogGroup"
	tKey       = "aws:kms/key:Key"
	tRolePol   = "aws:iam/rolePolicy:RolePolicy"
	tBucketPol = "aws:s3/bucketPolicy:BucketPolicy"
	tSecret    = "aws:secretsmanager/secret:Secret"
	tSG        = "aws:ec2/securityGroup:SecurityGroup"
	tScaling   = "aws:appautoscaling/target:Target"
	tTarget    = "aws:lb/targetGroup:TargetGroup"
	// tDeploymentGroup is the web service's CodeDeploy deployment group.
	tDeploymentGroup = "aws:codedeploy/deploymentGroup:DeploymentGroup"
	tWebACL          = "aws:wafv2/webAcl:WebAcl"
)

var (
	str   = resource.NewStringProperty
	num   = resource.NewNumberProperty
	boolv = resource.NewBoolProperty
	null  = resource.NewNullProperty()
)

// breakages break each rule on the real prod graph, one at a time.
var breakages = []struct {
	rule   string
	name   string
	break_ func(t *testing.T, g *pulumitest.Graph)
}{
	{"RDS.2", "a public database", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRDS, ""), "publiclyAccessible", boolv(true))
	}},
	{"RDS.3", "unencrypted database storage", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRDS, ""), "storageEncrypted", boolv(false))
	}},
	{"RDS.8", "a prod database without deletion protection", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRDS, ""), "deletionProtection", boolv(false))
	}},
	{"RDS.5", "a single-AZ prod database", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRDS, ""), "multiAz", boolv(false))
	}},
	{"RDS.11", "one day of backups", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRDS, ""), "backupRetentionPeriod", num(1))
	}},
	{"RDS.13", "no minor version upgrades", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRDS, ""), "autoMinorVersionUpgrade", boolv(false))
	}},
	{"RDS.17", "snapshots without tags", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRDS, ""), "copyTagsToSnapshot", boolv(false))
	}},
	{"RDS.10", "no IAM database authentication", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRDS, ""), "iamDatabaseAuthenticationEnabled", boolv(false))
	}},
	{"RDS.9", "PostgreSQL logs not exported", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRDS, ""), "enabledCloudwatchLogsExports", resource.NewArrayProperty([]resource.PropertyValue{str("upgrade")}))
	}},
	{"RDS.9", "upgrade logs not exported", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRDS, ""), "enabledCloudwatchLogsExports", resource.NewArrayProperty([]resource.PropertyValue{str("postgresql")}))
	}},
	{"RDS.6", "enhanced monitoring off in prod", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRDS, ""), "monitoringInterval", num(0))
	}},
	{"RDS.6", "an enhanced monitoring interval RDS does not offer", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRDS, ""), "monitoringInterval", num(120))
	}},
	{"RDS.6", "enhanced monitoring without its role", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRDS, ""), "monitoringRoleArn", null)
	}},
	{"CKV_AWS_353", "Performance Insights off in prod", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRDS, ""), "performanceInsightsEnabled", boolv(false))
	}},
	{"CKV_AWS_354", "Performance Insights under the AWS-managed key", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRDS, ""), "performanceInsightsKmsKeyId", null)
	}},
	{"CKV_AWS_354", "Performance Insights under the alias/aws/rds key", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRDS, ""), "performanceInsightsKmsKeyId", str("alias/aws/rds"))
	}},
	{"SHIPYARD-RDS-4", "log_statement none", func(t *testing.T, g *pulumitest.Graph) {
		setParameter(t, pick(t, g, tParams, ""), "log_statement", "none")
	}},
	{"SHIPYARD-RDS-4", "slow statement logging off", func(t *testing.T, g *pulumitest.Graph) {
		setParameter(t, pick(t, g, tParams, ""), "log_min_duration_statement", "-1")
	}},
	{"SHIPYARD-RDS-1", "a plaintext master password", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRDS, ""), "password", str("hunter2hunter2"))
	}},
	{"SHIPYARD-KMS-1", "database storage under the AWS-managed key", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRDS, ""), "kmsKeyId", null)
	}},
	{"SHIPYARD-KMS-1", "database storage under the alias/aws/rds key", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRDS, ""), "kmsKeyId", str("arn:aws:kms:eu-west-1:123456789012:alias/aws/rds"))
	}},
	{"SHIPYARD-KMS-1", "the RDS-managed master user secret under the AWS-managed key", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRDS, ""), "masterUserSecretKmsKeyId", null)
	}},
	{"SHIPYARD-KMS-2", "Redis at rest under the AWS-managed key", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRedis, ""), "kmsKeyId", null)
	}},
	{"SHIPYARD-KMS-2", "a Redis key with at-rest encryption off", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRedis, ""), "atRestEncryptionEnabled", boolv(false))
	}},
	{"SHIPYARD-KMS-3", "the Redis auth token secret under the AWS-managed key", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tSecret, "cache-auth-token"), "kmsKeyId", null)
	}},
	{"SHIPYARD-KMS-3", "the Redis auth token secret under an alias", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tSecret, "cache-auth-token"), "kmsKeyId", str("alias/aws/secretsmanager"))
	}},
	{"CKV2_AWS_69", "rds.force_ssl off", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tParams, ""), "parameters.0.value", str("0"))
	}},
	{"SHIPYARD-RDS-2", "the CA left to the region's default", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRDS, ""), "caCertIdentifier", null)
	}},
	{"SHIPYARD-RDS-2", "the expired rds-ca-2019 CA", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRDS, ""), "caCertIdentifier", str("rds-ca-2019"))
	}},
	{"SHIPYARD-RDS-3", "a web task that encrypts without verifying (sslmode=require)", func(t *testing.T, g *pulumitest.Graph) {
		editContainer(t, pick(t, g, tTask, "web"), "app", func(c map[string]any) {
			setEnv(c, "DATABASE_URL", "postgres://shipyard@db.example:5432/shipyard?sslmode=require")
		})
	}},
	{"SHIPYARD-RDS-3", "a worker that checks the CA but not the host name (verify-ca)", func(t *testing.T, g *pulumitest.Graph) {
		editContainer(t, pick(t, g, tTask, "worker"), "app", func(c map[string]any) {
			setEnv(c, "DATABASE_URL", "postgres://shipyard@db.example:5432/shipyard?sslmode=verify-ca&sslrootcert=/etc/ssl/certs/rds-global-bundle.pem")
		})
	}},
	{"SHIPYARD-RDS-3", "verify-full against no CA bundle", func(t *testing.T, g *pulumitest.Graph) {
		editContainer(t, pick(t, g, tTask, "clock"), "app", func(c map[string]any) {
			setEnv(c, "DATABASE_URL", "postgres://shipyard@db.example:5432/shipyard?sslmode=verify-full")
		})
	}},
	{"ELB.1", "an HTTP listener that forwards", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tListener, "web-http"), "defaultActions.0.type", str("forward"))
	}},
	{"ELB.1", "an HTTP redirect that is temporary", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tListener, "web-http"), "defaultActions.0.redirect.statusCode", str("HTTP_302"))
	}},
	{"ELB.17", "an old TLS policy", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tListener, "web-https"), "sslPolicy", str("ELBSecurityPolicy-2016-08"))
	}},
	{"ELB.17", "a TLS policy that only starts like an allowed one", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tListener, "web-https"), "sslPolicy", str("ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06"))
	}},
	{"ELB.17", "the formerly recommended policy whose TLS 1.2 allows CBC ciphers", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tListener, "web-https"), "sslPolicy", str("ELBSecurityPolicy-TLS13-1-2-2021-06"))
	}},
	{"ELB.22", "plain HTTP to instance targets", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tTarget, "web-web"), "targetType", str("instance"))
	}},
	{"ELB.21", "health checks over plain TCP", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tTarget, "web-web"), "healthCheck.protocol", str("TCP"))
	}},
	{"ELB.16", "an ALB without a web ACL", func(t *testing.T, g *pulumitest.Graph) {
		drop(g, "aws:wafv2/webAclAssociation:WebAclAssociation", "")
	}},
	{"SHIPYARD-WAF-1", "a rate limit that only counts", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tWebACL, ""), "rules.1.action", resource.NewObjectProperty(resource.PropertyMap{"count": resource.NewObjectProperty(resource.PropertyMap{})}))
	}},
	{"SHIPYARD-WAF-1", "the common rule set overridden to count", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tWebACL, ""), "rules.2.overrideAction", resource.NewObjectProperty(resource.PropertyMap{"count": resource.NewObjectProperty(resource.PropertyMap{})}))
	}},
	{"WAF.11", "a web ACL without logging", func(t *testing.T, g *pulumitest.Graph) {
		drop(g, "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration", "")
	}},
	{"SHIPYARD-WAF-2", "WAF logs with the Authorization header", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration", ""), "redactedFields.0.singleHeader.name", str("x-request-id"))
	}},
	{"ELB.4", "invalid headers kept", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tALB, ""), "dropInvalidHeaderFields", boolv(false))
	}},
	{"ELB.5", "no access logs", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tALB, ""), "accessLogs.enabled", boolv(false))
	}},
	{"ELB.6", "a prod ALB without deletion protection", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tALB, ""), "enableDeletionProtection", boolv(false))
	}},
	{"ELB.12", "desync mitigation in monitor mode", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tALB, ""), "desyncMitigationMode", str("monitor"))
	}},
	{"ELB.13", "an ALB in one subnet", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tALB, ""), "subnets", resource.NewArrayProperty([]resource.PropertyValue{str("subnet-1")}))
	}},
	{"ElastiCache.1", "no Redis backups", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRedis, ""), "snapshotRetentionLimit", num(0))
	}},
	{"ElastiCache.2", "no Redis minor upgrades", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRedis, ""), "autoMinorVersionUpgrade", boolv(false))
	}},
	{"ElastiCache.3", "no prod Redis failover", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRedis, ""), "automaticFailoverEnabled", boolv(false))
	}},
	{"ElastiCache.4", "Redis unencrypted at rest", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRedis, ""), "atRestEncryptionEnabled", boolv(false))
	}},
	{"ElastiCache.5", "Redis unencrypted in transit", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRedis, ""), "transitEncryptionEnabled", boolv(false))
	}},
	{"SHIPYARD-REDIS-1", "Redis accepting plaintext clients", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRedis, ""), "transitEncryptionMode", str("preferred"))
	}},
	{"SHIPYARD-REDIS-1", "Redis without a pinned transit encryption mode", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRedis, ""), "transitEncryptionMode", null)
	}},
	{"ElastiCache.6", "Redis without AUTH", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRedis, ""), "authToken", null)
	}},
	{"ElastiCache.7", "Redis in the default subnet group", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRedis, ""), "subnetGroupName", str("default"))
	}},
	{"ECS.5", "a writable app root filesystem", func(t *testing.T, g *pulumitest.Graph) {
		editContainer(t, pick(t, g, tTask, "web"), "app", func(c map[string]any) { c["readonlyRootFilesystem"] = false })
	}},
	{"ECS.5", "a writable log router without the S3 archive's init image", func(t *testing.T, g *pulumitest.Graph) {
		editContainer(t, pick(t, g, tTask, "web"), "log_router", func(c map[string]any) {
			c["readonlyRootFilesystem"] = false
			c["image"] = "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.4"
		})
	}},
	{"ECS.8", "a password in the environment", func(t *testing.T, g *pulumitest.Graph) {
		editContainer(t, pick(t, g, tTask, "worker"), "app", func(c map[string]any) { setEnv(c, "STRIPE_API_KEY", "sk_live_x") })
	}},
	{"ECS.8", "a secret's name also in the environment", func(t *testing.T, g *pulumitest.Graph) {
		editContainer(t, pick(t, g, tTask, "worker"), "app", func(c map[string]any) { setEnv(c, "REDIS_PASSWORD", "x") })
	}},
	{"ECS.20", "an app container running as root", func(t *testing.T, g *pulumitest.Graph) {
		editContainer(t, pick(t, g, tTask, "clock"), "app", func(c map[string]any) { c["user"] = "0:0" })
	}},
	{"ECS.20", "a migrate container without a user", func(t *testing.T, g *pulumitest.Graph) {
		editContainer(t, pick(t, g, tTask, "web"), "migrate", func(c map[string]any) { delete(c, "user") })
	}},
	{"ECS.4", "a privileged container", func(t *testing.T, g *pulumitest.Graph) {
		editContainer(t, pick(t, g, tTask, "web"), "app", func(c map[string]any) { c["privileged"] = true })
	}},
	{"ECS.9", "a container without logs", func(t *testing.T, g *pulumitest.Graph) {
		editContainer(t, pick(t, g, tTask, "web"), "app", func(c map[string]any) { delete(c, "logConfiguration") })
	}},
	{"ECS.17", "host networking", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tTask, "web"), "networkMode", str("host"))
	}},
	{"ECS.2", "a service with public IPs", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tService, "worker"), "networkConfiguration.assignPublicIp", boolv(true))
	}},
	{"ECS.10", "a pinned old Fargate platform", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tService, "web"), "platformVersion", str("1.3.0"))
	}},
	{"ECS.12", "Container Insights off", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tCluster, ""), "settings.0.value", str("disabled"))
	}},
	{"ECR.1", "no scan on push", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRepo, ""), "imageScanningConfiguration.scanOnPush", boolv(false))
	}},
	{"ECR.2", "mutable tags", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRepo, ""), "imageTagMutability", str("MUTABLE"))
	}},
	{"ECR.3", "no lifecycle policy", func(t *testing.T, g *pulumitest.Graph) {
		drop(g, "aws:ecr/lifecyclePolicy:LifecyclePolicy", "")
	}},
	{"SHIPYARD-ECR-1", "AES256 instead of KMS", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRepo, ""), "encryptionConfigurations.0.encryptionType", str("AES256"))
	}},
	{"CKV_AWS_66", "a log group kept forever", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tLogGroup, "router"), "retentionInDays", null)
	}},
	{"SHIPYARD-PR-1", "a PR stack that creates the base's VPC, load balancer, database and cache", func(t *testing.T, g *pulumitest.Graph) {
		for i := range g.Resources {
			g.Resources[i].URN = strings.Replace(g.Resources[i].URN, "urn:pulumi:prod::", "urn:pulumi:dev-pr-7::", 1)
		}
	}},
	{"CloudWatch.16", "a prod log group kept 30 days", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tLogGroup, "router"), "retentionInDays", num(30))
	}},
	{"CloudWatch.16", "prod database logs kept 180 days", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tLogGroup, "postgresql"), "retentionInDays", num(180))
	}},
	{"SHIPYARD-LOGS-1", "a Container Insights log group left to AWS", func(t *testing.T, g *pulumitest.Graph) {
		drop(g, tLogGroup, "cluster-insights")
	}},
	{"CKV_AWS_158", "a log group without KMS", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tLogGroup, "flow"), "kmsKeyId", null)
	}},
	{"KMS.4", "a key that never rotates", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tKey, ""), "enableKeyRotation", boolv(false))
	}},
	{"IAM.21", "a role policy with s3:*", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRolePol, "web-task"), "policy",
			str(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/*"}]}`))
	}},
	{"IAM.21", "a key policy granting kms:* to a service", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tKey, ""), "policy",
			str(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"logs.eu-west-1.amazonaws.com"},"Action":["kms:*"],"Resource":"*"}]}`))
	}},
	{"SHIPYARD-IAM-1", "a role policy on every resource", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRolePol, "web-execution"), "policy",
			str(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["secretsmanager:GetSecretValue"],"Resource":["*"]}]}`))
	}},
	{"SHIPYARD-TRACE-1", "a task role that may read X-Ray's sampling rules", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tRolePol, "web-task"), "policy",
			str(`{"Version":"2012-10-17","Statement":[{"Sid":"Traces","Effect":"Allow","Action":["xray:PutTraceSegments","xray:GetSamplingRules"],"Resource":["*"]}]}`))
	}},
	{"SHIPYARD-TRACE-2", "task roles that may not write the collector's traces", func(t *testing.T, g *pulumitest.Graph) {
		for _, name := range []string{"web-task", "worker-task", "clock-task"} {
			setInput(t, pick(t, g, tRolePol, name), "policy",
				str(`{"Version":"2012-10-17","Statement":[{"Sid":"AppLogs","Effect":"Allow","Action":["logs:PutLogEvents"],"Resource":["arn:aws:logs:eu-west-1:123456789012:log-group:/shipyard/prod/web:*"]}]}`))
		}
	}},
	{"S3.5", "a bucket that accepts plain HTTP", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tBucketPol, ""), "policy",
			str(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"logdelivery.elasticloadbalancing.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*"}]}`))
	}},
	{"S3.5", "a TLS-only policy that denies four actions instead of s3:*", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tBucketPol, "archive"), "policy",
			str(`{"Version":"2012-10-17","Statement":[{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":{"AWS":["*"]},"Action":["s3:GetObject","s3:PutObject","s3:ListBucket","s3:DeleteObject"],"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`))
	}},
	{"S3.5", "a TLS-only deny of s3:* on the objects but not the bucket", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tBucketPol, "web-logs"), "policy",
			str(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`))
	}},
	{"S3.14", "a bucket without versioning", func(t *testing.T, g *pulumitest.Graph) {
		drop(g, "aws:s3/bucketVersioningV2:BucketVersioningV2", "archive")
	}},
	{"S3.14", "a bucket whose versioning is suspended", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, "aws:s3/bucketVersioningV2:BucketVersioningV2", "web-logs"), "versioningConfiguration.status", str("Suspended"))
	}},
	{"EC2.18", "the app open to the internet", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tSG, "app-sg"), "ingress", resource.NewArrayProperty([]resource.PropertyValue{resource.NewObjectProperty(resource.PropertyMap{
			"protocol": str("tcp"), "fromPort": num(8080), "toPort": num(8080),
			"cidrBlocks": resource.NewArrayProperty([]resource.PropertyValue{str("0.0.0.0/0")}),
		})}))
	}},
	{"EC2.18", "SSH open on the ALB", func(t *testing.T, g *pulumitest.Graph) {
		r := pick(t, g, tSG, "web-sg")
		setInput(t, r, "ingress.1.fromPort", num(22))
		setInput(t, r, "ingress.1.toPort", num(22))
	}},
	{"AVD-AWS-0104", "an app security group that allows all traffic out", func(t *testing.T, g *pulumitest.Graph) {
		r := pick(t, g, tSG, "app-sg")
		setInput(t, r, "egress.1.protocol", str("-1"))
		setInput(t, r, "egress.1.cidrBlocks", resource.NewArrayProperty([]resource.PropertyValue{str("0.0.0.0/0")}))
	}},
	{"AVD-AWS-0104", "the endpoints' security group open to the internet on 443", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tSG, "endpoints-sg"), "egress", resource.NewArrayProperty([]resource.PropertyValue{resource.NewObjectProperty(resource.PropertyMap{
			"protocol": str("tcp"), "fromPort": num(443), "toPort": num(443),
			"cidrBlocks": resource.NewArrayProperty([]resource.PropertyValue{str("0.0.0.0/0")}),
		})}))
	}},
	{"EC2.2", "a default security group with rules", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", ""), "egress", resource.NewArrayProperty([]resource.PropertyValue{resource.NewObjectProperty(resource.PropertyMap{
			"protocol": str("-1"), "fromPort": num(0), "toPort": num(0),
			"cidrBlocks": resource.NewArrayProperty([]resource.PropertyValue{str("0.0.0.0/0")}),
		})}))
	}},
	{"EC2.6", "no flow logs", func(t *testing.T, g *pulumitest.Graph) {
		drop(g, "aws:ec2/flowLog:FlowLog", "")
	}},
	{"S3.8", "a bucket without a public access block", func(t *testing.T, g *pulumitest.Graph) {
		drop(g, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "archive")
	}},
	{"CKV_AWS_19", "a bucket without default encryption", func(t *testing.T, g *pulumitest.Graph) {
		drop(g, "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2", "web-logs")
	}},
	{"SHIPYARD-REL-1", "a request timeout longer than the drain", func(t *testing.T, g *pulumitest.Graph) {
		editContainer(t, pick(t, g, tTask, "web"), "app", func(c map[string]any) { setEnv(c, "REQUEST_TIMEOUT", "25s") })
	}},
	{"SHIPYARD-REL-1", "a stop timeout shorter than the drain", func(t *testing.T, g *pulumitest.Graph) {
		editContainer(t, pick(t, g, tTask, "web"), "app", func(c map[string]any) { c["stopTimeout"] = 15 })
	}},
	{"SHIPYARD-REL-2", "an app idle timeout below the ALB's", func(t *testing.T, g *pulumitest.Graph) {
		editContainer(t, pick(t, g, tTask, "web"), "app", func(c map[string]any) { setEnv(c, "HTTP_IDLE_TIMEOUT", "60s") })
	}},
	{"SHIPYARD-REL-3", "a deployment without rollback", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tService, "clock"), "deploymentCircuitBreaker.rollback", boolv(false))
	}},
	{"SHIPYARD-REL-5", "a web service deployed by ECS without alarms", func(t *testing.T, g *pulumitest.Graph) {
		web := pick(t, g, tService, "web-service")
		setInput(t, web, "deploymentController", null)
		setInput(t, web, "alarms", null)
	}},
	{"SHIPYARD-REL-5", "a worker whose deployment alarms do not roll back", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tService, "worker-service"), "alarms.rollback", boolv(false))
	}},
	{"SHIPYARD-REL-5", "web deployment alarms naming no alarm", func(t *testing.T, g *pulumitest.Graph) {
		web := pick(t, g, tService, "web-service")
		setInput(t, web, "deploymentController", null)
		setInput(t, web, "alarms", resource.NewObjectProperty(resource.PropertyMap{
			"enable": boolv(true), "rollback": boolv(true), "alarmNames": resource.NewArrayProperty(nil)}))
	}},
	{"SHIPYARD-REL-7", "prod's web service deployed by ECS", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tService, "web-service"), "deploymentController", null)
	}},
	{"SHIPYARD-REL-7", "a deployment group that does not roll back on alarm", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tDeploymentGroup, ""), "autoRollbackConfiguration.events", resource.NewArrayProperty([]resource.PropertyValue{str("DEPLOYMENT_FAILURE")}))
	}},
	{"SHIPYARD-REL-7", "a deployment group whose alarms are off", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tDeploymentGroup, ""), "alarmConfiguration.enabled", boolv(false))
	}},
	{"SHIPYARD-REL-7", "a gate alarm on the second target group that does not exist", func(t *testing.T, g *pulumitest.Graph) {
		drop(g, tAlarm, "web-deploy-targetErrorRate-green")
	}},
	{"SHIPYARD-REL-7", "a CodeDeploy-controlled service without a deployment group", func(t *testing.T, g *pulumitest.Graph) {
		drop(g, tDeploymentGroup, "")
	}},
	{"CloudWatch.15", "an alarm that notifies nobody", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tAlarm, "alarms-targetErrorRate"), "alarmActions", null)
	}},
	{"CloudWatch.15", "an alarm that never says it is OK again", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tAlarm, "alarms-cacheEvictions"), "okActions", resource.NewArrayProperty(nil))
	}},
	{"CloudWatch.15", "an alarm with its actions disabled", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tAlarm, "alarms-queueLatency"), "actionsEnabled", boolv(false))
	}},
	{"SHIPYARD-ELB-1", "an HTTPS listener without HSTS", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tListener, "web-https"), "routingHttpResponseStrictTransportSecurityHeaderValue", null)
	}},
	{"SHIPYARD-ELB-1", "an HTTPS listener with a day of HSTS", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tListener, "web-https"), "routingHttpResponseStrictTransportSecurityHeaderValue", str("max-age=86400"))
	}},
	{"ACM.2", "a 1024-bit RSA certificate", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, "aws:acm/certificate:Certificate", ""), "keyAlgorithm", str("RSA_1024"))
	}},
	{"SHIPYARD-ACM-1", "a certificate validated by email", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, "aws:acm/certificate:Certificate", ""), "validationMethod", str("EMAIL"))
	}},
	{"SHIPYARD-ACM-2", "a managed certificate nobody waits for", func(t *testing.T, g *pulumitest.Graph) {
		drop(g, "aws:acm/certificateValidation:CertificateValidation", "")
	}},
	{"SHIPYARD-ACM-2", "an HTTPS listener with another certificate than the validated one", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tListener, "web-https"), "certificateArn", str("arn:aws:acm:eu-west-1:123456789012:certificate/other"))
	}},
	{"SNS.1", "the alarm topic under the AWS-managed key", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tTopic, ""), "kmsMasterKeyId", null)
	}},
	{"SNS.1", "the alarm topic under the alias/aws/sns key", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tTopic, ""), "kmsMasterKeyId", str("alias/aws/sns"))
	}},
	{"SHIPYARD-REL-4", "a prod web service of one task", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tService, "web"), "desiredCount", num(1))
	}},
	{"SHIPYARD-REL-4", "a prod web service that may scale in to one task", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tScaling, "web"), "minCapacity", num(1))
	}},
	{"SHIPYARD-REL-4", "a prod web service in one subnet", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, tService, "web"), "networkConfiguration.subnets", resource.NewArrayProperty([]resource.PropertyValue{str("subnet-1")}))
	}},
	{"SHIPYARD-REL-6", "a worker backlog policy with a zero target", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, "aws:appautoscaling/policy:Policy", "worker-scaling-backlog"), "targetTrackingScalingPolicyConfiguration.targetValue", num(0))
	}},
	{"SHIPYARD-REL-6", "a worker backlog policy turned into step scaling", func(t *testing.T, g *pulumitest.Graph) {
		setInput(t, pick(t, g, "aws:appautoscaling/policy:Policy", "worker-scaling-backlog"), "policyType", str("StepScaling"))
	}},
	{"SHIPYARD-STATEFUL-1", "an unprotected prod database", func(t *testing.T, g *pulumitest.Graph) {
		pick(t, g, tRDS, "").Protect = false
	}},
	{"SHIPYARD-STATEFUL-1", "an unprotected prod log group", func(t *testing.T, g *pulumitest.Graph) {
		pick(t, g, tLogGroup, "worker").Protect = false
	}},
}

func TestEveryRuleFailsOnAGraphThatBreaksIt(t *testing.T) {
	for _, b := range breakages {
		t.Run(b.rule+" fails on "+b.name, func(t *testing.T) {
			rule, ok := policy.ByID(b.rule)
			if !ok {
				t.Fatalf("no rule %s", b.rule)
			}
			g := freshGraph(t, "prod")
			if vs := policy.Evaluate([]policy.Rule{rule}, policy.FromGraph(g)); len(vs) != 0 {
				t.Fatalf("fails before the change: %v", vs)
			}
			b.break_(t, g)
			vs := policy.Evaluate([]policy.Rule{rule}, policy.FromGraph(g))
			if len(vs) == 0 {
				t.Fatalf("%s passes on %s", b.rule, b.name)
			}
			for _, v := range vs {
				if v.RuleID != b.rule {
					t.Errorf("violation of %s reported as %s", b.rule, v.RuleID)
				}
			}
		})
	}
}

func TestEveryRuleHasAGraphThatBreaksIt(t *testing.T) {
	covered := map[string]bool{}
	for _, b := range breakages {
		covered[b.rule] = true
	}
	var missing []string
	for _, id := range policy.IDs() {
		if !covered[id] {
			missing = append(missing, id)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("rules no test breaks: %s", strings.Join(missing, ", "))
	}
}

// Broken configs fail the rules through the real program, not only
// hand-edited graphs.
func TestABrokenStackConfigFailsItsRule(t *testing.T) {
	cases := []struct {
		name  string
		rule  string
		stack string
		edit  func(c *stackconfig.Config)
	}{
		{"an app idle timeout below the ALB's fails SHIPYARD-REL-2", "SHIPYARD-REL-2", "dev", func(c *stackconfig.Config) {
			c.App.IdleTimeoutSeconds = c.LoadBalancer.IdleTimeoutSeconds
		}},
		{"a request timeout above the drain fails SHIPYARD-REL-1", "SHIPYARD-REL-1", "staging", func(c *stackconfig.Config) {
			c.App.RequestTimeoutSeconds = c.App.ShutdownTimeoutSeconds + 1
		}},
		{"a drain longer than the stop timeout fails SHIPYARD-REL-1", "SHIPYARD-REL-1", "dev", func(c *stackconfig.Config) {
			c.App.ShutdownTimeoutSeconds = c.Services.Worker.StopTimeoutSeconds
		}},
		{"three days of database backups fail RDS.11", "RDS.11", "dev", func(c *stackconfig.Config) {
			c.Database.BackupRetentionDays = 3
		}},
		{"a prod database without deletion protection fails RDS.8", "RDS.8", "prod", func(c *stackconfig.Config) {
			c.Database.DeletionProtection = false
		}},
		{"a single-AZ prod database fails RDS.5", "RDS.5", "prod", func(c *stackconfig.Config) {
			c.Database.MultiAZ = false
		}},
		{"staging keeping logs 30 days fails CloudWatch.16", "CloudWatch.16", "staging", func(c *stackconfig.Config) {
			c.Logging.RetentionDays = 30
		}},
		{"prod keeping logs 180 days fails CloudWatch.16", "CloudWatch.16", "prod", func(c *stackconfig.Config) {
			c.Logging.RetentionDays = 180
		}},
		{"staging without enhanced monitoring fails RDS.6", "RDS.6", "staging", func(c *stackconfig.Config) {
			c.Database.MonitoringIntervalSeconds = 0
		}},
		{"prod without Performance Insights fails CKV_AWS_353", "CKV_AWS_353", "prod", func(c *stackconfig.Config) {
			c.Database.PerformanceInsights = false
		}},
		{"prod without a web ACL fails ELB.16", "ELB.16", "prod", func(c *stackconfig.Config) {
			c.LoadBalancer.WAF.Enabled = false
		}},
		{"prod Redis without replicas fails ElastiCache.3", "ElastiCache.3", "prod", func(c *stackconfig.Config) {
			c.Cache.Replicas = 0
		}},
		{"a prod web service of one task fails SHIPYARD-REL-4", "SHIPYARD-REL-4", "prod", func(c *stackconfig.Config) {
			c.Services.Web.DesiredCount, c.Services.Web.MinCount = 1, 1
		}},
		{"a prod worker that scales with backlog scaling off fails SHIPYARD-REL-6", "SHIPYARD-REL-6", "prod", func(c *stackconfig.Config) {
			c.Services.Worker.Autoscaling.PendingJobsPerTask = 0
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rule, ok := policy.ByID(c.rule)
			if !ok {
				t.Fatalf("no rule %s", c.rule)
			}
			cfg := awsmock.Released(loadConfig(t, c.stack))
			c.edit(cfg)
			g, err := awsmock.RunConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if vs := policy.Evaluate([]policy.Rule{rule}, policy.FromGraph(g)); len(vs) == 0 {
				t.Fatalf("%s passes", c.rule)
			}
		})
	}
}
