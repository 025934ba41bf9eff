package policy

import (
	"fmt"
	"strings"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

func elbRules() []Rule {
	lbs := []string{TypeLoadBalancer}
	return []Rule{
		{ID: "ELB.1", Title: "HTTP only redirects to HTTPS", Reason: "plain HTTP must never reach the app", Types: []string{TypeListener},
			Check: func(r Resource) []string {
				switch r.String("protocol") {
				case "HTTPS":
					return nil
				case "HTTP":
				default:
					return []string{fmt.Sprintf("listener protocol %q: want HTTPS, or HTTP that redirects", r.String("protocol"))}
				}
				n := r.Len("defaultActions")
				if n == 0 {
					return []string{"HTTP listener has no default action"}
				}
				var out []string
				for i := 0; i < n; i++ {
					p := fmt.Sprintf("defaultActions.%d.", i)
					if r.String(p+"type") != "redirect" || r.String(p+"redirect.protocol") != "HTTPS" || r.String(p+"redirect.statusCode") != "HTTP_301" {
						out = append(out, "HTTP listener action must be a 301 redirect to HTTPS")
					}
				}
				return out
			}},
		{ID: "ELB.17", Title: "HTTPS uses an allowed TLS policy", Reason: "only TLS 1.2+/1.3 with forward-secret ciphers", Types: []string{TypeListener},
			Check: func(r Resource) []string {
				if r.String("protocol") != "HTTPS" {
					return nil
				}
				var out []string
				if p := r.String("sslPolicy"); !contains(AllowedSSLPolicies, p) {
					out = append(out, fmt.Sprintf("sslPolicy %q is not in the allow-list", p))
				}
				if r.String("certificateArn") == "" {
					out = append(out, "HTTPS listener has no certificate")
				}
				return out
			}},
		{ID: "ACM.2", Title: "ACM certificates use RSA keys of at least 2048 bits or an ECDSA key", Reason: "shorter RSA keys can be factored", Types: []string{TypeACMCertificate},
			Check: func(r Resource) []string {
				// Unset means ACM's default, RSA_2048.
				if k := r.String("keyAlgorithm"); k != "" && !contains(ACMKeyAlgorithms, k) {
					return []string{fmt.Sprintf("keyAlgorithm %q: allowed %s", k, strings.Join(ACMKeyAlgorithms, ", "))}
				}
				return nil
			}},
		{ID: "SHIPYARD-ACM-1", Title: "ACM certificates are validated by DNS", Reason: "a DNS-validated certificate renews by itself; email validation waits for a person to click, and lapses when nobody does",
			Types: []string{TypeACMCertificate},
			Check: func(r Resource) []string {
				if m := r.String("validationMethod"); m != "DNS" && !r.IsUnknown("validationMethod") {
					return []string{fmt.Sprintf("validationMethod %q: want DNS", m)}
				}
				return nil
			}},
		{ID: "SHIPYARD-ACM-2", Title: "HTTPS listeners serve a certificate the stack waited to see issued", Reason: "a listener created before its certificate is issued fails, or serves nothing valid, on the first deploy",
			Types: []string{TypeListener, TypeACMCertificate, TypeCertValidation},
			CheckStack: func(rs []Resource) []Violation {
				certs, validated := map[string]bool{}, map[string]bool{}
				for _, r := range rs {
					switch r.Type {
					case TypeACMCertificate:
						certs[r.URN] = true
					case TypeCertValidation:
						if !r.IsUnknown("certificateArn") {
							validated[r.String("certificateArn")] = true
						}
					}
				}
				if len(certs) == 0 {
					return nil // your own certificate (loadBalancer.certificateArn)
				}
				var out []Violation
				if count(rs, TypeCertValidation) < len(certs) {
					out = append(out, Violation{Message: fmt.Sprintf("%d ACM certificates, %d certificate validations", len(certs), count(rs, TypeCertValidation))})
				}
				for _, r := range rs {
					if r.Type != TypeListener || r.String("protocol") != "HTTPS" || r.IsUnknown("certificateArn") {
						continue
					}
					if arn := r.String("certificateArn"); !validated[arn] {
						out = append(out, Violation{URN: r.URN, Message: fmt.Sprintf("certificateArn %q is not the ARN of a certificate validation of the stack", arn)})
					}
				}
				return out
			}},
		{ID: "SHIPYARD-ELB-1", Title: "HTTPS listeners send HSTS for at least a year", Reason: "without Strict-Transport-Security a browser's next visit may start over plain HTTP, where it can be intercepted before the redirect",
			Types: []string{TypeListener},
			Check: func(r Resource) []string {
				const path = "routingHttpResponseStrictTransportSecurityHeaderValue"
				if r.String("protocol") != "HTTPS" || r.IsUnknown(path) {
					return nil
				}
				v := r.String(path)
				var age int
				for _, part := range strings.Split(v, ";") {
					if n, ok := strings.CutPrefix(strings.TrimSpace(part), "max-age="); ok {
						fmt.Sscan(n, &age)
					}
				}
				if age < MinHSTSMaxAge {
					return []string{fmt.Sprintf("%s %q: want max-age of at least %d", path, v, MinHSTSMaxAge)}
				}
				return nil
			}},
		{ID: "ELB.4", Title: "The ALB drops invalid header fields", Reason: "malformed headers enable request smuggling", Types: lbs,
			Check: func(r Resource) []string {
				if !r.True("dropInvalidHeaderFields") {
					return []string{"dropInvalidHeaderFields must be true"}
				}
				return nil
			}},
		{ID: "ELB.5", Title: "The ALB writes access logs", Reason: "requests must be traceable after the fact", Types: lbs,
			Check: func(r Resource) []string {
				if !r.True("accessLogs.enabled") || (r.String("accessLogs.bucket") == "" && !r.IsUnknown("accessLogs.bucket")) {
					return []string{"accessLogs must be enabled with a bucket"}
				}
				return nil
			}},
		{ID: "ELB.6", Title: "The ALB has deletion protection in prod", Reason: "a stray destroy must not take prod offline", Types: lbs, ProdOnly: true,
			Check: func(r Resource) []string {
				if !r.True("enableDeletionProtection") {
					return []string{"enableDeletionProtection must be true"}
				}
				return nil
			}},
		{ID: "ELB.12", Title: "The ALB mitigates HTTP desync", Reason: "desync attacks poison shared connections", Types: lbs,
			Check: func(r Resource) []string {
				if m := r.String("desyncMitigationMode"); m != "defensive" && m != "strictest" {
					return []string{fmt.Sprintf("desyncMitigationMode %q: want defensive or strictest", m)}
				}
				return nil
			}},
		{ID: "ELB.13", Title: "The ALB spans at least two AZs", Reason: "an AZ outage must not take the entry point down", Types: lbs,
			Check: func(r Resource) []string {
				if r.IsUnknown("subnets") || r.IsUnknown("subnetMappings") {
					return nil
				}
				if n := max(r.Len("subnets"), r.Len("subnetMappings")); n < 2 {
					return []string{fmt.Sprintf("%d subnets < 2", n)}
				}
				return nil
			}},
		{ID: "ELB.22", Title: "Target groups use an encrypted protocol", Reason: "traffic to the targets must not be readable on the way", Types: []string{TypeTargetGroup},
			Check: func(r Resource) []string { return targetProtocol(r, "protocol") }},
		{ID: "ELB.21", Title: "Target group health checks use an encrypted protocol", Reason: "health checks must not be answerable by an impostor on the way", Types: []string{TypeTargetGroup},
			Check: func(r Resource) []string { return targetProtocol(r, "healthCheck.protocol") }},
		{ID: "ELB.16", Title: "The ALB is associated with a WAF web ACL", Reason: "managed rules and a per-IP rate limit stop floods and known exploits before they reach the app", Types: lbs,
			CheckStack: func(rs []Resource) []Violation {
				albs, associations := 0, count(rs, TypeWebACLAssociation)
				for _, r := range rs {
					if r.Type == TypeLoadBalancer && r.Stack() != stackconfig.DevStack { // Exception: dev (cost).
						albs++
					}
				}
				if associations < albs {
					return []Violation{{Message: fmt.Sprintf("%d load balancers, %d web ACL associations", albs, associations)}}
				}
				return nil
			}},
		{ID: "WAF.11", Title: "Web ACLs log the requests they block", Reason: "an attack the web ACL stopped must be traceable", Types: []string{TypeWebACL},
			CheckStack: func(rs []Resource) []Violation {
				acls, logging := count(rs, TypeWebACL), count(rs, TypeWebACLLogging)
				if logging < acls {
					return []Violation{{Message: fmt.Sprintf("%d web ACLs, %d logging configurations", acls, logging)}}
				}
				return nil
			}},
		{ID: "SHIPYARD-WAF-2", Title: "WAF logs leave out credentials", Reason: "WAF logs keep request headers; bearer tokens and session cookies must not end up in them",
			Types: []string{TypeWebACLLogging},
			Check: func(r Resource) []string {
				redacted := map[string]bool{}
				for i := 0; i < r.Len("redactedFields"); i++ {
					redacted[strings.ToLower(r.String(fmt.Sprintf("redactedFields.%d.singleHeader.name", i)))] = true
				}
				var out []string
				for _, h := range []string{"authorization", "cookie"} {
					if !redacted[h] {
						out = append(out, "header "+h+" is not in redactedFields")
					}
				}
				return out
			}},
		{ID: "SHIPYARD-WAF-1", Title: "The web ACL blocks by AWS managed rules and a per-IP rate limit", Reason: "a web ACL without rules, or that only counts, protects nothing", Types: []string{TypeWebACL},
			Check: func(r Resource) []string {
				groups, rateLimited := map[string]bool{}, false
				for i := 0; i < r.Len("rules"); i++ {
					p := fmt.Sprintf("rules.%d.", i)
					if g := r.String(p + "statement.managedRuleGroupStatement.name"); g != "" {
						if _, count := r.Get(p + "overrideAction.count"); !count {
							groups[g] = true
						}
					}
					if _, block := r.Get(p + "action.block"); block {
						if n, ok := r.Number(p + "statement.rateBasedStatement.limit"); ok && n > 0 {
							rateLimited = true
						}
					}
				}
				var out []string
				for _, g := range []string{"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesAmazonIpReputationList"} {
					if !groups[g] {
						out = append(out, fmt.Sprintf("managed rule group %s is missing or only counts", g))
					}
				}
				if !rateLimited {
					out = append(out, "no rate-based rule blocks")
				}
				if _, allow := r.Get("defaultAction.allow"); !allow {
					if _, block := r.Get("defaultAction.block"); !block {
						out = append(out, "defaultAction must be set")
					}
				}
				return out
			}},
	}
}

// targetProtocol checks that the protocol at path is encrypted. Exception:
// the LoadBalancer component's targets of type ip (the Fargate tasks, in
// private subnets, admitted from the ALB's security group only) get HTTP.
func targetProtocol(r Resource, path string) []string {
	p := r.String(path)
	switch {
	case p == "HTTPS" || p == "TLS":
		return nil
	case p == "HTTP" && (r.InComponent(LoadBalancerComponent) || r.InComponent(BlueGreenComponent) || r.InComponent(PreviewRoutingComponent)) && r.String("targetType") == "ip":
		return nil // Exception: TLS ends at the ALB inside the VPC.
	case p == "" && r.IsUnknown(path):
		return nil
	}
	return []string{fmt.Sprintf("%s %q: want HTTPS (plain HTTP only to the ALB's ip targets in the private subnets)", path, p)}
}
