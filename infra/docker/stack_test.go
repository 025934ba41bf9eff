package docker_test

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	dockerinfra "github.com/shipyard-kit/shipyard/infra/docker"
	"github.com/shipyard-kit/shipyard/infra/docker/dockermock"
	"github.com/shipyard-kit/shipyard/infra/pulumitest"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

const (
	containerType = "docker:index/container:Container"
	remoteType    = "docker:index/remoteImage:RemoteImage"
	networkType   = "docker:index/network:Network"
	volumeType    = "docker:index/volume:Volume"
	passwordType  = "random:index/randomPassword:RandomPassword"
)

func loadLocal(t *testing.T) *stackconfig.Config {
	t.Helper()
	dir, err := stackconfig.FindDir(os.Getenv, ".")
	if err != nil {
		t.Fatalf("finding config: %v", err)
	}
	cfg, err := stackconfig.Load(dir, "local")
	if err != nil {
		t.Fatalf("loading config/local.json: %v", err)
	}
	return cfg
}

// providerOutputs stands in for what pulumi-docker and pulumi-random compute.
func providerOutputs(migrationExit int, migrationLogs string) []pulumitest.Option {
	return dockermock.Options(dockermock.Migration{ExitCode: migrationExit, Logs: migrationLogs})
}

// label returns the value of a container's label key.
func label(r pulumitest.Resource, key string) (string, bool) {
	for i := 0; ; i++ {
		l, ok := r.Input(fmt.Sprintf("labels.%d.label", i))
		if !ok {
			return "", false
		}
		if l.StringValue() == key {
			return r.String(fmt.Sprintf("labels.%d.value", i)), true
		}
	}
}

func run(t *testing.T, cfg *stackconfig.Config, opts ...pulumitest.Option) (*pulumitest.Graph, error) {
	t.Helper()
	opts = append(providerOutputs(0, ""), opts...)
	return pulumitest.Run(cfg.Stack, func(ctx *pulumi.Context) (pulumi.Map, error) {
		return dockerinfra.NewStack(ctx, cfg)
	}, opts...)
}

func mustRun(t *testing.T, cfg *stackconfig.Config, opts ...pulumitest.Option) *pulumitest.Graph {
	t.Helper()
	g, err := run(t, cfg, opts...)
	if err != nil {
		t.Fatalf("running the docker program: %v", err)
	}
	return g
}

func strings_(t *testing.T, r pulumitest.Resource, path string) []string {
	t.Helper()
	v, ok := r.Input(path)
	if !ok {
		return nil
	}
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	var out []string
	for _, e := range v.ArrayValue() {
		for e.IsSecret() {
			e = e.SecretValue().Element
		}
		out = append(out, e.StringValue())
	}
	return out
}

// container finds a container by name: a singleton's (postgres, redis,
// nginx) or an app container's without its generation suffix.
func container(t *testing.T, g *pulumitest.Graph, name string) pulumitest.Resource {
	t.Helper()
	for _, r := range g.ByType(containerType) {
		if r.Name == name || generationOf(r.Name, name) != "" {
			return r
		}
	}
	t.Fatalf("no container %q; containers: %v", name, names(g.ByType(containerType)))
	return pulumitest.Resource{}
}

// generationOf returns the generation suffix of an app container's
// resource name "<base>-<8 hex>", or "".
func generationOf(name, base string) string {
	gen, ok := strings.CutPrefix(name, base+"-")
	if !ok || len(gen) != 8 || strings.Trim(gen, "0123456789abcdef") != "" {
		return ""
	}
	return gen
}

func names(rs []pulumitest.Resource) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}

func envMap(t *testing.T, r pulumitest.Resource) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, kv := range strings_(t, r, "envs") {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	return out
}

