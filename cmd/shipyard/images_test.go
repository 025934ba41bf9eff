package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// editConfig rewrites config/<stack>.json of dir with edit applied to it.
func editConfig(t *testing.T, dir, stack string, edit func(cfg map[string]any)) {
	t.Helper()
	path := filepath.Join(dir, stack+".json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	edit(cfg)
	if data, err = json.MarshalIndent(cfg, "", "  "); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// section returns cfg[key] as an object, creating it.
func section(cfg map[string]any, key string) map[string]any {
	m, _ := cfg[key].(map[string]any)
	if m == nil {
		m = map[string]any{}
		cfg[key] = m
	}
	return m
}

// configCopy is a config directory with the repository's schema and the
// stacks named (all of them when none are).
func configCopy(t *testing.T, stacks ...string) string {
	t.Helper()
	dir := t.TempDir()
	files, err := filepath.Glob(filepath.Join(repoRoot, "config", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		keep := name == "schema" || len(stacks) == 0
		for _, s := range stacks {
			keep = keep || s == name
		}
		if keep {
			copyFile(t, f, filepath.Join(dir, filepath.Base(f)))
		}
	}
	return dir
}

// ownImages sets release.imageRepository and every local.images field of a
// docker stack to names other than the defaults.
func ownImages(cfg map[string]any) {
	section(cfg, "release")["imageRepository"] = "team/my-app"
	section(cfg, "local")["images"] = map[string]any{
		"postgres":      "postgres:15.8",
		"redis":         "mirror.example.com:5000/library/redis:7.2",
		"nginx":         "nginx:1.28",
		"prometheus":    "prom/prometheus:v3.1.0",
		"nginxExporter": "nginx/nginx-prometheus-exporter:1.4.3",
		"mtail":         "ghcr.io/google/mtail:3.0.9",
		"jaeger":        "mirror.example.com/jaegertracing/jaeger:2.12.0",
	}
}

// `shipyard release STACK` without --image releases the image `make image`
// builds for the stack: on docker, <release.imageRepository>:local.
func TestReleaseWithoutImageReleasesTheStacksAppImage(t *testing.T) {
	t.Run("docker: the image release.imageRepository names", func(t *testing.T) {
		r := newCLIRepo(t)
		editConfig(t, filepath.Join(r.root, "config"), "local", ownImages)
		state := installFakes(t, &fakeWorld{Outputs: map[string]map[string]any{"local": {
			"stack": "local", "target": "docker", "prometheusUrl": "http://127.0.0.1:1",
			"containers": map[string]any{"nginx": "shipyard-local-nginx"}, "imageDigest": fakeLocalImageID,
		}}})
		// The fake docker gives every image the ID the stack runs: the
		// release stops there, naming the image it would release.
		_, err := runCLI(t, "release", "local")
		if err == nil || !strings.Contains(err.Error(), "already runs team/my-app:local") {
			t.Fatalf("release local: %v", err)
		}
		if calls := readCalls(t, state); !contains(calls, "docker image inspect --format {{.Id}} team/my-app:local") {
			t.Errorf("no inspect of team/my-app:local among\n%s", strings.Join(calls, "\n"))
		}
	})
	t.Run("aws: the local build shipyard-app:local, whatever ECR repository release.imageRepository names", func(t *testing.T) {
		r := newCLIRepo(t)
		editConfig(t, filepath.Join(r.root, "config"), "dev", func(cfg map[string]any) { section(cfg, "release")["imageRepository"] = "team-ecr" })
		state := installFakes(t, &fakeWorld{
			Outputs: map[string]map[string]any{"dev": deployedOutputs("dev", "https://dev.example.com", "")},
		})
		if out, err := runCLI(t, "release", "dev"); err != nil {
			t.Fatalf("release dev: %v\n%s", err, out)
		}
		if calls := readCalls(t, state); !contains(calls, "docker tag shipyard-app:local "+repoOf("dev")+":dev-0001") {
			t.Errorf("shipyard-app:local not pushed; calls:\n%s", strings.Join(calls, "\n"))
		}
	})
}

// `make image` tags what STACK's config names (bin/preflight image), the
// image the docker stack runs.
func TestMakeImageTagsTheImageTheStacksConfigNames(t *testing.T) {
	config := configCopy(t)
	editConfig(t, config, "local", ownImages)

	t.Run("make image tags <release.imageRepository>:local and :VERSION", func(t *testing.T) {
		dir := freshClone(t)
		cmd := exec.Command("make", "--no-print-directory", "-n", "image", "STACK=local", "VERSION=v9")
		cmd.Dir = dir
		cmd.Env = cleanEnv(t, "SHIPYARD_CONFIG_DIR="+config)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make -n image: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), " build -t team/my-app:v9 -t team/my-app:local .\n") {
			t.Errorf("make -n image STACK=local does not tag team/my-app:\n%s", out)
		}
	})
	t.Run("make image of an aws stack tags shipyard-app, the local build release pushes", func(t *testing.T) {
		dir := freshClone(t)
		cmd := exec.Command("make", "--no-print-directory", "-n", "image", "STACK=dev", "VERSION=v9")
		cmd.Dir = dir
		cmd.Env = cleanEnv(t)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), " build -t shipyard-app:v9 -t shipyard-app:local .\n") {
			t.Errorf("make -n image STACK=dev: %v\n%s", err, out)
		}
	})
	// Under make -j too: a fake go "builds" the app (it writes the file
	// build-linux's go build names), so an app build that ran alongside the
	// check would leave bin/linux-amd64/app behind.
	t.Run("make image refuses a bad release.imageRepository before building anything", func(t *testing.T) {
		bad := configCopy(t, "local")
		editConfig(t, bad, "local", func(cfg map[string]any) { section(cfg, "release")["imageRepository"] = "My-App" })
		dir := freshClone(t)
		fakeGo := fakeAppBuild(t)
		app := filepath.Join(dir, "bin", "linux-amd64", "app")
		cmd := exec.Command("make", "--no-print-directory", "-j2", "image", "STACK=local", "GO="+fakeGo)
		cmd.Dir = dir
		cmd.Env = cleanEnv(t, "SHIPYARD_CONFIG_DIR="+bad)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("make image succeeded:\n%s", out)
		}
		if lines := ownLines(out); len(lines) != 1 || !strings.Contains(lines[0], `release.imageRepository "My-App": allowed a lowercase repository name`) {
			t.Errorf("want one line naming release.imageRepository and what it allows, got:\n%s", out)
		}
		if _, err := os.Stat(app); err == nil {
			t.Error("the app was built before the image name was checked")
		}
		// The fake builds it when asked: make build-linux alone still does.
		cmd = exec.Command("make", "--no-print-directory", "build-linux", "GO="+fakeGo)
		cmd.Dir = dir
		cmd.Env = cleanEnv(t, "SHIPYARD_CONFIG_DIR="+bad)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make build-linux: %v\n%s", err, out)
		}
		if _, err := os.Stat(app); err != nil {
			t.Errorf("make build-linux built no app: %v", err)
		}
	})
}

