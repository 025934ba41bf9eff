package docker_test

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shipyard-kit/shipyard/app/appenv"
	dockerinfra "github.com/shipyard-kit/shipyard/infra/docker"
	"github.com/shipyard-kit/shipyard/infra/pulumitest"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

const stackRefType = "pulumi:pulumi:StackReference"

// baseSeed is the base stack's HTTPS CA seed the mocked StackReference
// returns.
var baseSeed = func() []byte { s := sha256.Sum256([]byte("base https seed")); return s[:] }()

// baseOutputs are what the local stack exports for its PR environments.
func baseOutputs() map[string]string {
	return map[string]string{
		dockerinfra.OutputNetworkName:      "shipyard-local",
		dockerinfra.OutputDatabaseCAVolume: "shipyard-local-postgres-ca",
		dockerinfra.OutputDatabasePassword: "base-admin-password",
		dockerinfra.OutputRedisPassword:    "base-redis-password",
		dockerinfra.OutputHTTPSTLSSeed:     base64.StdEncoding.EncodeToString(baseSeed),
	}
}

// withBase mocks the StackReference to the base stack with outputs.
func withBase(outputs map[string]string) pulumitest.Option {
	return pulumitest.WithOutputs(stackRefType, func(_ string, in resource.PropertyMap) resource.PropertyMap {
		o := resource.PropertyMap{}
		for k, v := range outputs {
			o[resource.PropertyKey(k)] = resource.NewStringProperty(v)
		}
		return resource.PropertyMap{"outputs": resource.NewObjectProperty(o), "name": in["name"]}
	})
}

func loadPR(t *testing.T, stack, slot string) *stackconfig.Config {
	t.Helper()
	dir, err := stackconfig.FindDir(os.Getenv, ".")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := stackconfig.Load(dir, stack)
	if err != nil {
		t.Fatal(err)
	}
	if slot != "" {
		if err := cfg.SetPreviewSlot(slot); err != nil {
			t.Fatal(err)
		}
	}
	return cfg
}

func runPreview(t *testing.T, cfg *stackconfig.Config, opts ...pulumitest.Option) (*pulumitest.Graph, error) {
	t.Helper()
	opts = append(append(providerOutputs(0, ""), withBase(baseOutputs())), opts...)
	return pulumitest.Run(cfg.Stack, func(ctx *pulumi.Context) (pulumi.Map, error) {
		return dockerinfra.NewPreviewStack(ctx, cfg)
	}, opts...)
}

func mustPreview(t *testing.T) (*stackconfig.Config, *pulumitest.Graph) {
	t.Helper()
	cfg := loadPR(t, "local-pr-7", "2")
	g, err := runPreview(t, cfg)
	if err != nil {
		t.Fatalf("running the docker PR program: %v", err)
	}
	return cfg, g
}

func TestAPREnvironmentCreatesOnlyItsOwnDockerObjects(t *testing.T) {
	_, g := mustPreview(t)
	if n := len(g.ByType(networkType)); n != 0 {
		t.Errorf("a PR created %d networks; it joins the base's", n)
	}
	for _, v := range g.ByType(volumeType) {
		if v.String("name") != "shipyard-local-pr-7-gate-log" {
			t.Errorf("a PR created volume %s; its only volume is its nginx gate log", v.String("name"))
		}
	}
	if n := len(g.ByType("random:index/randomBytes:RandomBytes")); n != 0 {
		t.Errorf("a PR created %d TLS seeds; its certificate comes from the base's CA", n)
	}
	for _, c := range g.ByType(containerType) {
		name := c.String("name")
		if !strings.HasPrefix(name, "shipyard-local-pr-7-") {
			t.Errorf("container %s is not named after the PR stack", name)
		}
		if v, _ := label(c, dockerinfra.StackLabel); v != "local-pr-7" {
			t.Errorf("container %s has %s=%q, want local-pr-7 (leak checks and destroy find it by it)", name, dockerinfra.StackLabel, v)
		}
		if net := c.String("networksAdvanced.0.name"); net != "shipyard-local" {
			t.Errorf("container %s is on network %q, want the base's", name, net)
		}
		for _, role := range []string{"postgres", "redis", "prometheus", "jaeger"} {
			if strings.Contains(name, role) {
				t.Errorf("a PR created a %s container (%s): it shares the base's", role, name)
			}
		}
	}
	refs := g.ByType(stackRefType)
	if len(refs) != 1 || refs[0].String("name") != "organization/shipyard/local" {
		t.Fatalf("stack references %v, want one to organization/shipyard/local", refs)
	}
}

