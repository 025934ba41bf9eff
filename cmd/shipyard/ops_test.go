package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
	"github.com/shipyard-kit/shipyard/internal/release"
)

func localOutputs() release.Outputs {
	return release.Outputs{
		"networkName":   "shipyard-local",
		"webContainers": []any{"shipyard-local-web-1", "shipyard-local-web-2"},
		"containers": map[string]any{
			"postgres": "shipyard-local-postgres", "redis": "shipyard-local-redis", "nginx": "shipyard-local-nginx",
			"migrate": "shipyard-local-migrate", "worker": "shipyard-local-worker", "clock": "shipyard-local-clock",
		},
	}
}

func TestLogCalls(t *testing.T) {
	local := &stackconfig.Config{Stack: "local", Target: stackconfig.TargetDocker}
	dev := &stackconfig.Config{Stack: "dev", Target: stackconfig.TargetAWS, AWS: stackconfig.AWS{Region: "eu-west-1"}}
	devOut := release.Outputs{"logGroupNames": map[string]any{"web": "/shipyard/dev/web", "worker": "/shipyard/dev/worker", "clock": "/shipyard/dev/clock"}}
	tests := []struct {
		name   string
		cfg    *stackconfig.Config
		out    release.Outputs
		procs  []string
		docker string
		want   map[string]string
	}{
		{
			name: "follows every app process and the proxy of the docker stack by default",
			cfg:  local, out: localOutputs(),
			want: map[string]string{
				"web.1":  "docker logs --follow --tail 100 shipyard-local-web-1",
				"web.2":  "docker logs --follow --tail 100 shipyard-local-web-2",
				"worker": "docker logs --follow --tail 100 shipyard-local-worker",
				"clock":  "docker logs --follow --tail 100 shipyard-local-clock",
				"nginx":  "docker logs --follow --tail 100 shipyard-local-nginx",
			},
		},
		{
			name: "narrows the docker stack to the processes named",
			cfg:  local, out: localOutputs(), procs: []string{"migrate"},
			want: map[string]string{"migrate": "docker logs --follow --tail 100 shipyard-local-migrate"},
		},
		{
			name: "runs the Docker client $DOCKER names",
			cfg:  local, out: localOutputs(), procs: []string{"clock"}, docker: "/usr/bin/docker",
			want: map[string]string{"clock": "/usr/bin/docker logs --follow --tail 100 shipyard-local-clock"},
		},
		{
			name: "tails the CloudWatch log group of an aws process",
			cfg:  dev, out: devOut, procs: []string{"web"},
			want: map[string]string{"web": "aws logs tail /shipyard/dev/web --follow --since 10m --format short --region eu-west-1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			docker := dockerClient(func(k string) string { return map[string]string{"DOCKER": tc.docker}[k] })
			calls, err := logCalls(tc.cfg, tc.out, tc.procs, docker)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for k, c := range calls {
				got[k] = c.String()
			}
			if len(got) != len(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s: got %q, want %q", k, got[k], v)
				}
			}
		})
	}
	for _, tc := range []struct {
		name  string
		cfg   *stackconfig.Config
		out   release.Outputs
		procs []string
		want  string
	}{
		{"names the processes a stack has when asked for another", local, localOutputs(), []string{"scheduler"},
			"PROCESS=scheduler: stack local (target docker) has no container scheduler; allowed: clock, migrate, nginx, postgres, redis, web, worker"},
		{"refuses a misspelt process beside a known one, not following the known one alone", local, localOutputs(), []string{"web", "wokrer"},
			"PROCESS=web wokrer: stack local (target docker) has no container wokrer; allowed: clock, migrate, nginx, postgres, redis, web, worker"},
		{"refuses nginx on aws, which has no log group of it", dev, devOut, []string{"web", "nginx"},
			"PROCESS=web nginx: stack dev (target aws) has no log group nginx; allowed: clock, web, worker"},
		{"names every unknown process", dev, devOut, []string{"migrate", "nginx"},
			"PROCESS=migrate nginx: stack dev (target aws) has no log group migrate, nginx; allowed: clock, web, worker"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls, err := logCalls(tc.cfg, tc.out, tc.procs, "docker")
			if err == nil || err.Error() != tc.want {
				t.Fatalf("calls %v, err = %v; want %q", calls, err, tc.want)
			}
		})
	}
}

