package main

import (
	"archive/tar"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// freshClone copies what the stack targets read before anything slow (the
// Makefile, the module files, config/ and the preflight check with the
// packages it imports) into a temporary directory: a fresh clone without
// bin/, .pulumi-state or stacks/Pulumi.<stack>.yaml.
func freshClone(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"Makefile", "go.mod", "go.sum", "Pulumi.yaml"} {
		copyFile(t, filepath.Join(repoRoot, f), filepath.Join(dir, f))
	}
	for _, d := range []string{"config", "cmd/preflight", "internal/cliflag", "internal/preflight"} {
		files, err := filepath.Glob(filepath.Join(repoRoot, d, "*"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if !strings.HasSuffix(f, "_test.go") {
				copyFile(t, f, filepath.Join(dir, d, filepath.Base(f)))
			}
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "stacks"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// cleanEnv is the environment of a new user's shell: no Pulumi variables,
// a PATH with Go but no pulumi.
func cleanEnv(t *testing.T, extra ...string) []string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go is needed: %v", err)
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PULUMI_") || strings.HasPrefix(k, "SHIPYARD_") || k == "PATH" || k == "HOME" || k == "MAKEFLAGS" || k == "MAKELEVEL" {
			continue
		}
		env = append(env, kv)
	}
	// The user's Go caches stay (a fresh clone, not a fresh machine): HOME
	// moves, so they are named.
	for _, v := range []string{"GOCACHE", "GOMODCACHE", "GOPATH"} {
		out, err := exec.Command("go", "env", v).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", v, err)
		}
		env = append(env, v+"="+strings.TrimSpace(string(out)))
	}
	return append(env, append([]string{"PATH=" + filepath.Dir(goBin) + ":/usr/bin:/bin", "HOME=" + t.TempDir()}, extra...)...)
}

// ownLines are the output lines that are not make's own error line.
func ownLines(out []byte) []string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" && !strings.HasPrefix(l, "make: *** ") {
			lines = append(lines, l)
		}
	}
	return lines
}

func TestAnAWSStackOnAFreshCloneStopsAtOnceNamingMakeBootstrap(t *testing.T) {
	for _, target := range []string{"preview", "up", "drift", "traces", "job", "jobs"} {
		t.Run(target, func(t *testing.T) {
			dir := freshClone(t)
			cmd := exec.Command("make", "--no-print-directory", target, "STACK=dev")
			cmd.Dir = dir
			cmd.Env = cleanEnv(t)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("make %s STACK=dev succeeded:\n%s", target, out)
			}
			lines := ownLines(out)
			if len(lines) != 1 || !strings.Contains(lines[0], "run `make bootstrap STACK=dev`") ||
				!strings.Contains(lines[0], "PULUMI_BACKEND_URL") || !strings.Contains(lines[0], "SHIPYARD_ALLOW_LOCAL_STATE=1") {
				t.Errorf("want one line naming make bootstrap, PULUMI_BACKEND_URL and the escape; got:\n%s", out)
			}
			// Nothing was installed, built or written: no state, no stack
			// file, no program, no pulumi.
			for _, p := range []string{".pulumi-state", "stacks/Pulumi.dev.yaml", "bin/shipyard-stacks", "bin/shipyard", "bin/pulumi"} {
				if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
					t.Errorf("%s was written", p)
				}
			}
		})
	}
}

// makeRule is a Makefile rule: its prerequisites and its recipe.
type makeRule struct {
	prereqs []string
	recipe  string
}

var ruleLine = regexp.MustCompile(`^([a-zA-Z0-9][a-zA-Z0-9_-]*):([^=#]*)(#.*)?$`)

// makeRules reads the Makefile's rules by target.
func makeRules(t *testing.T) map[string]*makeRule {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string]*makeRule{}
	var cur *makeRule
	for _, line := range strings.Split(string(data), "\n") {
		if m := ruleLine.FindStringSubmatch(line); m != nil {
			cur = &makeRule{prereqs: strings.Fields(m[2])}
			rules[m[1]] = cur
			continue
		}
		if cur != nil && strings.HasPrefix(line, "\t") {
			cur.recipe += line + "\n"
		} else {
			cur = nil
		}
	}
	if len(rules) < 20 {
		t.Fatalf("found %d rules in the Makefile", len(rules))
	}
	return rules
}

