// Package policy is Shipyard's policy set over a stack's resource graph:
// security rules named after the AWS Security Hub, checkov and trivy checks
// they implement, reliability rules, and the stateful guard (protection in
// prod and CheckPlan over `pulumi preview --json`).
//
// Rules run over a generic view of a resource (type, name, URN, inputs,
// protect), so the same rules run in the Go tests (over the graph
// infra/pulumitest records under mocks) and in the Pulumi policy pack
// (policypack/, over what the engine sends).
package policy

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/shipyard-kit/shipyard/infra/props"
	"github.com/shipyard-kit/shipyard/infra/pulumitest"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// Resource is the generic view of one resource the rules check.
type Resource struct {
	Type    string
	Name    string
	URN     string
	Inputs  resource.PropertyMap
	Protect bool
}

// Stack is the stack name in the resource's URN.
func (r Resource) Stack() string {
	if !resource.URN(r.URN).IsValid() {
		return ""
	}
	return string(resource.URN(r.URN).Stack())
}

// ParentTypes are the types of the resource's ancestors in its URN, outermost
// first (e.g. ["shipyard:aws:LoadBalancer"]).
func (r Resource) ParentTypes() []string {
	u := resource.URN(r.URN)
	if !u.IsValid() {
		return nil
	}
	parts := strings.Split(string(u.QualifiedType()), "$")
	return parts[:len(parts)-1]
}

// InComponent reports whether a component of type typ is an ancestor.
func (r Resource) InComponent(typ string) bool {
	for _, t := range r.ParentTypes() {
		if t == typ {
			return true
		}
	}
	return false
}

// Get returns the input at a dotted path ("accessLogs.enabled",
// "ingress.0.cidrBlocks"), unwrapping secrets and outputs.
func (r Resource) Get(path string) (resource.PropertyValue, bool) {
	return props.Get(r.Inputs, path)
}

// IsUnknown reports whether the value at path, or one of its parents, is
// not known yet (a preview of a value computed from another resource's
// outputs). Rules skip what they cannot know.
func (r Resource) IsUnknown(path string) bool {
	v := resource.NewObjectProperty(r.Inputs)
	for _, part := range strings.Split(path, ".") {
		for {
			if v.IsComputed() || (v.IsOutput() && !v.OutputValue().Known) {
				return true
			}
			if v.IsSecret() {
				v = v.SecretValue().Element
				continue
			}
			if v.IsOutput() {
				v = v.OutputValue().Element
				continue
			}
			break
		}
		switch {
		case v.IsObject():
			next, ok := v.ObjectValue()[resource.PropertyKey(part)]
			if !ok {
				return false
			}
			v = next
		case v.IsArray():
			var i int
			if _, err := fmt.Sscan(part, &i); err != nil || i < 0 || i >= len(v.ArrayValue()) {
				return false
			}
			v = v.ArrayValue()[i]
		default:
			return false
		}
	}
	v = unwrap(v)
	return v.IsComputed() || (v.IsOutput() && !v.OutputValue().Known)
}

func unwrap(v resource.PropertyValue) resource.PropertyValue { return props.Unwrap(v) }

// String returns the string at path, or "".
func (r Resource) String(path string) string {
	if v, ok := r.Get(path); ok && v.IsString() {
		return v.StringValue()
	}
	return ""
}

// Bool returns the boolean at path and whether one was set.
func (r Resource) Bool(path string) (value, set bool) {
	if v, ok := r.Get(path); ok && v.IsBool() {
		return v.BoolValue(), true
	}
	return false, false
}

// True reports whether the boolean at path is set and true.
func (r Resource) True(path string) bool {
	v, _ := r.Bool(path)
	return v
}

// Number returns the number at path and whether one was set.
func (r Resource) Number(path string) (float64, bool) {
	if v, ok := r.Get(path); ok && v.IsNumber() {
		return v.NumberValue(), true
	}
	return 0, false
}

