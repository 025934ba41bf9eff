package stackconfig

import (
	"fmt"
	"net/url"
	"strings"
)

// documentationAccount is the AWS account id AWS's documentation uses in
// its examples.
const documentationAccount = "123456789012"

// reservedDomains are the names RFC 2606 reserves for documentation and
// tests: they can never be a team's hosted zone or mailbox.
var reservedDomains = []string{"example.com", "example.org", "example.net"}

// reservedTLDs are RFC 2606's reserved top-level names.
var reservedTLDs = []string{"example", "test", "invalid", "localhost"}

// madeUpID reports whether id looks like the made-up ids of examples: one
// repeated digit (11111111-1111-…), or the counting run 123456789.
func madeUpID(id string) bool {
	if strings.Contains(id, "123456789") {
		return true
	}
	digits := strings.ReplaceAll(id, "-", "")
	return len(digits) >= 4 && strings.Trim(digits, digits[:1]) == "" && digits[0] >= '0' && digits[0] <= '9'
}

// reservedDomain reports whether name is a documentation domain or under
// one, and which.
func reservedDomain(name string) (string, bool) {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	for _, d := range reservedDomains {
		if name == d || strings.HasSuffix(name, "."+d) {
			return d, true
		}
	}
	for _, tld := range reservedTLDs {
		if name == tld || strings.HasSuffix(name, "."+tld) {
			return "." + tld, true
		}
	}
	return "", false
}

// Placeholder returns an error naming the first documentation placeholder
// left in an aws stack's config (the example stack files ship with them):
// AWS's documentation account 123456789012, an example.com/.org/.net zone,
// domain or mailbox, a made-up id of repeated digits. `shipyard up` and
// `shipyard preview` call it before anything reaches AWS, so a first deploy
// fails on one line naming the field instead of half-way through
// (CertificateNotFound at CreateListener). It is nil for docker stacks and
// is not part of validation: the examples stay valid examples.
func (c *Config) Placeholder() error {
	if c.Target != TargetAWS {
		return nil
	}
	lb := c.LoadBalancer
	if arn := lb.CertificateARN; arn != "" {
		parts := strings.Split(arn, ":")
		id := arn[strings.LastIndex(arn, "/")+1:]
		switch {
		case len(parts) > 4 && parts[4] == documentationAccount:
			return c.placeholderError("loadBalancer.certificateArn", arn, "account "+documentationAccount+" is AWS's documentation account", "the ARN of your ACM certificate in aws.region, or loadBalancer.hostedZone for a managed one")
		case madeUpID(id):
			return c.placeholderError("loadBalancer.certificateArn", arn, "certificate id "+id+" is made up", "the ARN of your ACM certificate in aws.region, or loadBalancer.hostedZone for a managed one")
		}
	}
	if z := lb.HostedZone; z != nil {
		if d, ok := reservedDomain(z.Name); ok {
			return c.placeholderError("loadBalancer.hostedZone.name", z.Name, d+" is reserved for documentation", "the name of your Route 53 public hosted zone")
		}
		if z.ID != "" && madeUpID(strings.TrimPrefix(z.ID, "Z")) {
			return c.placeholderError("loadBalancer.hostedZone.id", z.ID, "the id is made up", "the id of your Route 53 public hosted zone (aws route53 list-hosted-zones)")
		}
	}
	if d, ok := reservedDomain(lb.Domain); ok && lb.Domain != "" {
		return c.placeholderError("loadBalancer.domain", lb.Domain, d+" is reserved for documentation", "a name in your own zone")
	}
	for i, e := range c.Alarms.Notify.Emails {
		_, host, _ := strings.Cut(e, "@")
		if d, ok := reservedDomain(host); ok {
			return c.placeholderError(fmt.Sprintf("alarms.notify.emails[%d]", i), e, d+" is reserved for documentation", "a mailbox someone reads")
		}
	}
	for i, e := range c.Alarms.Notify.HTTPSEndpoints {
		if u, err := url.Parse(e); err == nil {
			if d, ok := reservedDomain(u.Hostname()); ok {
				return c.placeholderError(fmt.Sprintf("alarms.notify.httpsEndpoints[%d]", i), e, d+" is reserved for documentation", "your webhook's URL")
			}
		}
	}
	return nil
}

func (c *Config) placeholderError(field, value, why, want string) error {
	return fmt.Errorf("config/%s.json: %s %q is a documentation placeholder (%s); set %s before make up or make preview", c.Stack, field, value, why, want)
}
