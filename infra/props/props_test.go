package props_test

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/shipyard-kit/shipyard/infra/props"
)

func TestGet(t *testing.T) {
	m := resource.NewPropertyMapFromMap(map[string]any{
		"name": "web",
		"ingress": []any{
			map[string]any{"cidrBlocks": []any{"10.0.0.0/16"}, "fromPort": 443},
		},
		"nothing": nil,
	})
	m["password"] = resource.MakeSecret(resource.NewStringProperty("hunter2"))
	m["endpoint"] = resource.NewOutputProperty(resource.Output{Element: resource.NewStringProperty("db:5432"), Known: true})
	for _, c := range []struct {
		name, path string
		want       any
		found      bool
	}{
		{"a top-level string is found", "name", "web", true},
		{"a list element is reached by index", "ingress.0.cidrBlocks.0", "10.0.0.0/16", true},
		{"a number inside a list element is found", "ingress.0.fromPort", float64(443), true},
		{"a secret is unwrapped", "password", "hunter2", true},
		{"an output is unwrapped", "endpoint", "db:5432", true},
		{"a missing key is not found", "missing", nil, false},
		{"an index past the end is not found", "ingress.1", nil, false},
		{"a non-numeric index is not found", "ingress.first", nil, false},
		{"a path through a string is not found", "name.first", nil, false},
		{"null counts as absent", "nothing", nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, ok := props.Get(m, c.path)
			if ok != c.found {
				t.Fatalf("found = %v, want %v", ok, c.found)
			}
			if ok && v.V != c.want {
				t.Errorf("got %v, want %v", v.V, c.want)
			}
		})
	}
}