// Strings returns the array of strings at path.
func (r Resource) Strings(path string) []string {
	v, ok := r.Get(path)
	if !ok || !v.IsArray() {
		return nil
	}
	var out []string
	for _, e := range v.ArrayValue() {
		if e = unwrap(e); e.IsString() {
			out = append(out, e.StringValue())
		}
	}
	return out
}

// Len returns the length of the array at path.
func (r Resource) Len(path string) int {
	v, ok := r.Get(path)
	if !ok || !v.IsArray() {
		return 0
	}
	return len(v.ArrayValue())
}

// Rule is one check with its ID and reason.
type Rule struct {
	// ID is the Security Hub control (e.g. "RDS.2"), checkov or trivy ID
	// it implements, or a SHIPYARD-* ID for Shipyard's own rules.
	ID string
	// Title reads like a sentence: "RDS is never public".
	Title string
	// Reason is the one-line why.
	Reason string
	// Types are the resource types Check looks at.
	Types []string
	// ProdOnly rules apply to the prod stack only; see Exceptions.
	ProdOnly bool
	// Check returns one message per problem of r.
	Check func(r Resource) []string
	// CheckStack, for rules about how resources relate, returns one
	// violation per problem of the whole stack.
	CheckStack func(rs []Resource) []Violation
	// ReadsOptions marks rules that read resource options (Protect), which
	// policyx (sdk v3.200) does not pass to a policy pack.
	ReadsOptions bool
}

// Applies reports whether the rule checks resources of typ.
func (rule Rule) Applies(typ string) bool {
	for _, t := range rule.Types {
		if t == typ {
			return true
		}
	}
	return false
}

// Violation is a rule a resource (or the stack, URN "") breaks.
type Violation struct {
	RuleID  string
	URN     string
	Message string
}

func (v Violation) String() string {
	if v.URN == "" {
		return fmt.Sprintf("%s: %s", v.RuleID, v.Message)
	}
	return fmt.Sprintf("%s: %s: %s", v.RuleID, v.URN, v.Message)
}

// Evaluate runs rules over rs. ProdOnly rules skip resources of other stacks.
func Evaluate(rules []Rule, rs []Resource) []Violation {
	var out []Violation
	for _, rule := range rules {
		scoped := rs
		if rule.ProdOnly {
			scoped = nil
			for _, r := range rs {
				if r.Stack() == stackconfig.ProdStack {
					scoped = append(scoped, r)
				}
			}
		}
		if rule.Check != nil {
			for _, r := range scoped {
				if !rule.Applies(r.Type) {
					continue
				}
				for _, msg := range rule.Check(r) {
					out = append(out, Violation{RuleID: rule.ID, URN: r.URN, Message: msg})
				}
			}
		}
		if rule.CheckStack != nil && len(scoped) > 0 {
			for _, v := range rule.CheckStack(scoped) {
				v.RuleID = rule.ID
				out = append(out, v)
			}
		}
	}
	return out
}

// FromGraph converts a recorded graph to the rules' view.
func FromGraph(g *pulumitest.Graph) []Resource {
	out := make([]Resource, 0, len(g.Resources))
	for _, r := range g.Resources {
		out = append(out, Resource{Type: r.Type, Name: r.Name, URN: r.URN, Inputs: r.Inputs, Protect: r.Protect})
	}
	return out
}

// All is every rule: security, reliability and stateful protection.
func All() []Rule {
	var out []Rule
	out = append(out, SecurityRules()...)
	out = append(out, ReliabilityRules()...)
	out = append(out, alarmRules()...)
	out = append(out, codeDeployRules()...)
	out = append(out, tracingRules()...)
	out = append(out, previewRules()...)
	out = append(out, StatefulRules()...)
	return out
}

// ByID returns the rule with an ID.
func ByID(id string) (Rule, bool) {
	for _, r := range All() {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

// IDs lists every rule ID, sorted.
func IDs() []string {
	var out []string
	for _, r := range All() {
		out = append(out, r.ID)
	}
	sort.Strings(out)
	return out
}

// typeOfURN returns the resource type of a URN.
func typeOfURN(urn string) string {
	u := resource.URN(urn)
	if !u.IsValid() {
		return ""
	}
	return string(u.Type())
}
