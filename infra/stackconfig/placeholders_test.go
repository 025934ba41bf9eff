package stackconfig

import (
	"strings"
	"testing"
)

func TestTheExampleAWSStacksAreRefusedForDeployNamingTheField(t *testing.T) {
	dir := repoConfig
	for _, stack := range []string{"dev", "staging", "prod"} {
		cfg, err := Load(dir, stack)
		if err != nil {
			t.Fatalf("%s: the example must stay valid: %v", stack, err)
		}
		err = cfg.Placeholder()
		if err == nil || !strings.Contains(err.Error(), "loadBalancer.hostedZone.name \"shipyard.example.com\" is a documentation placeholder") ||
			strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v; want one line naming loadBalancer.hostedZone.name", stack, err)
		}
	}
	local, err := Load(dir, "local")
	if err != nil {
		t.Fatal(err)
	}
	if err := local.Placeholder(); err != nil {
		t.Errorf("a docker stack has no AWS placeholders: %v", err)
	}
}

func TestPlaceholders(t *testing.T) {
	deployable := func() *Config {
		c := Defaults()
		c.Stack, c.Target, c.AWS.Region = "dev", TargetAWS, "eu-west-1"
		c.LoadBalancer.Domain = "api.acme.io"
		c.LoadBalancer.HostedZone = &HostedZone{Name: "acme.io"}
		return &c
	}
	tests := []struct {
		name  string
		edit  func(c *Config)
		field string // "" when deployable
	}{
		{"a real zone and domain are deployable", func(*Config) {}, ""},
		{"a real certificate is deployable", func(c *Config) {
			c.LoadBalancer.HostedZone = nil
			c.LoadBalancer.CertificateARN = "arn:aws:acm:eu-west-1:480193847560:certificate/8f1c2d3e-aaaa-4b5c-9d8e-7f6a5b4c3d2e"
		}, ""},
		{"AWS's documentation account in the certificate is refused", func(c *Config) {
			c.LoadBalancer.HostedZone = nil
			c.LoadBalancer.CertificateARN = "arn:aws:acm:eu-west-1:123456789012:certificate/8f1c2d3e-aaaa-4b5c-9d8e-7f6a5b4c3d2e"
		}, "loadBalancer.certificateArn"},
		{"a repeated-digit certificate id is refused", func(c *Config) {
			c.LoadBalancer.HostedZone = nil
			c.LoadBalancer.CertificateARN = "arn:aws:acm:eu-west-1:480193847560:certificate/11111111-1111-1111-1111-111111111111"
		}, "loadBalancer.certificateArn"},
		{"an example.org zone is refused", func(c *Config) { c.LoadBalancer.HostedZone.Name = "example.org" }, "loadBalancer.hostedZone.name"},
		{"a made-up zone id is refused", func(c *Config) { c.LoadBalancer.HostedZone = &HostedZone{ID: "Z0123456789ABCDEFGHIJ"} }, "loadBalancer.hostedZone.id"},
		{"a repeated-digit zone id is refused", func(c *Config) { c.LoadBalancer.HostedZone = &HostedZone{ID: "Z00000000000"} }, "loadBalancer.hostedZone.id"},
		{"an example.net domain is refused", func(c *Config) {
			c.LoadBalancer.HostedZone = &HostedZone{ID: "Z2FDTNDATAQYW2"}
			c.LoadBalancer.Domain = "shop.example.net"
		}, "loadBalancer.domain"},
		{"an example.com alarm mailbox is refused", func(c *Config) { c.Alarms.Notify.Emails = []string{"ops@acme.io", "oncall@example.com"} }, "alarms.notify.emails[1]"},
		{"an example.com webhook is refused", func(c *Config) { c.Alarms.Notify.HTTPSEndpoints = []string{"https://hooks.example.com/x"} }, "alarms.notify.httpsEndpoints[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := deployable()
			tt.edit(c)
			err := c.Placeholder()
			switch {
			case tt.field == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.field != "" && (err == nil || !strings.HasPrefix(err.Error(), "config/dev.json: "+tt.field+" ")):
				t.Errorf("error %v; want one naming %s", err, tt.field)
			}
		})
	}
}
