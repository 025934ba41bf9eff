// Package docker holds the Pulumi components of the local Docker target.
package docker

import (
	"errors"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// NewStack builds the local topology of a stack and returns its outputs.
func NewStack(ctx *pulumi.Context, cfg *stackconfig.Config) (pulumi.Map, error) {
	return nil, errors.New("infra/docker: not built yet")
}
