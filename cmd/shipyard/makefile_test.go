package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/internal/workflowtest"
)

// repoRoot is the repository root, two levels up from this package.
var repoRoot = filepath.Join("..", "..")

var (
	targetLine     = regexp.MustCompile(`^([a-zA-Z0-9][a-zA-Z0-9_.-]*)\s*:([^=]|$)`)
	documentedLine = regexp.MustCompile(`^([a-zA-Z0-9][a-zA-Z0-9_-]*)\s*:.*##`)
	inlineMake     = regexp.MustCompile("`make ([a-z][a-z0-9_-]*)")
	commandMake    = regexp.MustCompile(`^\s*(?:\$ )?make ([a-z][a-z0-9_-]*)`)
	ansi           = regexp.MustCompile(`\x1b\[[0-9;]*m`)
)

// makefileTargets returns every target the Makefile defines and the ones
// with a `##` help comment.
func makefileTargets(t *testing.T) (all, documented map[string]bool) {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	all, documented = map[string]bool{}, map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m := targetLine.FindStringSubmatch(line); m != nil && !strings.HasPrefix(m[1], ".") {
			all[m[1]] = true
		}
		if m := documentedLine.FindStringSubmatch(line); m != nil {
			documented[m[1]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 {
		t.Fatal("no targets found in the Makefile")
	}
	return all, documented
}

// mentionedTargets returns the `make <target>` commands a markdown file
// tells the reader to run: inline code and lines of fenced code blocks.
func mentionedTargets(t *testing.T, path string) map[string][]int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]int{}
	fenced := false
	for i, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		for _, m := range inlineMake.FindAllStringSubmatch(line, -1) {
			out[m[1]] = append(out[m[1]], i+1)
		}
		if fenced {
			if m := commandMake.FindStringSubmatch(line); m != nil {
				out[m[1]] = append(out[m[1]], i+1)
			}
		}
	}
	return out
}

func TestEveryMakeTargetTheDocsNameExists(t *testing.T) {
	all, _ := makefileTargets(t)
	docs := []string{filepath.Join(repoRoot, "README.md"), filepath.Join(repoRoot, "docs", "operations.md")}
	total := 0
	for _, doc := range docs {
		mentioned := mentionedTargets(t, doc)
		total += len(mentioned)
		for target, lines := range mentioned {
			if !all[target] {
				t.Errorf("%s lines %v tell the reader to run `make %s`, but the Makefile has no target %q", doc, lines, target, target)
			}
		}
	}
	if total == 0 {
		t.Fatal("the README and docs/operations.md name no make targets; the check would prove nothing")
	}
}

func TestTheReadmeNamesTheOperatorTargets(t *testing.T) {
	mentioned := mentionedTargets(t, filepath.Join(repoRoot, "README.md"))
	for _, target := range []string{"up", "test", "tools", "doctor", "release", "promote", "rollback", "e2e", "logs", "migrate", "outputs", "preview", "destroy", "dashboard"} {
		if len(mentioned[target]) == 0 {
			t.Errorf("README.md never shows `make %s`", target)
		}
	}
}

func TestMakeHelpListsEveryDocumentedTarget(t *testing.T) {
	_, documented := makefileTargets(t)
	cmd := exec.Command("make", "--no-print-directory", "-s", "help")
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make help: %v\n%s", err, out)
	}
	listed := map[string]int{}
	for _, line := range strings.Split(ansi.ReplaceAllString(string(out), ""), "\n") {
		if !strings.HasPrefix(line, "  ") {
			continue
		}
		if f := strings.Fields(line); len(f) > 1 {
			listed[f[0]]++
		}
	}
	var missing []string
	for target := range documented {
		if listed[target] != 1 {
			missing = append(missing, target)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("make help does not list these documented targets exactly once: %v\n%s", missing, out)
	}
	for target := range listed {
		if !documented[target] {
			t.Errorf("make help lists %q, which has no `##` comment in the Makefile", target)
		}
	}
}

