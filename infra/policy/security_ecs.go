package policy

import (
	"fmt"
	"strings"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// containerRule checks every container of every task definition.
func containerRule(id, title, reason string, check func(c container) string) Rule {
	return Rule{ID: id, Title: title, Reason: reason, Types: []string{TypeTaskDefinition},
		Check: func(r Resource) []string {
			cs, ok, err := containers(r)
			if err != nil {
				return []string{err.Error()}
			}
			if !ok {
				return nil
			}
			var out []string
			for _, c := range cs {
				if msg := check(c); msg != "" {
					out = append(out, fmt.Sprintf("container %s: %s", c.Name, msg))
				}
			}
			return out
		}}
}

func ecsRules() []Rule {
	return []Rule{
		containerRule("ECS.5", "Containers have a read-only root filesystem", "an attacker must not be able to modify the image at runtime",
			func(c container) string {
				if c.isLogRouter() && strings.Contains(c.Image, "aws-for-fluent-bit:init-") {
					return "" // Exception: the init image writes /init.
				}
				if c.ReadonlyRootFilesystem == nil || !*c.ReadonlyRootFilesystem {
					return "readonlyRootFilesystem must be true"
				}
				return ""
			}),
		containerRule("ECS.8", "Secrets are never passed as environment variables", "env vars leak through the console, describe-task-definition and crash dumps",
			func(c container) string {
				secret := map[string]bool{}
				for _, s := range c.Secrets {
					secret[s.Name] = true
				}
				for _, e := range c.Environment {
					if secret[e.Name] || secretEnvName.MatchString(e.Name) {
						return fmt.Sprintf("environment variable %s looks like a secret; use secrets", e.Name)
					}
				}
				return ""
			}),
		containerRule("ECS.20", "Containers run as a non-root user", "a container escape as root is a host compromise",
			func(c container) string {
				if c.isLogRouter() {
					return "" // Exception: FireLens requires root.
				}
				uid, _, _ := strings.Cut(c.User, ":")
				if uid == "" || uid == "0" || uid == "root" {
					return fmt.Sprintf("user %q must be a non-root uid", c.User)
				}
				return ""
			}),
		containerRule("ECS.4", "Containers are not privileged", "privileged containers have the host's capabilities",
			func(c container) string {
				if c.Privileged != nil && *c.Privileged {
					return "privileged must be false"
				}
				return ""
			}),
		containerRule("ECS.9", "Containers have a log configuration", "every container's output must be kept",
			func(c container) string {
				if c.LogConfiguration == nil || c.LogConfiguration.LogDriver == "" {
					return "logConfiguration is missing"
				}
				return ""
			}),
		{ID: "ECS.17", Title: "Tasks use awsvpc networking", Reason: "host networking bypasses security groups", Types: []string{TypeTaskDefinition},
			Check: func(r Resource) []string {
				if m := r.String("networkMode"); m != "awsvpc" {
					return []string{fmt.Sprintf("networkMode %q: want awsvpc", m)}
				}
				if r.String("pidMode") == "host" {
					return []string{"pidMode host shares the host's process namespace (ECS.3)"}
				}
				return nil
			}},
		{ID: "ECS.2", Title: "Services get no public IPs", Reason: "tasks are reached through the ALB only", Types: []string{TypeECSService},
			Check: func(r Resource) []string {
				if r.True("networkConfiguration.assignPublicIp") {
					return []string{"networkConfiguration.assignPublicIp must be false"}
				}
				return nil
			}},
		{ID: "ECS.10", Title: "Fargate services run the latest platform version", Reason: "platform versions carry kernel and runtime fixes", Types: []string{TypeECSService},
			Check: func(r Resource) []string {
				if p := r.String("platformVersion"); p != "" && p != "LATEST" {
					return []string{fmt.Sprintf("platformVersion %q: want LATEST", p)}
				}
				return nil
			}},
		{ID: "ECS.12", Title: "The cluster has Container Insights", Reason: "task metrics are needed to operate the services", Types: []string{TypeECSCluster},
			Check: func(r Resource) []string {
				for i := 0; i < r.Len("settings"); i++ {
					p := fmt.Sprintf("settings.%d.", i)
					if r.String(p+"name") == "containerInsights" && (r.String(p+"value") == "enabled" || r.String(p+"value") == "enhanced") {
						return nil
					}
				}
				return []string{"containerInsights setting must be enabled"}
			}},
		{ID: "SHIPYARD-LOGS-1", Title: "Container Insights writes to a log group of the stack", Reason: "otherwise AWS creates it on first use, outside the stack, without the stack's key and retention",
			Types: []string{TypeECSCluster},
			CheckStack: func(rs []Resource) []Violation {
				groups := map[string]bool{}
				for _, r := range rs {
					if r.Type == TypeLogGroup {
						groups[r.String("name")] = true
					}
				}
				var out []Violation
				for _, r := range rs {
					if r.Type != TypeECSCluster || r.IsUnknown("name") {
						continue
					}
					insights := false
					for i := 0; i < r.Len("settings"); i++ {
						p := fmt.Sprintf("settings.%d.", i)
						insights = insights || (r.String(p+"name") == "containerInsights" && r.String(p+"value") != "disabled")
					}
					if want := ContainerInsightsLogGroup(r.String("name")); insights && !groups[want] {
						out = append(out, Violation{URN: r.URN, Message: "no log group " + want + " in the stack"})
					}
				}
				return out
			}},
	}
}

// ContainerInsightsLogGroup is where Container Insights writes a cluster's
// performance events.
func ContainerInsightsLogGroup(cluster string) string {
	return "/aws/ecs/containerinsights/" + cluster + "/performance"
}

func ecrRules() []Rule {
	repo := []string{TypeECRRepository}
	return []Rule{
		{ID: "ECR.1", Title: "ECR scans images on push", Reason: "known vulnerabilities must surface before deploy", Types: repo,
			Check: func(r Resource) []string {
				if !r.True("imageScanningConfiguration.scanOnPush") {
					return []string{"imageScanningConfiguration.scanOnPush must be true"}
				}
				return nil
			}},
		{ID: "ECR.2", Title: "ECR tags are immutable", Reason: "a released tag must always name the same image", Types: repo,
			Check: func(r Resource) []string {
				if r.String("imageTagMutability") != "IMMUTABLE" {
					return []string{"imageTagMutability must be IMMUTABLE"}
				}
				return nil
			}},
		{ID: "ECR.3", Title: "ECR has a lifecycle policy", Reason: "old images must expire", Types: repo,
			CheckStack: func(rs []Resource) []Violation {
				repos, policies := count(rs, TypeECRRepository), count(rs, TypeECRLifecycle)
				if policies < repos {
					return []Violation{{Message: fmt.Sprintf("%d repositories, %d lifecycle policies", repos, policies)}}
				}
				return nil
			}},
		{ID: "SHIPYARD-ECR-1", Title: "ECR is encrypted with KMS", Reason: "images may embed sensitive code", Types: repo,
			Check: func(r Resource) []string {
				if r.String("encryptionConfigurations.0.encryptionType") != "KMS" {
					return []string{"encryptionConfigurations[0].encryptionType must be KMS"}
				}
				return nil
			}},
	}
}

func logRules() []Rule {
	lg := []string{TypeLogGroup}
	return []Rule{
		{ID: "CKV_AWS_66", Title: "Log groups have a retention", Reason: "logs must expire on purpose, not accumulate forever", Types: lg,
			Check: func(r Resource) []string {
				if n, _ := r.Number("retentionInDays"); n <= 0 {
					return []string{"retentionInDays must be set"}
				}
				return nil
			}},
		{ID: "CloudWatch.16", Title: fmt.Sprintf("Log groups keep logs at least %d days", stackconfig.MinLogRetentionDays), Reason: "an investigation may need a year of logs", Types: lg,
			Check: func(r Resource) []string {
				if r.Stack() == stackconfig.DevStack {
					return nil // Exception: dev keeps fewer days (cost).
				}
				if IsPreviewStack(r.Stack()) {
					return nil // Exception: PR environments keep previews.logRetentionDays.
				}
				if n, set := r.Number("retentionInDays"); set && n > 0 && n < stackconfig.MinLogRetentionDays {
					return []string{fmt.Sprintf("retentionInDays %v < %d", n, stackconfig.MinLogRetentionDays)}
				}
				return nil
			}},
		{ID: "CKV_AWS_158", Title: "Log groups are encrypted with KMS", Reason: "logs may contain personal data", Types: lg,
			Check: func(r Resource) []string {
				if _, ok := r.Get("kmsKeyId"); !ok {
					return []string{"kmsKeyId must be set"}
				}
				return nil
			}},
		{ID: "KMS.4", Title: "KMS keys rotate", Reason: "key rotation limits the blast radius of a leaked key", Types: []string{TypeKMSKey},
			Check: func(r Resource) []string {
				if !r.True("enableKeyRotation") {
					return []string{"enableKeyRotation must be true"}
				}
				return nil
			}},
	}
}