func TestFollowPrefixesEveryLine(t *testing.T) {
	x := newFakeExec(map[string]answer{
		"docker logs --follow --tail 100 a": {out: "one\ntwo\n"},
		"docker logs --follow --tail 100 b": {out: "three\n"},
	})
	calls := map[string]call{
		"web.1": {Name: "docker", Args: []string{"logs", "--follow", "--tail", "100", "a"}},
		"clock": {Name: "docker", Args: []string{"logs", "--follow", "--tail", "100", "b"}},
	}
	var out bytes.Buffer
	if err := follow(context.Background(), x.exec, calls, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	sort.Strings(lines)
	want := []string{"clock | three", "web.1 | one", "web.1 | two"}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

func TestPrefixWriterKeepsPartialLinesTogether(t *testing.T) {
	var out bytes.Buffer
	p := &prefixWriter{w: &out, mu: &sync.Mutex{}, prefix: "web | "}
	for _, chunk := range []string{"hel", "lo\nwor", "ld\n"} {
		if _, err := p.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if got := out.String(); got != "web | hello\nweb | world\n" {
		t.Errorf("got %q", got)
	}
}

func TestMigrateOnDocker(t *testing.T) {
	local := &stackconfig.Config{Stack: "local", Target: stackconfig.TargetDocker}
	t.Run("re-runs the stack's migrate container attached", func(t *testing.T) {
		x := newFakeExec(map[string]answer{"/usr/bin/docker start --attach shipyard-local-migrate": {}})
		if err := migrate(context.Background(), x.exec, local, localOutputs(), &bytes.Buffer{}, "/usr/bin/docker"); err != nil {
			t.Fatal(err)
		}
		if l := x.lines(); len(l) != 1 {
			t.Errorf("calls = %v", l)
		}
	})
	t.Run("fails with the container's exit status", func(t *testing.T) {
		x := newFakeExec(map[string]answer{"docker start": {err: errors.New("exit status 1")}})
		err := migrate(context.Background(), x.exec, local, localOutputs(), &bytes.Buffer{}, "docker")
		if err == nil || !strings.Contains(err.Error(), "exit status 1") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("asks for make up when the stack has no migrate container", func(t *testing.T) {
		err := migrate(context.Background(), newFakeExec(nil).exec, local, release.Outputs{}, &bytes.Buffer{}, "docker")
		if err == nil || !strings.Contains(err.Error(), "make up STACK=local") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestPulumiEnv(t *testing.T) {
	root := t.TempDir() // a fresh clone: no .pulumi-state yet
	configDir := filepath.Join("..", "..", "config")
	// A copy of the repository's config after `make bootstrap`.
	bootstrapped := t.TempDir()
	for _, name := range []string{"schema.json", "dev.json"} {
		data, err := os.ReadFile(filepath.Join(configDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "dev.json" {
			section := []byte(`{"backendUrl": "s3://shipyard-pulumi-state-111122223333-eu-west-1?region=eu-west-1&awssdk=v2", "secretsProvider": "awskms://alias/shipyard-pulumi?region=eu-west-1"}`)
			if data, err = release.SetSection(data, "bootstrap", section); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(bootstrapped, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	tests := []struct {
		name     string
		vars     map[string]string
		stack    string
		settings string // stacks/Pulumi.<stack>.yaml
		want     []string
		wantErr  string
		// wantDir is the state directory that must exist afterwards
		// (default: the repository's, when PULUMI_BACKEND_URL is unset);
		// wantNoDir one that must not.
		wantDir, wantNoDir string
		// configDir is the config directory (default the repository's).
		configDir string
	}{
		{
			name: "gives a docker stack the repository's state directory and the local passphrase",
			vars: nil, stack: "local",
			want: []string{"PULUMI_BACKEND_URL=file://" + filepath.Join(root, ".pulumi-state"), "PULUMI_CONFIG_PASSPHRASE=" + LocalPassphrase},
		},
		{
			name: "creates the directory of a file backend the Makefile or the operator set",
			vars: map[string]string{"PULUMI_BACKEND_URL": "file://" + filepath.Join(root, "elsewhere", "state") + "?no_tmp_dir=true"}, stack: "local",
			want:    []string{"PULUMI_CONFIG_PASSPHRASE=" + LocalPassphrase},
			wantDir: filepath.Join(root, "elsewhere", "state"),
		},
		{
			name: "keeps the backend and passphrase the operator set",
			vars: map[string]string{"PULUMI_BACKEND_URL": "s3://state", "PULUMI_CONFIG_PASSPHRASE": "x"}, stack: "dev",
			want: nil,
		},
		{
			name: "refuses an aws stack without a passphrase",
			vars: map[string]string{"PULUMI_BACKEND_URL": "s3://state"}, stack: "dev",
			wantErr: "PULUMI_CONFIG_PASSPHRASE",
		},
		{
			name: "refuses an aws stack on the repository's file backend, naming make bootstrap, and creates no state directory",
			vars: nil, stack: "dev",
			wantErr: "run `make bootstrap STACK=dev`", wantNoDir: filepath.Join(root, ".pulumi-state"),
		},
		{
			name: "refuses an aws stack on a file backend the operator set",
			vars: map[string]string{"PULUMI_BACKEND_URL": "file://" + filepath.Join(root, "mine"), "PULUMI_CONFIG_PASSPHRASE": "x"}, stack: "dev",
			wantErr: "SHIPYARD_ALLOW_LOCAL_STATE=1", wantNoDir: filepath.Join(root, "mine"),
		},
		{
			name: "lets an aws stack keep local state when SHIPYARD_ALLOW_LOCAL_STATE=1",
			vars: map[string]string{"SHIPYARD_ALLOW_LOCAL_STATE": "1", "PULUMI_CONFIG_PASSPHRASE": "x"}, stack: "dev",
			want: []string{"PULUMI_BACKEND_URL=file://" + filepath.Join(root, ".pulumi-state")},
		},
		{
			name: "gives an aws stack the backend make bootstrap wrote into its config",
			vars: map[string]string{"PULUMI_CONFIG_PASSPHRASE": "x"}, stack: "dev",
			configDir: bootstrapped,
			want:      []string{"PULUMI_BACKEND_URL=s3://shipyard-pulumi-state-111122223333-eu-west-1?region=eu-west-1&awssdk=v2"},
		},
		{
			name: "needs no passphrase for a new aws stack created with the bootstrap's KMS key",
			vars: map[string]string{}, stack: "dev",
			configDir: bootstrapped,
			want:      []string{"PULUMI_BACKEND_URL=s3://shipyard-pulumi-state-111122223333-eu-west-1?region=eu-west-1&awssdk=v2"},
		},
		{
			name: "needs no passphrase for a new aws stack when SHIPYARD_SECRETS_PROVIDER is KMS",
			vars: map[string]string{"PULUMI_BACKEND_URL": "s3://state", "SHIPYARD_SECRETS_PROVIDER": "awskms://alias/shipyard-pulumi?region=eu-west-1"}, stack: "dev",
			want: nil,
		},
		{
			name: "still needs the passphrase of an existing stack created with one",
			vars: map[string]string{"PULUMI_BACKEND_URL": "s3://state", "SHIPYARD_SECRETS_PROVIDER": "awskms://alias/shipyard-pulumi?region=eu-west-1"}, stack: "dev",
			settings: "encryptionsalt: v1:abc\n",
			wantErr:  "PULUMI_CONFIG_PASSPHRASE",
		},
		{
			name: "needs no passphrase for an aws stack on a KMS secrets provider",
			vars: map[string]string{"PULUMI_BACKEND_URL": "s3://state"}, stack: "dev",
			settings: "secretsprovider: awskms://alias/shipyard-pulumi?region=eu-west-1\nencryptedkey: abc\n",
			want:     nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(root, stackSettingsDir)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "Pulumi."+tc.stack+".yaml")
			os.Remove(path)
			if tc.settings != "" {
				if err := os.WriteFile(path, []byte(tc.settings), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			dir = configDir
			if tc.configDir != "" {
				dir = tc.configDir
			}
			os.RemoveAll(filepath.Join(root, ".pulumi-state"))
			p := &pulumiCLI{root: root, getenv: env(tc.vars), configDir: dir}
			got, err := p.env(tc.stack)
			if tc.wantNoDir != "" {
				if _, serr := os.Stat(tc.wantNoDir); serr == nil {
					t.Errorf("%s was created", tc.wantNoDir)
				}
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("env = %v, want %v", got, tc.want)
			}
			if tc.wantDir == "" && tc.vars["PULUMI_BACKEND_URL"] == "" && tc.configDir == "" {
				tc.wantDir = filepath.Join(root, ".pulumi-state")
			}
			if tc.wantDir != "" {
				// A fresh clone has no state directory; the file backend
				// refuses to open a bucket that does not exist.
				if fi, err := os.Stat(tc.wantDir); err != nil || !fi.IsDir() {
					t.Errorf("the state directory %s was not created: %v", tc.wantDir, err)
				}
			}
		})
	}
}

func TestPrintOutputs(t *testing.T) {
	out := release.Outputs{"url": "http://127.0.0.1:8080", "serviceNames": map[string]any{"web": "w"}}
	tests := []struct {
		name, key, want, wantErr string
	}{
		{"prints a string output as is", "url", "http://127.0.0.1:8080\n", ""},
		{"prints a map output as JSON", "serviceNames", "{\"web\":\"w\"}\n", ""},
		{"names the outputs the stack has when the key is unknown", "nope", "", "it has: serviceNames, url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			err := printOutputs(env{stdout: &b}, out, "local", []string{tc.key})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil || b.String() != tc.want {
				t.Errorf("got %q, %v; want %q", b.String(), err, tc.want)
			}
		})
	}
}

func TestUpGuardsAWSPlans(t *testing.T) {
	replaceDB := `{"steps": [{"op": "replace", "urn": "urn:pulumi:dev::shipyard::aws:rds/instance:Instance::db", "oldState": {"type": "aws:rds/instance:Instance"}}]}`
	updateWeb := `{"steps": [{"op": "update", "urn": "urn:pulumi:dev::shipyard::aws:ecs/service:Service::web"}]}`
	tests := []struct {
		name   string
		target stackconfig.Target
		// plan is what `pulumi preview --json` plans, refreshed what it
		// plans with --refresh (as up does) when that differs.
		plan, refreshed string
		allow           bool
		wantUp          bool
		wantErr         string
	}{
		{"applies an aws plan that keeps the stateful resources", stackconfig.TargetAWS, updateWeb, "", false, true, ""},
		{"refuses an aws plan that replaces the database", stackconfig.TargetAWS, replaceDB, "", false, false, "stateful"},
		{"refuses the refreshed plan up applies when the drift its refresh finds replaces the database", stackconfig.TargetAWS, updateWeb, replaceDB, false, false, "stateful"},
		{"applies it when stateful changes are allowed", stackconfig.TargetAWS, replaceDB, "", true, true, ""},
		{"does not guard the docker stack", stackconfig.TargetDocker, "", "", false, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			answers := map[string]answer{
				"pulumi stack ls":                  {out: `[{"name": "dev"}]`},
				"pulumi preview --json":            {out: tc.plan},
				"pulumi up --yes --diff --refresh": {},
			}
			if tc.refreshed != "" {
				answers["pulumi preview --json --refresh"] = answer{out: tc.refreshed}
			}
			x := newFakeExec(answers)
			getenv := func(k string) string {
				return map[string]string{"PULUMI_BACKEND_URL": "s3://state", "PULUMI_CONFIG_PASSPHRASE": "p"}[k]
			}
			p := &pulumiCLI{x: x.exec, root: t.TempDir(), getenv: getenv, configDir: filepath.Join(repoRoot, "config")}
			cfg := &stackconfig.Config{Stack: "dev", Target: tc.target}
			err := guardedPulumi{pulumiCLI: p, allowStateful: tc.allow}.up(context.Background(), cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			ran := false
			for _, l := range x.lines() {
				ran = ran || strings.HasPrefix(l, "pulumi up")
			}
			if ran != tc.wantUp {
				t.Errorf("pulumi up ran = %v, want %v; calls %v", ran, tc.wantUp, x.lines())
			}
		})
	}
}

func TestPolicyPackOptIn(t *testing.T) {
	tests := []struct {
		name, pack, want string
	}{
		{"adds the policy pack to previews when SHIPYARD_POLICY_PACK names one", "policypack", "pulumi preview --diff --policy-pack "},
		{"runs previews without a policy pack by default", "", "pulumi preview --diff --stack dev"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := newFakeExec(map[string]answer{"pulumi stack ls": {out: `[{"name": "dev"}]`}, "pulumi preview": {}})
			root := t.TempDir()
			getenv := func(k string) string {
				return map[string]string{"PULUMI_BACKEND_URL": "s3://s", "PULUMI_CONFIG_PASSPHRASE": "p", "SHIPYARD_POLICY_PACK": tc.pack}[k]
			}
			p := &pulumiCLI{x: x.exec, root: root, getenv: getenv, configDir: filepath.Join(repoRoot, "config")}
			if err := p.Preview(context.Background(), "dev"); err != nil {
				t.Fatal(err)
			}
			l := x.lines()
			if got := l[len(l)-1]; !strings.HasPrefix(got, tc.want) {
				t.Errorf("preview call %q, want prefix %q", got, tc.want)
			}
		})
	}
}

func TestAMissingProgramIsReportedWithHowToGetIt(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	tests := []struct{ program, want string }{
		{"pulumi", "run `make tools` (offline: PULUMI_OFFLINE_DIR"},
		{"crane", "run `make tools`"},
		{"aws", "`make doctor` says how"},
	}
	for _, tc := range tests {
		t.Run(tc.program, func(t *testing.T) {
			_, err := osExec(&bytes.Buffer{}, &bytes.Buffer{})(context.Background(), call{Name: tc.program, Args: []string{"version"}})
			if err == nil || !strings.Contains(err.Error(), "not installed") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want not installed and %q", err, tc.want)
			}
		})
	}
}

// With a KMS secrets provider (SHIPYARD_SECRETS_PROVIDER, or the one
// `make bootstrap` wrote into the config) and no passphrase, a new aws
// stack is created on KMS and updated: the passphrase is never demanded.
func TestANewAWSStackOnKMSNeverNeedsAPassphrase(t *testing.T) {
	kms := "awskms://alias/shipyard-pulumi?region=eu-west-1"
	configDir := t.TempDir()
	for _, name := range []string{"schema.json", "dev.json"} {
		data, err := os.ReadFile(filepath.Join(repoRoot, "config", name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "dev.json" {
			if data, err = release.SetSection(data, "bootstrap", []byte(`{"backendUrl": "s3://state?region=eu-west-1", "secretsProvider": "`+kms+`"}`)); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(configDir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name      string
		vars      map[string]string
		configDir string
	}{
		{"SHIPYARD_SECRETS_PROVIDER names the key", map[string]string{"PULUMI_BACKEND_URL": "s3://state", "SHIPYARD_SECRETS_PROVIDER": kms}, filepath.Join(repoRoot, "config")},
		{"the bootstrap section names it", map[string]string{}, configDir},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := newFakeExec(map[string]answer{"pulumi stack ls": {out: `[]`}, "pulumi stack init": {}, "pulumi up": {}})
			p := &pulumiCLI{x: x.exec, root: t.TempDir(), getenv: func(k string) string { return tc.vars[k] }, configDir: tc.configDir}
			if err := p.Up(context.Background(), "dev"); err != nil {
				t.Fatalf("up: %v", err)
			}
			lines := x.lines()
			if len(lines) != 3 || !strings.HasPrefix(lines[1], "pulumi stack init dev --secrets-provider "+kms) {
				t.Errorf("calls %v, want the stack created with %s", lines, kms)
			}
			for _, c := range x.calls {
				for _, e := range c.Env {
					if strings.HasPrefix(e, "PULUMI_CONFIG_PASSPHRASE") {
						t.Errorf("%s gets %s", c, e)
					}
				}
			}
		})
	}
}
