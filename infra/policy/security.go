package policy

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// Resource types the rules check.
const (
	TypeRDSInstance       = "aws:rds/instance:Instance"
	TypeRDSParameterGroup = "aws:rds/parameterGroup:ParameterGroup"
	TypeLoadBalancer      = "aws:lb/loadBalancer:LoadBalancer"
	TypeListener          = "aws:lb/listener:Listener"
	TypeTargetGroup       = "aws:lb/targetGroup:TargetGroup"
	TypeReplicationGroup  = "aws:elasticache/replicationGroup:ReplicationGroup"
	TypeTaskDefinition    = "aws:ecs/taskDefinition:TaskDefinition"
	TypeECSService        = "aws:ecs/service:Service"
	TypeECSCluster        = "aws:ecs/cluster:Cluster"
	TypeECRRepository     = "aws:ecr/repository:Repository"
	TypeECRLifecycle      = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
	TypeLogGroup          = "aws:cloudwatch/logGroup:LogGroup"
	TypeKMSKey            = "aws:kms/key:Key"
	TypeIAMRole           = "aws:iam/role:Role"
	TypeIAMRolePolicy     = "aws:iam/rolePolicy:RolePolicy"
	TypeIAMPolicy         = "aws:iam/policy:Policy"
	TypeBucketPolicy      = "aws:s3/bucketPolicy:BucketPolicy"
	TypeSecret            = "aws:secretsmanager/secret:Secret"
	TypeSecurityGroup     = "aws:ec2/securityGroup:SecurityGroup"
	TypeSecurityGroupRule = "aws:ec2/securityGroupRule:SecurityGroupRule"
	TypeDefaultSG         = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
	TypeVPC               = "aws:ec2/vpc:Vpc"
	TypeFlowLog           = "aws:ec2/flowLog:FlowLog"
	TypeBucketV2          = "aws:s3/bucketV2:BucketV2"
	TypeBucket            = "aws:s3/bucket:Bucket"
	TypePublicAccessBlock = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
	TypeBucketVersioning  = "aws:s3/bucketVersioningV2:BucketVersioningV2"
	TypeBucketEncryption  = "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"
	TypeScalingTarget     = "aws:appautoscaling/target:Target"
	TypeScalingPolicy     = "aws:appautoscaling/policy:Policy"
	TypeWebACL            = "aws:wafv2/webAcl:WebAcl"
	TypeWebACLAssociation = "aws:wafv2/webAclAssociation:WebAclAssociation"
	TypeWebACLLogging     = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
	TypeACMCertificate    = "aws:acm/certificate:Certificate"
	TypeCertValidation    = "aws:acm/certificateValidation:CertificateValidation"
	LoadBalancerComponent = "shipyard:aws:LoadBalancer"
	// BlueGreenComponent holds the web service's second target group.
	BlueGreenComponent = "shipyard:aws:BlueGreen"
	NetworkComponent   = "shipyard:aws:Network"
)

// kmsKeyARN matches the ARN of a KMS key (not an alias): what the stack
// passes for its customer-managed key. Without a kmsKeyId, or with an
// "alias/aws/…", the service uses its AWS-managed key.
var kmsKeyARN = regexp.MustCompile(`^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$`)

// customerKey checks that the input at path names a customer-managed KMS
// key; a value a preview does not know yet is skipped.
func customerKey(r Resource, path string) string {
	if r.IsUnknown(path) {
		return ""
	}
	v := r.String(path)
	if v == "" {
		return path + " must be the stack's customer-managed KMS key (unset means the AWS-managed key)"
	}
	if !kmsKeyARN.MatchString(v) {
		return fmt.Sprintf("%s %q must be the ARN of the stack's customer-managed KMS key", path, v)
	}
	return ""
}

