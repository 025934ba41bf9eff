package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// check is one prerequisite: run returns what was found, or why not; fix
// tells the operator what to do about it.
type check struct {
	name string
	run  func(ctx context.Context) (string, error)
	fix  string
}

// cmdDoctor checks the prerequisites of the stacks named (default: every
// stack): Go, Docker, the pinned Pulumi CLI, and for aws stacks the AWS
// CLI's credentials, crane and the secrets passphrase.
func cmdDoctor(ctx context.Context, e env) error {
	pin, _, stacks := cutFlag(e.args, "pulumi-version")
	pr, err := findProject(e)
	if err != nil {
		return err
	}
	if len(stacks) == 0 {
		if stacks, err = stackconfig.Stacks(pr.configDir); err != nil {
			return err
		}
	}
	var targets []*stackconfig.Config
	for _, s := range stacks {
		cfg, err := stackconfig.Load(pr.configDir, s)
		if err != nil {
			return err
		}
		targets = append(targets, cfg)
	}
	checks := doctorChecks(osExec(e.stdout, e.stderr), e.getenv, pr.pulumi(nil, e.getenv), pin, targets)
	return runChecks(ctx, e.stdout, checks)
}

// doctorChecks lists the checks the stacks need.
func doctorChecks(x execer, getenv func(string) string, p *pulumiCLI, pin string, stacks []*stackconfig.Config) []check {
	output := func(name string, args ...string) func(ctx context.Context) (string, error) {
		return func(ctx context.Context) (string, error) {
			out, err := x(ctx, call{Name: name, Args: args})
			return strings.TrimSpace(string(out)), err
		}
	}
	checks := []check{
		{name: "go", run: output("go", "env", "GOVERSION"), fix: "install Go (the version in go.mod) from https://go.dev/dl"},
		{
			name: "docker engine",
			run: func(ctx context.Context) (string, error) {
				v, err := output("docker", "version", "--format", "{{.Server.Version}}")(ctx)
				if err != nil {
					return "", fmt.Errorf("the engine is not reachable: %w", err)
				}
				return "engine " + v, nil
			},
			fix: "install Docker and start the engine (Docker Desktop, or `sudo systemctl start docker`); your user needs access to the socket (the docker group)",
		},
		{
			name: "pulumi",
			run: func(ctx context.Context) (string, error) {
				v, err := output("pulumi", "version")(ctx)
				if err != nil {
					return "", err
				}
				if pin != "" && strings.TrimPrefix(v, "v") != strings.TrimPrefix(pin, "v") {
					return "", fmt.Errorf("version %s, but the Makefile pins %s", v, pin)
				}
				return v, nil
			},
			fix: "run `make tools` (installs the pinned Pulumi CLI into bin/; the Makefile puts bin/ first on PATH)",
		},
	}
	var aws []string
	for _, c := range stacks {
		if c.Target == stackconfig.TargetAWS {
			aws = append(aws, c.Stack)
		}
	}
	if len(aws) == 0 {
		return checks
	}
	which := strings.Join(aws, ", ")
	checks = append(checks,
		check{
			name: "aws credentials (" + which + ")",
			run: func(ctx context.Context) (string, error) {
				out, err := x(ctx, call{Name: "aws", Args: []string{"sts", "get-caller-identity", "--output", "json"}})
				if err != nil {
					return "", err
				}
				var id struct{ Account, Arn string }
				if err := json.Unmarshal(out, &id); err != nil {
					return "", fmt.Errorf("aws sts get-caller-identity: %w", err)
				}
				return id.Arn + " (account " + id.Account + ")", nil
			},
			fix: "install the AWS CLI v2 and sign in: `aws configure sso` then `export AWS_PROFILE=<profile>` (CI assumes a role through OIDC; see docs/operations.md)",
		},
		check{
			name: "crane (" + which + ")",
			run:  output("crane", "version"),
			fix:  "run `make tools` (promotions copy images between ECR repositories by digest with crane)",
		},
	)
	for _, s := range aws {
		checks = append(checks, check{
			name: "secrets passphrase (" + s + ")",
			run: func(context.Context) (string, error) {
				if _, err := p.passphrase(s, stackconfig.TargetAWS); err != nil {
					return "", errors.New("PULUMI_CONFIG_PASSPHRASE is not set")
				}
				if getenv("PULUMI_CONFIG_PASSPHRASE") != "" || getenv("PULUMI_CONFIG_PASSPHRASE_FILE") != "" {
					return "passphrase set", nil
				}
				return "secrets provider " + p.secretsProvider(s), nil
			},
			fix: "export PULUMI_CONFIG_PASSPHRASE (from the team's password manager) or PULUMI_CONFIG_PASSPHRASE_FILE, or move the stack to KMS (docs/operations.md)",
		})
	}
	return checks
}

// runChecks runs every check, printing each result and, for a failure,
// its fix; the error counts the failures.
func runChecks(ctx context.Context, w io.Writer, checks []check) error {
	failed := 0
	for _, c := range checks {
		detail, err := c.run(ctx)
		if err != nil {
			failed++
			fmt.Fprintf(w, "✗ %-32s %v\n  fix: %s\n", c.name, firstLine(err.Error()), c.fix)
			continue
		}
		fmt.Fprintf(w, "✓ %-32s %s\n", c.name, firstLine(detail))
	}
	if failed > 0 {
		return fmt.Errorf("doctor: %d of %d checks failed", failed, len(checks))
	}
	return nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
