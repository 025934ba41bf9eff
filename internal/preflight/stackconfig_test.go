package preflight_test

// Tests that compare this package with infra/stackconfig, which imports it
// (preflight.AppImageRef): an external test package, so no import cycle.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
	"github.com/shipyard-kit/shipyard/internal/preflight"
)

// The stack-name rule is this package's, and infra/stackconfig's is it:
// both list, refuse and name stacks alike.
func TestTheStackNameRuleIsStackconfigs(t *testing.T) {
	if preflight.StackNamePattern != stackconfig.StackNamePattern {
		t.Errorf("StackNamePattern %q, infra/stackconfig's %q", preflight.StackNamePattern, stackconfig.StackNamePattern)
	}
	if preflight.TargetAWS != string(stackconfig.TargetAWS) || preflight.TargetDocker != string(stackconfig.TargetDocker) {
		t.Errorf("targets %q and %q, infra/stackconfig's %q and %q", preflight.TargetAWS, preflight.TargetDocker, stackconfig.TargetAWS, stackconfig.TargetDocker)
	}
	for _, name := range []string{"dev", "prod", "local", "dev-pr-12", "eu2", "a", "a-b-c", "abcdefghijklmnopqrst", "abcdefghijklmnopqrstu",
		"dev.old", "Dev", "dev_2", "2dev", "-dev", "dev-", "dev--x", "", "schema", "dév", "dev old"} {
		if got, want := preflight.ValidStackName(name), stackconfig.ValidStackName(name); got != want {
			t.Errorf("ValidStackName(%q) = %v, infra/stackconfig says %v", name, got, want)
		}
	}
	dir := preflight.StackDir(t)
	got, err := preflight.Stacks(dir)
	if err != nil {
		t.Fatal(err)
	}
	want, err := stackconfig.Stacks(dir)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Stacks = %v, infra/stackconfig lists %v", got, want)
	}
	for _, stack := range []string{"dev.old", "nope", "nope-pr-1", ""} {
		_, err := preflight.Read(dir, stack)
		_, want := stackconfig.Load(dir, stack)
		if err == nil || want == nil || err.Error() != want.Error() {
			t.Errorf("Read(%s): %v\ninfra/stackconfig.Load: %v", stack, err, want)
		}
	}
	// A stack file named as a PR environment is refused by both, alike.
	if err := os.WriteFile(filepath.Join(dir, "local-pr-1.json"), []byte(`{"target": "docker"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = preflight.Stacks(dir)
	_, want2 := stackconfig.Stacks(dir)
	if err == nil || want2 == nil || err.Error() != want2.Error() || !strings.Contains(err.Error(), "local-pr-1.json") {
		t.Errorf("Stacks with local-pr-1.json: %v\ninfra/stackconfig.Stacks: %v", err, want2)
	}
}

// A key given twice is refused by both: preflight's answers (target,
// backend, passphrase) never come from the value the loader refuses.
func TestADuplicateKeyIsRefusedByBothAsTheLoaderDoes(t *testing.T) {
	dir := preflight.StackDir(t)
	data := "{\n  \"target\": \"aws\",\n  \"target\": \"docker\"\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "twice.json"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	_, want := stackconfig.Load(dir, "twice")
	if want == nil || !strings.Contains(want.Error(), `line 3: duplicate key "target" in the top level (first at line 2)`) {
		t.Fatalf("infra/stackconfig.Load: %v; want the duplicate refused", want)
	}
	_, err := preflight.ReadStrict(dir, "twice")
	if err == nil || !strings.Contains(err.Error(), `twice.json:3:3: duplicate key "target" in the top level (first at line 2)`) {
		t.Errorf("ReadStrict: %v; want the duplicate refused as the loader refuses it (%v)", err, want)
	}
}

// `make image` tags what `preflight image STACK` prints; the docker program,
// shipyard release and the e2e suite use stackconfig's AppImage: the same
// image, for every stack of config/ and with release.imageRepository set.
func TestAppImageIsStackconfigs(t *testing.T) {
	for _, repo := range []string{"", "team/my-app"} {
		dir := t.TempDir()
		files, err := filepath.Glob(filepath.Join("..", "..", "config", "*.json"))
		if err != nil || len(files) < 3 {
			t.Fatalf("config files: %v, %v", files, err)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if repo != "" && filepath.Base(f) != "schema.json" {
				var cfg map[string]any
				if err := json.Unmarshal(data, &cfg); err != nil {
					t.Fatal(err)
				}
				rel, _ := cfg["release"].(map[string]any)
				if rel == nil {
					rel = map[string]any{}
				}
				rel["imageRepository"] = repo
				cfg["release"] = rel
				if data, err = json.Marshal(cfg); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		stacks, err := stackconfig.Stacks(dir)
		if err != nil {
			t.Fatal(err)
		}
		targets := map[stackconfig.Target]bool{}
		for _, stack := range stacks {
			cfg, err := stackconfig.Load(dir, stack)
			if err != nil {
				t.Fatalf("imageRepository %q: %v", repo, err)
			}
			targets[cfg.Target] = true
			got, err := preflight.AppImage(dir, stack, "")
			if err != nil || got != cfg.AppImage() {
				t.Errorf("imageRepository %q, stack %s (%s): preflight image %q (%v), stackconfig's AppImage %q", repo, stack, cfg.Target, got, err, cfg.AppImage())
			}
			if want := cfg.RepositoryName() + ":" + preflight.AppImageTag; cfg.Target == stackconfig.TargetDocker && got != want {
				t.Errorf("docker stack %s: preflight image %q, but the stack's repository is %s", stack, got, want)
			}
		}
		if !targets[stackconfig.TargetDocker] || !targets[stackconfig.TargetAWS] {
			t.Errorf("targets checked: %v; want docker and aws", targets)
		}
	}
}