// AllowedSSLPolicies is ELB.17's current allow-list (its sslPolicies
// parameter): TLS 1.3 only, or TLS 1.3 with TLS 1.2 restricted ("Res") to
// ECDHE key exchange with AES-GCM; the FIPS and hybrid post-quantum
// variants of both. Earlier revisions of the control also listed
// ELBSecurityPolicy-TLS13-1-2-2021-06 (TLS 1.2 with CBC ciphers) and its
// FIPS variant; they no longer pass. None is on trivy AVD-AWS-0047's list of
// outdated policies. docs/aws.md has the comparison.
var AllowedSSLPolicies = []string{
	"ELBSecurityPolicy-TLS13-1-3-2021-06",
	"ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04",
	"ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
	"ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04",
	"ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",
	"ELBSecurityPolicy-TLS13-1-3-PQ-2025-09",
	"ELBSecurityPolicy-TLS13-1-2-Res-FIPS-PQ-2025-09",
	"ELBSecurityPolicy-TLS13-1-3-FIPS-PQ-2025-09",
}

// MinHSTSMaxAge is the shortest Strict-Transport-Security max-age
// SHIPYARD-ELB-1 accepts: a year, as the HSTS preload list requires.
const MinHSTSMaxAge = 31536000

// ACMKeyAlgorithms are the key algorithms ACM.2 accepts: RSA of at least
// 2048 bits and the ECDSA curves.
var ACMKeyAlgorithms = []string{"RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1", "EC_secp521r1"}

// EnhancedMonitoringIntervals are RDS.6's allowed monitoring intervals.
var EnhancedMonitoringIntervals = []float64{1, 5, 10, 15, 30, 60}

// LoggedStatements are the log_statement values SHIPYARD-RDS-4 accepts:
// each logs at least every schema change.
var LoggedStatements = []string{"ddl", "mod", "all"}

// NoResourceLevelActions may use Resource "*": AWS offers no resource-level
// permissions for them.
var NoResourceLevelActions = []string{"ecr:GetAuthorizationToken", "xray:PutTraceSegments"}

// secretEnvName matches env var names that look like they hold secrets.
// (names ending in PASSWORD, SECRET, TOKEN, API_KEY…; TOKEN_PURGE_INTERVAL
// is a setting, AUTH_TOKEN a secret).
var secretEnvName = regexp.MustCompile(`(?i)(^|_)(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|SECRET_?KEY|CREDENTIALS?)$`)

// Exception is a deliberate deviation from a rule, with its reason. The
// rules' checks implement exactly these; docs/aws.md lists them.
type Exception struct {
	RuleID string
	What   string
	Reason string
}

// Exceptions are every deliberate deviation.
var Exceptions = []Exception{
	{"EC2.18", "security groups of the LoadBalancer component accept 0.0.0.0/0 and ::/0 (the ALB is dual-stack) on tcp 443 and 80",
		"the ALB is the public entry point; port 80 only answers with a 301 to HTTPS"},
	{"ECS.20", "the FireLens log router container runs as root (user \"0\")",
		"FireLens requires Fluent Bit to run as root to create its socket (aws/containers-roadmap#2122)"},
	{"ECS.5", "the log router has a writable root filesystem when the S3 archive is on (the aws-for-fluent-bit init image)",
		"the init image downloads its extra config under /init (aws/aws-for-fluent-bit#928)"},
	{"IAM.21", "the KMS key policy's statement for the account root has kms:*",
		"it is the default key policy; without it the key can become unmanageable"},
	{"SHIPYARD-IAM-1", "key policies use Resource \"*\"",
		"in a key policy \"*\" means the key itself"},
	{"CloudWatch.16", "the dev stack's log groups keep logs fewer than 365 days (config/dev.json: 14)",
		"cost: dev is a disposable stack of test traffic whose logs serve debugging, not investigations; staging and prod keep 365 days"},
	{"CloudWatch.16", "a PR environment's log groups (stack <base>-pr-<n>) keep previews.logRetentionDays (default 3)",
		"a PR environment lives for days and serves its reviewers' test traffic; its logs serve debugging the PR, and the PR's own history is in git"},
	{"SHIPYARD-REL-5", "a PR environment's ECS services (stack <base>-pr-<n>) deploy without CloudWatch alarms; their circuit breaker still rolls back a release that cannot start",
		"a PR environment has no alarms: nobody is paged for a PR, and alarms per PR would cost more than its tasks; its reviewers see a broken release at its URL"},
	{"SHIPYARD-REL-3, SHIPYARD-REL-5", "an ECS service with the CODE_DEPLOY deployment controller (web with a progressive deploy.strategy) has no circuit breaker and no deployment alarms",
		"ECS offers neither with CodeDeploy; its deployment group rolls back on failure and on the gate alarms instead, which SHIPYARD-REL-7 checks"},
	{"SHIPYARD-REL-5", "the clock's ECS service (name ending in -clock) is deployed without CloudWatch alarms; its circuit breaker still rolls back a clock that cannot start",
		"the clock is one task replaced stop-before-start: while the new task migrates and starts, none runs, runningTasks-clock can go off and would roll a good release back; no other alarm measures the clock"},
	{"RDS.6, CKV_AWS_353, ELB.16", "the dev stack may turn off enhanced monitoring (database.monitoringIntervalSeconds 0), Performance Insights and the web ACL (config/dev.json: no web ACL)",
		"cost: dev serves test traffic only and is not reachable by real users' data; staging and prod must keep all three (the stack config refuses otherwise)"},
	{"AVD-AWS-0104", "the app security group allows tcp 443 to 0.0.0.0/0",
		"the log router's image comes from public.ecr.aws, which has no VPC endpoint, and without network.vpcEndpoints (dev) the AWS APIs are reached through NAT; every other port stays inside the VPC"},
	{"ELB.21, ELB.22", "the web target groups (the LoadBalancer component's, the BlueGreen component's second one and a PR environment's PreviewRouting one; targets of type ip: Fargate tasks in the private subnets) and their health checks use plain HTTP (also checkov CKV_AWS_378)",
		"TLS terminates at the ALB; the hop to the targets stays inside the VPC's private subnets, and the app security group admits the app port from the ALB's security group only, so no other host can reach or impersonate a target; re-encrypting would need a certificate in every task for no gain in who can read the traffic"},
	{"RDS.5, RDS.8, ELB.6, ElastiCache.3, SHIPYARD-STATEFUL-1, SHIPYARD-REL-4", "apply to the prod stack only",
		"dev and staging are disposable and sized for cost: single-AZ, deletable, unprotected"},
}