// Every target that runs shipyard on STACK after installing or building
// something checks the stack first (preflight, or an *-args check that
// runs it): an unknown stack, or an aws stack without `make bootstrap`,
// stops before Pulumi is installed or anything is compiled.
func TestEveryStackTargetChecksTheStackBeforeAnythingSlow(t *testing.T) {
	rules := makeRules(t)
	checked := 0
	for target, r := range rules {
		if !strings.Contains(r.recipe, "$(SHIPYARD) ") || !strings.Contains(r.recipe, "$(STACK)") || len(r.prereqs) == 0 {
			continue
		}
		checked++
		preflight := false
		i := 0
		for ; i < len(r.prereqs); i++ {
			p := r.prereqs[i]
			if p != "preflight" && !strings.HasSuffix(p, "-args") {
				break
			}
			preflight = preflight || p == "preflight" || rules[p] != nil && strings.Contains(rules[p].recipe, "$(PREFLIGHT)")
		}
		if !preflight {
			t.Errorf("make %s: prerequisites %v; want preflight (or an *-args check running $(PREFLIGHT)) before %v", target, r.prereqs, r.prereqs[i:])
		}
	}
	if checked < 15 {
		t.Fatalf("checked %d stack targets; the Makefile's rules were not read", checked)
	}
}

// Every target that runs the Pulumi engine on an aws stack (which loads
// the pulumi-aws provider) installs the pinned plugin first, the way `make
// up` does: the recipe's `aws) $(MAKE) --no-print-directory aws-plugin`
// branch on the stack's target, or aws-plugin as a prerequisite of a target
// that is for aws stacks only. Without it the engine downloads whatever it
// likes, or fails offline without naming PULUMI_OFFLINE_DIR. (`make down`
// is for docker stacks only.)
func TestEveryEngineTargetInstallsTheAWSPlugin(t *testing.T) {
	rules := makeRules(t)
	const branch = "aws) $(MAKE) --no-print-directory aws-plugin"
	if !strings.Contains(rules["up"].recipe, branch) {
		t.Fatalf("make up's recipe has no %q; the check would prove nothing:\n%s", branch, rules["up"].recipe)
	}
	for _, target := range []string{"up", "preview", "destroy", "drift", "release", "promote", "rollback", "bootstrap", "pr-up", "pr-down", "pr-reap"} {
		r := rules[target]
		if r == nil {
			t.Errorf("the Makefile has no rule %s", target)
			continue
		}
		if !slices.Contains(r.prereqs, "aws-plugin") && !strings.Contains(r.recipe, branch) {
			t.Errorf("make %s (prerequisites %v) never installs the pulumi-aws plugin; want %q in its recipe, as make up has", target, r.prereqs, branch)
		}
	}
}

// STACK= (empty) is refused naming STACK and the stacks, not with
// preflight's usage line, before anything is installed or built.
func TestAnEmptySTACKNamesTheStacks(t *testing.T) {
	for _, target := range []string{"preview", "up", "image", "bootstrap", "destroy"} {
		t.Run(target, func(t *testing.T) {
			dir := freshClone(t)
			cmd := exec.Command("make", "--no-print-directory", target, "STACK=")
			cmd.Dir = dir
			cmd.Env = cleanEnv(t)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("make %s STACK= succeeded:\n%s", target, out)
			}
			want := "STACK is empty: allowed dev, local, prod, staging"
			if lines := ownLines(out); len(lines) != 1 || !strings.HasPrefix(lines[0], want) {
				t.Errorf("want one line starting %q, got:\n%s", want, out)
			}
			for _, p := range []string{"bin/pulumi", "bin/shipyard", "bin/shipyard-stacks", "bin/linux-amd64"} {
				if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
					t.Errorf("%s was installed or built before STACK was checked", p)
				}
			}
		})
	}
}

