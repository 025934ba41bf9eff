// Package pulumitest runs a Pulumi program under the SDK's mocks and records
// every resource it registers (type, name, inputs, parent, dependencies and
// resource options) and the stack outputs, so tests can assert on the whole
// resource graph without a cloud, a provider plugin or the Pulumi CLI.
//
// The same recording drives the local stack's Docker harness (tests/), which
// executes the docker resources of the graph for real.
package pulumitest

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shipyard-kit/shipyard/infra/props"
)

// Project is the Pulumi project name of Pulumi.yaml.
const Project = "shipyard"

// Resource is one registered resource as the engine would receive it.
type Resource struct {
	URN    string
	Type   string
	Name   string
	Custom bool
	// Inputs are the resolved inputs; secret values stay wrapped as secrets.
	Inputs resource.PropertyMap
	// Parent is the parent's URN ("" for the stack's direct children).
	Parent string
	// Dependencies are the URNs this resource depends on (explicit
	// DependsOn plus the resources its inputs came from).
	Dependencies []string
	// Resource options.
	Protect             bool
	RetainOnDelete      bool
	IgnoreChanges       []string
	ReplaceOnChanges    []string
	DeleteBeforeReplace bool
}

// Input returns the input at a dotted path ("logConfiguration.logDriver";
// list indexes as numbers: "ingress.0.cidrBlocks"), unwrapping secrets and
// outputs, and whether it was present.
func (r Resource) Input(path string) (resource.PropertyValue, bool) {
	return props.Get(r.Inputs, path)
}

// String returns the string input at path, or "".
func (r Resource) String(path string) string {
	v, ok := r.Input(path)
	if !ok || !v.IsString() {
		return ""
	}
	return v.StringValue()
}

// Number returns the numeric input at path, or 0.
func (r Resource) Number(path string) float64 {
	v, ok := r.Input(path)
	if !ok || !v.IsNumber() {
		return 0
	}
	return v.NumberValue()
}

// Bool returns the boolean input at path, or false.
func (r Resource) Bool(path string) bool {
	v, ok := r.Input(path)
	return ok && v.IsBool() && v.BoolValue()
}

// Graph is everything one program run registered.
type Graph struct {
	Stack     string
	Resources []Resource
	// Outputs are the stack outputs the program returned, resolved.
	Outputs map[string]any
}