func rdsRules() []Rule {
	rds := []string{TypeRDSInstance}
	boolRule := func(id, title, reason, path string, want bool, prodOnly bool) Rule {
		return Rule{ID: id, Title: title, Reason: reason, Types: rds, ProdOnly: prodOnly,
			Check: func(r Resource) []string {
				v, set := r.Bool(path)
				if !set || v != want {
					return []string{fmt.Sprintf("%s must be %v", path, want)}
				}
				return nil
			}}
	}
	return []Rule{
		boolRule("RDS.2", "RDS is never public", "a database reachable from the internet is one leaked password from a breach", "publiclyAccessible", false, false),
		boolRule("RDS.3", "RDS storage is encrypted", "snapshots and disks must be unreadable without the key", "storageEncrypted", true, false),
		boolRule("RDS.8", "RDS has deletion protection in prod", "a stray destroy must not delete production data", "deletionProtection", true, true),
		boolRule("RDS.5", "RDS is multi-AZ in prod", "an AZ outage must not take the database down", "multiAz", true, true),
		{ID: "RDS.11", Title: "RDS keeps automatic backups for at least 7 days", Reason: "point-in-time recovery needs backups", Types: rds,
			Check: func(r Resource) []string {
				if n, _ := r.Number("backupRetentionPeriod"); n < 7 {
					return []string{fmt.Sprintf("backupRetentionPeriod %v < 7", n)}
				}
				return nil
			}},
		boolRule("RDS.13", "RDS applies minor version upgrades", "minor versions carry security fixes", "autoMinorVersionUpgrade", true, false),
		boolRule("RDS.17", "RDS copies tags to snapshots", "snapshots must stay attributable and covered by tag-based policies", "copyTagsToSnapshot", true, false),
		boolRule("RDS.10", "RDS has IAM authentication enabled", "Security Hub expects IAM database authentication to be available", "iamDatabaseAuthenticationEnabled", true, false),
		{ID: "RDS.9", Title: "RDS exports its PostgreSQL and upgrade logs to CloudWatch", Reason: "database logs must be kept for investigation", Types: rds,
			Check: func(r Resource) []string {
				var out []string
				for _, want := range []string{"postgresql", "upgrade"} {
					if !contains(r.Strings("enabledCloudwatchLogsExports"), want) {
						out = append(out, "enabledCloudwatchLogsExports lacks "+want)
					}
				}
				return out
			}},
		{ID: "RDS.6", Title: "RDS has enhanced monitoring", Reason: "OS metrics (memory, swap, processes) explain what database metrics alone cannot", Types: rds,
			Check: func(r Resource) []string {
				if r.Stack() == stackconfig.DevStack {
					return nil // Exception: dev may turn it off (cost).
				}
				n, _ := r.Number("monitoringInterval")
				allowed := false
				for _, i := range EnhancedMonitoringIntervals {
					allowed = allowed || n == i
				}
				var out []string
				if !allowed {
					out = append(out, fmt.Sprintf("monitoringInterval %v: want one of %v seconds", n, EnhancedMonitoringIntervals))
				}
				if r.String("monitoringRoleArn") == "" && !r.IsUnknown("monitoringRoleArn") {
					out = append(out, "monitoringRoleArn must name the role RDS publishes the metrics with")
				}
				return out
			}},
		{ID: "CKV_AWS_353", Title: "RDS has Performance Insights", Reason: "query-level load is what explains a slow database", Types: rds,
			Check: func(r Resource) []string {
				if r.Stack() == stackconfig.DevStack {
					return nil // Exception: dev may turn it off.
				}
				if !r.True("performanceInsightsEnabled") {
					return []string{"performanceInsightsEnabled must be true"}
				}
				return nil
			}},
		{ID: "SHIPYARD-RDS-1", Title: "RDS manages the master password in Secrets Manager", Reason: "no plaintext password in code, config or state", Types: rds,
			Check: func(r Resource) []string {
				var out []string
				if !r.True("manageMasterUserPassword") {
					out = append(out, "manageMasterUserPassword must be true")
				}
				if _, ok := r.Get("password"); ok {
					out = append(out, "password must not be set")
				}
				return out
			}},
		{ID: "SHIPYARD-RDS-4", Title: "RDS PostgreSQL logs slow statements and schema changes", Reason: "an investigation needs to know which statement was slow and who changed the schema when",
			Types: []string{TypeRDSParameterGroup},
			Check: func(r Resource) []string {
				if !strings.HasPrefix(r.String("family"), "postgres") {
					return nil
				}
				params := map[string]string{}
				for i := 0; i < r.Len("parameters"); i++ {
					params[r.String(fmt.Sprintf("parameters.%d.name", i))] = r.String(fmt.Sprintf("parameters.%d.value", i))
				}
				var out []string
				if v := params["log_statement"]; !contains(LoggedStatements, v) {
					out = append(out, fmt.Sprintf("log_statement %q: want one of %v", v, LoggedStatements))
				}
				if v, ok := params["log_min_duration_statement"]; !ok || v == "" || strings.HasPrefix(v, "-") {
					out = append(out, fmt.Sprintf("log_min_duration_statement %q: want a threshold of 0 ms or more (-1 or unset logs no slow statement)", v))
				}
				return out
			}},
		{ID: "CKV2_AWS_69", Title: "RDS PostgreSQL accepts TLS connections only", Reason: "database traffic must be encrypted in transit", Types: []string{TypeRDSParameterGroup},
			Check: func(r Resource) []string {
				if !strings.HasPrefix(r.String("family"), "postgres") {
					return nil
				}
				for i := 0; i < r.Len("parameters"); i++ {
					if r.String(fmt.Sprintf("parameters.%d.name", i)) == "rds.force_ssl" && r.String(fmt.Sprintf("parameters.%d.value", i)) == "1" {
						return nil
					}
				}
				return []string{"parameter rds.force_ssl=1 missing"}
			}},
		{ID: "SHIPYARD-RDS-2", Title: "RDS presents a server certificate from a chosen CA that the app's pinned bundle holds",
			Reason: "left unset, the CA is the region's default of the day, which the app may not trust or which may expire (rds-ca-2019 did)", Types: rds,
			Check: func(r Resource) []string {
				if r.IsUnknown("caCertIdentifier") {
					return nil
				}
				// The CAs an instance may use are the stack config's: the G1
				// roots of the Amazon RDS global bundle the app image pins.
				allowed := stackconfig.RDSCACertIdentifiers
				v := r.String("caCertIdentifier")
				if slices.Contains(allowed, v) {
					return nil
				}
				if v == "" {
					return []string{"caCertIdentifier is unset (the region's default CA); must be one of " + strings.Join(allowed, ", ")}
				}
				return []string{fmt.Sprintf("caCertIdentifier %q must be one of %s", v, strings.Join(allowed, ", "))}
			}},
		containerRule("SHIPYARD-RDS-3", "The app verifies the database server's certificate and host name",
			"TLS without verification (sslmode=require) lets a man in the middle inside the VPC read and change every query",
			func(c container) string {
				v, ok := c.env("DATABASE_URL")
				if !ok {
					return ""
				}
				u, err := url.Parse(v)
				if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
					return "DATABASE_URL must be a postgres:// URL with sslmode=verify-full and sslrootcert"
				}
				q := u.Query()
				var out []string
				if m := q.Get("sslmode"); m != "verify-full" {
					out = append(out, fmt.Sprintf("sslmode %q must be verify-full", m))
				}
				if q.Get("sslrootcert") == "" {
					out = append(out, "sslrootcert must name the CA bundle")
				}
				if len(out) > 0 {
					return "DATABASE_URL " + strings.Join(out, ", ")
				}
				return ""
			}),
	}
}

