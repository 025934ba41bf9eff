package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/shipyard-kit/shipyard/internal/migratelint"
)

// cmdLintMigrations lints the app's goose migrations (or the ones in DIR):
// statements that lock a busy table for long or break the release still
// running during a deploy (docs/operations.md#writing-a-safe-migration).
func cmdLintMigrations(_ context.Context, e env) error {
	if len(e.args) > 1 || (len(e.args) == 1 && strings.HasPrefix(e.args[0], "-")) {
		return errors.New("usage: shipyard lint-migrations [DIR]")
	}
	var dir string
	if len(e.args) == 1 {
		dir = e.args[0]
	} else {
		pr, err := findProject(e)
		if err != nil {
			return err
		}
		dir = displayPath(filepath.Join(pr.root, filepath.FromSlash(migrationsPath)))
	}
	if err := migratelint.Dir(dir); err != nil {
		return fmt.Errorf("lint-migrations: %w", err)
	}
	fmt.Fprintf(e.stdout, "%s: no unsafe migration statements\n", dir)
	return nil
}

// lintBeforeDeploy refuses to release or promote while the checkout's
// migrations fail the linter: every deployment runs them while the
// previous release keeps serving.
func lintBeforeDeploy(e env, verb string) error {
	pr, err := findProject(e)
	if err != nil {
		return err
	}
	dir := displayPath(filepath.Join(pr.root, filepath.FromSlash(migrationsPath)))
	if err := migratelint.Dir(dir); err != nil {
		return fmt.Errorf("refusing to %s: %w (fix the migration, or add a reviewed exception; `make lint` runs the same check)", verb, err)
	}
	return nil
}

// displayPath returns path relative to the working directory when it is
// below it.
func displayPath(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if rel, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}
