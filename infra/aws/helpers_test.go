package aws_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/shipyard-kit/shipyard/infra/pulumitest"
)

// freshGraph runs a stack anew, for tests that modify the graph.
func freshGraph(t *testing.T, stack string) *pulumitest.Graph {
	t.Helper()
	delete(graphs, stack)
	g := graph(t, stack, true)
	delete(graphs, stack)
	return g
}

// pick returns the resource of typ named part, or else the first whose
// name contains part.
func pick(t *testing.T, g *pulumitest.Graph, typ, part string) *pulumitest.Resource {
	t.Helper()
	for i := range g.Resources {
		if g.Resources[i].Type == typ && g.Resources[i].Name == part {
			return &g.Resources[i]
		}
	}
	for i := range g.Resources {
		if g.Resources[i].Type == typ && strings.Contains(g.Resources[i].Name, part) {
			return &g.Resources[i]
		}
	}
	t.Fatalf("no %s named *%s* in the graph", typ, part)
	return nil
}

func unwrapValue(v resource.PropertyValue) resource.PropertyValue {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	return v
}

// setInput sets (or, with a null value, deletes) the input at a dotted path.
func setInput(t *testing.T, r *pulumitest.Resource, path string, v resource.PropertyValue) {
	t.Helper()
	parts := strings.Split(path, ".")
	cur := resource.NewObjectProperty(r.Inputs)
	for i, part := range parts {
		cur = unwrapValue(cur)
		last := i == len(parts)-1
		switch {
		case cur.IsObject():
			m := cur.ObjectValue()
			if last {
				if v.IsNull() {
					delete(m, resource.PropertyKey(part))
				} else {
					m[resource.PropertyKey(part)] = v
				}
				return
			}
			next, ok := m[resource.PropertyKey(part)]
			if !ok {
				t.Fatalf("%s: no %s in %s", r.Name, part, path)
			}
			cur = next
		case cur.IsArray():
			var n int
			if _, err := fmt.Sscan(part, &n); err != nil || n >= len(cur.ArrayValue()) {
				t.Fatalf("%s: bad index %s in %s", r.Name, part, path)
			}
			if last {
				cur.ArrayValue()[n] = v
				return
			}
			cur = cur.ArrayValue()[n]
		default:
			t.Fatalf("%s: %s is not an object or array", r.Name, path)
		}
	}
}

// containerDefs parses a task definition's container definitions.
func containerDefs(t *testing.T, r pulumitest.Resource) []map[string]any {
	t.Helper()
	var cs []map[string]any
	if err := json.Unmarshal([]byte(r.String("containerDefinitions")), &cs); err != nil {
		t.Fatalf("%s: containerDefinitions: %v", r.Name, err)
	}
	return cs
}

// editContainer changes the named container of a task definition.
func editContainer(t *testing.T, r *pulumitest.Resource, name string, edit func(c map[string]any)) {
	t.Helper()
	cs := containerDefs(t, *r)
	found := false
	for _, c := range cs {
		if c["name"] == name {
			edit(c)
			found = true
		}
	}
	if !found {
		t.Fatalf("%s: no container %s", r.Name, name)
	}
	b, err := json.Marshal(cs)
	if err != nil {
		t.Fatal(err)
	}
	r.Inputs["containerDefinitions"] = resource.NewStringProperty(string(b))
}

// setEnv sets an environment variable of a container definition.
func setEnv(c map[string]any, name, value string) {
	env, _ := c["environment"].([]any)
	for _, e := range env {
		if m := e.(map[string]any); m["name"] == name {
			m["value"] = value
			return
		}
	}
	c["environment"] = append(env, map[string]any{"name": name, "value": value})
}

// drop removes the resources of typ whose name contains part.
func drop(g *pulumitest.Graph, typ, part string) {
	var keep []pulumitest.Resource
	for _, r := range g.Resources {
		if !(r.Type == typ && strings.Contains(r.Name, part)) {
			keep = append(keep, r)
		}
	}
	g.Resources = keep
}

// setParameter sets the value of a named parameter of a parameter group.
func setParameter(t *testing.T, r *pulumitest.Resource, name, value string) {
	t.Helper()
	for i, p := range r.Inputs["parameters"].ArrayValue() {
		if p.ObjectValue()["name"].StringValue() == name {
			setInput(t, r, fmt.Sprintf("parameters.%d.value", i), resource.NewStringProperty(value))
			return
		}
	}
	t.Fatalf("%s: no parameter %s", r.Name, name)
}