func kmsRules() []Rule {
	check := func(paths func(r Resource) []string) func(r Resource) []string {
		return func(r Resource) []string {
			var out []string
			for _, p := range paths(r) {
				if msg := customerKey(r, p); msg != "" {
					out = append(out, msg)
				}
			}
			return out
		}
	}
	return []Rule{
		{ID: "SHIPYARD-KMS-1", Title: "RDS storage and its managed master user secret are encrypted with the stack's customer-managed key",
			Reason: "the key policy, not the AWS-managed key, decides who can read the data and its snapshots", Types: []string{TypeRDSInstance},
			Check: check(func(r Resource) []string {
				paths := []string{"kmsKeyId"}
				if r.True("manageMasterUserPassword") {
					paths = append(paths, "masterUserSecretKmsKeyId")
				}
				return paths
			})},
		{ID: "CKV_AWS_354", Title: "RDS Performance Insights is encrypted with the stack's customer-managed key",
			Reason: "Performance Insights keeps query text; the key policy, not the AWS-managed key, decides who can read it", Types: []string{TypeRDSInstance},
			Check: check(func(r Resource) []string {
				if !r.True("performanceInsightsEnabled") {
					return nil
				}
				return []string{"performanceInsightsKmsKeyId"}
			})},
		{ID: "SHIPYARD-KMS-2", Title: "Redis is encrypted at rest with the stack's customer-managed key",
			Reason: "the key policy, not the AWS-managed key, decides who can read the cache and its snapshots", Types: []string{TypeReplicationGroup},
			Check: func(r Resource) []string {
				out := check(func(Resource) []string { return []string{"kmsKeyId"} })(r)
				if !r.True("atRestEncryptionEnabled") {
					out = append(out, "atRestEncryptionEnabled must be true for kmsKeyId to apply")
				}
				return out
			}},
		{ID: "SHIPYARD-KMS-3", Title: "Secrets Manager secrets are encrypted with the stack's customer-managed key",
			Reason: "reading a secret then needs both the secret's and the key's permission", Types: []string{TypeSecret},
			Check: check(func(Resource) []string { return []string{"kmsKeyId"} })},
	}
}