func TestTheLocalStackHasEveryContainerOfTheTopology(t *testing.T) {
	cfg := loadLocal(t)
	for _, replicas := range []int{1, 2, 3} {
		t.Run(string(rune('0'+replicas))+" web replicas", func(t *testing.T) {
			c := *cfg
			c.Local.WebReplicas = replicas
			g := mustRun(t, &c)
			n := dockerinfra.NamesFor(cfg.Stack)
			want := []string{n.Container("postgres"), n.Container("redis"), n.Container("migrate")}
			for i := 1; i <= replicas; i++ {
				want = append(want, n.Web(i))
			}
			want = append(want, n.Container("worker"), n.Container("clock"), n.Container("nginx"), n.Container("nginx-exporter"), n.Container("mtail"), n.Container("prometheus"), n.Container("jaeger"))
			var got []string
			for _, r := range g.ByType(containerType) {
				got = append(got, container(t, g, r.Name).Name)
			}
			for _, w := range want {
				if !contains(got, container(t, g, w).Name) {
					t.Errorf("no container %s", w)
				}
			}
			if len(got) != len(want) {
				t.Fatalf("containers = %v, want %v (plus the app's generation)", got, want)
			}
			if nets := g.ByType(networkType); len(nets) != 1 || nets[0].String("name") != n.Network() {
				t.Fatalf("want one network %q, got %v", n.Network(), names(nets))
			}
			if vols := g.ByType(volumeType); len(vols) != 4 {
				t.Fatalf("want the postgres and redis data volumes, the database CA volume and the gate log volume, got %v", names(vols))
			}
		})
	}
}

func TestAppContainersGetTheSharedEnvAndEverySecret(t *testing.T) {
	cfg := loadLocal(t)
	g := mustRun(t, cfg)
	n := dockerinfra.NamesFor(cfg.Stack)
	want := map[string]string{}
	for _, v := range cfg.Env(stackconfig.LocalEndpoints) {
		want[v.Name] = v.Value
	}
	for _, name := range []string{n.Web(1), n.Web(2), n.Container("worker"), n.Container("clock"), n.Container("migrate")} {
		t.Run(name, func(t *testing.T) {
			env := envMap(t, container(t, g, name))
			for k, v := range want {
				if env[k] != v {
					t.Errorf("%s = %q, want %q", k, env[k], v)
				}
			}
			for _, s := range cfg.SecretNames() {
				if env[s] == "" {
					t.Errorf("secret %s is missing", s)
				}
			}
			if len(env) != len(want)+len(cfg.SecretNames()) {
				t.Errorf("env has %d vars, want %d (Env plus secrets): %v", len(env), len(want)+len(cfg.SecretNames()), env)
			}
		})
	}
}

func TestPasswordsAreGeneratedUnlessSetAsConfigSecrets(t *testing.T) {
	cfg := loadLocal(t)
	n := dockerinfra.NamesFor(cfg.Stack)
	tests := []struct {
		name          string
		opts          []pulumitest.Option
		wantDB        string
		wantRedis     string
		wantPasswords int
	}{
		{"no config generates both", nil, "generated-" + n.Prefix() + "-databasePassword", "generated-" + n.Prefix() + "-redisPassword", 2},
		{"config secrets are used as they are", []pulumitest.Option{
			pulumitest.WithSecretConfig("shipyard:databasePassword", "db-secret"),
			pulumitest.WithSecretConfig("shipyard:redisPassword", "redis-secret"),
		}, "db-secret", "redis-secret", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := mustRun(t, cfg, tt.opts...)
			if got := len(g.ByType(passwordType)); got != tt.wantPasswords {
				t.Errorf("%d random passwords, want %d", got, tt.wantPasswords)
			}
			web := envMap(t, container(t, g, n.Web(1)))
			pg := envMap(t, container(t, g, n.Container("postgres")))
			rd := container(t, g, n.Container("redis"))
			if web["DATABASE_PASSWORD"] != tt.wantDB || pg["POSTGRES_PASSWORD"] != tt.wantDB {
				t.Errorf("database password: web %q, postgres %q, want %q", web["DATABASE_PASSWORD"], pg["POSTGRES_PASSWORD"], tt.wantDB)
			}
			cmd := strings.Join(strings_(t, rd, "command"), " ")
			if web["REDIS_PASSWORD"] != tt.wantRedis || !strings.Contains(cmd, "--requirepass "+tt.wantRedis) {
				t.Errorf("redis password: web %q, redis command %q, want %q", web["REDIS_PASSWORD"], cmd, tt.wantRedis)
			}
			if v := container(t, g, n.Web(1)).Inputs["envs"]; !v.ContainsSecrets() {
				t.Errorf("the app's envs are not marked secret")
			}
		})
	}
}