func TestAnUnknownStackFailsOnceBeforeAnythingIsBuilt(t *testing.T) {
	dir := freshClone(t)
	cmd := exec.Command("make", "--no-print-directory", "up", "STACK=nope")
	cmd.Dir = dir
	cmd.Env = cleanEnv(t)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("make up STACK=nope succeeded:\n%s", out)
	}
	if n := strings.Count(string(out), `unknown stack "nope"`); n != 1 {
		t.Errorf("%d unknown-stack lines, want 1:\n%s", n, out)
	}
	if lines := ownLines(out); len(lines) != 1 {
		t.Errorf("want one line, got:\n%s", out)
	}
	for _, p := range []string{"bin/shipyard-stacks", "bin/shipyard", "bin/pulumi"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
			t.Errorf("%s was built before the stack was checked", p)
		}
	}
}

// make promote and make pr-up check their arguments with the rules
// shipyard applies (internal/preflight's CheckPromote and ParsePR), in one
// line naming the variable and the values allowed, before the Pulumi CLI,
// the aws plugin, the program or the image is installed or built.
func TestPromoteAndPRArgumentsAreCheckedBeforeAnyInstallOrBuild(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"promote without TO", []string{"promote", "FROM=dev"}, "TO is missing: allowed the aws stacks dev, prod, staging (make promote FROM=<stack> TO=<stack>"},
		{"promote without FROM or TO", []string{"promote"}, "FROM and TO are missing: allowed the aws stacks dev, prod, staging"},
		{"promote of a docker stack to itself", []string{"promote", "FROM=local", "TO=local"}, `FROM=local: stack "local" has target "docker"; allowed the aws stacks dev, prod, staging`},
		{"promote of a stack to itself", []string{"promote", "FROM=staging", "TO=staging"}, "FROM=staging and TO=staging are the same stack"},
		{"pr-up with a word for PR", []string{"pr-up", "PR=abc"}, `PR="abc": allowed a pull request number from 1 to 9999999`},
		{"pr-up without PR", []string{"pr-up"}, "PR is missing: allowed a pull request number from 1 to 9999999"},
		{"pr-down with PR 0", []string{"pr-down", "PR=0"}, `PR="0": allowed a pull request number from 1 to 9999999`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := freshClone(t)
			cmd := exec.Command("make", append([]string{"--no-print-directory"}, tc.args...)...)
			cmd.Dir = dir
			cmd.Env = cleanEnv(t)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("make %v succeeded:\n%s", tc.args, out)
			}
			if lines := ownLines(out); len(lines) != 1 || !strings.HasPrefix(lines[0], tc.want) {
				t.Errorf("want one line starting %q, got:\n%s", tc.want, out)
			}
			for _, p := range []string{"bin/pulumi", "bin/shipyard", "bin/shipyard-stacks", "bin/app", "bin/crane"} {
				if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
					t.Errorf("%s was installed or built before the arguments were checked", p)
				}
			}
		})
	}
}

func TestABadReleaseFollowsIsRefusedBeforeAnythingIsBuilt(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value string
		want  string // "": the check passes
	}{
		{"yes is refused, naming the variable and the values it takes", "yes", "make up: RELEASE_FOLLOWS=yes: allowed 1, 0, true, false"},
		{"1 passes", "1", ""},
		{"0 passes", "0", ""},
		{"empty passes (no --release-follows)", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := freshClone(t)
			target := "up"
			if tc.want == "" {
				target = "up-args" // up itself would go on to install Pulumi
			}
			cmd := exec.Command("make", "--no-print-directory", target, "STACK=local", "RELEASE_FOLLOWS="+tc.value)
			cmd.Dir = dir
			cmd.Env = cleanEnv(t)
			out, err := cmd.CombinedOutput()
			if tc.want == "" {
				if err != nil || len(out) != 0 {
					t.Fatalf("make up-args RELEASE_FOLLOWS=%s: %v\n%s", tc.value, err, out)
				}
				return
			}
			if err == nil {
				t.Fatalf("make up RELEASE_FOLLOWS=%s succeeded:\n%s", tc.value, out)
			}
			if lines := ownLines(out); len(lines) != 1 || !strings.HasPrefix(lines[0], tc.want) {
				t.Errorf("want one line starting %q, got:\n%s", tc.want, out)
			}
			// Refused before the stack check, any install or build.
			for _, p := range []string{"bin/preflight", "bin/pulumi", "bin/shipyard-stacks", "bin/shipyard"} {
				if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
					t.Errorf("%s was built before RELEASE_FOLLOWS was checked", p)
				}
			}
		})
	}
}

