package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	dockerinfra "github.com/shipyard-kit/shipyard/infra/docker"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
	"github.com/shipyard-kit/shipyard/internal/cliflag"
	"github.com/shipyard-kit/shipyard/internal/preflight"
)

// check is one prerequisite: run returns what was found, or why not; fix
// tells the operator what to do about it.
type check struct {
	name string
	run  func(ctx context.Context) (string, error)
	fix  string
}

// machine is what doctor reads of the machine besides commands' output.
type machine struct {
	// lookPath finds a program (exec.LookPath); glob matches files.
	lookPath func(string) (string, error)
	glob     func(pattern string) ([]string, error)
	// freeBytes is the free space of the file system holding a path.
	freeBytes func(path string) (uint64, error)
	uid       int
	// listen tries to listen on a port of 127.0.0.1 and closes it: nil
	// when the port is free.
	listen func(port int) error
	// systemd: the machine runs systemd (how to start the Docker engine).
	systemd bool
	// root is the repository: go.mod's go version, the disk checked.
	root string
}

// thisMachine is the machine doctor runs on.
func thisMachine(root string) machine {
	_, err := os.Stat("/run/systemd/system")
	return machine{
		lookPath: exec.LookPath,
		glob:     filepath.Glob,
		freeBytes: func(path string) (uint64, error) {
			var st syscall.Statfs_t
			if err := syscall.Statfs(path, &st); err != nil {
				return 0, err
			}
			return st.Bavail * uint64(st.Bsize), nil
		},
		listen: func(port int) error {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err != nil {
				return err
			}
			return l.Close()
		},
		uid: os.Getuid(), systemd: err == nil, root: root,
	}
}

// pins are the tool versions the Makefile pins, as doctor checks them.
type pins struct {
	// pulumi is the CLI version; plugins the resource plugins' versions
	// by name ("docker" -> "4.10.0"); awsArchive the name of the
	// pulumi-aws plugin's release archive (`make tools` installs it from
	// PULUMI_OFFLINE_DIR). Empty values are not checked.
	pulumi     string
	plugins    map[string]string
	awsArchive string
}

// parsePins reads doctor's --pulumi-version, --plugins=name:version,…
// and --aws-plugin-archive flags.
func parsePins(args []string) (pins, []string, error) {
	var p pins
	var plugins string
	p.pulumi, _, args = cliflag.Cut(args, "pulumi-version")
	plugins, _, args = cliflag.Cut(args, "plugins")
	p.awsArchive, _, args = cliflag.Cut(args, "aws-plugin-archive")
	p.plugins = map[string]string{}
	for _, pv := range strings.Split(plugins, ",") {
		if pv == "" {
			continue
		}
		name, version, ok := strings.Cut(pv, ":")
		if !ok || name == "" || version == "" {
			return pins{}, nil, fmt.Errorf("--plugins=%s: want name:version,… such as docker:4.10.0,aws:6.83.0", plugins)
		}
		p.plugins[name] = version
	}
	if p.awsArchive == "" {
		v := p.plugins["aws"]
		if v == "" {
			v = "<version>"
		}
		p.awsArchive = fmt.Sprintf("pulumi-resource-aws-v%s-%s-%s.tar.gz", v, runtime.GOOS, runtime.GOARCH)
	}
	return p, args, nil
}

// testDiskBytes is the free disk `make test` needs at its peak: the
// stand-in images on Docker's vfs driver, the Go build cache and the
// stack's containers.
const testDiskBytes = 10 << 30

// cmdDoctor checks the prerequisites of the stacks named (default: every
// stack): Go at go.mod's version, Docker, the pinned Pulumi CLI and its
// plugins, what `make test` needs (Postgres and Redis servers, debootstrap
// as root, free disk), and for aws stacks the AWS CLI's credentials, crane
// and the secrets passphrase.
func cmdDoctor(ctx context.Context, e env) error {
	pin, stacks, err := parsePins(e.args)
	if err != nil {
		return err
	}
	pr, err := findProject(e)
	if err != nil {
		return err
	}
	if len(stacks) == 0 {
		if stacks, err = stackconfig.Stacks(pr.configDir); err != nil {
			return err
		}
	}
	var targets []*stackconfig.Config
	for _, s := range stacks {
		cfg, err := stackconfig.Load(pr.configDir, s)
		if err != nil {
			return err
		}
		targets = append(targets, cfg)
	}
	checks := doctorChecks(osExec(e.stdout, e.stderr), e.getenv, pr.pulumi(nil, e.getenv), pin, targets, thisMachine(pr.root))
	return runChecks(ctx, e.stdout, checks)
}

