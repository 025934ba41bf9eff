package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

func TestDoctor(t *testing.T) {
	local := &stackconfig.Config{Stack: "local", Target: stackconfig.TargetDocker, Local: stackconfig.Local{HTTPPort: 8080, PrometheusPort: 9090}}
	localAll := &stackconfig.Config{Stack: "local", Target: stackconfig.TargetDocker, Local: stackconfig.Local{HTTPPort: 8080, HTTPSPort: 8443, PrometheusPort: 9090, JaegerPort: 16686}}
	dev := &stackconfig.Config{Stack: "dev", Target: stackconfig.TargetAWS, Bootstrap: stackconfig.Bootstrap{BackendURL: "s3://state?region=eu-west-1"}}
	devKMS := &stackconfig.Config{Stack: "dev", Target: stackconfig.TargetAWS, Bootstrap: stackconfig.Bootstrap{
		BackendURL: "s3://state?region=eu-west-1", SecretsProvider: "awskms://alias/shipyard-pulumi?region=eu-west-1"}}
	devUnbootstrapped := &stackconfig.Config{Stack: "dev", Target: stackconfig.TargetAWS}
	devContext := &stackconfig.Config{Stack: "dev", Target: stackconfig.TargetAWS, Bootstrap: stackconfig.Bootstrap{
		BackendURL: "s3://state?region=eu-west-1", SecretsProvider: "awskms://alias/shipyard-pulumi?region=eu-west-1&context_stack=dev"}}
	healthy := map[string]answer{
		"go env GOVERSION":            {out: "go1.26.8\n"},
		"docker version":              {out: "27.3.1\n"},
		"pulumi version":              {out: "v3.200.0\n"},
		"pulumi plugin ls":            {out: "NAME    KIND      VERSION  SIZE\naws     resource  6.83.0   700 MB\ndocker  resource  4.10.0   81 MB\nrandom  resource  4.18.0   47 MB\n"},
		"aws sts get-caller-identity": {out: `{"Account": "123456789012", "Arn": "arn:aws:sts::123456789012:assumed-role/ops/me"}`},
		"crane version":               {out: "v0.20.3\n"},
	}
	with := func(changes map[string]answer) map[string]answer {
		out := map[string]answer{}
		for k, v := range healthy {
			out[k] = v
		}
		for k, v := range changes {
			out[k] = v
		}
		return out
	}
	passphrase := func(k string) string {
		if k == "PULUMI_CONFIG_PASSPHRASE" {
			return "s3cret"
		}
		return ""
	}
	none := func(string) string { return "" }

	tests := []struct {
		name    string
		answers map[string]answer
		getenv  func(string) string
		stacks  []*stackconfig.Config
		// machine changes the healthy machine.
		machine func(m *machine)
		// settings is stacks/Pulumi.<stack>.yaml of the stacks' checkout.
		settings map[string]string
		// wantFailed are the checks that fail, each printed with its fix.
		wantFailed []string
		wantFixes  []string
		wantChecks int
	}{
		{
			name:    "passes a machine that has everything the local stack needs",
			answers: healthy, getenv: none, stacks: []*stackconfig.Config{local},
			wantChecks: 13,
		},
		{
			name:    "reports an unreachable docker engine with how to start it",
			answers: with(map[string]answer{"docker version": {err: errors.New("Cannot connect to the Docker daemon")}}),
			getenv:  none, stacks: []*stackconfig.Config{local},
			wantFailed: []string{"docker engine"}, wantFixes: []string{"start the engine"}, wantChecks: 13,
		},
		{
			name:    "reports a missing pulumi CLI with make tools as the fix",
			answers: with(map[string]answer{"pulumi version": {err: errors.New("pulumi: not installed")}}),
			getenv:  none, stacks: []*stackconfig.Config{local},
			wantFailed: []string{"pulumi"}, wantFixes: []string{"make tools"}, wantChecks: 13,
		},
		{
			name:    "reports an engine to start without systemd the way that works there",
			answers: with(map[string]answer{"docker version": {err: errors.New("Cannot connect to the Docker daemon")}}),
			getenv:  none, stacks: []*stackconfig.Config{local}, machine: func(m *machine) { m.systemd = false },
			wantFailed: []string{"docker engine"}, wantFixes: []string{"nohup dockerd"}, wantChecks: 13,
		},
		{
			name:    "reports a Go older than go.mod's",
			answers: with(map[string]answer{"go env GOVERSION": {out: "go1.21.0\n"}}),
			getenv:  none, stacks: []*stackconfig.Config{local},
			wantFailed: []string{"go"}, wantFixes: []string{"go.mod"}, wantChecks: 13,
		},
		{
			name:    "reports a missing docker plugin with make tools and the offline bundle as fixes",
			answers: with(map[string]answer{"pulumi plugin ls": {out: "NAME    KIND      VERSION  SIZE\n"}}),
			getenv:  none, stacks: []*stackconfig.Config{local},
			wantFailed: []string{"pulumi docker plugin", "pulumi random plugin"}, wantFixes: []string{"make tools", "PULUMI_OFFLINE_DIR"}, wantChecks: 13,
		},
		{
			name:    "reports what make test needs: postgres and redis servers, promtool, debootstrap as root, free disk",
			answers: healthy, getenv: none, stacks: []*stackconfig.Config{local},
			machine: func(m *machine) {
				m.lookPath = func(string) (string, error) { return "", errors.New("not found") }
				m.glob = func(string) ([]string, error) { return nil, nil }
				m.freeBytes = func(string) (uint64, error) { return 3 << 30, nil }
			},
			wantFailed: []string{"postgres server (make test)", "redis server (make test)", "promtool (make test)", "C compiler (make test, make lint)", "debootstrap as root (make test)", "free disk (make test)"},
			wantFixes:  []string{"apt-get install postgresql", "apt-get install redis-server", "apt-get install prometheus", "apt-get install gcc", "apt-get install debootstrap", "docker system prune"}, wantChecks: 13,
		},
		{
			name:    "reports debootstrap run by a user who is not root",
			answers: healthy, getenv: none, stacks: []*stackconfig.Config{local}, machine: func(m *machine) { m.uid = 1000 },
			wantFailed: []string{"debootstrap as root (make test)"}, wantFixes: []string{"as root"}, wantChecks: 13,
		},
		{
			name:    "reports a pulumi CLI whose version differs from the pin",
			answers: with(map[string]answer{"pulumi version": {out: "v3.150.0\n"}}),
			getenv:  none, stacks: []*stackconfig.Config{local},
			wantFailed: []string{"pulumi"}, wantFixes: []string{"pins 3.200.0"}, wantChecks: 13,
		},
		{
			name:    "checks AWS credentials, crane, the aws plugin, the state backend and the passphrase only for aws stacks",
			answers: healthy, getenv: passphrase, stacks: []*stackconfig.Config{local, dev},
			wantChecks: 19,
		},
		{
			name:    "reports missing AWS credentials and passphrase for an aws stack",
			answers: with(map[string]answer{"aws sts get-caller-identity": {err: errors.New("Unable to locate credentials")}}),
			getenv:  none, stacks: []*stackconfig.Config{dev},
			wantFailed: []string{"aws credentials (dev)", "secrets passphrase (dev)"},
			wantFixes:  []string{"aws configure sso", "PULUMI_CONFIG_PASSPHRASE"}, wantChecks: 17,
		},
		{
			name:    "demands no passphrase of an aws stack whose secrets provider is the bootstrap's KMS key",
			answers: healthy, getenv: none, stacks: []*stackconfig.Config{devKMS},
			wantChecks: 17,
		},
		{
			name:    "demands no passphrase of a new aws stack when SHIPYARD_SECRETS_PROVIDER is a KMS key",
			answers: healthy, stacks: []*stackconfig.Config{dev},
			getenv: func(k string) string {
				if k == "SHIPYARD_SECRETS_PROVIDER" {
					return "awskms://alias/shipyard-pulumi?region=eu-west-1"
				}
				return ""
			},
			wantChecks: 17,
		},
		{
			name:    "reports an aws stack whose state would be a file, with make bootstrap as the fix",
			answers: healthy, getenv: passphrase, stacks: []*stackconfig.Config{devUnbootstrapped},
			wantFailed: []string{"state backend (dev)"}, wantFixes: []string{"make bootstrap STACK=dev"}, wantChecks: 17,
		},
		{
			name:    "reports a missing aws plugin naming its archive and the two ways to get it",
			answers: with(map[string]answer{"pulumi plugin ls": {out: "NAME    KIND      VERSION  SIZE\naws     resource  6.0.0    700 MB\ndocker  resource  4.10.0   81 MB\nrandom  resource  4.18.0   47 MB\n"}}),
			getenv:  passphrase, stacks: []*stackconfig.Config{dev},
			wantFailed: []string{"pulumi aws plugin (dev)"},
			wantFixes:  []string{"v6.83.0 is not installed (found v6.0.0)", "make tools STACK=dev` on a machine with internet access", "pulumi-resource-aws-v6.83.0-linux-amd64.tar.gz", "PULUMI_OFFLINE_DIR=<that directory> make tools STACK=dev"}, wantChecks: 17,
		},
		{
			name:    "reports a missing random plugin",
			answers: with(map[string]answer{"pulumi plugin ls": {out: "NAME    KIND      VERSION  SIZE\ndocker  resource  4.10.0   81 MB\n"}}),
			getenv:  none, stacks: []*stackconfig.Config{local},
			wantFailed: []string{"pulumi random plugin"}, wantFixes: []string{"make tools"}, wantChecks: 13,
		},
		{
			name:    "reports a port of the config held by something else, naming the field",
			answers: with(map[string]answer{"docker ps": {out: "\n"}}), getenv: none, stacks: []*stackconfig.Config{local},
			machine: func(m *machine) {
				m.listen = func(port int) error {
					if port == 9090 {
						return errors.New("listen tcp 127.0.0.1:9090: bind: address already in use")
					}
					return nil
				}
			},
			wantFailed: []string{"port 9090 (local, local.prometheusPort)"}, wantFixes: []string{"ss -ltnp 'sport = :9090'", "local.prometheusPort in config/local.json"}, wantChecks: 13,
		},
		{
			name:    "checks every published port of the config: HTTPS and Jaeger too",
			answers: with(map[string]answer{"docker ps": {out: "\n"}}), getenv: none, stacks: []*stackconfig.Config{localAll},
			machine: func(m *machine) {
				m.listen = func(port int) error {
					if port == 8443 || port == 16686 {
						return errors.New("address already in use")
					}
					return nil
				}
			},
			wantFailed: []string{"port 8443 (local, local.httpsPort)", "port 16686 (local, local.jaegerPort)"}, wantFixes: []string{"ss -ltnp 'sport = :8443'", "local.jaegerPort in config/local.json"}, wantChecks: 15,
		},
		{
			name:    "accepts a port held by the stack's own container",
			answers: with(map[string]answer{"docker ps": {out: "shipyard-local-nginx\n"}}), getenv: none, stacks: []*stackconfig.Config{local},
			machine: func(m *machine) {
				m.listen = func(port int) error {
					if port == 8080 {
						return errors.New("address already in use")
					}
					return nil
				}
			},
			wantChecks: 13,
		},
		{
			name:    "reports a port held by another stack's container, naming it",
			answers: with(map[string]answer{"docker ps": {out: "shipyard-e2e1a2b-nginx\n"}}), getenv: none, stacks: []*stackconfig.Config{local},
			machine: func(m *machine) {
				m.listen = func(port int) error {
					if port == 8080 {
						return errors.New("address already in use")
					}
					return nil
				}
			},
			wantFailed: []string{"port 8080 (local, local.httpPort)"}, wantFixes: []string{"make down STACK=<it>"}, wantChecks: 13,
		},
		{
			name:    "reports an aws stack still on the provider it was created with, not its config's, with make rekey as the fix",
			answers: healthy, getenv: none, stacks: []*stackconfig.Config{devContext},
			settings:   map[string]string{"dev": "secretsprovider: awskms://alias/shipyard-pulumi?region=eu-west-1\nencryptedkey: AQICAHg=\n"},
			wantFailed: []string{"secrets provider (dev)"}, wantFixes: []string{"make rekey STACK=dev", "stacks/Pulumi.dev.yaml encrypts the secrets with awskms://alias/shipyard-pulumi?region=eu-west-1;"}, wantChecks: 17,
		},
		{
			name:    "accepts an aws stack on its config's provider",
			answers: healthy, getenv: none, stacks: []*stackconfig.Config{devContext},
			settings:   map[string]string{"dev": "secretsprovider: awskms://alias/shipyard-pulumi?region=eu-west-1&context_stack=dev\n"},
			wantChecks: 17,
		},
		{
			name:    "says sudo in its fixes to a user who is not root",
			answers: healthy, getenv: none, stacks: []*stackconfig.Config{local},
			machine: func(m *machine) {
				m.uid = 1000
				m.lookPath = func(string) (string, error) { return "", errors.New("not found") }
			},
			wantFailed: []string{"postgres server (make test)", "redis server (make test)", "promtool (make test)", "C compiler (make test, make lint)", "debootstrap as root (make test)"},
			wantFixes:  []string{"sudo apt-get install redis-server"}, wantChecks: 13,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := newFakeExec(tc.answers)
			p := &pulumiCLI{root: t.TempDir(), getenv: tc.getenv, configDir: t.TempDir()}
			for stack, data := range tc.settings {
				if err := os.MkdirAll(filepath.Join(p.root, stackSettingsDir), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(p.root, stackSettingsDir, "Pulumi."+stack+".yaml"), []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			m := machine{
				lookPath:  func(name string) (string, error) { return "/usr/bin/" + name, nil },
				glob:      func(string) ([]string, error) { return nil, nil },
				freeBytes: func(string) (uint64, error) { return 50 << 30, nil },
				listen:    func(int) error { return nil },
				uid:       0, systemd: true, root: "../..",
			}
			if tc.machine != nil {
				tc.machine(&m)
			}
			pin := pins{pulumi: "3.200.0", plugins: map[string]string{"docker": "4.10.0", "random": "4.18.0", "aws": "6.83.0"}, awsArchive: "pulumi-resource-aws-v6.83.0-linux-amd64.tar.gz"}
			checks := doctorChecks(x.exec, tc.getenv, p, pin, tc.stacks, m)
			if len(checks) != tc.wantChecks {
				t.Errorf("%d checks, want %d", len(checks), tc.wantChecks)
			}
			var out bytes.Buffer
			err := runChecks(context.Background(), &out, checks)
			// Run as root, no fix says sudo (there may be none to run).
			if m.uid == 0 && strings.Contains(out.String(), "sudo") {
				t.Errorf("run as root, a fix says sudo:\n%s", &out)
			}
			if len(tc.wantFailed) == 0 {
				if err != nil {
					t.Fatalf("doctor failed: %v\n%s", err, &out)
				}
				if strings.Contains(out.String(), "✗") {
					t.Errorf("a check failed:\n%s", &out)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "checks failed") {
				t.Fatalf("err = %v, want failed checks\n%s", err, &out)
			}
			for _, name := range tc.wantFailed {
				if !strings.Contains(out.String(), "✗ "+name) {
					t.Errorf("output does not report %q failing:\n%s", name, &out)
				}
			}
			for _, fix := range tc.wantFixes {
				if !strings.Contains(out.String(), fix) {
					t.Errorf("output does not give the fix %q:\n%s", fix, &out)
				}
			}
			if got := strings.Count(out.String(), "fix: "); got != len(tc.wantFailed) {
				t.Errorf("%d fixes printed, want %d:\n%s", got, len(tc.wantFailed), &out)
			}
		})
	}
}
