package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/shipyard-kit/shipyard/infra/signals"
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

// cmdEnv prints the app's environment for a stack in .env form: NAME=value
// lines, the value literal to the end of the line (docker --env-file
// semantics; validation keeps values on one line). Secret variables are
// listed commented out, by name only.
func cmdEnv(_ context.Context, e env) error {
	if len(e.args) != 1 {
		return errors.New("usage: shipyard env STACK")
	}
	cfg, err := loadStack(e, e.args[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "# App environment of stack %q (generated from config/%s.json).\n", cfg.Stack, cfg.Stack)
	if cfg.Target == stackconfig.TargetAWS {
		fmt.Fprintln(e.stdout, "# Target aws: the hosts below are placeholders (the docker aliases); the tasks get the RDS and ElastiCache endpoints.")
	}
	for _, v := range cfg.Env(stackconfig.LocalEndpoints) {
		fmt.Fprintf(e.stdout, "%s=%s\n", v.Name, v.Value)
	}
	fmt.Fprintln(e.stdout, "# Secrets (values come from Pulumi config secrets / Secrets Manager):")
	for _, n := range cfg.SecretNames() {
		fmt.Fprintf(e.stdout, "# %s=\n", n)
	}
	return nil
}

// cmdValidate validates the named stacks, or every stack (then the
// cross-stack rules apply between all of them). It prints "STACK: ok" per
// valid stack, warns on stderr about restated defaults, and fails listing
// every problem of every bad stack.
func cmdValidate(_ context.Context, e env) error {
	dir, err := stackconfig.FindDir(e.getenv, ".")
	if err != nil {
		return err
	}
	stacks := e.args
	var failed []error
	loaded := map[string]*stackconfig.Config{}
	if len(stacks) == 0 {
		if stacks, err = stackconfig.Stacks(dir); err != nil {
			return err
		}
		if len(stacks) == 0 {
			return fmt.Errorf("no stack files in %s", dir)
		}
		if ignored, err := stackconfig.Ignored(dir); err == nil {
			for _, f := range ignored {
				fmt.Fprintf(e.stderr, "note: %s is not a stack (stack names match %s); not validated\n", f, stackconfig.StackNamePattern)
			}
		}
		if loaded, err = stackconfig.LoadAll(dir); err != nil {
			failed = append(failed, err)
		}
	} else {
		for _, s := range stacks {
			cfg, err := stackconfig.Load(dir, s)
			if err != nil {
				failed = append(failed, err)
				continue
			}
			loaded[s] = cfg
		}
	}
	for _, s := range stacks {
		cfg, ok := loaded[s]
		if !ok || cfg == nil {
			continue
		}
		// The alarm overrides are checked against the alarm table, which
		// the schema does not know: a threshold above 100%, disabling an
		// alarm that rolls deployments back.
		if _, err := signals.Resolve(cfg); err != nil {
			failed = append(failed, fmt.Errorf("%s.json: %w", s, err))
			continue
		}
		fmt.Fprintf(e.stdout, "%s: ok\n", s)
		if data, err := os.ReadFile(filepath.Join(dir, s+".json")); err == nil {
			if restated, err := stackconfig.RestatedDefaults(data); err == nil && len(restated) > 0 {
				fmt.Fprintf(e.stderr, "warning: %s.json restates default values (stack files list only what differs): %v\n", s, restated)
			}
		}
	}
	return errors.Join(failed...)
}

// cmdConfigDocs prints docs/config.md, generated from config/schema.json.
func cmdConfigDocs(_ context.Context, e env) error {
	if len(e.args) != 0 {
		return errors.New("usage: shipyard config-docs > docs/config.md")
	}
	dir, err := stackconfig.FindDir(e.getenv, ".")
	if err != nil {
		return err
	}
	schema, err := os.ReadFile(filepath.Join(dir, stackconfig.SchemaFile))
	if err != nil {
		return err
	}
	doc, err := stackconfig.ConfigDocs(schema)
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(doc)
	return err
}
