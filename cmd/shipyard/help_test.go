package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestEveryCommandAnswersHelpWithItsUsage(t *testing.T) {
	for name := range commands() {
		for _, flag := range []string{"--help", "-h"} {
			t.Run(name+" "+flag, func(t *testing.T) {
				var out, errb bytes.Buffer
				// An environment without a repository: help reads nothing.
				err := run(context.Background(), []string{name, flag}, func(string) string { return "" }, &out, &errb)
				if err != nil {
					t.Fatalf("shipyard %s %s: %v", name, flag, err)
				}
				if !strings.HasPrefix(out.String(), "usage: shipyard "+name) {
					t.Errorf("shipyard %s %s printed %q", name, flag, out.String())
				}
			})
		}
	}
	// The ones the issue found taking --help for a stack or a file.
	for _, name := range []string{"validate", "env", "logs", "outputs", "rollback", "ledger"} {
		var out bytes.Buffer
		if err := run(context.Background(), []string{name, "--help"}, func(string) string { return "" }, &out, &out); err != nil || strings.Contains(out.String(), "unknown stack") {
			t.Errorf("shipyard %s --help: %v %q", name, err, out.String())
		}
	}
}

func TestTheLedgerOfAStackNeverReleasedIsEmptyNotAnError(t *testing.T) {
	repo := newCLIRepo(t)
	var out bytes.Buffer
	if err := run(context.Background(), []string{"ledger", "prod"}, os.Getenv, &out, &out); err != nil {
		t.Fatalf("shipyard ledger prod on a fresh clone: %v", err)
	}
	if !strings.Contains(out.String(), "stack prod has no releases yet") {
		t.Errorf("output %q", out.String())
	}
	if _, err := os.Stat(filepath.Join(repo.root, "releases", "prod.jsonl")); err == nil {
		t.Error("printing the ledger created it")
	}
	if err := run(context.Background(), []string{"ledger", "nope"}, os.Getenv, &out, &out); err == nil || !strings.Contains(err.Error(), `unknown stack "nope"`) {
		t.Errorf("shipyard ledger nope: %v", err)
	}
}

// `go run ./cmd/shipyard up dev` after `make tools` finds the pulumi that
// make tools put in bin/, though bin/ is not on the shell's PATH.
func TestShipyardFindsThePinnedToolsInTheRepositorysBin(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"config/schema.json", "bin/pulumi"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, f), []byte("#!/bin/sh\necho v3.200.0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	shellPath := "/usr/bin:/bin"
	getenv := func(k string) string {
		return map[string]string{"SHIPYARD_CONFIG_DIR": filepath.Join(root, "config"), "PATH": shellPath}[k]
	}
	path, ok := toolsPath(getenv)
	if !ok {
		t.Fatal("toolsPath: bin/ not added")
	}
	t.Setenv("PATH", path)
	got, err := exec.LookPath("pulumi")
	if err != nil || got != filepath.Join(root, "bin", "pulumi") {
		t.Errorf("pulumi found at %q (%v), want the repository's bin/pulumi", got, err)
	}
	// Once bin/ is first (the Makefile's PATH), nothing changes.
	shellPath = path
	if _, ok := toolsPath(getenv); ok {
		t.Error("bin/ added twice")
	}
}

// A secret set with `pulumi config set --secret` reaches the app only when
// its name is in app.secrets: every README step that shows the command
// says so in the same step.
func TestTheReadmeSaysASecretsNameMustBeInAppSecrets(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	// Steps are numbered list items; a step runs to the next one or to a
	// heading.
	var steps []string
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimLeft(line, " ")
		isStep := len(trimmed) > 2 && trimmed[0] >= '1' && trimmed[0] <= '9' && strings.HasPrefix(trimmed[1:], ". ") && line == trimmed
		if isStep || strings.HasPrefix(line, "#") || len(steps) == 0 {
			steps = append(steps, "")
		}
		steps[len(steps)-1] += line + "\n"
	}
	found := 0
	for _, s := range steps {
		if !strings.Contains(s, "pulumi config set --secret") {
			continue
		}
		found++
		if !strings.Contains(s, "app.secrets") {
			t.Errorf("this README step sets a secret without saying its name must be in app.secrets:\n%s", s)
		}
	}
	if found == 0 {
		t.Fatal("the README never shows how to set a secret")
	}
}
