// Package aws holds the Pulumi components of the AWS target.
package aws

import (
	"errors"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// NewStack builds the AWS topology of a stack and returns its outputs.
func NewStack(ctx *pulumi.Context, cfg *stackconfig.Config) (pulumi.Map, error) {
	return nil, errors.New("infra/aws: not built yet")
}
