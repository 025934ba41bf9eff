// Command policypack is Shipyard's Pulumi policy pack: the per-resource
// rules of infra/policy run by the Pulumi engine on every resource of a
// preview or update:
//
//	pulumi preview --policy-pack policypack
//
// Rules that compare resources with each other (CheckStack) and the prod
// protection rule need the whole graph or resource options, which the
// experimental policyx of sdk v3.200 does not provide (AnalyzeStack is not
// implemented there, resource options are not passed); they run in
// `go test ./infra/aws/...` over the mocked graph. See docs/aws.md.
package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"

	"github.com/shipyard-kit/shipyard/infra/policy"
)

// PackName and PackVersion identify the pack.
const (
	PackName    = "shipyard"
	PackVersion = "1.0.0"
)

func main() {
	if err := policyx.Main(newPack); err != nil {
		fmt.Fprintln(os.Stderr, "policypack:", err)
		os.Exit(1)
	}
}

// newPack builds the pack from infra/policy's rules.
func newPack(*pulumi.Context) (policyx.PolicyPack, error) {
	var policies []policyx.Policy
	for _, rule := range packRules() {
		policies = append(policies, toPolicy(rule))
	}
	return policyx.NewPolicyPack(PackName, semver.MustParse(PackVersion), policyx.EnforcementLevelMandatory, policies)
}

// packRules are the rules the pack can run: per-resource ones that need no
// resource options.
func packRules() []policy.Rule {
	var out []policy.Rule
	for _, r := range policy.All() {
		if r.Check != nil && !r.ReadsOptions {
			out = append(out, r)
		}
	}
	return out
}

var nonName = regexp.MustCompile(`[^a-z0-9_]+`)

// PolicyName turns a rule ID into a policy name: "RDS.2" → "rds-2".
func PolicyName(id string) string {
	return nonName.ReplaceAllString(strings.ToLower(id), "-")
}

// toPolicy adapts a rule to a policyx resource validation policy.
func toPolicy(rule policy.Rule) policyx.ResourceValidationPolicy {
	return policyx.NewResourceValidationPolicy(PolicyName(rule.ID), policyx.ResourceValidationPolicyArgs{
		Description:      fmt.Sprintf("%s (%s): %s", rule.Title, rule.ID, rule.Reason),
		EnforcementLevel: policyx.EnforcementLevelMandatory,
		ValidateResource: func(_ context.Context, args policyx.ResourceValidationArgs) error {
			for _, v := range policy.Evaluate([]policy.Rule{rule}, []policy.Resource{fromAnalyzer(args.Resource)}) {
				args.Manager.ReportViolation(v.Message, "")
			}
			return nil
		},
	})
}

// fromAnalyzer is the rules' view of a resource the engine sends.
func fromAnalyzer(r policyx.AnalyzerResource) policy.Resource {
	return policy.Resource{
		Type:    r.Type,
		Name:    r.Name,
		URN:     r.URN,
		Inputs:  resource.ToResourcePropertyMap(r.Properties),
		Protect: r.Options.Protect,
	}
}