// doctorChecks lists the checks the stacks need. Run as root, the fixes
// say `apt-get`, not `sudo apt-get`.
func doctorChecks(x execer, getenv func(string) string, p *pulumiCLI, pin pins, stacks []*stackconfig.Config, m machine) []check {
	checks := prerequisiteChecks(x, getenv, p, pin, stacks, m)
	if m.uid == 0 {
		for i := range checks {
			checks[i].fix = strings.ReplaceAll(checks[i].fix, "sudo ", "")
		}
	}
	return checks
}

func prerequisiteChecks(x execer, getenv func(string) string, p *pulumiCLI, pin pins, stacks []*stackconfig.Config, m machine) []check {
	output := func(name string, args ...string) func(ctx context.Context) (string, error) {
		return func(ctx context.Context) (string, error) {
			out, err := x(ctx, call{Name: name, Args: args})
			return strings.TrimSpace(string(out)), err
		}
	}
	checks := []check{
		{
			name: "go",
			run: func(ctx context.Context) (string, error) {
				v, err := output("go", "env", "GOVERSION")(ctx)
				if err != nil {
					return "", err
				}
				want, err := goModVersion(m.root)
				if err != nil {
					return "", err
				}
				if !versionAtLeast(strings.TrimPrefix(v, "go"), want) {
					return "", fmt.Errorf("%s, but go.mod needs go %s", v, want)
				}
				return v, nil
			},
			fix: "install Go at least at the version go.mod names (https://go.dev/dl), or let `go` fetch it (GOTOOLCHAIN=auto)",
		},
		{
			name: "docker engine",
			run: func(ctx context.Context) (string, error) {
				v, err := output("docker", "version", "--format", "{{.Server.Version}}")(ctx)
				if err != nil {
					return "", fmt.Errorf("the engine is not reachable: %w", err)
				}
				return "engine " + v, nil
			},
			fix: dockerFix(m.systemd),
		},
		{
			name: "pulumi",
			run: func(ctx context.Context) (string, error) {
				v, err := output("pulumi", "version")(ctx)
				if err != nil {
					return "", err
				}
				if pin.pulumi != "" && strings.TrimPrefix(v, "v") != strings.TrimPrefix(pin.pulumi, "v") {
					return "", fmt.Errorf("version %s, but the Makefile pins %s", v, pin.pulumi)
				}
				return v, nil
			},
			fix: "run `make tools` (installs the pinned Pulumi CLI into bin/, which the Makefile puts first on PATH; offline: PULUMI_OFFLINE_DIR=<bundle> make tools)",
		},
	}
	plugin := func(name string) func(ctx context.Context) (string, error) {
		return func(ctx context.Context) (string, error) {
			out, err := output("pulumi", "plugin", "ls")(ctx)
			if err != nil {
				return "", err
			}
			var found []string
			for _, l := range strings.Split(out, "\n") {
				if f := strings.Fields(l); len(f) >= 3 && f[0] == name && f[1] == "resource" {
					found = append(found, "v"+f[2])
					if want := pin.plugins[name]; want == "" || f[2] == want {
						return "v" + f[2], nil
					}
				}
			}
			if want := pin.plugins[name]; want != "" {
				if len(found) > 0 {
					return "", fmt.Errorf("v%s is not installed (found %s)", want, strings.Join(found, ", "))
				}
				return "", fmt.Errorf("v%s is not installed", want)
			}
			return "", errors.New("not installed")
		}
	}
	for _, name := range []string{"docker", "random"} {
		checks = append(checks, check{
			name: "pulumi " + name + " plugin",
			run:  plugin(name),
			fix:  "run `make tools` (installs the docker and random plugins the local stack uses; offline: PULUMI_OFFLINE_DIR=<bundle> make tools)",
		})
	}
	for _, c := range stacks {
		if c.Target == stackconfig.TargetDocker {
			checks = append(checks, portChecks(x, c, m)...)
		}
	}
	checks = append(checks, testChecks(m)...)
	var aws []string
	for _, c := range stacks {
		if c.Target == stackconfig.TargetAWS {
			aws = append(aws, c.Stack)
		}
	}
	if len(aws) == 0 {
		return checks
	}
	which := strings.Join(aws, ", ")
	checks = append(checks,
		check{
			name: "pulumi aws plugin (" + which + ")",
			run:  plugin("aws"),
			fix:  awsPluginFix(getenv, pin, aws[0]),
		},
		check{
			name: "aws credentials (" + which + ")",
			run: func(ctx context.Context) (string, error) {
				out, err := x(ctx, call{Name: "aws", Args: []string{"sts", "get-caller-identity", "--output", "json"}})
				if err != nil {
					return "", err
				}
				var id struct{ Account, Arn string }
				if err := json.Unmarshal(out, &id); err != nil {
					return "", fmt.Errorf("aws sts get-caller-identity: %w", err)
				}
				return id.Arn + " (account " + id.Account + ")", nil
			},
			fix: "install the AWS CLI v2 and sign in: `aws configure sso` then `export AWS_PROFILE=<profile>` (CI assumes a role through OIDC; see docs/operations.md)",
		},
		check{
			name: "crane (" + which + ")",
			run:  output("crane", "version"),
			fix:  "run `make tools` (promotions copy images between ECR repositories by digest with crane)",
		},
	)
	for _, c := range stacks {
		if c.Target != stackconfig.TargetAWS {
			continue
		}
		checks = append(checks, check{
			name: "state backend (" + c.Stack + ")",
			run: func(context.Context) (string, error) {
				url, err := preflight.Backend(getenv, p.root, preflightStack(c))
				if err != nil {
					if url := getenv("PULUMI_BACKEND_URL"); url != "" {
						return "", fmt.Errorf("the state would be a file on this machine: PULUMI_BACKEND_URL=%s", url)
					}
					return "", fmt.Errorf("the state would be a file on this machine: config/%s.json has no bootstrap.backendUrl", c.Stack)
				}
				return url, nil
			},
			fix: "run `make bootstrap STACK=" + c.Stack + "` once per account (it writes bootstrap.backendUrl into config/" + c.Stack + ".json), or export PULUMI_BACKEND_URL=s3://<the team's state bucket>",
		}, check{
			name: "secrets passphrase (" + c.Stack + ")",
			run: func(context.Context) (string, error) {
				if _, err := p.passphrase(c); err != nil {
					return "", errors.New("PULUMI_CONFIG_PASSPHRASE is not set and the secrets provider is passphrase")
				}
				if getenv("PULUMI_CONFIG_PASSPHRASE") != "" || getenv("PULUMI_CONFIG_PASSPHRASE_FILE") != "" {
					return "passphrase set", nil
				}
				return "secrets provider " + p.secretsProvider(c), nil
			},
			fix: "export PULUMI_CONFIG_PASSPHRASE (from the team's password manager) or PULUMI_CONFIG_PASSPHRASE_FILE, or use the KMS key of `make bootstrap STACK=" + c.Stack + "` (docs/operations.md)",
		}, check{
			// A stack created before its bootstrap section bound its
			// secrets to its name keeps the old KMS provider: its previews
			// cannot decrypt them until it is rekeyed.
			name: "secrets provider (" + c.Stack + ")",
			run: func(context.Context) (string, error) {
				want := preflight.SecretsProvider(getenv, preflightStack(c))
				have, err := settingsSecretsProvider(filepath.Join(p.root, stackSettingsDir, "Pulumi."+c.Stack+".yaml"))
				switch {
				case errors.Is(err, fs.ErrNotExist):
					return "not created in this checkout: it will be created with " + want, nil
				case err != nil:
					return "", err
				case !strings.HasPrefix(have, "awskms://") || !strings.HasPrefix(want, "awskms://") || have == want:
					return have, nil
				}
				return "", fmt.Errorf("%s/Pulumi.%s.yaml encrypts the secrets with %s; config/%s.json's bootstrap.secretsProvider is %s", stackSettingsDir, c.Stack, have, c.Stack, want)
			},
			fix: "run `make rekey STACK=" + c.Stack + "` once and commit " + stackSettingsDir + "/Pulumi." + c.Stack + ".yaml (docs/operations.md)",
		})
	}
	return checks
}