// fakeAppBuild is a go that, asked to build ./app, writes an empty file
// where -o names, and runs the real go for anything else (preflight's
// build).
func fakeAppBuild(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go is needed: %v", err)
	}
	fake := filepath.Join(t.TempDir(), "go")
	script := `#!/bin/sh
case " $* " in *" ./app "*)
  while [ $# -gt 0 ]; do
    if [ "$1" = -o ]; then mkdir -p "$(dirname "$2")" && : > "$2"; exit 0; fi
    shift
  done
  echo "fake go: build ./app without -o" >&2; exit 2;;
esac
exec ` + goBin + ` "$@"
`
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return fake
}

// `make test` builds the images of the repository's config/local.json, the
// one the e2e suite's own stack is made from (tests/e2e copies
// <repository>/config), and runs the tests without SHIPYARD_CONFIG_DIR (the
// unit tests that load a stack read the repository's config/), whatever
// SHIPYARD_CONFIG_DIR names: from the environment or make's command line,
// another directory's local.json would name other images and ports. Stubs
// of tests/images/build.sh, docker, gotestsum and tests/cleanup.sh record
// what they get.
func TestMakeTestBuildsTheImagesOfTheRepositorysConfigWhateverSHIPYARD_CONFIG_DIRSays(t *testing.T) {
	other := configCopy(t, "local")
	editConfig(t, other, "local", ownImages)
	for _, tc := range []struct {
		name string
		env  []string
		args []string
	}{
		{"no SHIPYARD_CONFIG_DIR", nil, nil},
		{"SHIPYARD_CONFIG_DIR in the environment", []string{"SHIPYARD_CONFIG_DIR=" + other}, nil},
		{"SHIPYARD_CONFIG_DIR on make's command line", nil, []string{"SHIPYARD_CONFIG_DIR=" + other}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := freshClone(t)
			logs := t.TempDir()
			record := func(path, what string, also ...string) {
				t.Helper()
				stub := "#!/bin/sh\necho \"" + what + "SHIPYARD_CONFIG_DIR=${SHIPYARD_CONFIG_DIR-(unset)}\" > " + filepath.Join(logs, filepath.Base(path)) + "\n" + strings.Join(also, "\n") + "\n"
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(stub), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			record(filepath.Join(dir, "tests", "images", "build.sh"), "STACK=$STACK ")
			record(filepath.Join(dir, "bin", "gotestsum"), "", ": > bin/test.json # the --jsonfile make reads")
			record(filepath.Join(dir, "tests", "cleanup.sh"), "")
			docker := filepath.Join(dir, "docker") // `docker info` answers
			if err := os.WriteFile(docker, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			// -o: the tool installs are not run.
			args := append([]string{"--no-print-directory", "-o", "pulumi-cli", "-o", "gotestsum", "test", "DOCKER=" + docker}, tc.args...)
			cmd := exec.Command("make", args...)
			cmd.Dir = dir
			cmd.Env = cleanEnv(t, tc.env...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("make test: %v\n%s", err, out)
			}
			for stub, want := range map[string]string{
				"build.sh":   "STACK=local SHIPYARD_CONFIG_DIR=" + filepath.Join(dir, "config"),
				"gotestsum":  "SHIPYARD_CONFIG_DIR=(unset)",
				"cleanup.sh": "SHIPYARD_CONFIG_DIR=(unset)",
			} {
				got, err := os.ReadFile(filepath.Join(logs, stub))
				if err != nil {
					t.Fatalf("make test did not run %s: %v\n%s", stub, err, out)
				}
				if strings.TrimSpace(string(got)) != want {
					t.Errorf("make test ran %s with %s, want %s", stub, strings.TrimSpace(string(got)), want)
				}
			}
		})
	}
}