func TestAPRsProcessesUseItsDatabaseUserRedisDatabaseAndAliases(t *testing.T) {
	_, g := mustPreview(t)
	for _, p := range []string{"web-1", "worker", "clock", "migrate"} {
		c := container(t, g, "shipyard-local-pr-7-"+p)
		env := envMap(t, c)
		if got := env["DATABASE_URL"]; !strings.HasPrefix(got, "postgres://pr_7@postgres:5432/pr_7?") {
			t.Errorf("%s: DATABASE_URL %s, want user and database pr_7", p, got)
		}
		if got := env["REDIS_URL"]; got != "redis://redis:6379/2" {
			t.Errorf("%s: REDIS_URL %s, want the slot's database 2", p, got)
		}
		if got := env["DATABASE_PASSWORD"]; got != "generated-shipyard-local-pr-7-database-password" {
			t.Errorf("%s: DATABASE_PASSWORD %q, want the PR's own", p, got)
		}
		if got := env["REDIS_PASSWORD"]; got != "base-redis-password" {
			t.Errorf("%s: REDIS_PASSWORD %q, want the base's", p, got)
		}
		if got := env["APP_ENV"]; got != "local-pr-7" {
			t.Errorf("%s: APP_ENV %q", p, got)
		}
		if p == "migrate" {
			continue
		}
		alias := c.String("networksAdvanced.0.aliases.0")
		if !strings.HasPrefix(alias, "pr-7-") {
			t.Errorf("%s has network alias %q: the base's nginx and Prometheus would take it for theirs", p, alias)
		}
	}
	if n := len(g.ByType(containerType)); n != 6 {
		t.Errorf("%d containers (%v), want preview-create, migrate, one web, worker, clock, nginx", n, names(g.ByType(containerType)))
	}
}

func TestPreviewCreateRunsAsTheBaseAdminAndGatesTheMigration(t *testing.T) {
	cfg, g := mustPreview(t)
	create := container(t, g, "shipyard-local-pr-7-preview-create")
	if cmd := strings_(t, create, "command"); strings.Join(cmd, " ") != "preview create" {
		t.Errorf("command %v", cmd)
	}
	env := envMap(t, create)
	want := fmt.Sprintf("postgres://%s@postgres:5432/%s?", cfg.Database.Username, cfg.Database.Name)
	if !strings.HasPrefix(env["DATABASE_URL"], want) || env["DATABASE_PASSWORD"] != "base-admin-password" {
		t.Errorf("create connects as %s (password %q), want the base's admin %s…", env["DATABASE_URL"], env["DATABASE_PASSWORD"], want)
	}
	if env["PREVIEW_DATABASE"] != "pr_7" || env["PREVIEW_DATABASE_USER"] != "pr_7" || env["PREVIEW_DATABASE_PASSWORD"] != "generated-shipyard-local-pr-7-database-password" {
		t.Errorf("create makes %q/%q with %q", env["PREVIEW_DATABASE"], env["PREVIEW_DATABASE_USER"], env["PREVIEW_DATABASE_PASSWORD"])
	}
	// The env aws gives its admin task (stackconfig's PreviewAdminEnv):
	// everything the PR's processes get but their database connection, and
	// its two secrets as plain container env, as docker passes every
	// container's.
	wantEnv := map[string]string{}
	for _, v := range cfg.PreviewAdminEnv(stackconfig.LocalEndpoints) {
		wantEnv[v.Name] = v.Value
	}
	wantEnv[stackconfig.SecretDatabasePassword] = "base-admin-password"
	wantEnv[appenv.PreviewDatabasePassword] = "generated-shipyard-local-pr-7-database-password"
	if !maps.Equal(env, wantEnv) {
		t.Errorf("create's env\n %v\nwant PreviewAdminEnv and the two passwords\n %v", env, wantEnv)
	}
	web := envMap(t, container(t, g, "shipyard-local-pr-7-web-1"))
	for k, v := range web {
		if k != "DATABASE_URL" && k != stackconfig.SecretDatabasePassword && k != stackconfig.SecretRedisPassword && env[k] != v {
			t.Errorf("create has %s=%q, the PR's web %q", k, env[k], v)
		}
	}
	migrate := container(t, g, "shipyard-local-pr-7-migrate")
	if v, _ := label(migrate, dockerinfra.PrerequisiteLabel); v != "succeeded" {
		t.Errorf("the migration's %s is %q: it must wait for preview create's exit 0", dockerinfra.PrerequisiteLabel, v)
	}

	t.Run("a failed preview create fails the deploy before any migration", func(t *testing.T) {
		_, err := runPreview(t, loadPR(t, "local-pr-7", "2"), pulumitest.WithOutputs(containerType, func(name string, _ resource.PropertyMap) resource.PropertyMap {
			if strings.Contains(name, "preview-create") {
				return resource.PropertyMap{"exitCode": resource.NewNumberProperty(1), "containerLogs": resource.NewStringProperty("permission denied to create role")}
			}
			return resource.PropertyMap{"exitCode": resource.NewNumberProperty(0)}
		}))
		if err == nil || !strings.Contains(err.Error(), "`app preview create` exited 1") || !strings.Contains(err.Error(), "permission denied to create role") {
			t.Fatalf("want the create's exit and output, got %v", err)
		}
	})
}

