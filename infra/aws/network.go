package aws

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// NetworkArgs configures the VPC.
type NetworkArgs struct {
	// CIDR is the VPC's IPv4 block (network.cidr).
	CIDR string
	// AvailabilityZones are the zones the subnets span; at least two.
	AvailabilityZones []string
	// NATPerAZ gives each zone its own NAT gateway (network.natGateways
	// "perAz"); otherwise one NAT gateway serves every private subnet.
	NATPerAZ  bool
	AccountID string
	// Logging stores the VPC flow logs.
	Logging *Logging
	// FlowLogGroupName is the flow log group's name.
	FlowLogGroupName string
	// Protect protects the NAT gateways' Elastic IPs (prod): they are
	// the stack's egress addresses, which partners may allowlist.
	Protect bool
}

// Network is a VPC with a public and a private subnet per zone, NAT, flow
// logs, a default security group without rules and the app's security group.
type Network struct {
	pulumi.ResourceState

	VpcId            pulumi.StringOutput
	PublicSubnetIds  pulumi.StringArrayOutput
	PrivateSubnetIds pulumi.StringArrayOutput
	// PrivateRouteTableIds are the private subnets' route tables (one per
	// zone), where the S3 gateway endpoint adds its routes.
	PrivateRouteTableIds pulumi.StringArrayOutput
	// AppSecurityGroupId is the security group of every ECS task; the
	// database, cache and load balancer admit traffic from or to it.
	AppSecurityGroupId pulumi.StringOutput
	FlowLogGroupName   pulumi.StringOutput
}

// FlowLogActions are the permissions the Amazon VPC guide ("IAM role for
// publishing flow logs to CloudWatch Logs") lists for the flow-log role.
var FlowLogActions = []string{
	"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
	"logs:DescribeLogGroups", "logs:DescribeLogStreams",
}

