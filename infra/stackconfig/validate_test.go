package stackconfig

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// TestRules runs every cross-field rule (and the schema bounds behind it)
// through Parse, with valid and invalid cases.
func TestRules(t *testing.T) {
	const prodOK = `{"services": {"web": {"minCount": 2, "desiredCount": 2, "maxCount": 4}}, "database": {"multiAz": true, "deletionProtection": true},
		"network": {"natGateways": "perAz"}, "alarms": {"notify": {"emails": ["oncall@example.com"]}}, "ci": {"pullRequestPreviews": false}}`
	tests := []struct {
		name  string
		stack string // default "dev"
		base  string // default awsBase
		patch string
		want  []want
	}{
		// Fargate sizes.
		{name: "the smallest Fargate pair 256/512 is valid", patch: `{"services": {"web": {"cpu": 256, "memory": 512}}}`},
		{name: "256 cpu with 2048 memory is valid", patch: `{"services": {"web": {"cpu": 256, "memory": 2048}}}`},
		{name: "the largest Fargate pair 4096/30720 is valid", patch: `{"services": {"web": {"cpu": 4096, "memory": 30720}}}`},
		{name: "2048 cpu with 16384 memory is valid", patch: `{"services": {"worker": {"cpu": 2048, "memory": 16384}}}`},
		{name: "a cpu that is not a Fargate size is rejected with the allowed sizes",
			patch: `{"services": {"web": {"cpu": 300}}}`,
			want:  []want{{"services.web.cpu", "300 is not a Fargate size; allowed 256, 512, 1024, 2048, 4096"}}},
		{name: "256 cpu with 4096 memory is not a Fargate pair",
			patch: `{"services": {"worker": {"cpu": 256, "memory": 4096}}}`,
			want:  []want{{"services.worker.memory", "4096 is not a Fargate memory size for cpu 256; allowed 512, 1024, 2048"}}},
		{name: "512 cpu with 5120 memory is above its range",
			patch: `{"services": {"web": {"cpu": 512, "memory": 5120}}}`,
			want:  []want{{"services.web.memory", "allowed 1024 to 4096 in steps of 1024"}}},
		{name: "1024 cpu with 3000 memory is not a 1024 step",
			patch: `{"services": {"clock": {"cpu": 1024, "memory": 3000}}}`,
			want:  []want{{"services.clock.memory", "allowed 2048 to 8192 in steps of 1024"}}},
		{name: "4096 cpu with 4096 memory is below its range",
			patch: `{"services": {"web": {"cpu": 4096, "memory": 4096}}}`,
			want:  []want{{"services.web.memory", "allowed 8192 to 30720"}}},
		{name: "memory above 30720 is out of the schema's bounds",
			patch: `{"services": {"web": {"cpu": 4096, "memory": 32768}}}`,
			want:  []want{{"services.web.memory", "32768 is too large; allowed 512 to 30720"}}},

		// Task counts.
		{name: "desired count between min and max is valid", patch: `{"services": {"web": {"minCount": 1, "desiredCount": 2, "maxCount": 3}}}`},
		{name: "desired count below min count is rejected",
			patch: `{"services": {"web": {"minCount": 2, "desiredCount": 1, "maxCount": 3}}}`,
			want:  []want{{"services.web.desiredCount", "1 is outside minCount..maxCount; allowed 2 to 3"}}},
		{name: "desired count above max count is rejected",
			patch: `{"services": {"worker": {"desiredCount": 3}}}`,
			want:  []want{{"services.worker.desiredCount", "allowed 1 to 2"}}},
		{name: "min count above max count is rejected",
			patch: `{"services": {"web": {"minCount": 3, "desiredCount": 3, "maxCount": 2}}}`,
			want:  []want{{"services.web.minCount", "3 is above maxCount 2"}}},
		{name: "a worker may be scaled to zero", patch: `{"services": {"worker": {"minCount": 0, "desiredCount": 0, "maxCount": 0}}}`},
		{name: "a negative count is out of the schema's bounds",
			patch: `{"services": {"worker": {"minCount": -1}}}`,
			want:  []want{{"services.worker.minCount", "-1 is too small; allowed 0 to 100"}}},

		// The clock.
		{name: "a clock that may scale to two tasks is rejected",
			patch: `{"services": {"clock": {"maxCount": 2}}}`,
			want:  []want{{"services.clock.maxCount", "is 2; allowed 1"}}},
		{name: "a clock with no task is rejected on every count",
			patch: `{"services": {"clock": {"minCount": 0, "desiredCount": 0, "maxCount": 0}}}`,
			want: []want{{"services.clock.minCount", "allowed 1"}, {"services.clock.desiredCount", "allowed 1"},
				{"services.clock.maxCount", "allowed 1"}}},
		{name: "every service may move to another port together",
			patch: `{"services": {"web": {"port": 9000}, "worker": {"port": 9000}, "clock": {"port": 9000}}}`},
		{name: "a worker port other than the web port is rejected",
			patch: `{"services": {"worker": {"port": 9000}}}`,
			want:  []want{{"services.worker.port", "9000 differs from services.web.port 8080; allowed 8080"}}},
		{name: "request-based scaling on the worker is rejected",
			patch: `{"services": {"worker": {"autoscaling": {"requestsPerTarget": 100}}}}`,
			want:  []want{{"services.worker.autoscaling.requestsPerTarget", "allowed 0"}}},
		{name: "backlog scaling on web is rejected",
			patch: `{"services": {"web": {"autoscaling": {"pendingJobsPerTask": 50}}}}`,
			want:  []want{{"services.web.autoscaling.pendingJobsPerTask", "is 50; allowed 0 (only the worker consumes the job queue)"}}},

		// Prod.
		{name: "prod with a multi-AZ database, deletion protection and two web tasks is valid", stack: "prod", patch: prodOK},
		{name: "prod previewed by pull requests is rejected", stack: "prod",
			base: string(mustPatch(awsBase, prodOK)), patch: `{"ci": {"pullRequestPreviews": true}}`,
			want: []want{{"ci.pullRequestPreviews", "true on prod (the default when the field is absent): pull requests run their own code with the preview role, which could then decrypt prod's secrets; allowed: false"}}},
		{name: "prod without a multi-AZ database is rejected", stack: "prod",
			base: string(mustPatch(awsBase, prodOK)), patch: `{"database": {"multiAz": false}}`,
			want: []want{{"database.multiAz", "allowed true in prod"}}},
		{name: "prod without deletion protection is rejected", stack: "prod",
			base: string(mustPatch(awsBase, prodOK)), patch: `{"database": {"deletionProtection": false}}`,
			want: []want{{"database.deletionProtection", "allowed true in prod"}}},
		{name: "prod with one web task is rejected", stack: "prod",
			base: string(mustPatch(awsBase, prodOK)), patch: `{"services": {"web": {"minCount": 1}}}`,
			want: []want{{"services.web.minCount", "1 is too small for prod; allowed at least 2"}}},
		{name: "prod with all defaults reports every prod rule at once", stack: "prod",
			want: []want{{"database.multiAz", "prod"}, {"database.deletionProtection", "prod"}, {"services.web.minCount", "prod"},
				{"network.natGateways", `"single" in prod; allowed "perAz"`}, {"alarms.notify", "alarms.noRecipientsReason"},
				{"ci.pullRequestPreviews", "true on prod"}}},

		// Item 9 and 5 of issue 19: prod-unsafe values and alarms that reach no one.
		{name: "prod with one NAT gateway is rejected naming the allowed layout", stack: "prod", base: string(mustPatch(awsBase, prodOK)),
			patch: `{"network": {"natGateways": "single"}}`,
			want:  []want{{"network.natGateways", `"single" in prod; allowed "perAz"`}}},
		{name: "prod without a cache replica is rejected", stack: "prod", base: string(mustPatch(awsBase, prodOK)),
			patch: `{"cache": {"replicas": 0}}`,
			want:  []want{{"cache.replicas", "0 in prod; allowed 1 to 5"}}},
		{name: "prod without database backups is rejected without the policy pack", stack: "prod", base: string(mustPatch(awsBase, prodOK)),
			patch: `{"database": {"backupRetentionDays": 0}}`,
			want:  []want{{"database.backupRetentionDays", "0 is below RDS.11's 7 days; allowed 7 to 35"}}},
		{name: "dev with three days of backups is rejected too (RDS.11 applies to every aws stack)",
			patch: `{"database": {"backupRetentionDays": 3}}`,
			want:  []want{{"database.backupRetentionDays", "3 is below RDS.11's 7 days"}}},
		{name: "dev and staging may have no alarm subscriber", patch: `{"network": {"natGateways": "single"}, "cache": {"replicas": 0}}`},
		{name: "prod without an alarm subscriber is rejected naming the fields", stack: "prod", base: string(mustPatch(awsBase, prodOK)),
			patch: `{"alarms": {"notify": {"emails": []}}}`,
			want:  []want{{"alarms.notify", "alarms.notify.emails and alarms.notify.httpsEndpoints are empty, so every alarm reaches no one; allowed at least one email or https endpoint, or alarms.noRecipientsReason saying why none is wanted"}}},
		{name: "prod with only an https endpoint subscribed is valid", stack: "prod", base: string(mustPatch(awsBase, prodOK)),
			patch: `{"alarms": {"notify": {"emails": [], "httpsEndpoints": ["https://hooks.example.com/alarms"]}}}`},
		{name: "prod with no subscriber and a reason is valid", stack: "prod", base: string(mustPatch(awsBase, prodOK)),
			patch: `{"alarms": {"notify": {"emails": []}, "noRecipientsReason": "read from the central monitoring account"}}`},
		{name: "a blank reason for no subscriber is rejected by pattern", stack: "prod", base: string(mustPatch(awsBase, prodOK)),
			patch: `{"alarms": {"notify": {"emails": []}, "noRecipientsReason": " "}}`,
			want:  []want{{"alarms.noRecipientsReason", "one line of at least 9 characters"}}},
		{name: "a /24 VPC is rejected: its /28 subnets are below the /27 an ALB needs",
			patch: `{"network": {"cidr": "10.0.0.0/24"}}`,
			want:  []want{{"network.cidr", "from /16 to /23"}}},
		{name: "a /23 VPC is valid: /27 subnets", patch: `{"network": {"cidr": "10.0.0.0/23"}}`},

		// Item 10 of issue 19: a region typo.
		{name: "a region typo is a region error with a suggestion, not a certificate error",
			patch: `{"aws": {"region": "eu-wset-1"}}`,
			want:  []want{{"aws.region", `"eu-wset-1" is not an AWS region; did you mean "eu-west-1"? allowed af-south-1`}}},

		// Item 4 of issue 19: the managed certificate or your own.
		{name: "a hosted zone by name with a domain under it is valid",
			patch: `{"loadBalancer": {"certificateArn": null, "domain": "api.example.com", "hostedZone": {"name": "example.com"}}}`},
		{name: "a hosted zone by id is valid", patch: `{"loadBalancer": {"certificateArn": null, "domain": "example.com", "hostedZone": {"id": "Z0123456789ABCDEFGHIJ"}}}`},
		{name: "a hosted zone and a certificate ARN together are rejected naming both",
			patch: `{"loadBalancer": {"domain": "api.example.com", "hostedZone": {"name": "example.com"}}}`,
			want:  []want{{"loadBalancer.certificateArn", "set together with loadBalancer.hostedZone; allowed exactly one of the two"}}},
		{name: "a hosted zone without a domain is rejected",
			patch: `{"loadBalancer": {"certificateArn": null, "hostedZone": {"name": "example.com"}}}`,
			want:  []want{{"loadBalancer.domain", "required with loadBalancer.hostedZone"}}},
		{name: "a domain outside the hosted zone is rejected",
			patch: `{"loadBalancer": {"certificateArn": null, "domain": "api.example.org", "hostedZone": {"name": "example.com"}}}`,
			want:  []want{{"loadBalancer.domain", `"api.example.org" is not in hosted zone "example.com"; allowed "example.com" or a name ending in ".example.com"`}}},
		{name: "a domain that only ends like the zone is not in it",
			patch: `{"loadBalancer": {"certificateArn": null, "domain": "badexample.com", "hostedZone": {"name": "example.com"}}}`,
			want:  []want{{"loadBalancer.domain", "is not in hosted zone"}}},
		{name: "a hosted zone with both id and name is rejected",
			patch: `{"loadBalancer": {"certificateArn": null, "domain": "example.com", "hostedZone": {"id": "Z0123456789ABCDEFGHIJ", "name": "example.com"}}}`,
			want:  []want{{"loadBalancer.hostedZone", "has both id and name; allowed exactly one"}}},
		{name: "an empty hosted zone is rejected",
			patch: `{"loadBalancer": {"certificateArn": null, "domain": "example.com", "hostedZone": {}}}`,
			want:  []want{{"loadBalancer.hostedZone", "has neither id nor name"}}},
		{name: "staging may run a single-AZ database and one web task", stack: "staging"},

		// Log retention (CloudWatch.16).
		{name: "dev may keep logs 14 days (the cost exception)", patch: `{"logging": {"retentionDays": 14}}`},
		{name: "staging keeping logs 30 days is rejected with the allowed retentions", stack: "staging",
			patch: `{"logging": {"retentionDays": 30}}`,
			want:  []want{{"logging.retentionDays", "30 is too short for stack staging (CloudWatch.16 keeps logs at least 365 days; only dev may keep fewer); allowed 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653"}}},
		{name: "prod keeping logs 180 days is rejected", stack: "prod", base: string(mustPatch(awsBase, prodOK)),
			patch: `{"logging": {"retentionDays": 180}}`,
			want:  []want{{"logging.retentionDays", "allowed 365, 400"}}},
		{name: "staging keeping logs 400 days is valid", stack: "staging", patch: `{"logging": {"retentionDays": 400}}`},

		// Connection budget.
		{name: "a pool of 10 with 8 web tasks fits 500 connections",
			patch: `{"services": {"web": {"maxCount": 8}}, "database": {"maxConnections": 500}}`},
		{name: "a pool of 10 with 5 web tasks needs 100 connections, not below 100",
			patch: `{"services": {"web": {"maxCount": 5}}}`,
			want:  []want{{"app.dbPoolSize", "10 × services.web.maxCount 5 × 2 = 100 connections during a deploy, not below database.maxConnections 100; allowed at most 9"}}},
		{name: "a pool of 9 with 5 web tasks fits 100 connections", patch: `{"app": {"dbPoolSize": 9}, "services": {"web": {"maxCount": 5}}}`},
		{name: "on docker the budget counts local.webReplicas",
			base: dockerBase, patch: `{"local": {"webReplicas": 5}}`,
			want: []want{{"app.dbPoolSize", "local.webReplicas 5"}}},

		// Timeouts.
		{name: "an app idle timeout one second above the load balancer's is valid",
			patch: `{"app": {"idleTimeoutSeconds": 61}, "loadBalancer": {"idleTimeoutSeconds": 60}}`},
		{name: "an app idle timeout equal to the load balancer's is rejected",
			patch: `{"app": {"idleTimeoutSeconds": 60}}`,
			want:  []want{{"app.idleTimeoutSeconds", "60 is not above loadBalancer.idleTimeoutSeconds 60; allowed at least 61"}}},
		{name: "a shutdown drain equal to a stop timeout is rejected",
			patch: `{"services": {"worker": {"stopTimeoutSeconds": 20}}}`,
			want:  []want{{"services.worker.stopTimeoutSeconds", "20 is not above app.shutdownTimeoutSeconds 20; allowed 21 to 120"}}},
		{name: "a stop timeout of 120 seconds is the maximum",
			patch: `{"app": {"shutdownTimeoutSeconds": 110}, "services": {"web": {"stopTimeoutSeconds": 120}, "worker": {"stopTimeoutSeconds": 120}, "clock": {"stopTimeoutSeconds": 120}}}`},
		{name: "a stop timeout above 120 seconds is rejected",
			patch: `{"services": {"web": {"stopTimeoutSeconds": 121}}}`,
			want:  []want{{"services.web.stopTimeoutSeconds", "121 is too large; allowed 2 to 120"}}},
		{name: "a request timeout equal to the shutdown drain is rejected",
			patch: `{"app": {"requestTimeoutSeconds": 20}}`,
			want:  []want{{"app.requestTimeoutSeconds", "20 is not below app.shutdownTimeoutSeconds 20; allowed at most 19"}}},
		{name: "a drain delay that leaves a request less than its timeout within the shutdown drain is rejected",
			patch: `{"app": {"drainDelaySeconds": 10}}`,
			want:  []want{{"app.drainDelaySeconds", "10 leaves a request less than its app.requestTimeoutSeconds 10 to finish within app.shutdownTimeoutSeconds 20; allowed 0 to 9"}}},

		// AWS target.
		{name: "an aws stack without a region is rejected",
			patch: `{"aws": null}`,
			want:  []want{{"aws.region", "required when target is \"aws\""}}},
		{name: "an aws stack without a certificate is rejected",
			patch: `{"loadBalancer": null}`,
			want:  []want{{"loadBalancer", "neither loadBalancer.hostedZone nor loadBalancer.certificateArn is set"}}},
		{name: "a certificate from another region is rejected",
			patch: `{"loadBalancer": {"certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc"}}`,
			want:  []want{{"loadBalancer.certificateArn", "certificate is in us-east-1; allowed: a certificate in aws.region eu-west-1"}}},
		{name: "a malformed certificate ARN is rejected by pattern",
			patch: `{"loadBalancer": {"certificateArn": "arn:aws:iam::123:cert"}}`,
			want:  []want{{"loadBalancer.certificateArn", "is not an ACM certificate ARN"}}},
		{name: "a docker stack needs no region nor certificate", base: dockerBase},

		// Network.
		{name: "one availability zone is rejected",
			patch: `{"network": {"azCount": 1}}`,
			want:  []want{{"network.azCount", "1 is too small; allowed 2 to 6"}}},
		{name: "a CIDR with host bits set is rejected with the network address",
			patch: `{"network": {"cidr": "10.0.0.1/16"}}`,
			want:  []want{{"network.cidr", `allowed "10.0.0.0/16"`}}},
		{name: "a CIDR wider than /16 is rejected",
			patch: `{"network": {"cidr": "10.0.0.0/8"}}`,
			want:  []want{{"network.cidr", "is not an IPv4 CIDR block from /16 to /23"}}},
		{name: "an unknown NAT layout is rejected",
			patch: `{"network": {"natGateways": "none"}}`,
			want:  []want{{"network.natGateways", `"none" is not a NAT layout; allowed "single", "perAz"`}}},

		// Database TLS.
		{name: "each RDS certificate authority the image's bundle holds is accepted",
			patch: `{"database": {"caCertIdentifier": "rds-ca-ecc384-g1"}}`},
		{name: "the expired rds-ca-2019 certificate authority is rejected with the allowed ones",
			patch: `{"database": {"caCertIdentifier": "rds-ca-2019"}}`,
			want:  []want{{"database.caCertIdentifier", `"rds-ca-2019" is not an RDS certificate authority; allowed "rds-ca-rsa2048-g1", "rds-ca-rsa4096-g1", "rds-ca-ecc384-g1"`}}},
		{name: "an empty certificate authority is rejected rather than left to the AWS default",
			patch: `{"database": {"caCertIdentifier": ""}}`,
			want:  []want{{"database.caCertIdentifier", `allowed "rds-ca-rsa2048-g1"`}}},

		// App env and secrets.
		{name: "custom env vars and secrets with valid names are accepted",
			patch: `{"app": {"env": {"FEATURE_X": "on", "_PRIVATE": "a b # c"}, "secrets": ["STRIPE_KEY", "SENTRY_DSN"]}}`},
		{name: "a lowercase env var name is rejected",
			patch: `{"app": {"env": {"feature": "on"}}}`,
			want:  []want{{"app.env.feature", `"feature" is not an env var name matching ^[A-Z_][A-Z0-9_]*$`}}},
		{name: "an env var Shipyard derives cannot be overridden",
			patch: `{"app": {"env": {"DATABASE_URL": "postgres://elsewhere"}}}`,
			want:  []want{{"app.env.DATABASE_URL", `"DATABASE_URL" is derived by Shipyard`}}},
		{name: "a secret named like a derived secret is rejected",
			patch: `{"app": {"secrets": ["DATABASE_PASSWORD"]}}`,
			want:  []want{{"app.secrets[0]", `"DATABASE_PASSWORD" is derived by Shipyard`}}},
		{name: "the PR database variables Shipyard sets for app preview are refused in app.env and app.secrets",
			patch: `{"app": {"env": {"PREVIEW_DATABASE": "pr_1", "PREVIEW_DATABASE_USER": "pr_1"}, "secrets": ["PREVIEW_DATABASE_PASSWORD"]}}`,
			want: []want{
				{"app.env.PREVIEW_DATABASE", `"PREVIEW_DATABASE" is set by Shipyard on a PR environment's ` + "`app preview`" + ` commands only (the PR's own database, user and password); not allowed here (nor PREVIEW_DATABASE, PREVIEW_DATABASE_USER, PREVIEW_DATABASE_PASSWORD)`},
				{"app.env.PREVIEW_DATABASE_USER", `"PREVIEW_DATABASE_USER" is set by Shipyard`},
				{"app.secrets[0]", `"PREVIEW_DATABASE_PASSWORD" is set by Shipyard`}}},
		{name: "an OTEL_ variable Shipyard does not derive is refused: it would override tracing.*",
			patch: `{"app": {"env": {"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://elsewhere:4318/v1/traces"}}}`,
			want: []want{
				{"app.env.OTEL_TRACES_EXPORTER", `"OTEL_TRACES_EXPORTER" would override the tracing Shipyard sets from tracing.enabled and tracing.samplingRatio; not allowed here (no OTEL_* name): set tracing.* instead`},
				{"app.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", `"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" would override the tracing`}}},
		{name: "a name both plain and secret is rejected",
			patch: `{"app": {"env": {"API_KEY": "x"}, "secrets": ["API_KEY"]}}`,
			want:  []want{{"app.env.API_KEY", "also in app.secrets"}}},
		{name: "a secret listed twice is rejected",
			patch: `{"app": {"secrets": ["API_KEY", "API_KEY"]}}`,
			want:  []want{{"app.secrets", "items 0 and 1 are equal"}}},
		{name: "a secret with an invalid name is rejected",
			patch: `{"app": {"secrets": ["api-key"]}}`,
			want:  []want{{"app.secrets[0]", `"api-key" is not an env var name`}}},
		{name: "an env value with a line break is rejected",
			patch: `{"app": {"env": {"MULTI": "a\nb"}}}`,
			want:  []want{{"app.env.MULTI", "is not a single line"}}},

		// Optional hardening (performance insights, enhanced monitoring, endpoints, WAF).
		{name: "dev may turn the optional hardening off (the cost exception)",
			patch: `{"database": {"performanceInsights": false, "monitoringIntervalSeconds": 0}, "network": {"vpcEndpoints": false}, "loadBalancer": {"waf": {"enabled": false}}}`},
		{name: "staging turning the optional hardening off is rejected field by field", stack: "staging",
			patch: `{"database": {"performanceInsights": false, "monitoringIntervalSeconds": 0}, "network": {"vpcEndpoints": false}, "loadBalancer": {"waf": {"enabled": false}}}`,
			want: []want{{"database.performanceInsights", "is off in stack staging; allowed only in dev"},
				{"database.monitoringIntervalSeconds", "is 0 (enhanced monitoring off) in stack staging; allowed 1, 5, 10, 15, 30 or 60"},
				{"network.vpcEndpoints", "is off in stack staging"}, {"loadBalancer.waf.enabled", "is off in stack staging"}}},
		{name: "prod without a web ACL is rejected", stack: "prod", base: string(mustPatch(awsBase, prodOK)),
			patch: `{"loadBalancer": {"waf": {"enabled": false}}}`,
			want:  []want{{"loadBalancer.waf.enabled", "is off in stack prod"}}},
		{name: "an enhanced monitoring interval RDS does not offer is rejected with the allowed ones",
			patch: `{"database": {"monitoringIntervalSeconds": 20}}`,
			want:  []want{{"database.monitoringIntervalSeconds", "20 is not an enhanced monitoring interval; allowed 0, 1, 5, 10, 15, 30, 60"}}},
		{name: "a Performance Insights retention that is not 7 or a month multiple is rejected",
			patch: `{"database": {"performanceInsightsRetentionDays": 30}}`,
			want:  []want{{"database.performanceInsightsRetentionDays", "30 is not a Performance Insights retention; allowed 7, 31, 62"}}},
		{name: "two years of Performance Insights is valid", patch: `{"database": {"performanceInsightsRetentionDays": 731}}`},
		{name: "log_statement none is rejected: DDL is always logged",
			patch: `{"database": {"logStatement": "none"}}`,
			want:  []want{{"database.logStatement", `"none" is not a log_statement setting; allowed "ddl", "mod", "all"`}}},
		{name: "a negative slow statement threshold is rejected",
			patch: `{"database": {"logMinDurationMs": -1}}`,
			want:  []want{{"database.logMinDurationMs", "-1 is too small; allowed 0 to 3600000"}}},
		{name: "a web ACL rate limit below AWS's minimum is rejected",
			patch: `{"loadBalancer": {"waf": {"rateLimitPer5Min": 10}}}`,
			want:  []want{{"loadBalancer.waf.rateLimitPer5Min", "10 is too small; allowed 100 to 2000000000"}}},

		{name: "a web ACL limit below the app's own limit is rejected",
			patch: `{"app": {"rateLimitPerMinute": 600}, "loadBalancer": {"waf": {"rateLimitPer5Min": 2000}}}`,
			want:  []want{{"loadBalancer.waf.rateLimitPer5Min", "2000 is below 5 × app.rateLimitPerMinute 600 = 3000; allowed at least 3000"}}},
		{name: "a web ACL limit of exactly 5 × the app's limit is valid",
			patch: `{"app": {"rateLimitPerMinute": 100}, "loadBalancer": {"waf": {"rateLimitPer5Min": 500}}}`},
		{name: "without a web ACL its limit is not judged",
			patch: `{"app": {"rateLimitPerMinute": 600}, "loadBalancer": {"waf": {"enabled": false, "rateLimitPer5Min": 100}}}`},

		// Redis AUTH token rotation.
		{name: "a rotation under way accepts the previous token", patch: `{"cache": {"authTokenVersion": 2, "retiredAuthTokenVersion": 0}}`},
		{name: "a finished rotation retires the previous token", patch: `{"cache": {"authTokenVersion": 2, "retiredAuthTokenVersion": 1}}`},
		{name: "a token generation two ahead of the retired one is rejected: Redis keeps at most two tokens",
			patch: `{"cache": {"authTokenVersion": 3, "retiredAuthTokenVersion": 0}}`,
			want:  []want{{"cache.retiredAuthTokenVersion", "0 with cache.authTokenVersion 3; allowed 2 (only the current token) or 1 (the previous one still accepted)"}}},
		{name: "retiring the current token is rejected",
			patch: `{"cache": {"retiredAuthTokenVersion": 1}}`,
			want:  []want{{"cache.retiredAuthTokenVersion", "1 with cache.authTokenVersion 1; allowed 0"}}},

		// Database and tags.
		{name: "a storage ceiling below the allocated storage is rejected",
			patch: `{"database": {"allocatedStorageGb": 200, "maxAllocatedStorageGb": 100}}`,
			want:  []want{{"database.maxAllocatedStorageGb", "100 is below database.allocatedStorageGb 200; allowed 0 or at least 200"}}},
		{name: "storage autoscaling may be turned off", patch: `{"database": {"allocatedStorageGb": 200, "maxAllocatedStorageGb": 0}}`},
		{name: "a tag key reserved by AWS is rejected",
			patch: `{"tags": {"aws:owner": "me"}}`,
			want:  []want{{"tags.aws:owner", "reserved by AWS"}}},

		// Alarms and the local Prometheus.
		{name: "an alarm override with a known name is accepted",
			patch: `{"alarms": {"overrides": {"targetErrorRate": {"threshold": 2, "periodSeconds": 300, "evaluationPeriods": 3, "severity": "warning"}}, "notify": {"emails": ["oncall@example.com"], "httpsEndpoints": ["https://hooks.example.com/sns"]}}}`},
		{name: "an alarm override with an unknown name is rejected with the alarm names",
			patch: `{"alarms": {"overrides": {"errorRate": {"threshold": 2}}}}`,
			want:  []want{{"alarms.overrides.errorRate", `allowed "targetErrorRate", "loadBalancerErrorRate"`}}},
		{name: "an alarm period CloudWatch does not allow is rejected",
			patch: `{"alarms": {"overrides": {"cpuHigh": {"periodSeconds": 45}}}}`,
			want:  []want{{"alarms.overrides.cpuHigh.periodSeconds", "allowed 10, 30, 60"}}},
		{name: "an unknown severity is rejected",
			patch: `{"alarms": {"overrides": {"cpuHigh": {"severity": "page"}}}}`,
			want:  []want{{"alarms.overrides.cpuHigh.severity", `allowed "critical", "warning"`}}},
		{name: "a notification endpoint over plain HTTP is rejected",
			patch: `{"alarms": {"notify": {"httpsEndpoints": ["http://hooks.example.com/sns"]}}}`,
			want:  []want{{"alarms.notify.httpsEndpoints[0]", "https://"}}},
		{name: "Prometheus on the port nginx publishes is rejected",
			stack: "local", base: `{"target": "docker"}`, patch: `{"local": {"httpPort": 8081, "prometheusPort": 8081}}`,
			want: []want{{"local.prometheusPort", "8081 is local.httpPort too; allowed any other port"}}},
		{name: "Prometheus on its own port is accepted",
			stack: "local", base: `{"target": "docker"}`, patch: `{"local": {"httpPort": 8081, "prometheusPort": 9091}}`},
		{name: "an HTTPS port equal to the HTTP port is rejected",
			stack: "local", base: `{"target": "docker"}`, patch: `{"local": {"httpPort": 8081, "httpsPort": 8081}}`,
			want: []want{{"local.httpsPort", "8081 is local.httpPort too; allowed any other port"}}},
		{name: "a Prometheus port equal to the HTTPS port is rejected",
			stack: "local", base: `{"target": "docker"}`, patch: `{"local": {"httpsPort": 9443, "prometheusPort": 9443}}`,
			want: []want{{"local.prometheusPort", "9443 is local.httpsPort too; allowed any other port"}}},
		{name: "Jaeger on the port Prometheus publishes is rejected",
			stack: "local", base: `{"target": "docker"}`, patch: `{"local": {"prometheusPort": 9091, "jaegerPort": 9091}}`,
			want: []want{{"local.jaegerPort", "9091 is local.prometheusPort too; allowed any other port"}}},
		{name: "a sampling ratio above 1 is rejected",
			patch: `{"tracing": {"samplingRatio": 2}}`,
			want:  []want{{"tracing.samplingRatio", ""}}},

		// The app's own rules on app.env (app/appenv).
		{name: "a MAX_BODY_BYTES that is not a number is refused with the app's range",
			patch: `{"app": {"env": {"MAX_BODY_BYTES": "abc"}}}`,
			want:  []want{{"app.env.MAX_BODY_BYTES", `the app refuses it at start: MAX_BODY_BYTES: must be an integer from 1 to 1073741824 (got "abc")`}}},
		{name: "a WORKER_CONCURRENCY of 0 is refused with the app's range",
			patch: `{"app": {"env": {"WORKER_CONCURRENCY": "0"}}}`,
			want:  []want{{"app.env.WORKER_CONCURRENCY", `the app refuses it at start: WORKER_CONCURRENCY: must be an integer from 1 to 1000 (got "0")`}}},
		{name: "a QUEUE_METRICS_INTERVAL over an hour is refused with the app's range",
			patch: `{"app": {"env": {"QUEUE_METRICS_INTERVAL": "2h"}}}`,
			want:  []want{{"app.env.QUEUE_METRICS_INTERVAL", `the app refuses it at start: QUEUE_METRICS_INTERVAL: must be a Go duration such as "60s", from 1s to 1h0m0s, or 0 for off (got "2h")`}}},
		{name: "app.env values within the app's ranges are accepted",
			patch: `{"app": {"env": {"MAX_BODY_BYTES": "2097152", "WORKER_CONCURRENCY": "20", "QUEUE_METRICS_INTERVAL": "0"}}}`},
		{name: "an app.env variable the app does not read is not judged",
			patch: `{"app": {"env": {"FEATURE_X": "abc"}}}`},

		// Several problems at once.
		{name: "schema and cross-field problems are reported together",
			patch: `{"services": {"web": {"cpu": 300, "maxCount": 0}}, "app": {"idleTimeoutSeconds": 30, "logLevel": "loud"}}`,
			want: []want{{"services.web.cpu", "not a Fargate size"}, {"app.logLevel", `"loud" is not a log level; allowed "debug", "info", "warn", "error"`},
				{"app.idleTimeoutSeconds", "not above loadBalancer.idleTimeoutSeconds"}, {"services.web.minCount", "above maxCount 0"}}},
	}
	schema := repoSchema(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stack, base := tt.stack, tt.base
			if stack == "" {
				stack = "dev"
			}
			if base == "" {
				base = awsBase
			}
			data := patched(t, base, tt.patch)
			cfg, err := Parse(stack, data, schema)
			checkProblems(t, problemsOf(t, err), tt.want...)
			if err == nil && cfg.Stack != stack {
				t.Errorf("Stack = %q, want %q", cfg.Stack, stack)
			}
		})
	}
}

