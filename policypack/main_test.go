package main

import (
	"context"
	"regexp"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"

	"github.com/shipyard-kit/shipyard/infra/aws/awsmock"
	"github.com/shipyard-kit/shipyard/infra/policy"
	"github.com/shipyard-kit/shipyard/infra/pulumitest"
)

// recorder is a policyx.PolicyManager that keeps the violations.
type recorder struct{ messages []string }

func (r *recorder) ReportViolation(message, _ string) { r.messages = append(r.messages, message) }

func validators(t *testing.T) map[string]policyx.ResourceValidationPolicy {
	t.Helper()
	pack, err := newPack(nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]policyx.ResourceValidationPolicy{}
	for _, p := range pack.Policies() {
		v, ok := p.(policyx.ResourceValidationPolicy)
		if !ok {
			t.Fatalf("%s is not a resource validation policy", p.Name())
		}
		out[p.Name()] = v
	}
	return out
}

// analyze runs every policy of the pack on r as the engine would send it.
func analyze(t *testing.T, policies map[string]policyx.ResourceValidationPolicy, r pulumitest.Resource) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for name, p := range policies {
		rec := &recorder{}
		err := p.Validate(context.Background(), policyx.ResourceValidationArgs{
			Manager: rec,
			Resource: policyx.AnalyzerResource{
				Type: r.Type, Name: r.Name, URN: r.URN,
				Properties: resource.FromResourcePropertyMap(r.Inputs),
			},
		})
		if err != nil {
			t.Fatalf("%s on %s: %v", name, r.URN, err)
		}
		if len(rec.messages) > 0 {
			out[name] = rec.messages
		}
	}
	return out
}

func TestThePackHasOneValidlyNamedPolicyPerResourceRule(t *testing.T) {
	policies := validators(t)
	valid := regexp.MustCompile(`^[a-zA-Z0-9-_.]{1,100}$`)
	for _, r := range packRules() {
		name := PolicyName(r.ID)
		if !valid.MatchString(name) {
			t.Errorf("%s: invalid policy name %q", r.ID, name)
		}
		if _, ok := policies[name]; !ok {
			t.Errorf("%s: no policy %q", r.ID, name)
		}
	}
	if len(policies) != len(packRules()) || len(policies) < 40 {
		t.Errorf("%d policies for %d rules", len(policies), len(packRules()))
	}
	if PolicyName("RDS.2") != "rds-2" || PolicyName("CKV2_AWS_69") != "ckv2_aws_69" {
		t.Errorf("names: %s %s", PolicyName("RDS.2"), PolicyName("CKV2_AWS_69"))
	}
}

func TestThePackPassesTheProdStackAndFailsABrokenResource(t *testing.T) {
	cfg, err := awsmock.LoadConfig("prod")
	if err != nil {
		t.Fatal(err)
	}
	g, err := awsmock.RunConfig(awsmock.Released(cfg))
	if err != nil {
		t.Fatal(err)
	}
	policies := validators(t)
	for _, r := range g.Resources {
		if got := analyze(t, policies, r); len(got) > 0 {
			t.Errorf("%s: %v", r.URN, got)
		}
	}

	db := g.ByType(policy.TypeRDSInstance)[0]
	db.Inputs = db.Inputs.Copy()
	db.Inputs["publiclyAccessible"] = resource.NewBoolProperty(true)
	db.Inputs["deletionProtection"] = resource.MakeSecret(resource.NewBoolProperty(false))
	got := analyze(t, policies, db)
	if len(got["rds-2"]) != 1 || len(got["rds-8"]) != 1 || len(got) != 2 {
		t.Errorf("violations %v, want rds-2 and rds-8 (through a secret)", got)
	}
}

func TestThePackSkipsProdOnlyRulesOnOtherStacks(t *testing.T) {
	g, err := awsmock.Run("dev")
	if err != nil {
		t.Fatal(err)
	}
	db := g.ByType(policy.TypeRDSInstance)[0]
	if db.Bool("deletionProtection") {
		t.Fatal("dev has deletion protection; the test needs a config without it")
	}
	if got := analyze(t, validators(t), db); len(got) != 0 {
		t.Errorf("dev database: %v", got)
	}
}