func TestBootstrapOfADockerStackPrintsItsUsageBeforeAnyInstall(t *testing.T) {
	dir := freshClone(t)
	cmd := exec.Command("make", "--no-print-directory", "bootstrap", "STACK=local")
	cmd.Dir = dir
	cmd.Env = cleanEnv(t)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("make bootstrap STACK=local succeeded:\n%s", out)
	}
	lines := ownLines(out)
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "usage: make bootstrap STACK=<aws stack>") {
		t.Errorf("want only the usage line, got:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "bin", "pulumi")); err == nil {
		t.Error("pulumi was installed before the arguments were checked")
	}
}

// make bootstrap on a config preflight cannot answer the target of (not
// JSON, a misspelt target) says so, naming the file, not that the stack
// is no aws stack with a usage line; nothing is installed.
func TestBootstrapOfABrokenConfigNamesItsFileNotItsUsage(t *testing.T) {
	for _, tc := range []struct {
		name, from, to, want string
	}{
		{"a trailing comma", `"target": "aws",`, `"target": "aws",,`, `prod.json:3:19: invalid character ','`},
		{"a misspelt target", `"target": "aws",`, `"target": "aws ",`, `prod.json: target "aws ": allowed "docker" or "aws"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := freshClone(t)
			prod := filepath.Join(dir, "config", "prod.json")
			data, err := os.ReadFile(prod)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(data), tc.from) {
				t.Fatalf("config/prod.json has no %s", tc.from)
			}
			if err := os.WriteFile(prod, []byte(strings.Replace(string(data), tc.from, tc.to, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("make", "--no-print-directory", "bootstrap", "STACK=prod")
			cmd.Dir = dir
			cmd.Env = cleanEnv(t)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("make bootstrap STACK=prod succeeded:\n%s", out)
			}
			if lines := ownLines(out); len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
				t.Errorf("want one line with %q, got:\n%s", tc.want, out)
			}
			if _, err := os.Stat(filepath.Join(dir, "bin", "pulumi")); err == nil {
				t.Error("pulumi was installed before the config was read")
			}
		})
	}
}

// A recipe that picks what to install or build by the stack's target
// (`preflight target`, `shipyard target`) stops when the answer fails: a
// command substitution in `case "$$(…)"` is no command under `set -e`, so
// its failure would leave the target empty and skip the work silently.
func TestEveryRecipeStopsWhenTheTargetIsUnknown(t *testing.T) {
	asked := regexp.MustCompile(`\$\$\((\$\(BIN\)/preflight|\$\(PREFLIGHT\)|\$\(SHIPYARD\)) target `)
	stops := regexp.MustCompile(`(^|\t@?)target=\$\$\((\$\(BIN\)/preflight|\$\(PREFLIGHT\)|\$\(SHIPYARD\)) target "?\$\(STACK\)"?\); `)
	n := 0
	for target, r := range makeRules(t) {
		for _, line := range strings.Split(r.recipe, "\n") {
			if !asked.MatchString(line) {
				continue
			}
			n++
			if !stops.MatchString(line) {
				t.Errorf("make %s: %q; want target=$$(… target $(STACK)); on its own, so that set -e stops the recipe when the target is unknown", target, strings.TrimSpace(line))
			}
		}
	}
	if n < 8 {
		t.Fatalf("found %d recipe lines asking for the target; the Makefile's rules were not read", n)
	}
}

// make destroy checks CONFIRM before anything is installed or built: a
// CONFIRM naming another stack (STACK left at its default, local) and an
// aws stack without CONFIRM are refused in one line, without the pulumi
// CLI, the aws plugin's download or the shipyard build.
func TestDestroyChecksCONFIRMBeforeAnyInstall(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"CONFIRM naming another stack than the default one", []string{"CONFIRM=prod"}, "CONFIRM=prod does not name STACK=local; allowed: local, or empty for a docker stack"},
		{"CONFIRM naming another stack than an aws STACK", []string{"STACK=dev", "CONFIRM=staging"}, "CONFIRM=staging does not name STACK=dev; allowed: dev"},
		{"an aws stack without CONFIRM", []string{"STACK=dev"}, "destroying aws stack \"dev\" deletes its database and data: confirm with `make destroy STACK=dev CONFIRM=dev`"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := freshClone(t)
			cmd := exec.Command("make", append([]string{"--no-print-directory", "destroy"}, tc.args...)...)
			cmd.Dir = dir
			cmd.Env = cleanEnv(t)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("make destroy %v succeeded:\n%s", tc.args, out)
			}
			if lines := ownLines(out); len(lines) != 1 || !strings.HasPrefix(lines[0], tc.want) {
				t.Errorf("want one line starting %q, got:\n%s", tc.want, out)
			}
			for _, p := range []string{"bin/pulumi", "bin/shipyard", ".pulumi-state"} {
				if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
					t.Errorf("%s was written before CONFIRM was checked", p)
				}
			}
		})
	}
}

func TestABadForceIsRefusedBeforeAnythingIsBuilt(t *testing.T) {
	for _, tc := range []struct {
		name, value string
	}{
		{"yes is refused, naming the variable and the values it takes", "yes"},
		{"a typo is refused", "ture"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := freshClone(t)
			cmd := exec.Command("make", "--no-print-directory", "bootstrap", "STACK=dev", "FORCE="+tc.value)
			cmd.Dir = dir
			cmd.Env = cleanEnv(t)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("make bootstrap FORCE=%s succeeded:\n%s", tc.value, out)
			}
			want := "make bootstrap: FORCE=" + tc.value + ": allowed 1, 0, true, false"
			if lines := ownLines(out); len(lines) != 1 || !strings.HasPrefix(lines[0], want) {
				t.Errorf("want one line starting %q, got:\n%s", want, out)
			}
			for _, p := range []string{"bin/preflight", "bin/pulumi", "bin/shipyard-bootstrap", "bin/shipyard"} {
				if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
					t.Errorf("%s was built before FORCE was checked", p)
				}
			}
		})
	}
}

// `pulumi plugin ls | grep -q` under pipefail: grep exits at the first
// match, pulumi dies of SIGPIPE writing the rest, and the pipeline fails
// although the plugin is installed. A fake pulumi with a long plugin list
// makes that certain; the check must still see the plugins installed.
func TestTheInstallCheckSurvivesALongPluginList(t *testing.T) {
	bin := t.TempDir()
	fake := `#!/bin/sh
case "$1" in
version) echo v3.200.0 ;;
plugin)
  echo "NAME    KIND      VERSION  SIZE"
  echo "docker  resource  4.10.0   81 MB"
  echo "random  resource  4.18.0   47 MB"
  i=0; while [ $i -lt 20000 ]; do echo "filler  resource  1.0.$i   1 MB"; i=$((i+1)); done ;;
*) echo "fake pulumi: unexpected $*" >&2; exit 3 ;;
esac
`
	if err := os.WriteFile(filepath.Join(bin, "pulumi"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	root, _ := filepath.Abs(repoRoot)
	for i := 0; i < 5; i++ {
		cmd := exec.Command("make", "-s", "--no-print-directory", "-C", root, "pulumi-cli", "TOOLS_BIN="+bin, "PULUMI_OFFLINE_DIR=/nonexistent")
		cmd.Env = cleanEnv(t)
		if out, err := cmd.CombinedOutput(); err != nil || len(out) != 0 {
			t.Fatalf("run %d: make pulumi-cli with pulumi installed: %v\n%s", i+1, err, out)
		}
	}
}

// realPulumi is the pinned CLI `make tools` installed into bin/.
func realPulumi(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(repoRoot, "bin", "pulumi"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("bin/pulumi is needed (make tools): %v", err)
	}
	return p
}

// pluginArchive writes a tar.gz as Pulumi's release page names the aws
// plugin's, holding a tiny executable named like the plugin (not the real
// plugin: the install only unpacks it).
func pluginArchive(t *testing.T, dir, version string) string {
	t.Helper()
	name := "pulumi-resource-aws-v" + version + "-" + runtime.GOOS + "-" + runtime.GOARCH + ".tar.gz"
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	body := []byte("#!/bin/sh\necho 'a stand-in for pulumi-resource-aws'\n")
	if err := tw.WriteHeader(&tar.Header{Name: "pulumi-resource-aws", Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write(body)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	gz.Close()
	f.Close()
	return name
}

func TestTheAWSPluginInstallsFromTheOfflineDirectory(t *testing.T) {
	pulumi := realPulumi(t)
	root, _ := filepath.Abs(repoRoot)
	offline := t.TempDir()
	archive := pluginArchive(t, offline, "6.83.0")
	home := t.TempDir()
	cmd := exec.Command("make", "-s", "--no-print-directory", "-C", root, "aws-plugin", "PULUMI_OFFLINE_DIR="+offline)
	cmd.Env = cleanEnv(t, "PULUMI_HOME="+home, "PULUMI_SKIP_UPDATE_CHECK=true")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make aws-plugin: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "from "+filepath.Join(offline, archive)) {
		t.Errorf("the install does not say it used %s:\n%s", archive, out)
	}
	ls := exec.Command(pulumi, "plugin", "ls")
	ls.Env = cleanEnv(t, "PULUMI_HOME="+home, "PULUMI_SKIP_UPDATE_CHECK=true")
	list, err := ls.CombinedOutput()
	if err != nil {
		t.Fatalf("pulumi plugin ls: %v\n%s", err, list)
	}
	found := false
	for _, l := range strings.Split(string(list), "\n") {
		f := strings.Fields(l)
		found = found || (len(f) >= 3 && f[0] == "aws" && f[1] == "resource" && f[2] == "6.83.0")
	}
	if !found {
		t.Errorf("pulumi plugin ls does not list aws 6.83.0:\n%s", list)
	}
}

func TestAMissingAWSPluginSaysWhichFileAndTheTwoWaysToGetIt(t *testing.T) {
	realPulumi(t)
	root, _ := filepath.Abs(repoRoot)
	cmd := exec.Command("make", "-s", "--no-print-directory", "-C", root, "aws-plugin", "STACK=dev", "PULUMI_OFFLINE_DIR="+t.TempDir())
	// No download can succeed: the plugin's URL points at a closed port.
	cmd.Env = cleanEnv(t, "PULUMI_HOME="+t.TempDir(), "PULUMI_SKIP_UPDATE_CHECK=true", "PULUMI_PLUGIN_DOWNLOAD_URL_OVERRIDES=.*=http://127.0.0.1:9")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("make aws-plugin succeeded:\n%s", out)
	}
	var reason string
	for _, l := range ownLines(out) {
		if strings.HasPrefix(l, "make tools: the pulumi-aws plugin v6.83.0 is not installed") {
			reason = l
		}
	}
	archive := "pulumi-resource-aws-v6.83.0-" + runtime.GOOS + "-" + runtime.GOARCH + ".tar.gz"
	for _, want := range []string{archive, "internet access", "PULUMI_OFFLINE_DIR=<that directory> make tools STACK=dev", "https://github.com/pulumi/pulumi-aws/releases/tag/v6.83.0"} {
		if !strings.Contains(reason, want) {
			t.Errorf("no line says %q:\n%s", want, out)
		}
	}
	if n := len(ownLines(out)); n > 2 {
		t.Errorf("%d lines, want the install line and the reason:\n%s", n, out)
	}
}

// make e2e runs pulumi (the suite reads the stack's outputs with `pulumi
// stack output`) with the passphrase shipyard would give it, by the
// stack's target, as cmd/shipyard does (internal/preflight.Passphrase):
// every docker stack the local one, an aws stack none; a passphrase the
// user set wins. A fake go records what `go test` gets.
func TestMakeE2EGivesPulumiThePassphraseByTarget(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go is needed: %v", err)
	}
	const unset = "(unset)"
	for _, tc := range []struct {
		name, stack string
		env         []string
		want        string
	}{
		{"the local stack", "local", nil, LocalPassphrase},
		{"another docker stack", "demo", nil, LocalPassphrase},
		{"an aws stack gets none", "dev", []string{"PULUMI_BACKEND_URL=s3://team-state"}, unset},
		{"the user's passphrase wins", "demo", []string{"PULUMI_CONFIG_PASSPHRASE=mine"}, "mine"},
		{"so does the user's passphrase file", "demo", []string{"PULUMI_CONFIG_PASSPHRASE_FILE=/run/secrets/pass"}, unset},
		{"also on the local stack", "local", []string{"PULUMI_CONFIG_PASSPHRASE_FILE=/run/secrets/pass"}, unset},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := freshClone(t)
			copyFile(t, filepath.Join(dir, "config", "local.json"), filepath.Join(dir, "config", "demo.json"))
			log := filepath.Join(t.TempDir(), "go-test.env")
			fakeGo := filepath.Join(t.TempDir(), "go")
			script := "#!/bin/sh\nif [ \"$1\" = test ]; then echo \"PULUMI_CONFIG_PASSPHRASE=${PULUMI_CONFIG_PASSPHRASE-" + unset + "}\" > " + log + "; exit 0; fi\nexec " + goBin + " \"$@\"\n"
			if err := os.WriteFile(fakeGo, []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("make", "--no-print-directory", "e2e", "STACK="+tc.stack, "GO="+fakeGo)
			cmd.Dir = dir
			cmd.Env = cleanEnv(t, tc.env...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("make e2e STACK=%s: %v\n%s", tc.stack, err, out)
			}
			got, err := os.ReadFile(log)
			if err != nil {
				t.Fatalf("go test did not run: %v\n%s", err, out)
			}
			if want := "PULUMI_CONFIG_PASSPHRASE=" + tc.want; strings.TrimSpace(string(got)) != want {
				t.Errorf("go test ran with %s, want %s", strings.TrimSpace(string(got)), want)
			}
		})
	}
}

