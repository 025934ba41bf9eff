package harness_test

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/gruntwork-io/terratest/modules/random"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	dockerinfra "github.com/shipyard-kit/shipyard/infra/docker"
	"github.com/shipyard-kit/shipyard/infra/pulumitest"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
	"github.com/shipyard-kit/shipyard/tests/harness"
)

func loadLocal(t *testing.T) *stackconfig.Config {
	t.Helper()
	dir, err := stackconfig.FindDir(os.Getenv, ".")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := stackconfig.Load(dir, "local")
	if err != nil {
		t.Fatalf("loading config/local.json: %v", err)
	}
	return cfg
}

func record(t *testing.T, cfg *stackconfig.Config) *pulumitest.Graph {
	t.Helper()
	g, err := harness.Record(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestTheHarnessImplementsEverythingTheLocalProgramUses(t *testing.T) {
	cfg := loadLocal(t)
	h, err := harness.New(record(t, cfg), harness.Options{})
	if err != nil {
		t.Fatalf("the harness rejects the local program: %v", err)
	}
	n := dockerinfra.NamesFor(cfg.Stack)
	order := h.Order()
	pos := map[string]int{}
	for i, name := range order {
		pos[name] = i
	}
	tests := []struct{ before, after string }{
		{n.Network(), n.Container("postgres")},
		{n.Container("postgres"), n.Container("migrate")},
		{n.Container("redis"), n.Container("migrate")},
		{n.Prefix() + "-app-image", n.Container("migrate")},
		{n.Container("migrate"), n.Web(1)},
		{n.Container("migrate"), n.Container("worker")},
		{n.Container("migrate"), n.Container("clock")},
		{n.Web(1), n.Container("nginx")},
		{n.Web(2), n.Container("nginx")},
	}
	for _, tt := range tests {
		t.Run(tt.after+" waits for "+tt.before, func(t *testing.T) {
			if _, ok := pos[tt.before]; !ok {
				t.Fatalf("%s is not in the execution order %v", tt.before, order)
			}
			if !h.DependsOn(tt.after, tt.before) || pos[tt.before] > pos[tt.after] {
				t.Fatalf("%s does not wait for %s; order: %v", tt.after, tt.before, order)
			}
		})
	}
}

func TestWhatTheHarnessDoesNotImplementIsRejected(t *testing.T) {
	cfg := loadLocal(t)
	n := dockerinfra.NamesFor(cfg.Stack)
	tests := []struct {
		name   string
		mutate func(g *pulumitest.Graph)
		want   string
	}{
		{"an unknown container property", func(g *pulumitest.Graph) {
			setInput(g, n.Web(1), "privileged", resource.NewBoolProperty(true))
		}, `input property "privileged" is not implemented`},
		{"an unknown nested property", func(g *pulumitest.Graph) {
			r := find(g, n.Container("postgres"))
			nets := r.Inputs["networksAdvanced"].ArrayValue()
			nets[0].ObjectValue()["ipv4Address"] = resource.NewStringProperty("10.0.0.2")
		}, `input property "networksAdvanced.0.ipv4Address" is not implemented`},
		{"an unknown health check property", func(g *pulumitest.Graph) {
			r := find(g, n.Container("redis"))
			r.Inputs["healthcheck"].ObjectValue()["startInterval"] = resource.NewStringProperty("1s")
		}, `input property "healthcheck.startInterval" is not implemented`},
		{"a value of the wrong shape", func(g *pulumitest.Graph) {
			setInput(g, n.Web(1), "command", resource.NewStringProperty("serve"))
		}, `input property "command": want a list of strings`},
		{"an unknown resource type", func(g *pulumitest.Graph) {
			g.Resources = append(g.Resources, pulumitest.Resource{URN: "urn:x", Type: "docker:index/service:Service", Name: "swarm", Custom: true, Inputs: resource.PropertyMap{}})
		}, "resource type docker:index/service:Service is not implemented"},
		{"an image to push", func(g *pulumitest.Graph) {
			for i, r := range g.Resources {
				if r.Type == harness.TypeImage {
					g.Resources[i].Inputs["skipPush"] = resource.NewBoolProperty(false)
				}
			}
		}, "pushing images (skipPush: false) is not implemented"},
		{"an attached container that must keep running", func(g *pulumitest.Graph) {
			setInput(g, n.Container("migrate"), "mustRun", resource.NewBoolProperty(true))
		}, "attach needs mustRun: false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := record(t, cfg)
			tt.mutate(g)
			_, err := harness.New(g, harness.Options{})
			if !errors.Is(err, harness.ErrNotImplemented) {
				t.Fatalf("err = %v, want ErrNotImplemented", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error does not say %q:\n%v", tt.want, err)
			}
		})
	}
}

func find(g *pulumitest.Graph, name string) pulumitest.Resource {
	for _, r := range g.Resources {
		if r.Name == name && r.Type == harness.TypeContainer {
			return r
		}
	}
	panic("no container " + name)
}

func setInput(g *pulumitest.Graph, name, key string, v resource.PropertyValue) {
	find(g, name).Inputs[resource.PropertyKey(key)] = v
}

// The bad-input tests below talk to the Docker engine: without one they
// fail (with the harness's own message), they do not skip.

func TestBadInputIsReportedWithItsCauseAndFix(t *testing.T) {
	ctx := context.Background()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port

	tests := []struct {
		name   string
		mutate func(cfg *stackconfig.Config)
		opts   harness.Options
		check  func(h *harness.Harness, ctx context.Context) error
		is     error
		want   []string
	}{
		{
			name:   "an image that does not exist",
			mutate: func(cfg *stackconfig.Config) { cfg.Local.Images.Postgres = "shipyard-test-missing:0" },
			check:  (*harness.Harness).Preflight,
			is:     harness.ErrImageMissing,
			want:   []string{"shipyard-test-missing:0", "never pulls", "make test-images"},
		},
		{
			name:   "a published port already in use",
			mutate: func(cfg *stackconfig.Config) { cfg.Local.HTTPPort = takenPort },
			check:  (*harness.Harness).Preflight,
			is:     harness.ErrPortInUse,
			want:   []string{"127.0.0.1:" + strconv.Itoa(takenPort), "address already in use", "local.httpPort"},
		},
		{
			name:  "Docker not running",
			opts:  harness.Options{Env: []string{"DOCKER_HOST=unix:///nonexistent/docker.sock"}},
			check: (*harness.Harness).Up,
			is:    harness.ErrDockerUnavailable,
			want:  []string{"unix:///nonexistent/docker.sock", "systemctl start docker", "dockerd --storage-driver=vfs"},
		},
		{
			name:  "no docker client",
			opts:  harness.Options{Docker: "/nonexistent/bin/docker"},
			check: (*harness.Harness).Preflight,
			is:    harness.ErrDockerUnavailable,
			want:  []string{"/nonexistent/bin/docker", "apt-get install docker.io", "DOCKER"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := *loadLocal(t)
			cfg.Stack = "harness-bad-input-" + strings.ToLower(random.UniqueId())
			if tt.mutate != nil {
				tt.mutate(&cfg)
			}
			h, err := harness.New(record(t, &cfg), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			err = tt.check(h, ctx)
			if !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want %v", err, tt.is)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestAStackWhoseTargetIsNotDockerCannotBeRecorded(t *testing.T) {
	cfg := *loadLocal(t)
	cfg.Target = stackconfig.TargetAWS
	_, err := harness.Record(&cfg)
	if err == nil {
		t.Fatal("recorded an aws-target stack as a local one")
	}
	for _, w := range []string{`target "aws"`, `set "target": "docker"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q: %v", w, err)
		}
	}
}

// A failing one-off (the migration) fails Up with its exit code and output,
// and nothing that depends on it is created.
func TestAFailedMigrationFailsUpWithItsOutput(t *testing.T) {
	cfg := loadLocal(t)
	stack := "harness-failed-migration-" + strings.ToLower(random.UniqueId())
	urn := func(name string) string {
		return "urn:pulumi:" + stack + "::shipyard::docker:index/container:Container::" + name
	}
	g := &pulumitest.Graph{Stack: stack, Resources: []pulumitest.Resource{
		{URN: urn("migrate"), Type: harness.TypeContainer, Name: "migrate", Custom: true, Inputs: resource.NewPropertyMapFromMap(map[string]any{
			"name":    stack + "-migrate",
			"image":   cfg.Local.Images.Redis, // any local image with a shell
			"command": []any{"sh", "-c", "echo 'relation \"users\" already exists'; exit 3"},
			"attach":  true, "logs": true, "mustRun": false, "restart": "no",
		})},
		{URN: urn("web"), Type: harness.TypeContainer, Name: "web", Custom: true, Dependencies: []string{urn("migrate")}, Inputs: resource.NewPropertyMapFromMap(map[string]any{
			"name": stack + "-web", "image": cfg.Local.Images.Redis,
		})},
	}}
	h, err := harness.New(g, harness.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t.Cleanup(func() {
		if err := h.Down(ctx); err != nil {
			t.Errorf("down: %v", err)
		}
	})
	err = h.Up(ctx)
	if err == nil {
		t.Fatal("Up succeeded with a failing migration")
	}
	for _, w := range []string{"migration failed", "exited 3", `relation "users" already exists`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q:\n%v", w, err)
		}
	}
	out, err := dockerPS(ctx, stack+"-web")
	if err != nil {
		t.Fatal(err)
	}
	if out != "" {
		t.Errorf("the web container was created after a failed migration: %s", out)
	}
}

func TestAContainerTheHarnessDidNotCreateIsNotTakenOver(t *testing.T) {
	ctx := context.Background()
	cfg := *loadLocal(t)
	cfg.Stack = "harness-name-in-use-" + strings.ToLower(random.UniqueId())
	name := dockerinfra.NamesFor(cfg.Stack).Container("redis")
	if out, err := dockerCLI(ctx, "create", "--name", name, cfg.Local.Images.Redis); err != nil {
		t.Fatalf("creating %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() { _, _ = dockerCLI(ctx, "rm", "-f", "-v", name) })
	h, err := harness.New(record(t, &cfg), harness.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = h.Up(ctx)
	if !errors.Is(err, harness.ErrNameInUse) {
		t.Fatalf("err = %v, want ErrNameInUse", err)
	}
	for _, w := range []string{name, "make destroy STACK=" + cfg.Stack} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q:\n%v", w, err)
		}
	}
	if out, _ := dockerPS(ctx, name); out != name {
		t.Errorf("the existing container was removed: ps says %q", out)
	}
}

// oneOff is a graph of containers run from a local image with a shell, each
// attached (the harness waits for its exit and fails on a non-zero code).
func oneOff(t *testing.T, stack string, containers map[string]map[string]any) *pulumitest.Graph {
	t.Helper()
	cfg := loadLocal(t)
	g := &pulumitest.Graph{Stack: stack}
	for name, in := range containers {
		inputs := map[string]any{"name": stack + "-" + name, "image": cfg.Local.Images.Redis, "restart": "no"}
		for k, v := range in {
			inputs[k] = v
		}
		g.Resources = append(g.Resources, pulumitest.Resource{
			URN:  "urn:pulumi:" + stack + "::shipyard::docker:index/container:Container::" + name,
			Type: harness.TypeContainer, Name: name, Custom: true, Inputs: resource.NewPropertyMapFromMap(inputs),
		})
	}
	return g
}

func up(t *testing.T, g *pulumitest.Graph) error {
	t.Helper()
	h, err := harness.New(g, harness.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t.Cleanup(func() {
		if err := h.Down(ctx); err != nil {
			t.Errorf("down: %v", err)
		}
	})
	return h.Up(ctx)
}

func TestContainersRunWithTheirUploadsEntrypointUserMountsAndReadOnlyRoot(t *testing.T) {
	stack := "harness-exec-" + strings.ToLower(random.UniqueId())
	attached := map[string]any{"attach": true, "logs": true, "mustRun": false, "entrypoints": []any{"sh", "-c"}}
	with := func(m map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range attached {
			out[k] = v
		}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	err := up(t, oneOff(t, stack, map[string]map[string]any{
		"uploads": with(map[string]any{
			"command": []any{`grep -qx 'hello world' /etc/greeting && test -x /usr/local/bin/tool && test "$(id -u)" = 1234 && touch /tmp/ok`},
			"user":    "1234",
			"uploads": []any{
				map[string]any{"file": "/etc/greeting", "content": "hello world\n"},
				map[string]any{"file": "/usr/local/bin/tool", "contentBase64": "IyEvYmluL3NoCg==", "executable": true},
			},
			"mounts": []any{map[string]any{"type": "tmpfs", "target": "/tmp"}},
		}),
		"readonly": with(map[string]any{
			"command":  []any{`! touch /etc/nope 2>/dev/null && touch /tmp/ok && test "$GREETING" = hi`},
			"readOnly": true,
			"envs":     []any{"GREETING=hi"},
			"mounts":   []any{map[string]any{"type": "tmpfs", "target": "/tmp"}},
		}),
	}))
	if err != nil {
		t.Fatalf("a container did not run as its inputs say: %v", err)
	}
}

func TestWaitFailsOnAContainerThatNeverBecomesHealthy(t *testing.T) {
	stack := "harness-unhealthy-" + strings.ToLower(random.UniqueId())
	err := up(t, oneOff(t, stack, map[string]map[string]any{
		"sick": {
			"command":     []any{"sleep", "300"},
			"healthcheck": map[string]any{"tests": []any{"CMD-SHELL", "echo probe says no; exit 1"}, "interval": "1s", "timeout": "1s", "retries": 1},
			"wait":        true, "waitTimeout": 60, "destroyGraceSeconds": 1,
		},
	}))
	if err == nil {
		t.Fatal("Up succeeded with a container that is never healthy")
	}
	for _, w := range []string{stack + "-sick", "unhealthy", "probe says no"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q:\n%v", w, err)
		}
	}
}