// mustPatch is patched for table literals; it panics on bad JSON.
func mustPatch(base, patch string) []byte {
	var b, p map[string]any
	if err := json.Unmarshal([]byte(base), &b); err != nil {
		panic(err)
	}
	if err := json.Unmarshal([]byte(patch), &p); err != nil {
		panic(err)
	}
	return deepMerge(b, p)
}

// TestValidateOnConfigsBuiltInCode checks that Validate works without a
// file: on Defaults() and on a hand-made Config.
func TestValidateOnConfigsBuiltInCode(t *testing.T) {
	c := Defaults()
	c.Target = TargetDocker
	if err := c.Validate(); err != nil {
		t.Errorf("Defaults() with target docker: %v", err)
	}
	c.Target = ""
	c.Services.Web.StopTimeoutSeconds = 500
	c.App.Env = map[string]string{"bad name": "x"}
	checkProblems(t, problemsOf(t, c.Validate()),
		want{"target", `"" is not a target`},
		want{"services.web.stopTimeoutSeconds", "500 is too large; allowed 21 to 120"},
		want{"app.env.bad name", "is not an env var name"})
}

// TestADerivedValueTheAppRefusesBlamesTheProject: the schema keeps a file
// from deriving a value the app refuses, so one in a Config built in code
// is reported at its field as the project's bug.
func TestADerivedValueTheAppRefusesBlamesTheProject(t *testing.T) {
	c := Defaults()
	c.Target = TargetDocker
	c.App.LogLevel = "loud"
	checkProblems(t, problemsOf(t, c.Validate()),
		want{"app.logLevel", `the app refuses LOG_LEVEL derived from the stack config: LOG_LEVEL: must be one of "debug", "info", "warn", "error" (got "loud") (the stack config's rules and app/internal/config disagree`})
}