func elastiCacheRules() []Rule {
	rg := []string{TypeReplicationGroup}
	boolRule := func(id, title, reason, path string, prodOnly bool) Rule {
		return Rule{ID: id, Title: title, Reason: reason, Types: rg, ProdOnly: prodOnly,
			Check: func(r Resource) []string {
				if !r.True(path) {
					return []string{path + " must be true"}
				}
				return nil
			}}
	}
	return []Rule{
		{ID: "ElastiCache.1", Title: "Redis has automatic backups", Reason: "the job queue must be recoverable", Types: rg,
			Check: func(r Resource) []string {
				if n, _ := r.Number("snapshotRetentionLimit"); n < 1 {
					return []string{"snapshotRetentionLimit must be at least 1"}
				}
				return nil
			}},
		boolRule("ElastiCache.2", "Redis applies minor version upgrades", "minor versions carry security fixes", "autoMinorVersionUpgrade", false),
		boolRule("ElastiCache.3", "Redis fails over automatically in prod", "a node failure must not stop the workers", "automaticFailoverEnabled", true),
		boolRule("ElastiCache.4", "Redis is encrypted at rest", "snapshots and swap must be unreadable without the key", "atRestEncryptionEnabled", false),
		boolRule("ElastiCache.5", "Redis is encrypted in transit", "cache traffic carries job payloads", "transitEncryptionEnabled", false),
		{ID: "SHIPYARD-REDIS-1", Title: "Redis refuses connections without TLS", Reason: "transit encryption in \"preferred\" mode still accepts plaintext clients", Types: rg,
			Check: func(r Resource) []string {
				if m := r.String("transitEncryptionMode"); m != "required" {
					return []string{fmt.Sprintf("transitEncryptionMode %q: want required", m)}
				}
				return nil
			}},
		{ID: "ElastiCache.6", Title: "Redis requires AUTH", Reason: "network access alone must not be enough to read the queue", Types: rg,
			Check: func(r Resource) []string {
				if _, ok := r.Get("authToken"); !ok && r.Len("userGroupIds") == 0 {
					return []string{"authToken (or a user group) must be set"}
				}
				return nil
			}},
		{ID: "ElastiCache.7", Title: "Redis does not use the default subnet group", Reason: "the default subnet group may include public subnets", Types: rg,
			Check: func(r Resource) []string {
				if s := r.String("subnetGroupName"); (s == "" && !r.IsUnknown("subnetGroupName")) || s == "default" {
					return []string{"subnetGroupName must name a dedicated group"}
				}
				return nil
			}},
	}
}

