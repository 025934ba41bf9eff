package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/internal/release"
)

// unsafeMigration builds an index on an existing table without
// CONCURRENTLY (and without a lock_timeout).
const unsafeMigration = "-- +goose Up\nCREATE INDEX notes_title_idx ON notes (title);\n-- +goose Down\nDROP INDEX notes_title_idx;\n"

func (r *cliRepo) addMigration(name, src string) {
	if err := os.WriteFile(filepath.Join(r.root, filepath.FromSlash(migrationsPath), name), []byte(src), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func TestLintMigrationsCommand(t *testing.T) {
	t.Run("the app's migrations pass", func(t *testing.T) {
		dir := filepath.Join(repoRoot, filepath.FromSlash(migrationsPath))
		out, err := runCLI(t, "lint-migrations", dir)
		if err != nil || !strings.Contains(out, "no unsafe migration statements") {
			t.Fatalf("lint-migrations %s: %v\n%s", dir, err, out)
		}
	})
	t.Run("the project's migrations by default; an unsafe one fails with its rule and recipe", func(t *testing.T) {
		r := newCLIRepo(t)
		if out, err := runCLI(t, "lint-migrations"); err != nil {
			t.Fatalf("lint-migrations: %v\n%s", err, out)
		}
		r.addMigration("00004_title_idx.sql", unsafeMigration)
		_, err := runCLI(t, "lint-migrations")
		if err == nil {
			t.Fatal("lint-migrations passed an unsafe migration")
		}
		for _, want := range []string{"00004_title_idx.sql:2: create-index-not-concurrently", "CREATE INDEX CONCURRENTLY in its own migration with -- +goose NO TRANSACTION", "missing-lock-timeout"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not contain %q:\n%v", want, err)
			}
		}
	})
	t.Run("usage", func(t *testing.T) {
		if _, err := runCLI(t, "lint-migrations", "a", "b"); err == nil || !strings.Contains(err.Error(), "usage") {
			t.Errorf("err = %v", err)
		}
	})
}

// Release and promote refuse before any external call when the checkout's
// migrations fail the linter.
func TestReleaseAndPromoteRefuseUnsafeMigrations(t *testing.T) {
	for _, args := range [][]string{{"release", "dev", "--image=shipyard-app:test"}, {"promote", "staging", "prod"}} {
		t.Run(args[0], func(t *testing.T) {
			r := newCLIRepo(t)
			r.setDigest("staging", cliDigestA)
			r.recorded("staging", release.KindRelease, cliDigestA)
			r.addMigration("00004_title_idx.sql", unsafeMigration)
			stack := args[1]
			if args[0] == "promote" {
				stack = args[2]
			}
			before, _ := os.ReadFile(r.configPath(stack))
			state := installFakes(t, &fakeWorld{
				Outputs: map[string]map[string]any{
					"dev":     deployedOutputs("dev", "https://dev.example.com", ""),
					"staging": deployedOutputs("staging", readyServer(t, 200, "ready"), cliDigestA),
					"prod":    deployedOutputs("prod", "https://prod.example.com", ""),
				},
				Images: map[string]map[string]bool{repoOf("staging"): {cliDigestA: true}},
			})
			_, err := runCLI(t, args...)
			if err == nil || !strings.Contains(err.Error(), "refusing to "+args[0]) || !strings.Contains(err.Error(), "create-index-not-concurrently") {
				t.Fatalf("%s: err = %v, want a refusal naming the rule", args[0], err)
			}
			if _, err := os.Stat(filepath.Join(state, "calls.log")); err == nil {
				t.Errorf("%s ran external commands despite the refusal:\n%s", args[0], strings.Join(readCalls(t, state), "\n"))
			}
			if after, _ := os.ReadFile(r.configPath(stack)); !bytes.Equal(after, before) {
				t.Errorf("config/%s.json changed", stack)
			}
			if _, err := os.Stat(r.ledger().Path(stack)); err == nil {
				t.Errorf("%s has a ledger: %+v", stack, r.records(stack))
			}

			// Reviewed, the same migration goes through the linter.
			r.addMigration("00004_title_idx.sql", "-- +goose Up\n-- shipyard:allow missing-lock-timeout notes is tiny in every stack\n"+
				"-- shipyard:allow create-index-not-concurrently notes is tiny in every stack\n"+strings.TrimPrefix(unsafeMigration, "-- +goose Up\n"))
			if err := lintBeforeDeploy(env{getenv: os.Getenv}, args[0]); err != nil {
				t.Errorf("reviewed migration: %v", err)
			}
		})
	}
}