func TestFargateMemory(t *testing.T) {
	for cpu, want := range map[int][]int{
		256:  {512, 1024, 2048},
		512:  {1024, 2048, 3072, 4096},
		1024: {2048, 3072, 4096, 5120, 6144, 7168, 8192},
		300:  nil,
	} {
		if got := FargateMemory(cpu); !slices.Equal(got, want) {
			t.Errorf("FargateMemory(%d) = %v, want %v", cpu, got, want)
		}
	}
	if got := FargateMemory(2048); got[0] != 4096 || got[len(got)-1] != 16384 || len(got) != 13 {
		t.Errorf("FargateMemory(2048) = %v", got)
	}
	if got := FargateMemory(4096); got[0] != 8192 || got[len(got)-1] != 30720 || len(got) != 23 {
		t.Errorf("FargateMemory(4096) = %v", got)
	}
}

func TestRulesAreDocumented(t *testing.T) {
	for i, r := range Rules() {
		if r.Doc == "" || r.check == nil {
			t.Errorf("rule %d has no doc or no check", i)
		}
	}
}

// TestRulesDoNotJudgeFieldsTheSchemaRejected checks that a field with a
// schema problem does not also produce cross-field problems through its
// default value.
func TestRulesDoNotJudgeFieldsTheSchemaRejected(t *testing.T) {
	schema := repoSchema(t)
	for _, tt := range []struct {
		name, patch string
		want        want
	}{
		{"a cpu given as a string does not make the memory wrong",
			`{"services": {"web": {"cpu": "1024", "memory": 4096}}}`, want{"services.web.cpu", "is a string"}},
		{"a web port out of bounds does not make the worker port wrong",
			`{"services": {"web": {"port": 80}, "worker": {"port": 80}, "clock": {"port": 80}}}`, want{"services.web.port", "too small"}},
		{"a load-balancer timeout of the wrong type does not make the app's wrong",
			`{"loadBalancer": {"idleTimeoutSeconds": "90"}, "app": {"idleTimeoutSeconds": 70}}`, want{"loadBalancer.idleTimeoutSeconds", "is a string"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("dev", patched(t, awsBase, tt.patch), schema)
			ps := problemsOf(t, err)
			// The worker and clock ports are also out of bounds in the
			// second case; only the web port's dependents must vanish.
			var kept []Problem
			for _, p := range ps {
				if p.Path == tt.want.path || !strings.Contains(p.Message, "too small") {
					kept = append(kept, p)
				}
			}
			checkProblems(t, kept, tt.want)
		})
	}
}

