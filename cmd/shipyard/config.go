package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// loadStack finds the config directory from the working directory and
// loads one stack.
func loadStack(e env, stack string) (*stackconfig.Config, error) {
	dir, err := stackconfig.FindDir(e.getenv, ".")
	if err != nil {
		return nil, err
	}
	return stackconfig.Load(dir, stack)
}

// cmdEnv prints the app's environment for a stack in .env form. Secret
// variables are listed commented out, by name only.
func cmdEnv(_ context.Context, e env) error {
	if len(e.args) != 1 {
		return errors.New("usage: shipyard env STACK")
	}
	cfg, err := loadStack(e, e.args[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "# App environment of stack %q (generated from config/%s.json).\n", cfg.Stack, cfg.Stack)
	for _, v := range cfg.Env(stackconfig.LocalEndpoints) {
		fmt.Fprintf(e.stdout, "%s=%s\n", v.Name, v.Value)
	}
	fmt.Fprintln(e.stdout, "# Secrets (values come from Pulumi config secrets / Secrets Manager):")
	for _, n := range cfg.SecretNames() {
		fmt.Fprintf(e.stdout, "# %s=\n", n)
	}
	return nil
}

// cmdValidate validates the named stacks, or every stack.
func cmdValidate(_ context.Context, e env) error {
	dir, err := stackconfig.FindDir(e.getenv, ".")
	if err != nil {
		return err
	}
	stacks := e.args
	if len(stacks) == 0 {
		if stacks, err = stackconfig.Stacks(dir); err != nil {
			return err
		}
	}
	var failed []error
	for _, s := range stacks {
		if _, err := stackconfig.Load(dir, s); err != nil {
			failed = append(failed, err)
			continue
		}
		fmt.Fprintf(e.stdout, "%s: ok\n", s)
	}
	return errors.Join(failed...)
}