// policyDocuments returns the policy documents of r, with whether each is a
// key policy.
func policyDocuments(r Resource) (docs []string, keyPolicy bool) {
	switch r.Type {
	case TypeIAMRole:
		docs = append(docs, r.String("assumeRolePolicy"))
		for i := 0; i < r.Len("inlinePolicies"); i++ {
			docs = append(docs, r.String(fmt.Sprintf("inlinePolicies.%d.policy", i)))
		}
	case TypeIAMRolePolicy, TypeIAMPolicy, TypeBucketPolicy, TypeSecret:
		docs = append(docs, r.String("policy"))
	case TypeKMSKey:
		docs, keyPolicy = append(docs, r.String("policy")), true
	}
	return docs, keyPolicy
}

var policyTypes = []string{TypeIAMRole, TypeIAMRolePolicy, TypeIAMPolicy, TypeBucketPolicy, TypeSecret, TypeKMSKey}

// isAccountRootAdmin is the default key policy statement (see Exceptions).
func isAccountRootAdmin(s policyStatement) bool {
	if len(s.Principal.AWS) != 1 || !strings.HasSuffix(s.Principal.AWS[0], ":root") || len(s.Principal.Service) > 0 {
		return false
	}
	return len(s.Action) == 1 && s.Action[0] == "kms:*"
}