// The retentions the CloudWatch.16 rule offers are exactly the schema's
// allowed retentions of at least MinLogRetentionDays.
func TestLongRetentionsAreTheSchemasRetentionsFrom365(t *testing.T) {
	b := repoSchema(t)
	var s struct {
		Properties struct {
			Logging struct {
				Properties struct {
					RetentionDays struct {
						Enum []int `json:"enum"`
					} `json:"retentionDays"`
				} `json:"properties"`
			} `json:"logging"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	var want []int
	for _, n := range s.Properties.Logging.Properties.RetentionDays.Enum {
		if n >= MinLogRetentionDays {
			want = append(want, n)
		}
	}
	if !slices.Equal(longRetentions, want) {
		t.Errorf("longRetentions %v, schema's retentions ≥ %d: %v", longRetentions, MinLogRetentionDays, want)
	}
}

// The certificate authorities the schema allows are RDSCACertIdentifiers,
// in the same order (the first is the default).
func TestRDSCertificateAuthoritiesAreTheSchemas(t *testing.T) {
	var s struct {
		Properties struct {
			Database struct {
				Properties struct {
					CACertIdentifier struct {
						Enum []string `json:"enum"`
					} `json:"caCertIdentifier"`
				} `json:"properties"`
			} `json:"database"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(repoSchema(t), &s); err != nil {
		t.Fatal(err)
	}
	if got := s.Properties.Database.Properties.CACertIdentifier.Enum; !slices.Equal(got, RDSCACertIdentifiers) {
		t.Errorf("schema allows %v, RDSCACertIdentifiers %v", got, RDSCACertIdentifiers)
	}
}