// ByType returns the resources of a type token, in registration order.
func (g *Graph) ByType(typ string) []Resource {
	var out []Resource
	for _, r := range g.Resources {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// Find returns the resource with a type and name.
func (g *Graph) Find(typ, name string) (Resource, bool) {
	for _, r := range g.Resources {
		if r.Type == typ && r.Name == name {
			return r, true
		}
	}
	return Resource{}, false
}

// ByURN returns the resource with a URN.
func (g *Graph) ByURN(urn string) (Resource, bool) {
	for _, r := range g.Resources {
		if r.URN == urn {
			return r, true
		}
	}
	return Resource{}, false
}

// Types returns the distinct type tokens in the graph, sorted.
func (g *Graph) Types() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range g.Resources {
		if !seen[r.Type] {
			seen[r.Type] = true
			out = append(out, r.Type)
		}
	}
	sort.Strings(out)
	return out
}

// OutputsFunc computes a resource's provider-side outputs (what the cloud
// would return) from its name and inputs. The returned map is merged over
// the inputs to form the resource's state.
type OutputsFunc func(name string, inputs resource.PropertyMap) resource.PropertyMap

// CallFunc answers an invoke (data source / function call).
type CallFunc func(args resource.PropertyMap) (resource.PropertyMap, error)

// Mocks records registrations; it implements pulumi.MockResourceMonitor.
type Mocks struct {
	stack   string
	outputs map[string]OutputsFunc
	calls   map[string]CallFunc
	config  map[string]string
	secrets []string
	dryRun  bool

	mu    sync.Mutex
	graph Graph
}

// Option customises Mocks.
type Option func(*Mocks)

// WithOutputs sets how resources of a type token get their computed outputs.
func WithOutputs(typ string, f OutputsFunc) Option {
	return func(m *Mocks) { m.outputs[typ] = f }
}

// WithCall sets the answer of an invoke token, e.g. "aws:index/getRegion:getRegion".
func WithCall(token string, f CallFunc) Option {
	return func(m *Mocks) { m.calls[token] = f }
}

// WithConfig sets a stack config value, key in "namespace:key" form
// (e.g. "shipyard:STRIPE_KEY"), as `pulumi config set` would.
func WithConfig(key, value string) Option {
	return func(m *Mocks) { m.config[key] = value }
}

// WithSecretConfig sets a secret stack config value, as
// `pulumi config set --secret` would.
func WithSecretConfig(key, value string) Option {
	return func(m *Mocks) {
		m.config[key] = value
		m.secrets = append(m.secrets, key)
	}
}

// WithDryRun runs the program as a preview would.
func WithDryRun() Option {
	return func(m *Mocks) { m.dryRun = true }
}

// NewResource records a registration and returns inputs plus computed outputs
// as the resource's state.
func (m *Mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	r := Resource{
		Type:   args.TypeToken,
		Name:   args.Name,
		Custom: args.Custom,
		Inputs: args.Inputs.Copy(),
	}
	if rpc := args.RegisterRPC; rpc != nil {
		r.Parent = rpc.GetParent()
		r.Dependencies = append([]string(nil), rpc.GetDependencies()...)
		r.Protect = rpc.GetProtect()
		r.RetainOnDelete = rpc.GetRetainOnDelete()
		r.IgnoreChanges = append([]string(nil), rpc.GetIgnoreChanges()...)
		r.ReplaceOnChanges = append([]string(nil), rpc.GetReplaceOnChanges()...)
		r.DeleteBeforeReplace = rpc.GetDeleteBeforeReplace()
	}
	r.URN = m.urn(r.Parent, r.Type, r.Name)

	state := args.Inputs.Copy()
	id := args.Name + "-id"
	if args.ID != "" {
		id = args.ID
	}
	if strings.HasPrefix(args.TypeToken, "aws:") {
		if _, ok := state["arn"]; !ok {
			state["arn"] = resource.NewStringProperty("arn:aws:mock:eu-west-1:123456789012:" + args.TypeToken + "/" + args.Name)
		}
	}
	if f, ok := m.outputs[args.TypeToken]; ok {
		for k, v := range f(args.Name, args.Inputs) {
			state[k] = v
		}
	}
	m.mu.Lock()
	m.graph.Resources = append(m.graph.Resources, r)
	m.mu.Unlock()
	return id, state, nil
}

// Call answers invokes from the WithCall table; an unknown token is an error
// so a program cannot silently depend on an unmocked data source.
func (m *Mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	f, ok := m.calls[args.Token]
	if !ok {
		return nil, fmt.Errorf("pulumitest: no mock for invoke %q; add pulumitest.WithCall", args.Token)
	}
	return f(args.Args)
}

// urn mirrors the mock monitor's URN scheme.
func (m *Mocks) urn(parent, typ, name string) string {
	parentType := tokens.Type("")
	if p := resource.URN(parent); p != "" && p.QualifiedType() != resource.RootStackType {
		parentType = p.QualifiedType()
	}
	return string(resource.NewURN(tokens.QName(m.stack), tokens.PackageName(Project), parentType, tokens.Type(typ), name))
}

// Program is a stack program that returns its stack outputs instead of
// exporting them, so they can be captured; stacks/ exports the same map.
type Program func(ctx *pulumi.Context) (pulumi.Map, error)

// Run executes program for stack under mocks and returns what it
// registered. Config values (e.g. secrets) are passed as "project:key" pairs
// through WithConfig.
func Run(stack string, program Program, opts ...Option) (*Graph, error) {
	m := &Mocks{stack: stack, outputs: map[string]OutputsFunc{}, calls: map[string]CallFunc{}, config: map[string]string{}}
	m.graph.Stack = stack
	for _, o := range opts {
		o(m)
	}
	var outputs map[string]any
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		out, err := program(ctx)
		if err != nil {
			return err
		}
		for k, v := range out {
			ctx.Export(k, v)
		}
		// Resolve the outputs; RunErr waits for this apply before returning.
		pulumi.ToMap(map[string]interface{}(toInterfaceMap(out))).ToMapOutput().ApplyT(func(v map[string]any) map[string]any {
			outputs = v
			return v
		})
		return nil
	}, pulumi.WithMocks(Project, stack, m), func(info *pulumi.RunInfo) {
		info.Config = m.config
		info.ConfigSecretKeys = m.secrets
		info.DryRun = m.dryRun
	})
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.graph
	g.Outputs = outputs
	return &g, nil
}

func toInterfaceMap(m pulumi.Map) map[string]interface{} {
	out := make(map[string]interface{}, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