func iamRules() []Rule {
	return []Rule{
		{ID: "IAM.21", Title: "Policies grant no wildcard actions", Reason: "least privilege: every allowed action is named", Types: policyTypes,
			Check: func(r Resource) []string {
				docs, key := policyDocuments(r)
				var out []string
				for _, d := range docs {
					if d == "" {
						continue // not known yet
					}
					doc, err := parsePolicy(d)
					if err != nil {
						out = append(out, err.Error())
						continue
					}
					for _, s := range doc.Statement {
						if s.Effect != "Allow" {
							continue
						}
						if key && isAccountRootAdmin(s) {
							continue // Exception: default key policy.
						}
						if len(s.NotAction) > 0 {
							out = append(out, fmt.Sprintf("statement %q allows NotAction", s.Sid))
						}
						for _, a := range s.Action {
							if strings.Contains(a, "*") {
								out = append(out, fmt.Sprintf("statement %q allows wildcard action %q", s.Sid, a))
							}
						}
					}
				}
				return out
			}},
		{ID: "SHIPYARD-IAM-1", Title: "IAM policies scope resources", Reason: "Resource \"*\" only where AWS has no resource-level permissions",
			Types: []string{TypeIAMRole, TypeIAMRolePolicy, TypeIAMPolicy},
			Check: func(r Resource) []string {
				docs, _ := policyDocuments(r)
				var out []string
				for _, d := range docs {
					doc, err := parsePolicy(d)
					if d == "" || err != nil {
						continue // IAM.21 reports invalid documents
					}
					for _, s := range doc.Statement {
						if s.Effect != "Allow" || !contains(s.Resource, "*") {
							continue
						}
						for _, a := range s.Action {
							if !contains(NoResourceLevelActions, a) {
								out = append(out, fmt.Sprintf("statement %q allows %s on every resource", s.Sid, a))
							}
						}
					}
				}
				return out
			}},
		{ID: "S3.5", Title: "Buckets refuse requests without TLS", Reason: "objects must not travel in clear", Types: []string{TypeBucketPolicy},
			Check: func(r Resource) []string {
				d := r.String("policy")
				if d == "" {
					return nil
				}
				doc, err := parsePolicy(d)
				if err != nil {
					return []string{err.Error()}
				}
				for _, st := range doc.Statement {
					if st.Effect == "Deny" && fmt.Sprint(st.Condition["Bool"]["aws:SecureTransport"]) == "false" &&
						(st.Principal.Any || contains(st.Principal.AWS, "*")) && contains(st.Action, "s3:*") && coversBucketAndObjects(st.Resource) {
						return nil
					}
				}
				return []string{"no statement denies s3:* to every principal on the bucket and its objects when aws:SecureTransport is false"}
			}},
	}
}

// coversBucketAndObjects reports whether a statement's resources include a
// bucket ARN and every object in it ("<bucket ARN>/*").
func coversBucketAndObjects(resources []string) bool {
	for _, r := range resources {
		if strings.HasPrefix(r, "arn:aws:s3:::") && !strings.Contains(r, "/") && contains(resources, r+"/*") {
			return true
		}
	}
	return contains(resources, "*")
}

// openCIDR reports whether a CIDR is the whole internet.
func openCIDR(c string) bool { return c == "0.0.0.0/0" || c == "::/0" }

// openIngress checks one ingress rule; prefix is "" for a SecurityGroupRule
// or "ingress.N." for an inline rule.
func openIngress(r Resource, prefix string) string {
	open := false
	for _, c := range append(r.Strings(prefix+"cidrBlocks"), r.Strings(prefix+"ipv6CidrBlocks")...) {
		open = open || openCIDR(c)
	}
	if !open {
		return ""
	}
	from, _ := r.Number(prefix + "fromPort")
	to, _ := r.Number(prefix + "toPort")
	proto := r.String(prefix + "protocol")
	if r.InComponent(LoadBalancerComponent) && proto == "tcp" && from == to && (from == 443 || from == 80) {
		return "" // Exception: the ALB's public listeners.
	}
	return fmt.Sprintf("ingress %s %v-%v is open to the internet", proto, from, to)
}

