package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
	"github.com/shipyard-kit/shipyard/internal/preflight"
)

const rekeyUsage = "rekey STACK               re-encrypt an aws stack's secrets with the secrets provider of its config (bootstrap.secretsProvider, or SHIPYARD_SECRETS_PROVIDER): once after `make bootstrap` says so"

// cmdRekey moves an existing aws stack's secrets to the secrets provider
// its config names (`pulumi stack change-secrets-provider`): a stack
// created before its bootstrap section bound the secrets to the stack's
// name (the encryption context the preview roles require) keeps the
// provider it was created with until then.
func cmdRekey(ctx context.Context, e env) error {
	pr, cfg, err := loadStackArg(e, rekeyUsage)
	if err != nil {
		return err
	}
	if err := deployable(e, pr, cfg); err != nil {
		return err
	}
	return rekey(ctx, pr.pulumi(osExec(e.stdout, e.stderr), e.getenv), cfg, e.stdout)
}

func rekey(ctx context.Context, p *pulumiCLI, cfg *stackconfig.Config, w io.Writer) error {
	if cfg.Target != stackconfig.TargetAWS {
		return fmt.Errorf("rekey is for aws stacks; stack %q has target %q (its secrets use the local passphrase)", cfg.Stack, cfg.Target)
	}
	next := preflight.SecretsProvider(p.getenv, preflightStack(cfg))
	if !strings.HasPrefix(next, "awskms://") {
		return fmt.Errorf("stack %q: config/%s.json has no bootstrap.secretsProvider (and %s is not set): run make bootstrap STACK=%s first", cfg.Stack, cfg.Stack, preflight.SecretsProviderEnv, cfg.Stack)
	}
	settings := filepath.Join(p.root, stackSettingsDir, "Pulumi."+cfg.Stack+".yaml")
	current, err := settingsSecretsProvider(settings)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(w, "==> stack %s has no %s/Pulumi.%s.yaml in this checkout: a stack not created yet gets %s when it is; if it exists, pull the file first\n", cfg.Stack, stackSettingsDir, cfg.Stack, next)
		return nil
	}
	if err != nil {
		return err
	}
	if current == next {
		fmt.Fprintf(w, "==> stack %s's secrets are already encrypted with %s\n", cfg.Stack, next)
		return nil
	}
	fmt.Fprintf(w, "==> re-encrypting stack %s's secrets: %s -> %s\n", cfg.Stack, current, next)
	if _, err := p.run(ctx, cfg.Stack, true, "stack", "change-secrets-provider", next); err != nil {
		return fmt.Errorf("re-encrypting stack %s's secrets: %w", cfg.Stack, err)
	}
	fmt.Fprintf(w, "==> done: commit %s/Pulumi.%s.yaml (its secretsprovider and encryptedkey changed) and push it to main now: a deploy from a checkout with the old file (CI's, on the next push) puts the stack back on %s\n", stackSettingsDir, cfg.Stack, current)
	return nil
}

// settingsSecretsProvider is the secretsprovider of a stack's settings
// file (Pulumi.<stack>.yaml), "passphrase" when it names none.
func settingsSecretsProvider(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "secretsprovider:"); ok {
			return strings.Trim(strings.TrimSpace(v), `"'`), nil
		}
	}
	return "passphrase", nil
}