func TestAnAppSecretWithoutAConfigValueIsAnError(t *testing.T) {
	cfg := *loadLocal(t)
	cfg.App.Secrets = []string{"STRIPE_KEY"}
	_, err := run(t, &cfg)
	if err == nil || !strings.Contains(err.Error(), "pulumi config set --secret STRIPE_KEY") {
		t.Fatalf("err = %v, want one saying how to set STRIPE_KEY", err)
	}
	g := mustRun(t, &cfg, pulumitest.WithSecretConfig("shipyard:STRIPE_KEY", "sk_test"))
	if got := envMap(t, container(t, g, dockerinfra.NamesFor(cfg.Stack).Web(1)))["STRIPE_KEY"]; got != "sk_test" {
		t.Fatalf("STRIPE_KEY = %q, want sk_test", got)
	}
}

func TestAppContainersRunLikeProd(t *testing.T) {
	cfg := loadLocal(t)
	g := mustRun(t, cfg)
	n := dockerinfra.NamesFor(cfg.Stack)
	tests := []struct {
		name    string
		process stackconfig.Process
		command string
	}{
		{n.Web(1), stackconfig.Web, "serve"},
		{n.Web(2), stackconfig.Web, "serve"},
		{n.Container("worker"), stackconfig.Worker, "worker"},
		{n.Container("clock"), stackconfig.Clock, "clock"},
	}
	for _, tt := range tests {
		t.Run(tt.name+" runs "+tt.command, func(t *testing.T) {
			r := container(t, g, tt.name)
			if got := strings.Join(strings_(t, r, "command"), " "); got != tt.command {
				t.Errorf("command = %q, want %q", got, tt.command)
			}
			if got := r.String("image"); got != dockermock.ImageID {
				t.Errorf("image = %q, want the built image's ID %q", got, dockermock.ImageID)
			}
			if got := strings.Join(strings_(t, r, "healthcheck.tests"), " "); got != "CMD /app healthcheck" {
				t.Errorf("health check = %q", got)
			}
			if got := int(r.Number("stopTimeout")); got != cfg.Services.Get(tt.process).StopTimeoutSeconds {
				t.Errorf("stopTimeout = %d, want %d", got, cfg.Services.Get(tt.process).StopTimeoutSeconds)
			}
			if r.String("user") != dockerinfra.AppUser || !r.Bool("readOnly") {
				t.Errorf("user %q readOnly %v, want %s and a read-only root", r.String("user"), r.Bool("readOnly"), dockerinfra.AppUser)
			}
			if r.String("restart") != "unless-stopped" || !r.Bool("wait") || int(r.Number("waitTimeout")) != cfg.Local.HealthWaitSeconds {
				t.Errorf("restart %q wait %v waitTimeout %v, want unless-stopped, a wait of local.healthWaitSeconds (%d)", r.String("restart"), r.Bool("wait"), r.Number("waitTimeout"), cfg.Local.HealthWaitSeconds)
			}
			if r.String("logDriver") != "json-file" || r.String("logOpts.max-size") != cfg.Local.LogMaxSize || r.String("logOpts.max-file") != "3" {
				t.Errorf("log driver %q opts %v", r.String("logDriver"), r.Inputs["logOpts"])
			}
		})
	}
}

func TestNoAppContainerCanStartBeforeTheMigrationSucceeded(t *testing.T) {
	cfg := loadLocal(t)
	g := mustRun(t, cfg)
	n := dockerinfra.NamesFor(cfg.Stack)
	migrate := container(t, g, n.Container("migrate"))
	if !migrate.Bool("attach") || migrate.Bool("mustRun") || strings.Join(strings_(t, migrate, "command"), " ") != "migrate" {
		t.Fatalf("migration: attach %v mustRun %v command %v", migrate.Bool("attach"), migrate.Bool("mustRun"), strings_(t, migrate, "command"))
	}
	pg := container(t, g, n.Container("postgres"))
	if !contains(migrate.Dependencies, pg.URN) {
		t.Errorf("the migration does not depend on postgres: %v", migrate.Dependencies)
	}
	for _, name := range []string{n.Web(1), n.Web(2), n.Container("worker"), n.Container("clock")} {
		r := container(t, g, name)
		if !contains(r.Dependencies, migrate.URN) {
			t.Errorf("%s does not depend on the migration: %v", name, r.Dependencies)
		}
		if got, _ := label(r, dockerinfra.MigrationLabel); got != "succeeded" {
			t.Errorf("%s: migration label %s=%q, want succeeded", name, dockerinfra.MigrationLabel, got)
		}
	}
}

