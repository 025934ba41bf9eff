package aws_test

import (
	"testing"

	awsinfra "github.com/shipyard-kit/shipyard/infra/aws"
	"github.com/shipyard-kit/shipyard/infra/aws/awsmock"
	"github.com/shipyard-kit/shipyard/infra/policy"
	"github.com/shipyard-kit/shipyard/infra/pulumitest"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

var awsStacks = []string{"dev", "staging", "prod"}

// graphs caches one run per stack and release state; the program is
// deterministic and the tests only read the graph.
var graphs = map[string]*pulumitest.Graph{}

func loadConfig(t *testing.T, stack string) *stackconfig.Config {
	t.Helper()
	cfg, err := awsmock.LoadConfig(stack)
	if err != nil {
		t.Fatalf("load config/%s.json: %v", stack, err)
	}
	return cfg
}

// graph runs the real config/<stack>.json, released at awsmock.Digest
// unless released is false.
func graph(t *testing.T, stack string, released bool) *pulumitest.Graph {
	t.Helper()
	key := stack
	if !released {
		key += "/unreleased"
	}
	if g, ok := graphs[key]; ok {
		return g
	}
	cfg := loadConfig(t, stack)
	if released {
		cfg = awsmock.Released(cfg)
	}
	g, err := awsmock.RunConfig(cfg)
	if err != nil {
		t.Fatalf("run %s: %v", key, err)
	}
	graphs[key] = g
	return g
}

func TestEverySecurityAndReliabilityRulePassesOnEveryAWSStack(t *testing.T) {
	for _, stack := range awsStacks {
		for _, released := range []bool{true, false} {
			name := stack
			if !released {
				name += " before the first release"
			}
			t.Run(name, func(t *testing.T) {
				rs := policy.FromGraph(graph(t, stack, released))
				for _, rule := range policy.All() {
					t.Run(rule.ID+": "+rule.Title, func(t *testing.T) {
						for _, v := range policy.Evaluate([]policy.Rule{rule}, rs) {
							t.Errorf("%s", v)
						}
					})
				}
			})
		}
	}
}

func TestEveryRuleChecksSomeResourceOfTheProdStack(t *testing.T) {
	g := graph(t, "prod", true)
	types := map[string]bool{}
	for _, typ := range g.Types() {
		types[typ] = true
	}
	for _, rule := range policy.All() {
		found := false
		for _, typ := range rule.Types {
			found = found || types[typ]
		}
		if !found {
			t.Errorf("%s (%s): none of %v is in the prod graph, so the rule proves nothing", rule.ID, rule.Title, rule.Types)
		}
	}
}

func TestPolicyAndTheClusterAgreeOnTheContainerInsightsLogGroup(t *testing.T) {
	if a, p := awsinfra.ContainerInsightsLogGroup("shipyard-prod"), policy.ContainerInsightsLogGroup("shipyard-prod"); a != p || a != "/aws/ecs/containerinsights/shipyard-prod/performance" {
		t.Errorf("infra/aws %q, infra/policy %q", a, p)
	}
}