// NewNetwork creates the VPC.
func NewNetwork(ctx *pulumi.Context, name string, args NetworkArgs, opts ...pulumi.ResourceOption) (*Network, error) {
	if len(args.AvailabilityZones) < 2 {
		return nil, fmt.Errorf("network: %d availability zones, need at least 2", len(args.AvailabilityZones))
	}
	comp := &Network{}
	if err := ctx.RegisterComponentResource(typePrefix+"Network", name, comp, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(comp)

	vpc, err := ec2.NewVpc(ctx, name+"-vpc", &ec2.VpcArgs{
		CidrBlock: pulumi.String(args.CIDR),
		// An Amazon-provided /56 for the dual-stack ALB's public subnets;
		// the private subnets stay IPv4-only.
		AssignGeneratedIpv6CidrBlock: pulumi.Bool(true),
		EnableDnsHostnames:           pulumi.Bool(true),
		EnableDnsSupport:             pulumi.Bool(true),
		Tags:                         pulumi.StringMap{"Name": pulumi.String(name)},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("vpc: %w", err)
	}
	comp.VpcId = vpc.ID().ToStringOutput()

	// EC2.2: the default security group allows nothing; declaring it
	// without ingress or egress makes the provider remove its rules.
	if _, err := ec2.NewDefaultSecurityGroup(ctx, name+"-default-sg", &ec2.DefaultSecurityGroupArgs{
		VpcId: vpc.ID(),
		Tags:  pulumi.StringMap{"Name": pulumi.String(name + "-default-closed")},
	}, parent); err != nil {
		return nil, fmt.Errorf("default security group: %w", err)
	}

	igw, err := ec2.NewInternetGateway(ctx, name+"-igw", &ec2.InternetGatewayArgs{
		VpcId: vpc.ID(),
		Tags:  pulumi.StringMap{"Name": pulumi.String(name)},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("internet gateway: %w", err)
	}
	publicRT, err := ec2.NewRouteTable(ctx, name+"-public-rt", &ec2.RouteTableArgs{
		VpcId: vpc.ID(),
		Routes: ec2.RouteTableRouteArray{
			ec2.RouteTableRouteArgs{CidrBlock: pulumi.String("0.0.0.0/0"), GatewayId: igw.ID()},
			ec2.RouteTableRouteArgs{Ipv6CidrBlock: pulumi.String("::/0"), GatewayId: igw.ID()},
		},
		Tags: pulumi.StringMap{"Name": pulumi.String(name + "-public")},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("public route table: %w", err)
	}

	var public, private, privateRTs pulumi.StringArray
	var nats []*ec2.NatGateway
	for i, az := range args.AvailabilityZones {
		// /20s of the VPC block: public subnets first, private from 8 on.
		pubCIDR, err := cidrSubnet(args.CIDR, 4, i)
		if err != nil {
			return nil, err
		}
		privCIDR, err := cidrSubnet(args.CIDR, 4, 8+i)
		if err != nil {
			return nil, err
		}
		pub, err := ec2.NewSubnet(ctx, fmt.Sprintf("%s-public-%d", name, i), &ec2.SubnetArgs{
			VpcId:            vpc.ID(),
			CidrBlock:        pulumi.String(pubCIDR),
			AvailabilityZone: pulumi.String(az),
			// /64 number i of the VPC's /56, for the dual-stack ALB.
			Ipv6CidrBlock: vpc.Ipv6CidrBlock.ApplyT(func(block string) (string, error) {
				return ipv6Subnet(block, i)
			}).(pulumi.StringOutput),
			// EC2.15: no public IPs on launch; only the ALB and NAT live here.
			MapPublicIpOnLaunch:         pulumi.Bool(false),
			AssignIpv6AddressOnCreation: pulumi.Bool(false),
			Tags:                        pulumi.StringMap{"Name": pulumi.Sprintf("%s-public-%s", name, az)},
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("public subnet %s: %w", az, err)
		}
		if _, err := ec2.NewRouteTableAssociation(ctx, fmt.Sprintf("%s-public-%d", name, i), &ec2.RouteTableAssociationArgs{
			SubnetId:     pub.ID(),
			RouteTableId: publicRT.ID(),
		}, parent); err != nil {
			return nil, fmt.Errorf("public route %s: %w", az, err)
		}
		public = append(public, pub.ID().ToStringOutput())

		if i == 0 || args.NATPerAZ {
			eip, err := ec2.NewEip(ctx, fmt.Sprintf("%s-nat-%d", name, i), &ec2.EipArgs{
				Domain: pulumi.String("vpc"),
				Tags:   pulumi.StringMap{"Name": pulumi.Sprintf("%s-nat-%s", name, az)},
			}, withOpts(protect(args.Protect), parent)...)
			if err != nil {
				return nil, fmt.Errorf("nat eip %s: %w", az, err)
			}
			nat, err := ec2.NewNatGateway(ctx, fmt.Sprintf("%s-nat-%d", name, i), &ec2.NatGatewayArgs{
				AllocationId: eip.ID(),
				SubnetId:     pub.ID(),
				Tags:         pulumi.StringMap{"Name": pulumi.Sprintf("%s-%s", name, az)},
			}, withOpts(nil, parent, pulumi.DependsOn([]pulumi.Resource{igw}))...)
			if err != nil {
				return nil, fmt.Errorf("nat gateway %s: %w", az, err)
			}
			nats = append(nats, nat)
		}
		nat := nats[len(nats)-1]

		priv, err := ec2.NewSubnet(ctx, fmt.Sprintf("%s-private-%d", name, i), &ec2.SubnetArgs{
			VpcId:               vpc.ID(),
			CidrBlock:           pulumi.String(privCIDR),
			AvailabilityZone:    pulumi.String(az),
			MapPublicIpOnLaunch: pulumi.Bool(false),
			Tags:                pulumi.StringMap{"Name": pulumi.Sprintf("%s-private-%s", name, az)},
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("private subnet %s: %w", az, err)
		}
		rt, err := ec2.NewRouteTable(ctx, fmt.Sprintf("%s-private-rt-%d", name, i), &ec2.RouteTableArgs{
			VpcId: vpc.ID(),
			Routes: ec2.RouteTableRouteArray{ec2.RouteTableRouteArgs{
				CidrBlock:    pulumi.String("0.0.0.0/0"),
				NatGatewayId: nat.ID(),
			}},
			Tags: pulumi.StringMap{"Name": pulumi.Sprintf("%s-private-%s", name, az)},
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("private route table %s: %w", az, err)
		}
		if _, err := ec2.NewRouteTableAssociation(ctx, fmt.Sprintf("%s-private-%d", name, i), &ec2.RouteTableAssociationArgs{
			SubnetId:     priv.ID(),
			RouteTableId: rt.ID(),
		}, parent); err != nil {
			return nil, fmt.Errorf("private route %s: %w", az, err)
		}
		private = append(private, priv.ID().ToStringOutput())
		privateRTs = append(privateRTs, rt.ID().ToStringOutput())
	}
	comp.PublicSubnetIds = public.ToStringArrayOutput()
	comp.PrivateSubnetIds = private.ToStringArrayOutput()
	comp.PrivateRouteTableIds = privateRTs.ToStringArrayOutput()

	// EC2.6: flow logs of all traffic to an encrypted, retained log group.
	group, err := args.Logging.LogGroup(ctx, name+"-flow-logs", args.FlowLogGroupName, parent)
	if err != nil {
		return nil, err
	}
	comp.FlowLogGroupName = group.Name
	trust, err := assumeRolePolicy("vpc-flow-logs.amazonaws.com", args.AccountID)
	if err != nil {
		return nil, err
	}
	role, err := iam.NewRole(ctx, name+"-flow-logs", &iam.RoleArgs{
		Description:      pulumi.String("VPC flow logs delivery to CloudWatch Logs"),
		AssumeRolePolicy: pulumi.String(trust),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("flow logs role: %w", err)
	}
	if _, err := iam.NewRolePolicy(ctx, name+"-flow-logs", &iam.RolePolicyArgs{
		Role: role.ID(),
		// The permissions the VPC guide lists for the flow-log role
		// (FlowLogActions). DescribeLogGroups lists groups and is
		// authorized on the account's and region's log-group:* only.
		Policy: policyJSON(func(arns []string) policyDocument {
			group := arns[0]
			allGroups := group
			if i := strings.Index(group, ":log-group:"); i >= 0 {
				allGroups = group[:i] + ":log-group:*"
			}
			return newPolicy(
				statement{
					Sid:      "DeliverFlowLogs",
					Effect:   "Allow",
					Action:   []string{"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"},
					Resource: []string{group, group + ":*"},
				},
				statement{
					Sid:      "FindLogGroup",
					Effect:   "Allow",
					Action:   []string{"logs:DescribeLogGroups"},
					Resource: []string{allGroups},
				},
			)
		}, group.Arn),
	}, parent); err != nil {
		return nil, fmt.Errorf("flow logs policy: %w", err)
	}
	if _, err := ec2.NewFlowLog(ctx, name+"-flow-logs", &ec2.FlowLogArgs{
		VpcId:                  vpc.ID(),
		TrafficType:            pulumi.String("ALL"),
		LogDestinationType:     pulumi.String("cloud-watch-logs"),
		LogDestination:         group.Arn,
		IamRoleArn:             role.Arn,
		MaxAggregationInterval: pulumi.Int(60),
	}, parent); err != nil {
		return nil, fmt.Errorf("flow log: %w", err)
	}

	// The app's tasks: no ingress here (the load balancer adds its rule).
	// Egress is HTTPS (AWS APIs through the VPC endpoints or NAT, and the
	// log router's image on public.ecr.aws, which has no endpoint), and
	// PostgreSQL and Redis inside the VPC. DNS, the task metadata endpoint
	// and time sync are not filtered by security groups.
	egress := func(desc string, port int, cidr string) ec2.SecurityGroupEgressArgs {
		return ec2.SecurityGroupEgressArgs{
			Description: pulumi.String(desc),
			Protocol:    pulumi.String("tcp"),
			FromPort:    pulumi.Int(port),
			ToPort:      pulumi.Int(port),
			CidrBlocks:  pulumi.StringArray{pulumi.String(cidr)},
		}
	}
	appSG, err := ec2.NewSecurityGroup(ctx, name+"-app-sg", &ec2.SecurityGroupArgs{
		VpcId:       vpc.ID(),
		Description: pulumi.String("Shipyard app tasks"),
		Egress: ec2.SecurityGroupEgressArray{
			egress("HTTPS: AWS APIs and the log router image", 443, "0.0.0.0/0"),
			egress("PostgreSQL", PostgresPort, args.CIDR),
			egress("Redis", RedisPort, args.CIDR),
		},
		Tags: pulumi.StringMap{"Name": pulumi.String(name + "-app")},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("app security group: %w", err)
	}
	comp.AppSecurityGroupId = appSG.ID().ToStringOutput()

	return comp, ctx.RegisterResourceOutputs(comp, pulumi.Map{
		"vpcId":              comp.VpcId,
		"publicSubnetIds":    comp.PublicSubnetIds,
		"privateSubnetIds":   comp.PrivateSubnetIds,
		"appSecurityGroupId": comp.AppSecurityGroupId,
		"privateRouteTables": comp.PrivateRouteTableIds,
	})
}
