package policy

import (
	"fmt"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// PreviewRoutingComponent holds a PR environment's target group.
const PreviewRoutingComponent = "shipyard:aws:PreviewRouting"

// SharedTypes are the resources a PR environment shares with its base
// stack and so must never create: a network, a load balancer, a database
// instance or cluster, a cache cluster.
var SharedTypes = []string{
	TypeVPC,
	TypeLoadBalancer, "aws:alb/loadBalancer:LoadBalancer", "aws:elb/loadBalancer:LoadBalancer",
	TypeRDSInstance, "aws:rds/cluster:Cluster",
	TypeReplicationGroup, "aws:elasticache/cluster:Cluster", "aws:elasticache/serverlessCache:ServerlessCache",
}

// IsPreviewStack reports whether stack is a pull-request environment,
// "<base>-pr-<n>" (stackconfig.PreviewOf).
func IsPreviewStack(stack string) bool {
	_, _, ok := stackconfig.PreviewOf(stack)
	return ok
}

// previewRules check that a PR environment stays one: cheap, created and
// destroyed without touching what it shares.
func previewRules() []Rule {
	return []Rule{
		{ID: "SHIPYARD-PR-1", Title: "A PR stack never creates a VPC, load balancer, database instance or cache cluster",
			Reason: "a PR environment shares its base stack's: one of its own would cost as much as the base and outlive a forgotten reaper",
			Types:  SharedTypes,
			Check: func(r Resource) []string {
				if !IsPreviewStack(r.Stack()) {
					return nil
				}
				return []string{fmt.Sprintf("PR stack %s creates a %s: it must use its base stack's (StackReference)", r.Stack(), r.Type)}
			}},
	}
}