func TestAFailedMigrationFailsTheDeployWithItsOutput(t *testing.T) {
	cfg := loadLocal(t)
	_, err := pulumitest.Run(cfg.Stack, func(ctx *pulumi.Context) (pulumi.Map, error) {
		return dockerinfra.NewStack(ctx, cfg)
	}, providerOutputs(1, "{\"level\":\"error\",\"msg\":\"migrate: relation users already exists\"}\n")...)
	if err == nil {
		t.Fatal("the deploy succeeded with a failed migration")
	}
	for _, want := range []string{"migration failed", "exited 1", "relation users already exists"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestTheLoadBalancerIsPublishedOnLoopbackOnlyAndFindsTheReplicasByAlias(t *testing.T) {
	cfg := loadLocal(t)
	g := mustRun(t, cfg)
	n := dockerinfra.NamesFor(cfg.Stack)
	lb := container(t, g, n.Container("nginx"))
	if lb.String("ports.0.ip") != "127.0.0.1" || int(lb.Number("ports.0.external")) != cfg.Local.HTTPPort {
		t.Errorf("published on %s:%v, want 127.0.0.1:%d", lb.String("ports.0.ip"), lb.Number("ports.0.external"), cfg.Local.HTTPPort)
	}
	if lb.String("uploads.0.file") != dockerinfra.NginxConfPath {
		t.Errorf("nginx.conf uploaded to %q", lb.String("uploads.0.file"))
	}
	conf := lb.String("uploads.0.content")
	for _, want := range []string{
		"resolver 127.0.0.11 valid=1s",
		"set $web http://" + dockerinfra.WebAlias + ":8080;",
		"location = " + cfg.Services.Web.HealthCheckPath + " ",
		"proxy_next_upstream error timeout http_502 http_503 http_504",
		"listen 80;",
		"location = /metrics {\n            return 404;",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("nginx.conf lacks %q:\n%s", want, conf)
		}
	}
	// A passive failure count (max_fails) would take every replica out
	// when all answer 503 (a database outage) and turn the app's 503 into
	// nginx's own 502.
	if strings.Contains(conf, "max_fails") || strings.Contains(conf, "upstream web") {
		t.Errorf("nginx.conf keeps failure state per replica:\n%s", conf)
	}
	if got := lb.String("healthcheck.tests.7"); got != "https://127.0.0.1:443"+cfg.Services.Web.HealthCheckPath || lb.String("healthcheck.tests.6") != dockerinfra.NginxCAPem {
		t.Errorf("nginx health check probes %q, want the web health path %s", got, cfg.Services.Web.HealthCheckPath)
	}
	for _, w := range []string{n.Web(1), n.Web(2)} {
		r := container(t, g, w)
		if !contains(lb.Dependencies, r.URN) {
			t.Errorf("nginx does not wait for %s on the first deploy", w)
		}
		if got := r.String("networksAdvanced.0.aliases.0"); got != dockerinfra.WebAlias {
			t.Errorf("%s has network alias %q, want %q", w, got, dockerinfra.WebAlias)
		}
	}
}

// The local mirror of the ALB's listeners: HTTPS with the stack's CA and
// the ALB's HSTS header on local.httpsPort; plain HTTP on local.httpPort
// only redirects there (tests/e2e/https_test.go checks it live).
func TestNginxServesHTTPSLikeTheALBAndPlainHTTPOnlyRedirects(t *testing.T) {
	cfg := loadLocal(t)
	g := mustRun(t, cfg)
	lb := container(t, g, dockerinfra.NamesFor(cfg.Stack).Container("nginx"))
	if lb.String("ports.1.ip") != "127.0.0.1" || int(lb.Number("ports.1.external")) != cfg.Local.HTTPSPort || int(lb.Number("ports.1.internal")) != dockerinfra.NginxHTTPSPort {
		t.Errorf("HTTPS published on %s:%v→%v, want 127.0.0.1:%d→443", lb.String("ports.1.ip"), lb.Number("ports.1.external"), lb.Number("ports.1.internal"), cfg.Local.HTTPSPort)
	}
	conf := lb.String("uploads.0.content")
	redirect, site, ok := strings.Cut(conf, "listen 443 ssl;")
	if !ok {
		t.Fatalf("nginx.conf has no HTTPS server:\n%s", conf)
	}
	for _, want := range []string{"listen 80;", "return 301 https://$host:" + fmt.Sprint(cfg.Local.HTTPSPort) + "$request_uri;"} {
		if !strings.Contains(redirect, want) {
			t.Errorf("the plain HTTP server lacks %q", want)
		}
	}
	if strings.Contains(redirect, "proxy_pass") {
		t.Error("plain HTTP reaches the app")
	}
	for _, want := range []string{
		"ssl_certificate " + dockerinfra.NginxCertPem + ";", "ssl_certificate_key " + dockerinfra.NginxKeyPem + ";",
		"ssl_protocols TLSv1.2 TLSv1.3;",
		`add_header Strict-Transport-Security "` + stackconfig.StrictTransportSecurity + `" always;`,
		"proxy_pass $web;",
	} {
		if !strings.Contains(site, want) {
			t.Errorf("the HTTPS server lacks %q", want)
		}
	}
	files := map[string]string{}
	for i := 0; lb.String(fmt.Sprintf("uploads.%d.file", i)) != ""; i++ {
		files[lb.String(fmt.Sprintf("uploads.%d.file", i))] = lb.String(fmt.Sprintf("uploads.%d.content", i))
	}
	ca, cert := files[dockerinfra.NginxCAPem], files[dockerinfra.NginxCertPem]
	if ca == "" || cert == "" || files[dockerinfra.NginxKeyPem] == "" {
		t.Fatalf("nginx gets no CA, certificate or key: %v", files)
	}
	if g.Outputs["tlsCaCert"] != ca {
		t.Errorf("the tlsCaCert output is not the CA nginx's certificate chains to")
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(ca)) {
		t.Fatal("the CA is not PEM")
	}
	block, _ := pem.Decode([]byte(cert))
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "127.0.0.1"}); err != nil {
		t.Errorf("nginx's certificate does not verify for 127.0.0.1 against the stack's CA: %v", err)
	}
}

