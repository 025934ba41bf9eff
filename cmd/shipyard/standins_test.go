package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestTheImagesCommandPrintsTheStacksConfig(t *testing.T) {
	r := newCLIRepo(t)
	editConfig(t, filepath.Join(r.root, "config"), "local", ownImages)
	out, err := runCLI(t, "images", "local")
	want := `app team/my-app:local
postgres postgres:15.8
redis mirror.example.com:5000/library/redis:7.2
nginx nginx:1.28
prometheus prom/prometheus:v3.1.0
nginxExporter nginx/nginx-prometheus-exporter:1.4.3
mtail ghcr.io/google/mtail:3.0.9
jaeger mirror.example.com/jaegertracing/jaeger:2.12.0
`
	if err != nil || out != want {
		t.Errorf("shipyard images local: %v\n%s\nwant\n%s", err, out, want)
	}
	if out, err := runCLI(t, "images", "local", "nginx"); err != nil || out != "nginx:1.28\n" {
		t.Errorf("shipyard images local nginx: %q, %v", out, err)
	}
	if out, err := runCLI(t, "images", "dev"); err != nil || out != "app shipyard-app:local\n" {
		t.Errorf("shipyard images dev (aws: only the local build release pushes): %q, %v", out, err)
	}
	if _, err := runCLI(t, "images", "dev", "postgres"); err == nil || !strings.Contains(err.Error(), `stack "dev" (target aws) has no image "postgres": allowed app`) {
		t.Errorf("shipyard images dev postgres: %v", err)
	}
}

// tests/images/build.sh builds the app image and every local.images
// stand-in under the names the stack's config gives them (`shipyard images
// STACK`; no copy of them in the script), and refuses what a stand-in
// cannot be.
func TestTheStandInScriptBuildsWhatTheStacksConfigNames(t *testing.T) {
	config := configCopy(t)
	editConfig(t, config, "local", ownImages)

	script := func(t *testing.T, config string, env ...string) (string, error) {
		t.Helper()
		cmd := exec.Command(filepath.Join(repoRoot, "tests", "images", "build.sh"))
		// No Docker: the dry run reads the config and decides, nothing else.
		cmd.Env = append(os.Environ(), append([]string{"DRY_RUN=1", "DOCKER=/nonexistent/docker", "IMAGES_CACHE=" + t.TempDir(),
			"SHIPYARD_CONFIG_DIR=" + config, "STANDINS_ONLY=", "MAKEFLAGS=", "MAKELEVEL="}, env...)...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if err != nil {
			return stderr.String(), err
		}
		return stdout.String(), nil
	}
	t.Run("the script builds the stand-ins and the app image under the config's names", func(t *testing.T) {
		out, err := script(t, config, "STACK=local")
		if err != nil {
			t.Fatalf("build.sh: %v\n%s", err, out)
		}
		want := `postgres postgres:15.8 tests/images/postgres
redis mirror.example.com:5000/library/redis:7.2 tests/images/redis
nginx nginx:1.28 tests/images/nginx
prometheus prom/prometheus:v3.1.0 tests/images/prometheus
nginxExporter nginx/nginx-prometheus-exporter:1.4.3 tests/images/nginx-exporter
mtail ghcr.io/google/mtail:3.0.9 tests/images/mtail
jaeger mirror.example.com/jaegertracing/jaeger:2.12.0 github.com/jaegertracing/jaeger@v1.75.0
app team/my-app:local make image STACK=local
`
		if out != want {
			t.Errorf("build.sh plans\n%s\nwant\n%s", out, want)
		}
	})
	for _, tc := range []struct {
		name, field, value, want string
	}{
		{"a Postgres major the stand-in is not is refused", "postgres", "postgres:16", "local.images.postgres=postgres:16 (config/local.json): the offline stand-in is Debian bookworm's PostgreSQL 15; allowed: a tag of major 15"},
		{"a Redis major the stand-in is not is refused", "redis", "redis:8.0", "local.images.redis=redis:8.0 (config/local.json): the offline stand-in is Debian bookworm's Redis 7; allowed: a tag of major 7"},
		{"a Jaeger the stand-in is not is refused", "jaeger", "jaegertracing/jaeger:2.13.0", "local.images.jaeger=jaegertracing/jaeger:2.13.0 (config/local.json): the stand-in is Jaeger 2.12.0"},
		{"a ref pinned by digest is refused", "nginx", "nginx:1.27@sha256:" + strings.Repeat("a", 64), "local.images.nginx=nginx:1.27@sha256:" + strings.Repeat("a", 64) + " (config/local.json): pinned by digest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Without prod.json, whose major versions a docker stack's
			// must otherwise match.
			dir := configCopy(t, "local")
			editConfig(t, dir, "local", func(cfg map[string]any) { section(section(cfg, "local"), "images")[tc.field] = tc.value })
			out, err := script(t, dir, "STACK=local")
			if err == nil || !strings.Contains(out, "tests/images/build.sh: "+tc.want) {
				t.Errorf("build.sh: %v\n%s\nwant %q", err, out, tc.want)
			}
		})
	}
	t.Run("an aws stack is refused, naming STACK", func(t *testing.T) {
		out, err := script(t, configCopy(t), "STACK=dev")
		if err == nil || !strings.Contains(out, "STACK=dev: not a docker stack") || !strings.Contains(out, "allowed: a docker stack, e.g. STACK=local") {
			t.Errorf("build.sh STACK=dev: %v\n%s", err, out)
		}
	})
}