// make e2e stops, naming the file and where its JSON breaks, on a stack
// config preflight cannot read, before go test runs pulumi: not with no
// passphrase, as if the stack were an aws one.
func TestMakeE2EStopsOnAConfigItCannotRead(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go is needed: %v", err)
	}
	dir := freshClone(t)
	local := filepath.Join(dir, "config", "local.json")
	data, err := os.ReadFile(local)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(data), "{", `{"x": 1,,`, 1)
	if err := os.WriteFile(local, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(t.TempDir(), "go-test.ran")
	fakeGo := filepath.Join(t.TempDir(), "go")
	script := "#!/bin/sh\nif [ \"$1\" = test ]; then : > " + log + "; exit 0; fi\nexec " + goBin + " \"$@\"\n"
	if err := os.WriteFile(fakeGo, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", "--no-print-directory", "e2e", "STACK=local", "GO="+fakeGo)
	cmd.Dir = dir
	cmd.Env = cleanEnv(t)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Errorf("make e2e succeeded:\n%s", out)
	}
	if want := `stack "local": ` + local + `:1:9: invalid character ','`; !strings.Contains(string(out), want) {
		t.Errorf("make e2e does not name the file and where its JSON breaks (%q):\n%s", want, out)
	}
	if _, err := os.Stat(log); err == nil {
		t.Errorf("go test ran:\n%s", out)
	}
}
