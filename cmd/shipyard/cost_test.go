package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// gitRepoWithConfig copies config/ into a fresh git repository and commits
// it: a place to change a stack's config without touching this one's.
func gitRepoWithConfig(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is needed: %v", err)
	}
	root := t.TempDir()
	files, err := filepath.Glob(filepath.Join(repoRoot, "config", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("config files: %v %v", files, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		writeTestFile(t, filepath.Join(root, "config", filepath.Base(f)), data)
	}
	for _, args := range [][]string{
		{"init", "--quiet"}, {"add", "config"},
		{"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "config"},
	} {
		cmd := exec.Command("git", append([]string{"-C", root}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return root
}

func writeTestFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func runCost(t *testing.T, root string, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string {
		if k == stackconfig.DirEnv {
			return filepath.Join(root, "config")
		}
		return ""
	}
	err := run(context.Background(), append([]string{"cost"}, args...), getenv, &out, &errb)
	return out.String(), err
}

// TestCostBaseHEADShowsTheExtraWebTasks is the done-when, in a copy
// of the config: one more prod web task raises the Fargate web lines by
// that task's price, and --base=HEAD prints exactly that difference.
func TestCostBaseHEADShowsTheExtraWebTasks(t *testing.T) {
	root := gitRepoWithConfig(t)
	var cpu, mem float64
	editConfig(t, filepath.Join(root, "config"), "prod", func(cfg map[string]any) {
		web := cfg["services"].(map[string]any)["web"].(map[string]any)
		web["desiredCount"] = web["desiredCount"].(float64) + 1
		cpu, mem = web["cpu"].(float64), web["memory"].(float64)
	})

	out, err := runCost(t, root, "prod", "--base=HEAD", "--format=json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Total, OldTotal, NewTotal float64
		Lines                     []struct {
			Change, ID string
			Delta      float64
		}
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// eu-west-1's Fargate prices in infra/cost/prices.json.
	wantCPU, wantMem := cpu/1024*730*0.04048, mem/1024*730*0.004445
	got := map[string]float64{}
	for _, l := range d.Lines {
		got[l.Change+l.ID] = l.Delta
	}
	if len(got) != 2 || !approx(got["~fargate/web/vcpu"], wantCPU) || !approx(got["~fargate/web/memory"], wantMem) {
		t.Errorf("changed lines %v, want ~fargate/web/vcpu +%g and ~fargate/web/memory +%g", got, wantCPU, wantMem)
	}
	if !approx(d.Total, wantCPU+wantMem) || !approx(d.NewTotal-d.OldTotal, d.Total) {
		t.Errorf("total %g -> %g (%+g), want %+g", d.OldTotal, d.NewTotal, d.Total, wantCPU+wantMem)
	}
	text, err := runCost(t, root, "prod", "--base=HEAD")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"since HEAD", "~  Fargate web vCPU", "~  Fargate web memory", "Total  $"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	// Nothing changed in staging.
	if text, err := runCost(t, root, "staging", "--base=HEAD"); err != nil || !strings.Contains(text, "no line changed") || !strings.Contains(text, "+$0.00") && !strings.Contains(text, "$0.00 (+0.00%)") {
		t.Errorf("staging since HEAD: %v\n%s", err, text)
	}
}

func approx(a, b float64) bool { d := a - b; return d < 0.0002 && d > -0.0002 }

func TestCostOfAStackNewSinceTheBaseMarksEveryLineAdded(t *testing.T) {
	root := gitRepoWithConfig(t)
	data, err := os.ReadFile(filepath.Join(root, "config", "staging.json"))
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(root, "config", "qa.json"), data)
	out, err := runCost(t, root, "qa", "--base=HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "does not exist at HEAD") || !strings.Contains(out, "+  Fargate web vCPU") {
		t.Errorf("output:\n%s", out)
	}
}

func TestCostRejectsBadArguments(t *testing.T) {
	root := gitRepoWithConfig(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"prod", "--format=yaml"}, "FORMAT=yaml (--format=yaml): allowed text, json"},
		{[]string{"prod", "--format=yaml", "--format=json"}, "FORMAT=yaml (--format=yaml): allowed text, json"},
		{[]string{"prod", "--base=no-such-ref"}, "not a commit"},
		{[]string{"local"}, `STACK=local: stack local has target "docker": only aws stacks cost money (a docker stack runs on your machine); allowed the aws stacks dev, prod, staging`},
		{[]string{}, "usage: shipyard cost STACK"},
	} {
		_, err := runCost(t, root, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("cost %v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestDriftExitsTwoOnDriftAndZeroWhenClean(t *testing.T) {
	fixture := func(name string) string {
		data, err := os.ReadFile(filepath.Join(repoRoot, "infra", "drift", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	getenv := func(k string) string {
		return map[string]string{"PULUMI_BACKEND_URL": "file:///state", "PULUMI_CONFIG_PASSPHRASE": "p"}[k]
	}
	for _, tc := range []struct {
		name    string
		answer  answer
		code    int
		outputs string
	}{
		{"clean", answer{out: fixture("refresh-clean.json")}, 0, "no drift"},
		{"a container removed", answer{out: fixture("refresh-deleted-container.json")}, 2, "- docker:index/container:Container shipyard-cdexp-web-2-c5d5e1cb: deleted outside Pulumi"},
		{"pulumi fails", answer{err: errors.New("pulumi refresh: exit status 255: no stack named local")}, 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newFakeExec(map[string]answer{"pulumi refresh --preview-only --json": tc.answer})
			p := &pulumiCLI{x: x.exec, root: t.TempDir(), getenv: getenv, configDir: filepath.Join(repoRoot, "config")}
			var out bytes.Buffer
			err := checkDrift(context.Background(), p, "local", &out)
			code := 0
			if err != nil {
				code = exitCode(err)
			}
			if code != tc.code || !strings.Contains(out.String(), tc.outputs) {
				t.Errorf("exit %d (%v), output %q; want exit %d and %q", code, err, out.String(), tc.code, tc.outputs)
			}
		})
	}
}