func TestAPRsNginxServesHTTPSOnItsSlotsPortWithACertificateOfTheBasesCA(t *testing.T) {
	cfg, g := mustPreview(t)
	lb := container(t, g, "shipyard-local-pr-7-nginx")
	port := cfg.Previews.LocalPortBase + 2
	if _, extra := lb.Input("ports.1"); extra || lb.String("ports.0.ip") != "127.0.0.1" || int(lb.Number("ports.0.external")) != port || int(lb.Number("ports.0.internal")) != dockerinfra.NginxHTTPSPort {
		t.Errorf("published %s:%v→%v (a second port: %v), want only 127.0.0.1:%d→443", lb.String("ports.0.ip"), lb.Number("ports.0.external"), lb.Number("ports.0.internal"), extra, port)
	}
	if g.Outputs["url"] != fmt.Sprintf("https://pr-7.localhost:%d", port) {
		t.Errorf("url %v", g.Outputs["url"])
	}
	conf := lb.String("uploads.0.content")
	if !strings.Contains(conf, "http://pr-7-web:") || strings.Contains(conf, "http://web:") {
		t.Errorf("nginx.conf does not proxy to the PR's web alias only:\n%s", conf)
	}
	if split := lb.String("uploads.1.content"); !strings.Contains(split, "* pr-7-web;") {
		t.Errorf("split file sends traffic elsewhere:\n%s", split)
	}
	base, err := dockerinfra.DeriveHTTPSCerts(baseSeed, "local")
	if err != nil {
		t.Fatal(err)
	}
	var cert string
	for i := 0; lb.String(fmt.Sprintf("uploads.%d.file", i)) != ""; i++ {
		switch lb.String(fmt.Sprintf("uploads.%d.file", i)) {
		case dockerinfra.NginxCertPem:
			cert = lb.String(fmt.Sprintf("uploads.%d.content", i))
		case dockerinfra.NginxCAPem:
			if ca := lb.String(fmt.Sprintf("uploads.%d.content", i)); ca != base.CACert {
				t.Error("the PR's CA is not the base stack's")
			}
		}
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(base.CACert))
	block, _ := pem.Decode([]byte(cert))
	if block == nil {
		t.Fatal("no server certificate uploaded")
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"pr-7.localhost", "localhost", "127.0.0.1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name}); err != nil {
			t.Errorf("a client trusting the base's CA rejects %s: %v", name, err)
		}
	}
	if g.Outputs["tlsCaCert"] != base.CACert {
		t.Error("tlsCaCert output is not the base's CA")
	}
}

func TestAPRStackExportsWhatTheCLINeeds(t *testing.T) {
	_, g := mustPreview(t)
	for k, want := range map[string]any{"previewSlot": 2.0, "pr": 7.0, "baseStack": "local", "databaseName": "pr_7", "stack": "local-pr-7"} {
		if got := g.Outputs[k]; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("output %s = %v, want %v", k, got, want)
		}
	}
	if d, _ := g.Outputs["imageDigest"].(string); !strings.HasPrefix(d, "sha256:") {
		t.Errorf("imageDigest %q", d)
	}
}

func TestAPRStackRefusesWhatItCannotRunOn(t *testing.T) {
	t.Run("a base without the outputs it reads is named", func(t *testing.T) {
		o := baseOutputs()
		delete(o, dockerinfra.OutputHTTPSTLSSeed)
		_, err := runPreview(t, loadPR(t, "local-pr-7", "1"), withBase(o))
		if err == nil || !strings.Contains(err.Error(), `base stack local has no output "httpsTlsSeed"`) || !strings.Contains(err.Error(), "make up STACK=local") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a PR stack without its slot says how to get one", func(t *testing.T) {
		_, err := runPreview(t, loadPR(t, "local-pr-7", ""))
		if err == nil || !strings.Contains(err.Error(), "make pr-up PR=7 STACK=local") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a base stack is not a PR environment", func(t *testing.T) {
		_, err := runPreview(t, loadLocal(t))
		if err == nil || !strings.Contains(err.Error(), "not a PR environment") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestTheBaseStackExportsWhatItsPRsRead(t *testing.T) {
	g := mustRun(t, loadLocal(t))
	for _, k := range []string{dockerinfra.OutputNetworkName, dockerinfra.OutputDatabaseCAVolume, dockerinfra.OutputDatabasePassword, dockerinfra.OutputRedisPassword, dockerinfra.OutputHTTPSTLSSeed} {
		if v, _ := g.Outputs[k].(string); v == "" {
			t.Errorf("the local stack does not export %s", k)
		}
	}
}
