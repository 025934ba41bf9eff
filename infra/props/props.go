// Package props reads values out of Pulumi property maps by dotted path. The
// recorded graph (infra/pulumitest) and the policy rules (infra/policy) both
// read resource inputs through it.
package props

import (
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Get returns the value at a dotted path ("accessLogs.enabled"; list indexes
// as numbers: "ingress.0.cidrBlocks"), unwrapping secrets and outputs on the
// way, and whether a non-null value is there.
func Get(m resource.PropertyMap, path string) (resource.PropertyValue, bool) {
	v := resource.NewObjectProperty(m)
	for _, part := range strings.Split(path, ".") {
		v = Unwrap(v)
		switch {
		case v.IsObject():
			next, ok := v.ObjectValue()[resource.PropertyKey(part)]
			if !ok {
				return resource.PropertyValue{}, false
			}
			v = next
		case v.IsArray():
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(v.ArrayValue()) {
				return resource.PropertyValue{}, false
			}
			v = v.ArrayValue()[i]
		default:
			return resource.PropertyValue{}, false
		}
	}
	v = Unwrap(v)
	return v, !v.IsNull()
}

// Unwrap strips secret and output wrappers from a value.
func Unwrap(v resource.PropertyValue) resource.PropertyValue {
	for {
		switch {
		case v.IsSecret():
			v = v.SecretValue().Element
		case v.IsOutput():
			v = v.OutputValue().Element
		default:
			return v
		}
	}
}