func TestScalingOrReplacingTheWebReplicasLeavesNginxAsItIs(t *testing.T) {
	cfg := loadLocal(t)
	n := dockerinfra.NamesFor(cfg.Stack)
	var confs []string
	for _, change := range []func(c *stackconfig.Config){
		func(c *stackconfig.Config) {},
		func(c *stackconfig.Config) { c.Local.WebReplicas = 3 },
		func(c *stackconfig.Config) { c.Local.WebReplicas = 1 },
		func(c *stackconfig.Config) { c.App.LogLevel = "warn" },
	} {
		c := *cfg
		change(&c)
		lb := container(t, mustRun(t, &c), n.Container("nginx"))
		confs = append(confs, fmt.Sprint(lb.Inputs))
	}
	for i, c := range confs[1:] {
		if c != confs[0] {
			t.Errorf("change %d changes nginx's inputs (nginx would be replaced, dropping clients):\n%s\nvs\n%s", i+1, confs[0], c)
		}
	}
}

// pulumi-docker replaces a container delete-before-replace. A change must
// therefore never replace an app container in place: it must give it a new
// name (a new resource, created before the old one is deleted), while a
// replica count change must leave the other replicas alone.
func TestAConfigChangeRollsTheAppContainersAndScalingTouchesOnlyTheReplicas(t *testing.T) {
	cfg := loadLocal(t)
	n := dockerinfra.NamesFor(cfg.Stack)
	appNames := func(c *stackconfig.Config) map[string]bool {
		out := map[string]bool{}
		for _, r := range mustRun(t, c).ByType(containerType) {
			if _, ok := label(r, dockerinfra.ProcessLabel); ok {
				if r.String("name") != r.Name {
					t.Errorf("%s: container name %q, want its resource name", r.Name, r.String("name"))
				}
				out[r.Name] = true
			}
		}
		return out
	}
	base := appNames(cfg)
	if len(base) != 5 {
		t.Fatalf("app containers %v, want migrate, 2 web, worker, clock", base)
	}
	for _, tc := range []struct {
		name   string
		change func(c *stackconfig.Config)
	}{
		{"an env value", func(c *stackconfig.Config) { c.App.LogLevel = "warn" }},
		{"a process setting", func(c *stackconfig.Config) { c.Services.Worker.StopTimeoutSeconds++ }},
	} {
		t.Run(tc.name+" gives every app container a new name", func(t *testing.T) {
			c := *cfg
			tc.change(&c)
			for name := range appNames(&c) {
				if base[name] {
					t.Errorf("%s keeps its name: pulumi-docker would stop it before its successor starts", name)
				}
			}
		})
	}
	t.Run("a replica count change adds or removes replicas only", func(t *testing.T) {
		c := *cfg
		c.Local.WebReplicas = 3
		scaled := appNames(&c)
		for name := range base {
			if !scaled[name] {
				t.Errorf("scaling to 3 replaces %s", name)
			}
		}
		if len(scaled) != len(base)+1 || !scaled[container(t, mustRun(t, &c), n.Web(3)).Name] {
			t.Errorf("scaling to 3: %v", scaled)
		}
	})
	for _, role := range []string{"postgres", "redis", "nginx"} {
		r := container(t, mustRun(t, cfg), n.Container(role))
		if r.String("name") != n.Container(role) || !r.DeleteBeforeReplace {
			t.Errorf("%s: name %q deleteBeforeReplace %v, want %s and true (one server per volume or port)", role, r.String("name"), r.DeleteBeforeReplace, n.Container(role))
		}
	}
}