// awsPluginFix names the pulumi-aws plugin's archive and the two ways to
// get it: a download by `make tools`, or the archive in PULUMI_OFFLINE_DIR.
func awsPluginFix(getenv func(string) string, pin pins, stack string) string {
	version := pin.plugins["aws"]
	if version == "" {
		version = "<version>"
	}
	if dir := getenv("PULUMI_OFFLINE_DIR"); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, pin.awsArchive)); err == nil {
			return fmt.Sprintf("run `make tools STACK=%s` (installs it from %s)", stack, filepath.Join(dir, pin.awsArchive))
		}
	}
	return fmt.Sprintf("run `make tools STACK=%s` on a machine with internet access (it downloads the plugin), or download %s from https://github.com/pulumi/pulumi-aws/releases/tag/v%s into a directory and run `PULUMI_OFFLINE_DIR=<that directory> make tools STACK=%s`", stack, pin.awsArchive, version, stack)
}

// portChecks check that a docker stack's host ports on 127.0.0.1
// (local.httpPort, local.httpsPort, local.prometheusPort, local.jaegerPort)
// are free, or held by the stack's own containers (it is up).
func portChecks(x execer, c *stackconfig.Config, m machine) []check {
	var out []check
	for _, p := range []struct {
		field string
		port  int
	}{{"local.httpPort", c.Local.HTTPPort}, {"local.httpsPort", c.Local.HTTPSPort}, {"local.prometheusPort", c.Local.PrometheusPort}, {"local.jaegerPort", c.Local.JaegerPort}} {
		if p.port == 0 {
			continue
		}
		out = append(out, check{
			name: fmt.Sprintf("port %d (%s, %s)", p.port, c.Stack, p.field),
			run: func(ctx context.Context) (string, error) {
				err := m.listen(p.port)
				if err == nil {
					return "free", nil
				}
				// Held by a container publishing it: the stack's own when
				// it is up, which is fine.
				// One container at most publishes a host port.
				out, _ := x(ctx, call{Name: "docker", Args: []string{"ps", "--filter", "publish=" + strconv.Itoa(p.port), "--format", "{{.Names}}"}})
				names := strings.Fields(string(out))
				switch {
				case len(names) == 0:
					return "", fmt.Errorf("in use: %v", err)
				case strings.HasPrefix(names[0], dockerinfra.NamesFor(c.Stack).Prefix()+"-"):
					return "in use by this stack's " + names[0], nil
				default:
					return "", fmt.Errorf("in use by the container %s", names[0])
				}
			},
			fix: fmt.Sprintf("find what listens on it (`ss -ltnp 'sport = :%d'`) and stop it (a leftover stack: `make down STACK=<it>`), or set %s in config/%s.json to a free port", p.port, p.field, c.Stack),
		})
	}
	return out
}