func networkRules() []Rule {
	return []Rule{
		{ID: "EC2.18", Title: "Only the ALB accepts traffic from the internet, on 443 and 80", Reason: "everything else is reached through the ALB or not at all",
			Types: []string{TypeSecurityGroup, TypeSecurityGroupRule},
			Check: func(r Resource) []string {
				var out []string
				if r.Type == TypeSecurityGroupRule {
					if r.String("type") == "ingress" {
						if msg := openIngress(r, ""); msg != "" {
							out = append(out, msg)
						}
					}
					return out
				}
				for i := 0; i < r.Len("ingress"); i++ {
					if msg := openIngress(r, fmt.Sprintf("ingress.%d.", i)); msg != "" {
						out = append(out, msg)
					}
				}
				return out
			}},
		{ID: "AVD-AWS-0104", Title: "Security groups allow no egress to the internet but HTTPS from the app", Reason: "a compromised task must not reach arbitrary hosts and ports", Types: []string{TypeSecurityGroup, TypeSecurityGroupRule},
			Check: func(r Resource) []string {
				var out []string
				check := func(prefix string) {
					open := false
					for _, c := range append(r.Strings(prefix+"cidrBlocks"), r.Strings(prefix+"ipv6CidrBlocks")...) {
						open = open || openCIDR(c)
					}
					if !open {
						return
					}
					from, _ := r.Number(prefix + "fromPort")
					to, _ := r.Number(prefix + "toPort")
					proto := r.String(prefix + "protocol")
					if proto == "tcp" && from == 443 && to == 443 && r.InComponent(NetworkComponent) {
						return // Exception: the app's HTTPS egress.
					}
					out = append(out, fmt.Sprintf("egress %s %v-%v is open to the internet", proto, from, to))
				}
				if r.Type == TypeSecurityGroupRule {
					if r.String("type") == "egress" {
						check("")
					}
					return out
				}
				for i := 0; i < r.Len("egress"); i++ {
					check(fmt.Sprintf("egress.%d.", i))
				}
				return out
			}},
		{ID: "EC2.2", Title: "The default security group allows nothing", Reason: "resources that fall back to it must be isolated", Types: []string{TypeDefaultSG},
			Check: func(r Resource) []string {
				if r.Len("ingress") > 0 || r.Len("egress") > 0 {
					return []string{"default security group must have no ingress or egress rules"}
				}
				return nil
			}},
		{ID: "EC2.6", Title: "Every VPC has flow logs", Reason: "network traffic must be auditable", Types: []string{TypeVPC},
			CheckStack: func(rs []Resource) []Violation {
				vpcs, logs := count(rs, TypeVPC), 0
				for _, r := range rs {
					if r.Type == TypeFlowLog && r.String("trafficType") == "ALL" {
						logs++
					}
				}
				if logs < vpcs {
					return []Violation{{Message: fmt.Sprintf("%d VPCs, %d flow logs of ALL traffic", vpcs, logs)}}
				}
				return nil
			}},
		{ID: "S3.8", Title: "Buckets block public access", Reason: "logs and archives are private", Types: []string{TypeBucketV2, TypeBucket},
			CheckStack: func(rs []Resource) []Violation {
				buckets, blocks := count(rs, TypeBucketV2)+count(rs, TypeBucket), 0
				for _, r := range rs {
					if r.Type == TypePublicAccessBlock && r.True("blockPublicAcls") && r.True("blockPublicPolicy") &&
						r.True("ignorePublicAcls") && r.True("restrictPublicBuckets") {
						blocks++
					}
				}
				if blocks < buckets {
					return []Violation{{Message: fmt.Sprintf("%d buckets, %d complete public access blocks", buckets, blocks)}}
				}
				return nil
			}},
		{ID: "S3.14", Title: "Buckets have versioning enabled", Reason: "an overwritten or deleted log object must stay recoverable", Types: []string{TypeBucketV2, TypeBucket},
			CheckStack: func(rs []Resource) []Violation {
				buckets, versioned := count(rs, TypeBucketV2)+count(rs, TypeBucket), 0
				for _, r := range rs {
					if r.Type == TypeBucketVersioning && r.String("versioningConfiguration.status") == "Enabled" {
						versioned++
					}
				}
				if versioned < buckets {
					return []Violation{{Message: fmt.Sprintf("%d buckets, %d with versioning Enabled", buckets, versioned)}}
				}
				return nil
			}},
		{ID: "CKV_AWS_19", Title: "Buckets are encrypted by default", Reason: "objects at rest must be encrypted", Types: []string{TypeBucketV2, TypeBucket},
			CheckStack: func(rs []Resource) []Violation {
				buckets, enc := count(rs, TypeBucketV2)+count(rs, TypeBucket), count(rs, TypeBucketEncryption)
				if enc < buckets {
					return []Violation{{Message: fmt.Sprintf("%d buckets, %d encryption configurations", buckets, enc)}}
				}
				return nil
			}},
	}
}

// SecurityRules are the checks checkov, trivy and Security Hub apply to the
// stack's resources.
func SecurityRules() []Rule {
	var out []Rule
	for _, group := range [][]Rule{rdsRules(), kmsRules(), elbRules(), elastiCacheRules(), ecsRules(), ecrRules(), logRules(), iamRules(), networkRules()} {
		out = append(out, group...)
	}
	return out
}

func count(rs []Resource, typ string) int {
	n := 0
	for _, r := range rs {
		if r.Type == typ {
			n++
		}
	}
	return n
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
