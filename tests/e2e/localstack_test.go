package e2e

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gruntwork-io/terratest/modules/retry"
	"github.com/gruntwork-io/terratest/modules/shell"

	dockerinfra "github.com/shipyard-kit/shipyard/infra/docker"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
	"github.com/shipyard-kit/shipyard/internal/preflight"
)

// localStack is a docker-target stack that the suite owns: a project of its
// own in a temporary directory (the repository's Pulumi.yaml and config/,
// plus config/<name>.json derived from config/local.json), deployed with the
// real Pulumi CLI through cmd/shipyard, exactly as `make up` does. Its name,
// state directory, container names and published port are its own, so it
// never meets a stack a user brought up with `make up`.
type localStack struct {
	name string
	// dir is the project directory; bin holds the shipyard CLI and the
	// Pulumi program binary Pulumi.yaml names.
	dir, bin string
	cfg      map[string]any
	env      []string
}

// Variables the suite must not inherit: `make` exports the repository's
// backend (the suite sets its own), a passphrase the user set is not the
// suite's stack's, and a config directory override would point the
// program elsewhere.
var inheritedPulumiEnv = []string{"PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE", stackconfig.DirEnv}

// repositoryRoot is the repository the suite runs in, found from its
// working directory (tests/e2e), never from SHIPYARD_CONFIG_DIR: that names
// the config of the stack under test (`make e2e`), while the suite's own
// stack is built from the repository's source and copied from its config/.
func repositoryRoot(t *testing.T) string {
	t.Helper()
	dir, err := stackconfig.FindDir(func(string) string { return "" }, ".")
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(dir)
}

// localConfig is <root>/config/local.json: the file the suite's own stack
// is made from (newLocalStack copies <root>/config) and whose images `make
// test` builds (test-images with SHIPYARD_CONFIG_DIR=<root>/config). root
// is the repository.
func localConfig(t *testing.T, root string) *stackconfig.Config {
	t.Helper()
	cfg, err := stackconfig.Load(filepath.Join(root, "config"), "local")
	if err != nil {
		t.Fatalf("loading config/local.json: %v", err)
	}
	return cfg
}

