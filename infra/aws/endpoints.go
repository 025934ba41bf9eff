package aws

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// InterfaceEndpointServices are the AWS APIs the tasks call, each reached
// through an interface endpoint when network.vpcEndpoints is on: image
// pulls (ecr.api, ecr.dkr), secrets at task start (secretsmanager, and kms
// to decrypt them), and the log router (logs). S3, where ECR keeps image
// layers and the archive lives, gets a gateway endpoint.
var InterfaceEndpointServices = []string{"ecr.api", "ecr.dkr", "secretsmanager", "logs", "kms"}

// VPCEndpointsArgs configures the VPC endpoints.
type VPCEndpointsArgs struct {
	Region               string
	VpcId                pulumi.StringInput
	PrivateSubnetIds     pulumi.StringArrayInput
	PrivateRouteTableIds pulumi.StringArrayInput
	// AppSecurityGroupId may reach the interface endpoints on 443.
	AppSecurityGroupId pulumi.StringInput
}

// VPCEndpoints are the VPC endpoints that keep the tasks' AWS API traffic
// inside the VPC: it no longer crosses NAT (cost: NAT data processing) and
// the public internet.
type VPCEndpoints struct {
	pulumi.ResourceState

	SecurityGroupId pulumi.StringOutput
}

// NewVPCEndpoints creates the S3 gateway endpoint on the private route tables
// and one interface endpoint per InterfaceEndpointServices in the private
// subnets, with private DNS so the SDKs' default host names resolve to them.
func NewVPCEndpoints(ctx *pulumi.Context, name string, args VPCEndpointsArgs, opts ...pulumi.ResourceOption) (*VPCEndpoints, error) {
	comp := &VPCEndpoints{}
	if err := ctx.RegisterComponentResource(typePrefix+"VPCEndpoints", name, comp, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(comp)

	sg, err := ec2.NewSecurityGroup(ctx, name+"-sg", &ec2.SecurityGroupArgs{
		VpcId:       args.VpcId,
		Description: pulumi.String("Shipyard VPC interface endpoints"),
		Ingress: ec2.SecurityGroupIngressArray{ec2.SecurityGroupIngressArgs{
			Description:    pulumi.String("HTTPS from app tasks"),
			Protocol:       pulumi.String("tcp"),
			FromPort:       pulumi.Int(443),
			ToPort:         pulumi.Int(443),
			SecurityGroups: pulumi.StringArray{args.AppSecurityGroupId},
		}},
		Tags: pulumi.StringMap{"Name": pulumi.String(name)},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("endpoints security group: %w", err)
	}
	comp.SecurityGroupId = sg.ID().ToStringOutput()

	if _, err := ec2.NewVpcEndpoint(ctx, name+"-s3", &ec2.VpcEndpointArgs{
		VpcId:           args.VpcId,
		ServiceName:     pulumi.String(endpointService(args.Region, "s3")),
		VpcEndpointType: pulumi.String("Gateway"),
		RouteTableIds:   args.PrivateRouteTableIds,
		Tags:            pulumi.StringMap{"Name": pulumi.String(name + "-s3")},
	}, parent); err != nil {
		return nil, fmt.Errorf("s3 gateway endpoint: %w", err)
	}
	for _, svc := range InterfaceEndpointServices {
		if _, err := ec2.NewVpcEndpoint(ctx, name+"-"+svc, &ec2.VpcEndpointArgs{
			VpcId:             args.VpcId,
			ServiceName:       pulumi.String(endpointService(args.Region, svc)),
			VpcEndpointType:   pulumi.String("Interface"),
			SubnetIds:         args.PrivateSubnetIds,
			SecurityGroupIds:  pulumi.StringArray{sg.ID()},
			PrivateDnsEnabled: pulumi.Bool(true),
			Tags:              pulumi.StringMap{"Name": pulumi.String(name + "-" + svc)},
		}, parent); err != nil {
			return nil, fmt.Errorf("%s interface endpoint: %w", svc, err)
		}
	}
	return comp, ctx.RegisterResourceOutputs(comp, pulumi.Map{"securityGroupId": comp.SecurityGroupId})
}

// endpointService is the endpoint service name of an AWS service in region.
func endpointService(region, service string) string {
	return "com.amazonaws." + region + "." + service
}