func TestPulumiNeverDeletesTheDataVolumes(t *testing.T) {
	cfg := loadLocal(t)
	g := mustRun(t, cfg)
	n := dockerinfra.NamesFor(cfg.Stack)
	vols := g.ByType(volumeType)
	if len(vols) != 4 {
		t.Fatalf("volumes %v, want postgres, redis, the database CA and the gate log", names(vols))
	}
	for _, v := range vols {
		// The CA volume holds a copy of a public certificate, written at
		// every start of Postgres: `make down` may delete it (and does,
		// so that down leaves exactly the data volumes).
		if data := v.String("name") != n.DatabaseCAVolume() && v.String("name") != n.GateLogVolume(); v.RetainOnDelete != data {
			t.Errorf("volume %s: retained %v, want %v (data volumes outlive their resource, the CA volume does not)", v.Name, v.RetainOnDelete, data)
		}
		if v.String("labels.0.label") != dockerinfra.StackLabel || v.String("labels.0.value") != cfg.Stack {
			t.Errorf("volume %s is not labelled %s=%s, so `make destroy` cannot find it", v.Name, dockerinfra.StackLabel, cfg.Stack)
		}
	}
}

// release.imageRepository names the image the stack runs: `make image`
// tags <imageRepository>:local (bin/preflight image), the program looks it up.
func TestTheStackRunsTheImageItsImageRepositoryNames(t *testing.T) {
	cfg := loadLocal(t)
	cfg.Release.ImageRepository = "team/my-app"
	g := mustRun(t, cfg)
	if got := g.Outputs["image"]; got != "team/my-app:local" {
		t.Errorf("output image = %v, want team/my-app:local", got)
	}
}

func TestTheStackOutputsFollowTheContract(t *testing.T) {
	cfg := loadLocal(t)
	g := mustRun(t, cfg)
	n := dockerinfra.NamesFor(cfg.Stack)
	want := map[string]any{
		"stack":            "local",
		"target":           "docker",
		"url":              "https://127.0.0.1:8443",
		"httpUrl":          "http://127.0.0.1:8080",
		"prometheusUrl":    "http://127.0.0.1:9090",
		"jaegerUrl":        "http://127.0.0.1:16686",
		"image":            "shipyard-app:local",
		"imageDigest":      dockermock.ImageID,
		"databaseEndpoint": "postgres:5432",
		"redisEndpoint":    "redis:6379",
		"networkName":      n.Network(),
	}
	for k, v := range want {
		if g.Outputs[k] != v {
			t.Errorf("output %s = %v, want %v", k, g.Outputs[k], v)
		}
	}
	if got, want := fmt.Sprint(g.Outputs["webContainers"]), fmt.Sprint([]string{container(t, g, n.Web(1)).Name, container(t, g, n.Web(2)).Name}); got != want {
		t.Errorf("webContainers = %s, want %s", got, want)
	}
	ctrs, ok := g.Outputs["containers"].(map[string]string)
	if !ok || len(ctrs) != 10 {
		t.Fatalf("containers = %#v, want a map of 10 names", g.Outputs["containers"])
	}
	if ctrs["nginxExporter"] != n.Container("nginx-exporter") {
		t.Errorf("containers[nginxExporter] = %v", ctrs["nginxExporter"])
	}
	for _, role := range []string{"postgres", "redis", "nginx", "migrate", "worker", "clock", "prometheus", "jaeger"} {
		if want := container(t, g, n.Container(role)).Name; ctrs[role] != want {
			t.Errorf("containers[%s] = %v, want %s", role, ctrs[role], container(t, g, n.Container(role)).Name)
		}
	}
}

