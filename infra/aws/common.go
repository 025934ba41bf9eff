package aws

import (
	"encoding/json"
	"fmt"
	"net"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// typePrefix is the type token prefix of every Shipyard AWS component.
const typePrefix = "shipyard:aws:"

// Pinned versions and fixed settings; see docs/aws.md.
const (
	// SSLPolicy is the HTTPS listener's TLS policy: TLS 1.3, and TLS 1.2
	// restricted to ECDHE with AES-GCM. It is on both the current and the
	// earlier ELB.17 allow-list and not on trivy AVD-AWS-0047's outdated
	// list (docs/aws.md); every TLS 1.2 client of the last decade has these
	// ciphers.
	SSLPolicy = "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"
	// FluentBitVersion pins the FireLens log router image.
	FluentBitVersion = "2.32.4"
	// FluentBitImage is the log router image for CloudWatch-only routing.
	FluentBitImage = "public.ecr.aws/aws-observability/aws-for-fluent-bit:" + FluentBitVersion
	// FluentBitInitImage is the log router image when an extra output
	// (the S3 archive) is loaded from a config file in S3.
	FluentBitInitImage = "public.ecr.aws/aws-observability/aws-for-fluent-bit:init-" + FluentBitVersion
	// AppUser is the uid:gid every app container runs as.
	AppUser = "65532:65532"
	// RedisPort and PostgresPort are the attached resources' ports.
	RedisPort    = 6379
	PostgresPort = 5432
	// ImageRetainCount is how many images the ECR lifecycle policy keeps.
	ImageRetainCount = 30
	// ClockMaxPercent and ClockMinHealthyPercent make a clock deployment
	// stop the old task before starting the new one: never two clocks.
	ClockMaxPercent        = 100
	ClockMinHealthyPercent = 0
)

// policyDocument is an IAM, key or resource policy; marshalled with json.
type policyDocument struct {
	Version   string      `json:"Version"`
	Statement []statement `json:"Statement"`
}

type statement struct {
	Sid       string                       `json:"Sid,omitempty"`
	Effect    string                       `json:"Effect"`
	Principal *principal                   `json:"Principal,omitempty"`
	Action    []string                     `json:"Action"`
	Resource  []string                     `json:"Resource,omitempty"`
	Condition map[string]map[string]string `json:"Condition,omitempty"`
}

type principal struct {
	AWS     []string `json:"AWS,omitempty"`
	Service []string `json:"Service,omitempty"`
}

func newPolicy(stmts ...statement) policyDocument {
	return policyDocument{Version: "2012-10-17", Statement: stmts}
}

func (d policyDocument) json() (string, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return "", fmt.Errorf("marshal policy: %w", err)
	}
	return string(b), nil
}

// assumeRolePolicy lets an AWS service assume a role, restricted to this
// account (confused-deputy protection).
func assumeRolePolicy(service, accountID string) (string, error) {
	return newPolicy(statement{
		Effect:    "Allow",
		Principal: &principal{Service: []string{service}},
		Action:    []string{"sts:AssumeRole"},
		Condition: map[string]map[string]string{"StringEquals": {"aws:SourceAccount": accountID}},
	}).json()
}

// policyJSON marshals the document build returns once the ARNs it needs
// are known. It creates no resources.
func policyJSON(build func(arns []string) policyDocument, arns ...pulumi.StringInput) pulumi.StringOutput {
	ins := make([]interface{}, len(arns))
	for i, a := range arns {
		ins[i] = a
	}
	return pulumi.All(ins...).ApplyT(func(vs []interface{}) (string, error) {
		ss := make([]string, len(vs))
		for i, v := range vs {
			s, ok := v.(string)
			if !ok {
				return "", fmt.Errorf("policy input %d: %T is not a string", i, v)
			}
			ss[i] = s
		}
		return build(ss).json()
	}).(pulumi.StringOutput)
}

// cidrSubnet returns the num-th subnet of base with newBits more prefix bits
// (Terraform's cidrsubnet for IPv4).
func cidrSubnet(base string, newBits, num int) (string, error) {
	_, ipnet, err := net.ParseCIDR(base)
	if err != nil {
		return "", fmt.Errorf("cidr %q: %w", base, err)
	}
	ones, bits := ipnet.Mask.Size()
	if bits != 32 {
		return "", fmt.Errorf("cidr %q: IPv4 only", base)
	}
	if ones+newBits > 28 || num < 0 || num >= 1<<newBits {
		return "", fmt.Errorf("cidr %q: no subnet %d of /%d", base, num, ones+newBits)
	}
	ip := ipnet.IP.To4()
	v := uint32(ip[0])<<24 | uint32(ip[1])<<16 | uint32(ip[2])<<8 | uint32(ip[3])
	v |= uint32(num) << uint(32-ones-newBits)
	return fmt.Sprintf("%d.%d.%d.%d/%d", byte(v>>24), byte(v>>16), byte(v>>8), byte(v), ones+newBits), nil
}

// ipv6Subnet returns /64 number num of an IPv6 block of /56 (what AWS
// assigns a VPC) or larger.
func ipv6Subnet(base string, num int) (string, error) {
	_, ipnet, err := net.ParseCIDR(base)
	if err != nil {
		return "", fmt.Errorf("ipv6 cidr %q: %w", base, err)
	}
	ones, bits := ipnet.Mask.Size()
	if bits != 128 || ones > 56 || num < 0 || num >= 1<<(64-ones) {
		return "", fmt.Errorf("ipv6 cidr %q: no /64 number %d", base, num)
	}
	ip := make(net.IP, 16)
	copy(ip, ipnet.IP)
	v := uint64(ip[0])<<56 | uint64(ip[1])<<48 | uint64(ip[2])<<40 | uint64(ip[3])<<32 |
		uint64(ip[4])<<24 | uint64(ip[5])<<16 | uint64(ip[6])<<8 | uint64(ip[7])
	v |= uint64(num)
	for i := 0; i < 8; i++ {
		ip[i] = byte(v >> (56 - 8*i))
	}
	return (&net.IPNet{IP: ip, Mask: net.CIDRMask(64, 128)}).String(), nil
}

// protect returns the options of a stateful resource: pulumi.Protect in
// prod, so neither `pulumi destroy` nor a replacement can delete its data.
func protect(on bool) []pulumi.ResourceOption {
	if !on {
		return nil
	}
	return []pulumi.ResourceOption{pulumi.Protect(true)}
}

// recoveryWindow is how many days a deleted secret can be restored: a week
// in prod; none elsewhere, so a destroyed stack can be re-created with the
// same secret names at once.
func recoveryWindow(protected bool) int {
	if protected {
		return 7
	}
	return 0
}

func withOpts(base []pulumi.ResourceOption, more ...pulumi.ResourceOption) []pulumi.ResourceOption {
	out := append([]pulumi.ResourceOption{}, base...)
	return append(out, more...)
}
