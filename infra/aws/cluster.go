package aws

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecs"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ClusterArgs configures the ECS cluster.
type ClusterArgs struct {
	// Name is "shipyard-<stack>".
	Name string
	// Logging creates the Container Insights performance log group, so it
	// has the stack's key and retention instead of being created by AWS on
	// first use, outside the stack, without the key.
	Logging *Logging
}

// ContainerInsightsLogGroup is the log group Container Insights writes a
// cluster's performance events to.
func ContainerInsightsLogGroup(cluster string) string {
	return "/aws/ecs/containerinsights/" + cluster + "/performance"
}

// Capacity providers of every cluster: services of the stack itself run on
// FARGATE (their launch type); PR environments' services ask for
// FARGATE_SPOT in their capacity provider strategy.
const (
	CapacityFargate     = "FARGATE"
	CapacityFargateSpot = "FARGATE_SPOT"
)

// Cluster is the ECS cluster every process type's service runs in.
type Cluster struct {
	pulumi.ResourceState

	Arn  pulumi.StringOutput
	Name pulumi.StringOutput
}

// NewCluster creates the cluster with Container Insights (ECS.12). ECS Exec
// is not configured: it needs a writable root filesystem (ECS.5).
func NewCluster(ctx *pulumi.Context, name string, args ClusterArgs, opts ...pulumi.ResourceOption) (*Cluster, error) {
	comp := &Cluster{}
	if err := ctx.RegisterComponentResource(typePrefix+"Cluster", name, comp, opts...); err != nil {
		return nil, err
	}
	insights, err := args.Logging.LogGroup(ctx, name+"-insights", ContainerInsightsLogGroup(args.Name), pulumi.Parent(comp))
	if err != nil {
		return nil, err
	}
	// The cluster waits for the log group, so Container Insights finds it.
	c, err := ecs.NewCluster(ctx, name+"-cluster", &ecs.ClusterArgs{
		Name: pulumi.String(args.Name),
		Settings: ecs.ClusterSettingArray{ecs.ClusterSettingArgs{
			Name:  pulumi.String("containerInsights"),
			Value: pulumi.String("enabled"),
		}},
	}, pulumi.Parent(comp), pulumi.DependsOn([]pulumi.Resource{insights}))
	if err != nil {
		return nil, fmt.Errorf("ecs cluster: %w", err)
	}
	// A service may only name capacity providers its cluster has; the
	// default strategy (on-demand FARGATE) is what a task run without
	// one gets.
	if _, err := ecs.NewClusterCapacityProviders(ctx, name+"-capacity", &ecs.ClusterCapacityProvidersArgs{
		ClusterName:       c.Name,
		CapacityProviders: pulumi.StringArray{pulumi.String(CapacityFargate), pulumi.String(CapacityFargateSpot)},
		DefaultCapacityProviderStrategies: ecs.ClusterCapacityProvidersDefaultCapacityProviderStrategyArray{
			ecs.ClusterCapacityProvidersDefaultCapacityProviderStrategyArgs{CapacityProvider: pulumi.String(CapacityFargate), Weight: pulumi.Int(1)},
		},
	}, pulumi.Parent(comp)); err != nil {
		return nil, fmt.Errorf("ecs cluster capacity providers: %w", err)
	}
	comp.Arn, comp.Name = c.Arn, c.Name
	return comp, ctx.RegisterResourceOutputs(comp, pulumi.Map{"arn": comp.Arn, "name": comp.Name})
}