// runChecks runs every check, printing each result and, for a failure,
// its fix; the error counts the failures.
func runChecks(ctx context.Context, w io.Writer, checks []check) error {
	failed := 0
	for _, c := range checks {
		detail, err := c.run(ctx)
		if err != nil {
			failed++
			fmt.Fprintf(w, "✗ %-32s %v\n  fix: %s\n", c.name, firstLine(err.Error()), c.fix)
			continue
		}
		fmt.Fprintf(w, "✓ %-32s %s\n", c.name, firstLine(detail))
	}
	if failed > 0 {
		return fmt.Errorf("doctor: %d of %d checks failed", failed, len(checks))
	}
	return nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// testChecks are what `make test` needs beyond `make up`: throwaway
// Postgres and Redis servers for the app's tests, a C compiler for the
// migration linter's parser, debootstrap run as root for the stand-in
// images, and free disk.
func testChecks(h machine) []check {
	found := func(names ...string) func(context.Context) (string, error) {
		return func(context.Context) (string, error) {
			var paths []string
			for _, n := range names {
				p, err := h.lookPath(n)
				if err != nil {
					return "", fmt.Errorf("%s: not found", n)
				}
				paths = append(paths, p)
			}
			return strings.Join(paths, ", "), nil
		}
	}
	return []check{
		{
			name: "postgres server (make test)",
			run: func(ctx context.Context) (string, error) {
				if p, err := h.lookPath("initdb"); err == nil {
					return p, nil
				}
				// Where Debian's packages put it, off PATH (app/internal/testenv
				// looks there too).
				if found, _ := h.glob("/usr/lib/postgresql/*/bin/initdb"); len(found) > 0 {
					return found[len(found)-1], nil
				}
				return "", errors.New("initdb: not found on PATH or in /usr/lib/postgresql/*/bin")
			},
			fix: "install the PostgreSQL server (`sudo apt-get install postgresql`), or set TEST_DATABASE_URL to a database the tests may use",
		},
		{name: "redis server (make test)", run: found("redis-server"), fix: "install Redis (`sudo apt-get install redis-server`), or set TEST_REDIS_URL"},
		{name: "promtool (make test)", run: found("promtool"), fix: "install Prometheus's tools (`sudo apt-get install prometheus`): the tests check and unit-test the alert rules generated from the alarm table with promtool"},
		{name: "C compiler (make test, make lint)", run: found("gcc"), fix: "install gcc and the C library headers (`sudo apt-get install gcc libc6-dev`): the migration linter's PostgreSQL parser (pg_query_go) is C, built with cgo"},
		{
			name: "debootstrap as root (make test)",
			run: func(ctx context.Context) (string, error) {
				p, err := found("debootstrap")(ctx)
				if err != nil {
					return "", err
				}
				if h.uid != 0 {
					return "", fmt.Errorf("%s, but not running as root", p)
				}
				return p, nil
			},
			fix: "`make test` builds its Postgres, Redis and nginx stand-in images with debootstrap, as root: `sudo apt-get install debootstrap` and run it as root (or in CI's container, `bash .ci/run`)",
		},
		{
			name: "free disk (make test)",
			run: func(ctx context.Context) (string, error) {
				free, err := h.freeBytes(h.root)
				if err != nil {
					return "", err
				}
				if free < testDiskBytes {
					return "", fmt.Errorf("%.1f GB free in %s, %d GB needed at the peak", float64(free)/1e9, h.root, testDiskBytes>>30)
				}
				return fmt.Sprintf("%.0f GB free", float64(free)/1e9), nil
			},
			fix: "free some disk (`docker system prune` removes unused images and build cache)",
		},
	}
}

// dockerFix tells how to start the engine on this kind of machine.
func dockerFix(systemd bool) string {
	start := "without an init system (a container, WSL): `sudo nohup dockerd >/tmp/dockerd.log 2>&1 &` (add --storage-driver=vfs inside a container)"
	if systemd {
		start = "`sudo systemctl start docker`"
	}
	return "install Docker (Docker Desktop, or `sudo apt-get install docker.io`) and start the engine: " + start + "; your user needs access to the socket (the docker group)"
}

// goModVersion reads the go directive of go.mod in root.
func goModVersion(root string) (string, error) {
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("reading go.mod: %w", err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "go "); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", errors.New("go.mod has no go directive")
}

// versionAtLeast compares dotted Go versions ("1.26.8" >= "1.25").
func versionAtLeast(have, want string) bool {
	h, w := strings.Split(have, "."), strings.Split(want, ".")
	for i := 0; i < len(w); i++ {
		var hv, wv int
		if i < len(h) {
			fmt.Sscanf(h[i], "%d", &hv)
		}
		fmt.Sscanf(w[i], "%d", &wv)
		if hv != wv {
			return hv > wv
		}
	}
	return true
}