// Editing a stack's config must not change the version stamped into the
// app binary: a new version is a new image, and a new image replaces every
// app container of the local stack.
func TestTheVersionIsDirtyOnlyWhenTheAppSourceChanged(t *testing.T) {
	makefile, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(path, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, path)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, path), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	write("Makefile", string(makefile))
	write("go.mod", "module example.com/x\n")
	write("app/main.go", "package main\n")
	write("config/local.json", "{}\n")
	git("init", "--quiet")
	git("add", ".")
	git("commit", "--quiet", "-m", "init")
	version := func() string {
		t.Helper()
		cmd := exec.Command("make", "-s", "--no-print-directory", "--eval", "print-version: ; @echo $(VERSION)", "print-version")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make print-version: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	steps := []struct {
		name      string
		change    func()
		wantDirty bool
	}{
		{"a clean checkout", func() {}, false},
		{"an edited stack config", func() { write("config/local.json", `{"local":{"webReplicas":3}}`) }, false},
		{"an edited app source", func() { write("app/main.go", "package main\n\nfunc main() {}\n") }, true},
		{"a new app source file", func() { git("checkout", "--", "app"); write("app/new.go", "package main\n") }, true},
		{"an edited go.mod", func() { os.Remove(filepath.Join(dir, "app/new.go")); write("go.mod", "module example.com/y\n") }, true},
	}
	for _, s := range steps {
		s.change()
		if got := version(); strings.HasSuffix(got, "-dirty") != s.wantDirty {
			t.Errorf("after %s: version %q, want dirty=%v", s.name, got, s.wantDirty)
		}
	}
}

// The plugins `make tools` installs are the versions of the provider SDKs
// the program is built with, and the CLI the version of the Pulumi SDK.
func TestThePinnedPulumiToolsMatchGoMod(t *testing.T) {
	makefile, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	pins := map[string]string{
		"PULUMI_VERSION": "github.com/pulumi/pulumi/sdk/v3",
		"DOCKER_PLUGIN":  "github.com/pulumi/pulumi-docker/sdk/v4",
		"RANDOM_PLUGIN":  "github.com/pulumi/pulumi-random/sdk/v4",
		"AWS_PLUGIN":     "github.com/pulumi/pulumi-aws/sdk/v6",
	}
	for variable, module := range pins {
		pin := regexp.MustCompile(`(?m)^` + variable + `\s*\?=\s*(\S+)`).FindSubmatch(makefile)
		req := regexp.MustCompile(`(?m)^\s*(?:require\s+)?` + regexp.QuoteMeta(module) + ` v(\S+)`).FindSubmatch(gomod)
		if pin == nil || req == nil {
			t.Errorf("%s: Makefile pin %q, go.mod requirement of %s %q", variable, pin, module, req)
			continue
		}
		if string(pin[1]) != string(req[1]) {
			t.Errorf("Makefile %s = %s, but go.mod requires %s v%s", variable, pin[1], module, req[1])
		}
	}
}