func TestAStackWhoseTargetIsNotDockerIsRejected(t *testing.T) {
	cfg := *loadLocal(t)
	cfg.Target = stackconfig.TargetAWS
	_, err := run(t, &cfg)
	if err == nil || !strings.Contains(err.Error(), `target "aws"`) || !strings.Contains(err.Error(), `set "target": "docker"`) {
		t.Fatalf("err = %v, want one naming the target and the fix", err)
	}
}

func TestPostgresAndRedisUseTheConfiguredImagesVolumesAndAliases(t *testing.T) {
	cfg := loadLocal(t)
	g := mustRun(t, cfg)
	n := dockerinfra.NamesFor(cfg.Stack)
	tests := []struct {
		role, image, alias, dataDir string
	}{
		{"postgres", cfg.Local.Images.Postgres, "postgres", dockerinfra.PostgresDataDir},
		{"redis", cfg.Local.Images.Redis, "redis", dockerinfra.RedisDataDir},
	}
	for _, tt := range tests {
		t.Run(tt.role, func(t *testing.T) {
			r := container(t, g, n.Container(tt.role))
			if r.String("image") != "sha256:"+tt.image {
				t.Errorf("image = %q, want the remote image %s", r.String("image"), tt.image)
			}
			if r.String("networksAdvanced.0.aliases.0") != tt.alias || r.String("networksAdvanced.0.name") != n.Network() {
				t.Errorf("network %q alias %q", r.String("networksAdvanced.0.name"), r.String("networksAdvanced.0.aliases.0"))
			}
			if r.String("volumes.0.volumeName") != n.Volume(tt.role) || r.String("volumes.0.containerPath") != tt.dataDir {
				t.Errorf("volume %q at %q", r.String("volumes.0.volumeName"), r.String("volumes.0.containerPath"))
			}
			if !r.Bool("wait") || len(strings_(t, r, "healthcheck.tests")) == 0 {
				t.Errorf("the deploy does not wait for a health check")
			}
		})
	}
	pg := envMap(t, container(t, g, n.Container("postgres")))
	if pg["POSTGRES_USER"] != cfg.Database.Username || pg["POSTGRES_DB"] != cfg.Database.Name {
		t.Errorf("postgres env %v", pg)
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

// The local Postgres serves TLS from the stack's CA and refuses plaintext
// on the network; every app container verifies it as on aws
// (sslmode=verify-full), against the CA the Postgres container publishes.
func TestTheAppVerifiesTheLocalPostgresCertificate(t *testing.T) {
	cfg := loadLocal(t)
	g := mustRun(t, cfg)
	n := dockerinfra.NamesFor(cfg.Stack)
	pg := container(t, g, n.Container("postgres"))

	uploads := map[string]string{}
	modes := map[string]string{}
	secret := map[string]bool{}
	raw := pg.Inputs["uploads"]
	for raw.IsSecret() {
		raw = raw.SecretValue().Element
	}
	for i, u := range raw.ArrayValue() {
		file := pg.String(fmt.Sprintf("uploads.%d.file", i))
		uploads[file] = pg.String(fmt.Sprintf("uploads.%d.content", i))
		modes[file] = pg.String(fmt.Sprintf("uploads.%d.permissions", i))
		secret[file] = u.ContainsSecrets()
	}
	dir := dockerinfra.PostgresTLSUploadDir
	certs := dockerinfra.DatabaseCerts{CACert: uploads[dir+"/ca.pem"], ServerCert: uploads[dir+"/server.crt"], ServerKey: uploads[dir+"/server.key"]}

	t.Run("postgres gets the CA, its certificate and its key, the key readable by root only and kept secret", func(t *testing.T) {
		if len(uploads) != 3 || certs.CACert == "" || certs.ServerCert == "" || certs.ServerKey == "" {
			t.Fatalf("uploads %v", modes)
		}
		if modes[dir+"/server.key"] != "0600" || !secret[dir+"/server.key"] {
			t.Errorf("server.key: mode %q, secret %v; want 0600 and secret", modes[dir+"/server.key"], secret[dir+"/server.key"])
		}
		if secret[dir+"/ca.pem"] || secret[dir+"/server.crt"] {
			t.Error("the certificates are marked secret: they are public, and a secret hides their diff")
		}
	})
	t.Run("the server certificate chains to the uploaded CA for the postgres network alias", func(t *testing.T) {
		if err := verify(t, certs, certs.CACert, stackconfig.LocalEndpoints.DatabaseHost); err != nil {
			t.Fatal(err)
		}
		if alias := pg.String("networksAdvanced.0.aliases.0"); alias != stackconfig.LocalEndpoints.DatabaseHost {
			t.Errorf("postgres alias %q, the certificate names %q", alias, stackconfig.LocalEndpoints.DatabaseHost)
		}
	})
	t.Run("postgres runs with TLS on, the uploaded files and TCP for TLS clients only", func(t *testing.T) {
		cmd := strings_(t, pg, "command")
		if strings.Join(cmd, " ") != strings.Join(dockerinfra.PostgresTLSCommand, " ") {
			t.Fatalf("command %q", cmd)
		}
		script := cmd[len(cmd)-1]
		for _, want := range []string{"-c ssl=on", "ssl_key_file=" + dockerinfra.PostgresTLSDir + "/server.key",
			dir + "/server.key", dir + "/ca.pem " + stackconfig.LocalDatabaseCAPath, "hba_file=", "exec docker-entrypoint.sh postgres "} {
			if !strings.Contains(script, want) {
				t.Errorf("the command lacks %q:\n%s", want, script)
			}
		}
		if strings.Join(dockerinfra.PostgresHBA, "\n") != "local all all trust\nhostssl all all all scram-sha-256" {
			t.Errorf("pg_hba %q: the network must take TLS with a password only", dockerinfra.PostgresHBA)
		}
	})
	t.Run("the key appears in no env var, argument or stack output", func(t *testing.T) {
		key := strings.TrimSpace(certs.ServerKey)
		for _, r := range g.ByType(containerType) {
			all := strings.Join(append(strings_(t, r, "envs"), strings_(t, r, "command")...), "\n")
			if strings.Contains(all, "PRIVATE KEY") || strings.Contains(all, key) {
				t.Errorf("%s carries the key", r.Name)
			}
		}
		if strings.Contains(fmt.Sprint(g.Outputs), "PRIVATE KEY") {
			t.Error("a stack output carries the key")
		}
	})
	t.Run("every app container mounts the CA volume read-only where DATABASE_URL's sslrootcert points and verifies the host", func(t *testing.T) {
		for _, name := range []string{n.Container("migrate"), n.Web(1), n.Web(2), n.Container("worker"), n.Container("clock")} {
			r := container(t, g, name)
			url := envMap(t, r)["DATABASE_URL"]
			want := "@" + stackconfig.LocalEndpoints.DatabaseHost + ":5432/" + cfg.Database.Name + "?sslmode=verify-full&sslrootcert=" + stackconfig.LocalDatabaseCAPath
			if !strings.Contains(url, want) {
				t.Errorf("%s: DATABASE_URL %q lacks %q", name, url, want)
			}
			if r.String("volumes.0.volumeName") != n.DatabaseCAVolume() || r.String("volumes.0.containerPath") != dockerinfra.DatabaseCADir || !r.Bool("volumes.0.readOnly") {
				t.Errorf("%s: volume %q at %q read-only %v, want %s at %s read-only", name, r.String("volumes.0.volumeName"),
					r.String("volumes.0.containerPath"), r.Bool("volumes.0.readOnly"), n.DatabaseCAVolume(), dockerinfra.DatabaseCADir)
			}
		}
		if pg.String("volumes.1.volumeName") != n.DatabaseCAVolume() || pg.String("volumes.1.containerPath") != dockerinfra.DatabaseCADir || pg.Bool("volumes.1.readOnly") {
			t.Errorf("postgres does not mount the CA volume writable at %s", dockerinfra.DatabaseCADir)
		}
		if stackconfig.LocalDatabaseCAPath != dockerinfra.DatabaseCADir+"/ca.pem" {
			t.Errorf("sslrootcert %s is not ca.pem in the CA volume %s", stackconfig.LocalDatabaseCAPath, dockerinfra.DatabaseCADir)
		}
	})
	t.Run("a second run of the program gives the same files, so make up replaces neither postgres nor the app", func(t *testing.T) {
		again := container(t, mustRun(t, cfg), n.Container("postgres"))
		for i := 0; i < 3; i++ {
			p := fmt.Sprintf("uploads.%d.content", i)
			if again.String(p) != pg.String(p) {
				t.Errorf("%s differs between two runs", pg.String(fmt.Sprintf("uploads.%d.file", i)))
			}
		}
		if container(t, mustRun(t, cfg), n.Web(1)).Name != container(t, g, n.Web(1)).Name {
			t.Error("the app's generation differs between two runs")
		}
	})
}
