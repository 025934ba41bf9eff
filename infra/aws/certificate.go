package aws

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/acm"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// CertificateArgs configures the stack's managed certificate.
type CertificateArgs struct {
	// Domain is loadBalancer.domain; the certificate also covers
	// "*.<Domain>", so environments at pr-<n>.<Domain> can share the
	// listener.
	Domain string
	// ZoneId is the Route 53 public hosted zone that holds Domain.
	ZoneId pulumi.StringInput
}

// Certificate is an ACM certificate validated by DNS in the stack's hosted
// zone.
type Certificate struct {
	pulumi.ResourceState

	// Arn is the certificate's ARN once validated: a listener that uses it
	// waits for the validation.
	Arn    pulumi.StringOutput
	ZoneId pulumi.StringOutput
}

// NewCertificate requests the certificate for Domain and *.Domain, creates
// its DNS validation record and waits until ACM has issued it.
//
// ACM asks for one CNAME per name, but the records for a name and for its
// wildcard are the same record (the wildcard's validation name drops the
// "*."), so one record validates both: creating one per name would make two
// resources own the same record.
func NewCertificate(ctx *pulumi.Context, name string, args CertificateArgs, opts ...pulumi.ResourceOption) (*Certificate, error) {
	if args.Domain == "" {
		return nil, fmt.Errorf("certificate: loadBalancer.domain is required with loadBalancer.hostedZone")
	}
	comp := &Certificate{}
	if err := ctx.RegisterComponentResource(typePrefix+"Certificate", name, comp, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(comp)
	cert, err := acm.NewCertificate(ctx, name+"-cert", &acm.CertificateArgs{
		DomainName:              pulumi.String(args.Domain),
		SubjectAlternativeNames: pulumi.StringArray{pulumi.String("*." + args.Domain)},
		ValidationMethod:        pulumi.String("DNS"),
		KeyAlgorithm:            pulumi.String("RSA_2048"),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("acm certificate: %w", err)
	}
	dvo := cert.DomainValidationOptions.Index(pulumi.Int(0))
	record, err := route53.NewRecord(ctx, name+"-validation", &route53.RecordArgs{
		ZoneId:  args.ZoneId,
		Name:    dvo.ResourceRecordName().Elem(),
		Type:    dvo.ResourceRecordType().Elem(),
		Records: pulumi.StringArray{dvo.ResourceRecordValue().Elem()},
		Ttl:     pulumi.Int(300),
		// A record left by an earlier certificate for the same name has
		// the same name and value: take it over rather than fail.
		AllowOverwrite: pulumi.Bool(true),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("certificate validation record: %w", err)
	}
	validation, err := acm.NewCertificateValidation(ctx, name+"-validation", &acm.CertificateValidationArgs{
		CertificateArn:        cert.Arn,
		ValidationRecordFqdns: pulumi.StringArray{record.Fqdn},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("certificate validation: %w", err)
	}
	comp.Arn = validation.CertificateArn
	comp.ZoneId = args.ZoneId.ToStringOutput()
	return comp, ctx.RegisterResourceOutputs(comp, pulumi.Map{"arn": comp.Arn, "zoneId": comp.ZoneId})
}

// hostedZoneID returns the id of loadBalancer.hostedZone: as given, or
// looked up by name among the account's public zones.
func hostedZoneID(ctx *pulumi.Context, zone *stackconfig.HostedZone, opts ...pulumi.InvokeOption) (string, error) {
	if zone.ID != "" {
		return zone.ID, nil
	}
	z, err := route53.LookupZone(ctx, &route53.LookupZoneArgs{Name: pulumi.StringRef(zone.Name), PrivateZone: pulumi.BoolRef(false)}, opts...)
	if err != nil {
		return "", fmt.Errorf("loadBalancer.hostedZone.name %q: looking up the public hosted zone: %w", zone.Name, err)
	}
	return z.ZoneId, nil
}