// The Pulumi CLI has one pin, the Makefile's PULUMI_VERSION (checked
// against go.mod above): no workflow sets its own (a workflow's env
// PULUMI_VERSION overrides the Makefile's ?=), a pulumi/actions step takes
// the version `make -s pulumi-version` prints, and no job installs the CLI
// twice (a pulumi/actions step after a make install that put bin/ on
// $GITHUB_PATH finds that CLI and installs none).
func TestTheWorkflowsTakeThePulumiVersionFromTheMakefile(t *testing.T) {
	gomod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	req := regexp.MustCompile(`(?m)^\s*github\.com/pulumi/pulumi/sdk/v3 v(\S+)`).FindSubmatch(gomod)
	if req == nil {
		t.Fatal("go.mod requires no github.com/pulumi/pulumi/sdk/v3")
	}
	cmd := exec.Command("make", "-s", "--no-print-directory", "pulumi-version")
	cmd.Dir = repoRoot
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "PULUMI_VERSION" && k != "MAKEFLAGS" && k != "MAKELEVEL" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != string(req[1])+"\n" {
		t.Errorf("make -s pulumi-version: %q, %v; want %q (go.mod's SDK)", out, err, string(req[1])+"\n")
	}

	fromMake := regexp.MustCompile(`^\$\{\{ steps\.([A-Za-z0-9_-]+)\.outputs\.[A-Za-z0-9_-]+ \}\}$`)
	installs := regexp.MustCompile(`\bmake (?:[^\n]* )?(?:tools|pulumi-cli)\b`)
	for _, name := range workflowtest.Names(t, repoRoot) {
		data := workflowtest.ReadFile(t, repoRoot, name)
		for i, line := range strings.Split(string(data), "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "#") && strings.Contains(line, "PULUMI_VERSION") {
				t.Errorf("%s:%d sets the Pulumi version itself (the Makefile's PULUMI_VERSION is the pin): %s", name, i+1, strings.TrimSpace(line))
			}
		}
		w := workflowtest.Read(t, repoRoot, name)
		for job, j := range w.Jobs {
			runs := map[string]string{}
			var installers []string
			// A CLI make installed and put first on PATH is the one a later
			// pulumi/actions step finds: at the version it is given (checked
			// below), it downloads no other.
			onPath := false
			for _, s := range j.Steps {
				runs[s.ID] = s.Run
				if strings.HasPrefix(s.Uses, "pulumi/actions@") && !onPath {
					installers = append(installers, s.Uses)
				}
				if m := installs.FindString(s.Run); m != "" {
					installers = append(installers, m)
					onPath = onPath || strings.Contains(s.Run, `echo "$PWD/bin" >> "$GITHUB_PATH"`)
				}
			}
			if len(installers) > 1 {
				t.Errorf("%s %s installs the Pulumi CLI %d times: %q", name, job, len(installers), installers)
			}
			for _, s := range j.Steps {
				v, ok := s.With["pulumi-version"]
				if !ok {
					continue
				}
				m := fromMake.FindStringSubmatch(v)
				if m == nil || !strings.Contains(runs[m[1]], "make -s pulumi-version") {
					t.Errorf("%s %s: %s takes pulumi-version %q, not the output of a step running make -s pulumi-version", name, job, s.Uses, v)
					continue
				}
				// The step, run as GitHub runs it (bash -e) in the
				// checkout, gives the action go.mod's version.
				output := filepath.Join(t.TempDir(), "output")
				step := exec.Command("bash", "--noprofile", "--norc", "-e", "-c", runs[m[1]])
				step.Dir = repoRoot
				step.Env = append(cmd.Env, "GITHUB_OUTPUT="+output)
				if out, err := step.CombinedOutput(); err != nil {
					t.Errorf("%s %s: step %s failed: %v\n%s", name, job, m[1], err, out)
					continue
				}
				got, _ := os.ReadFile(output)
				key := v[strings.LastIndex(v, ".")+1 : len(v)-3]
				if want := key + "=" + string(req[1]) + "\n"; string(got) != want {
					t.Errorf("%s %s: step %s wrote %q to $GITHUB_OUTPUT, want %q", name, job, m[1], got, want)
				}
			}
		}
	}
}

// A CLI install that cannot succeed says in one line what failed and the
// two ways out (internet, or an offline bundle), followed only by make's
// own one-line error.
func TestAFailedPulumiInstallSaysWhatFailedAndTheTwoWaysOut(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make is needed: %v", err)
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, offline, install, want string }{
		{"an offline bundle without install.sh", t.TempDir(), "auto", "has no install.sh"},
		{"a source build with no way to fetch the source", "", "source", "the source install failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bin := t.TempDir()
			cmd := exec.Command("make", "-s", "--no-print-directory", "-C", root, "pulumi-cli",
				"TOOLS_BIN="+bin, "PULUMI_OFFLINE_DIR="+tc.offline, "PULUMI_INSTALL="+tc.install)
			// No pulumi on PATH; git cannot reach any host.
			cmd.Env = append(os.Environ(), "PATH="+bin+":/usr/bin:/bin:/usr/local/go/bin", "GIT_CONFIG_COUNT=1",
				"GIT_CONFIG_KEY_0=url.file:///nonexistent/.insteadOf", "GIT_CONFIG_VALUE_0=https://github.com/")
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("make pulumi-cli succeeded:\n%s", out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			var reason string
			for _, l := range lines {
				if strings.HasPrefix(l, "make tools: could not install pulumi") {
					reason = l
				}
			}
			for _, want := range []string{tc.want, "internet", "PULUMI_OFFLINE_DIR"} {
				if !strings.Contains(reason, want) {
					t.Errorf("no line says %q:\n%s", want, out)
				}
			}
			if n := strings.Count(string(out), "make: *** "); n > 1 {
				t.Errorf("%d make error lines, want at most one:\n%s", n, out)
			}
		})
	}
}
