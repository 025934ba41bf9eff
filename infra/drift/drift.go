// Package drift reads what a refresh preview (`pulumi refresh
// --preview-only --json`) found, and says what drifted: every resource
// and property the cloud (or Docker) has differently from the stack's
// state, apart from the fields a controller owns, which are expected to
// move and reported as such. It also holds that ownership list, which
// infra/aws passes to ignoreChanges. See docs/operations.md ("Drift").
package drift

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
)

// Owned is a field a controller other than Pulumi changes on its own.
type Owned struct {
	// Type is the Pulumi resource type, Property a top-level property.
	Type, Property string
	// Owner says who moves it.
	Owner string
	// When names the setup under which the controller owns it (Autoscaled,
	// CodeDeploy): the program ignores the field only there.
	When Controller
}

// Controller is a setup that hands fields of a resource to a controller.
type Controller string

const (
	// Autoscaled: a service with Application Auto Scaling
	// (services.<process>.autoscaling, or a min/max count).
	Autoscaled Controller = "autoscaled"
	// CodeDeploy: the web service and its listeners under a progressive
	// deploy.strategy on aws (deployment controller CODE_DEPLOY).
	CodeDeploy Controller = "codeDeploy"
)

// ControllerOwned lists every field a controller owns: the Pulumi program
// ignores changes to them (IgnoreChanges) and the drift report shows them
// as expected, not as drift.
var ControllerOwned = []Owned{
	{Type: "aws:ecs/service:Service", Property: "desiredCount", Owner: "Application Auto Scaling (services.<process>.autoscaling)", When: Autoscaled},
	{Type: "aws:ecs/service:Service", Property: "taskDefinition", Owner: "CodeDeploy (the releases deploy a CODE_DEPLOY service)", When: CodeDeploy},
	{Type: "aws:ecs/service:Service", Property: "loadBalancers", Owner: "CodeDeploy (it swaps the web target groups)", When: CodeDeploy},
	{Type: "aws:lb/listener:Listener", Property: "defaultActions", Owner: "CodeDeploy (it moves the listeners between the web target groups)", When: CodeDeploy},
}

// IgnoreChanges returns the properties of resource type typ that the
// program must leave to their controller, under the given setups.
func IgnoreChanges(typ string, when ...Controller) []string {
	var out []string
	for _, o := range ControllerOwned {
		if o.Type == typ && contains(when, o.When) {
			out = append(out, o.Property)
		}
	}
	return out
}

func contains(when []Controller, c Controller) bool {
	for _, w := range when {
		if w == c {
			return true
		}
	}
	return false
}

func owner(typ, property string) (string, bool) {
	for _, o := range ControllerOwned {
		if o.Type == typ && o.Property == property {
			return o.Owner, true
		}
	}
	return "", false
}

// Item is one drifted (or expected) resource property, or a resource gone
// from the cloud (Property empty).
type Item struct {
	URN  string `json:"urn"`
	Type string `json:"type"`
	Name string `json:"name"`
	// Op is what refresh would do to the state: "update" (a property
	// differs) or "delete" (the resource no longer exists).
	Op       string `json:"op"`
	Property string `json:"property,omitempty"`
	// Owner is the controller of an expected change.
	Owner string `json:"owner,omitempty"`
}

func (i Item) String() string {
	switch {
	case i.Op == "delete":
		return fmt.Sprintf("- %s %s: deleted outside Pulumi (the state still has it)", i.Type, i.Name)
	case i.Owner != "":
		return fmt.Sprintf("~ %s %s: %s changed by %s (expected)", i.Type, i.Name, i.Property, i.Owner)
	case i.Property == "":
		return fmt.Sprintf("~ %s %s: %s by refresh", i.Type, i.Name, i.Op)
	}
	return fmt.Sprintf("~ %s %s: %s changed outside Pulumi", i.Type, i.Name, i.Property)
}

// Report is what a refresh preview found.
type Report struct {
	// Summary is the engine's change summary: operation → resources.
	Summary map[string]int `json:"changeSummary"`
	// Drifted are the unexpected differences, one per resource and
	// property; Expected the controller-owned ones.
	Drifted  []Item `json:"drifted"`
	Expected []Item `json:"expected"`
}

// Drift reports whether anything drifted that no controller owns.
func (r *Report) Drift() bool { return len(r.Drifted) > 0 }

