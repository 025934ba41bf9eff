package main

import (
	"bytes"

	"github.com/shipyard-kit/shipyard/infra/policy"
)

// stackGuard returns the check `shipyard up` runs on an aws stack's
// `pulumi preview --json` plan before applying it: the refusal to delete or
// replace stateful resources (infra/policy, the same check as `shipyard
// guard`), unless allowStateful.
func stackGuard(_ env, allowStateful bool) func(plan []byte) error {
	return func(plan []byte) error {
		return policy.CheckPlan(bytes.NewReader(plan), allowStateful)
	}
}