// What the suite reads of config/local.json (its app image, its nginx
// stand-in) and what its own stack is copied from are one file, the
// repository's, whatever SHIPYARD_CONFIG_DIR names: a local.json there
// naming other images changes neither. Needs no Docker.
func TestTheSuiteReadsTheLocalConfigItsOwnStackIsMadeFrom(t *testing.T) {
	repo := filepath.Join("..", "..", "config")
	other := t.TempDir()
	for _, f := range []string{stackconfig.SchemaFile, "local.json"} {
		data, err := os.ReadFile(filepath.Join(repo, f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "local.json" {
			var cfg map[string]any
			if err := json.Unmarshal(data, &cfg); err != nil {
				t.Fatal(err)
			}
			release, _ := cfg["release"].(map[string]any)
			if release == nil {
				release = map[string]any{}
				cfg["release"] = release
			}
			release["imageRepository"] = "elsewhere/app"
			if data, err = json.Marshal(cfg); err != nil {
				t.Fatal(err)
			}
		}
		writeFile(t, filepath.Join(other, f), data)
	}
	want, err := stackconfig.Load(repo, "local")
	if err != nil {
		t.Fatal(err)
	}
	elsewhere, err := stackconfig.Load(other, "local")
	if err != nil {
		t.Fatal(err)
	}
	if elsewhere.AppImage() == want.AppImage() {
		t.Fatalf("the other local.json names the repository's image %s; the test would prove nothing", want.AppImage())
	}
	t.Setenv(stackconfig.DirEnv, other)

	root := repositoryRoot(t)
	if abs, err := filepath.Abs(filepath.Join("..", "..")); err != nil || root != abs {
		t.Fatalf("repository root %s, want %s (%v)", root, abs, err)
	}
	if got := localConfig(t, root).AppImage(); got != want.AppImage() {
		t.Errorf("the suite reads the app image %s, want the repository's %s (its own stack is copied from %s)", got, want.AppImage(), filepath.Join(root, "config"))
	}
}

// newLocalStack lays out the suite's project and builds the binaries it
// runs. root is the repository.
func newLocalStack(t *testing.T, root string) *localStack {
	t.Helper()
	s := &localStack{name: "e2e" + randomSuffix(t), dir: t.TempDir()}
	claim(t, s.name)
	s.bin = filepath.Join(s.dir, "bin")
	pulumiYAML, err := os.ReadFile(filepath.Join(root, "Pulumi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	program := programBinary(t, pulumiYAML)
	writeFile(t, filepath.Join(s.dir, "Pulumi.yaml"), pulumiYAML)
	entries, err := os.ReadDir(filepath.Join(root, "config"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(root, "config", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(s.dir, "config", e.Name()), data)
	}
	data, err := os.ReadFile(filepath.Join(root, "config", "local.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &s.cfg); err != nil {
		t.Fatalf("config/local.json: %v", err)
	}
	taken := map[int]bool{}
	for _, field := range []string{"httpPort", "httpsPort", "prometheusPort", "jaegerPort"} {
		p := freePort(t)
		for taken[p] {
			p = freePort(t)
		}
		taken[p] = true
		s.set(t, "local", field, p)
	}
	for _, b := range []struct{ out, pkg string }{
		{filepath.Join(s.bin, "shipyard"), "./cmd/shipyard"},
		{filepath.Join(s.dir, program), "./stacks"},
	} {
		t0 := time.Now()
		cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b.pkg, err, out)
		}
		t.Logf("built %s in %s", b.pkg, time.Since(t0).Round(time.Millisecond))
	}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !contains(inheritedPulumiEnv, k) {
			s.env = append(s.env, kv)
		}
	}
	// The repository's bin/ (`make tools`) holds the pinned pulumi; the
	// backend is the project's state directory, as the Makefile exports it
	// (the directory does not exist yet, as in a fresh clone).
	s.env = append(s.env, "PATH="+filepath.Join(root, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"),
		"PULUMI_BACKEND_URL=file://"+filepath.Join(s.dir, ".pulumi-state"))
	return s
}

// programBinary reads runtime.options.binary from Pulumi.yaml: where the
// Go language host expects the prebuilt program.
func programBinary(t *testing.T, pulumiYAML []byte) string {
	t.Helper()
	for _, line := range strings.Split(string(pulumiYAML), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "binary:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("Pulumi.yaml has no runtime.options.binary:\n%s", pulumiYAML)
	return ""
}

// set changes one field of the stack's config file (section "" for a
// top-level field).
func (s *localStack) set(t *testing.T, section, field string, v any) {
	t.Helper()
	m := s.cfg
	if section != "" {
		sub, _ := s.cfg[section].(map[string]any)
		if sub == nil {
			sub = map[string]any{}
			s.cfg[section] = sub
		}
		m = sub
	}
	m[field] = v
	data, err := json.MarshalIndent(s.cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(s.dir, "config", s.name+".json"), data)
}

// shipyard runs the operator tool on the suite's project, with the
// environment of a user's shell minus inheritedPulumiEnv. Its output goes
// to the test log when it fails or when the test runs with -v.
func (s *localStack) shipyard(t *testing.T, args ...string) (string, error) {
	t.Helper()
	stdout, _, err := s.shipyardAll(t, args...)
	return stdout, err
}

// shipyardAll is shipyard that also returns all the command printed
// (stdout and stderr, interleaved).
func (s *localStack) shipyardAll(t *testing.T, args ...string) (stdout, all string, err error) {
	t.Helper()
	t0 := time.Now()
	cmd := exec.Command(filepath.Join(s.bin, "shipyard"), args...)
	cmd.Dir, cmd.Env = s.dir, s.env
	var out, both strings.Builder
	cmd.Stdout = io.MultiWriter(&out, &both)
	cmd.Stderr = &both
	err = cmd.Run()
	t.Logf("shipyard %s: %s", strings.Join(args, " "), time.Since(t0).Round(100*time.Millisecond))
	if err != nil {
		return out.String(), both.String(), fmt.Errorf("shipyard %s: %w\n%s", strings.Join(args, " "), err, lastLines(both.String(), 60))
	}
	if testing.Verbose() && args[0] != "outputs" {
		t.Log(lastLines(both.String(), 25))
	}
	return out.String(), both.String(), nil
}

// pulumi runs the Pulumi CLI on the suite's project, as shipyard would
// (its backend, the local passphrase), and returns its output.
func (s *localStack) pulumi(t *testing.T, args ...string) string {
	t.Helper()
	pulumi := "pulumi"
	for _, kv := range s.env { // the last PATH wins, as in the child
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			if full, err := lookPathIn("pulumi", p); err == nil {
				pulumi = full
			}
		}
	}
	cmd := exec.Command(pulumi, append(args, "--non-interactive")...)
	cmd.Dir = s.dir
	cmd.Env = append(append([]string(nil), s.env...), preflight.PassphraseEnv+"="+preflight.LocalPassphrase)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pulumi %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// lookPathIn finds a program in a PATH value.
func lookPathIn(name, path string) (string, error) {
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in %s", name, path)
}

func (s *localStack) up(t *testing.T) {
	t.Helper()
	if _, err := s.shipyard(t, "up", s.name); err != nil {
		t.Fatalf("make up of the suite's stack: %v", err)
	}
}

func (s *localStack) outputs(t *testing.T) Outputs {
	t.Helper()
	out, err := s.shipyard(t, "outputs", s.name)
	if err != nil {
		t.Fatal(err)
	}
	o, err := ParseOutputs([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	trustStackCA(t, o)
	return o
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// objects lists the stack's Docker objects of a kind (container, network,
// volume): the ones labelled with the stack and the ones whose name starts
// with its prefix.
func (s *localStack) objects(t *testing.T, kind string) []string {
	t.Helper()
	prefix := dockerinfra.NamesFor(s.name).Prefix()
	seen := map[string]bool{}
	var out []string
	for _, filter := range []string{"label=" + dockerinfra.StackLabel + "=" + s.name, "name=" + prefix} {
		args := []string{kind, "ls", "--quiet", "--filter", filter}
		if kind == "container" {
			args = []string{"ps", "--all", "--format", "{{.Names}}", "--filter", filter}
		} else if kind == "network" {
			args = []string{"network", "ls", "--format", "{{.Name}}", "--filter", filter}
		}
		for _, n := range lines(dockerOut(t, args...)) {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out
}

// jobRunsDigest digests the runs of job_runs up to id upTo (every run
// when 0) by the columns a run never changes, and returns the highest id
// it read: the clock and the worker add and finish runs all the time.
func (s *localStack) jobRunsDigest(t *testing.T, cfg *stackconfig.Config, upTo int64) (int64, string) {
	t.Helper()
	if upTo == 0 {
		upTo = 1 << 62
	}
	got := strings.TrimSpace(dockerOut(t, "exec", s.outputs(t).Containers["postgres"], "psql", "--username", cfg.Database.Username,
		"--dbname", cfg.Database.Name, "--no-align", "--tuples-only", "--command", fmt.Sprintf(
			`SELECT coalesce(max(id), 0) || ' ' || count(*) || ' ' || coalesce(md5(string_agg(id || job || slot_at || trigger, '|' ORDER BY id)), '-')
			FROM job_runs WHERE id <= %d`, upTo)))
	maxID, digest, _ := strings.Cut(got, " ")
	n, err := strconv.ParseInt(maxID, 10, 64)
	if err != nil {
		t.Fatalf("job_runs digest %q: %v", got, err)
	}
	return n, digest
}

// tableDigests reads every table of the stack's database through its
// postgres container: "<rows> <md5 of every row, in order>" per table.
func (s *localStack) tableDigests(t *testing.T, cfg *stackconfig.Config) map[string]string {
	t.Helper()
	pg := s.outputs(t).Containers["postgres"]
	psql := func(sql string) string {
		return dockerOut(t, "exec", pg, "psql", "--username", cfg.Database.Username, "--dbname", cfg.Database.Name,
			"--no-align", "--tuples-only", "--command", sql)
	}
	out := map[string]string{}
	for _, table := range lines(psql("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")) {
		if table == "job_runs" {
			continue // the clock and the worker write it all the time: jobRunsDigest
		}
		out[table] = strings.TrimSpace(psql(fmt.Sprintf(
			`SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '-') FROM %q t`, table)))
	}
	if len(out) == 0 {
		t.Fatal("the stack's database has no table")
	}
	return out
}

// waitNotesProcessed waits until the worker has processed every note (its
// processed_at is set).
func (s *localStack) waitNotesProcessed(t *testing.T, cfg *stackconfig.Config) {
	t.Helper()
	pg := s.outputs(t).Containers["postgres"]
	retry.DoWithRetry(t, "the worker processes every note", 60, time.Second, func() (string, error) {
		n := strings.TrimSpace(dockerOut(t, "exec", pg, "psql", "--username", cfg.Database.Username, "--dbname", cfg.Database.Name,
			"--no-align", "--tuples-only", "--command", "SELECT count(*) FROM notes WHERE processed_at IS NULL"))
		if n != "0" {
			return "", fmt.Errorf("%s notes not processed yet", n)
		}
		return "", nil
	})
}

// createdContainers counts containers that were created and never started:
// what an image build through the classic builder leaves behind.
func createdContainers(t *testing.T) int {
	return len(lines(dockerOut(t, "ps", "--all", "--quiet", "--filter", "status=created")))
}

func dockerOut(t *testing.T, args ...string) string {
	t.Helper()
	out, err := shell.RunCommandAndGetStdOutE(t, shell.Command{Command: "docker", Args: args, Logger: quiet})
	if err != nil {
		t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func randomSuffix(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", b)
}

// freePort returns a TCP port free on 127.0.0.1 right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