type step struct {
	Op       string `json:"op"`
	URN      string `json:"urn"`
	OldState *state `json:"oldState"`
	NewState *state `json:"newState"`
}

type state struct {
	Type    string         `json:"type"`
	Outputs map[string]any `json:"outputs"`
}

// Parse reads the JSON `pulumi refresh --preview-only --json` prints. The
// change summary decides whether the preview saw any change; the steps
// say which resources and properties: a deleted resource is one item, an
// updated one an item per top-level output that differs. A summary with
// changes that no step explains is itself reported, never dropped.
func Parse(data []byte) (*Report, error) {
	var doc struct {
		Steps         []step         `json:"steps"`
		ChangeSummary map[string]int `json:"changeSummary"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("reading the refresh preview: %w", err)
	}
	if doc.ChangeSummary == nil {
		return nil, fmt.Errorf("reading the refresh preview: no changeSummary in %d bytes of output", len(data))
	}
	r := &Report{Summary: doc.ChangeSummary, Drifted: []Item{}, Expected: []Item{}}
	changes := 0
	for op, n := range doc.ChangeSummary {
		if op != "same" {
			changes += n
		}
	}
	if changes == 0 {
		return r, nil
	}
	explained := 0
	for _, s := range doc.Steps {
		typ, name := urnTypeName(s.URN)
		switch s.Op {
		case "same", "refresh", "read":
			// "refresh" steps carry the read state: compare it.
			if s.OldState == nil || s.NewState == nil {
				continue
			}
		case "delete", "deleted":
			r.Drifted = append(r.Drifted, Item{URN: s.URN, Type: typ, Name: name, Op: "delete"})
			explained++
			continue
		}
		props := changedOutputs(s.OldState, s.NewState)
		if len(props) == 0 {
			if s.Op != "same" && s.Op != "refresh" && s.Op != "read" {
				r.Drifted = append(r.Drifted, Item{URN: s.URN, Type: typ, Name: name, Op: s.Op})
				explained++
			}
			continue
		}
		explained++
		for _, p := range props {
			it := Item{URN: s.URN, Type: typ, Name: name, Op: "update", Property: p}
			if o, ok := owner(typ, p); ok {
				it.Owner = o
				r.Expected = append(r.Expected, it)
				continue
			}
			r.Drifted = append(r.Drifted, it)
		}
	}
	if explained == 0 {
		r.Drifted = append(r.Drifted, Item{Op: "unexplained", Type: "stack", Name: fmt.Sprintf("change summary %v", doc.ChangeSummary)})
	}
	return r, nil
}

// changedOutputs lists the top-level outputs that differ, sorted.
func changedOutputs(old, new *state) []string {
	if old == nil || new == nil {
		return nil
	}
	keys := map[string]bool{}
	for k := range old.Outputs {
		keys[k] = true
	}
	for k := range new.Outputs {
		keys[k] = true
	}
	var out []string
	for k := range keys {
		if !reflect.DeepEqual(old.Outputs[k], new.Outputs[k]) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// urnTypeName splits a URN ("urn:pulumi:stack::project::parent$type::name")
// into the resource's own type and name.
func urnTypeName(urn string) (string, string) {
	parts := strings.SplitN(urn, "::", 4)
	if len(parts) < 4 {
		return "", urn
	}
	typ := parts[2]
	if i := strings.LastIndex(typ, "$"); i >= 0 {
		typ = typ[i+1:]
	}
	return typ, parts[3]
}

// WriteText prints one line per drifted resource and property, then the
// expected changes, then a verdict naming the stack.
func (r *Report) WriteText(w io.Writer, stack string) {
	for _, it := range r.Drifted {
		fmt.Fprintln(w, it)
	}
	for _, it := range r.Expected {
		fmt.Fprintln(w, it)
	}
	switch {
	case r.Drift():
		fmt.Fprintf(w, "stack %s drifted: %d difference(s) between the deployed resources and the state; `make up STACK=%s` puts back what the program declares (after review)\n", stack, len(r.Drifted), stack)
	default:
		fmt.Fprintf(w, "stack %s: no drift (%d resources match the state", stack, r.Summary["same"]+len(r.Expected))
		if len(r.Expected) > 0 {
			fmt.Fprintf(w, "; %d controller-owned change(s) expected", len(r.Expected))
		}
		fmt.Fprintln(w, ")")
	}
}
