package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	config, _ := filepath.Abs(filepath.Join("..", "..", "config"))
	root := filepath.Dir(config)
	tests := []struct {
		name    string
		args    []string
		vars    map[string]string
		want    string
		wantErr string
	}{
		{"prints a docker stack's file backend", []string{"backend", "local"}, nil, "file://" + filepath.Join(root, ".pulumi-state") + "\n", ""},
		{"prints the backend PULUMI_BACKEND_URL names", []string{"backend", "dev"}, map[string]string{"PULUMI_BACKEND_URL": "s3://state"}, "s3://state\n", ""},
		{"refuses an aws stack's file backend in one line", []string{"check", "local", "dev"}, nil, "", "run `make bootstrap STACK=dev`"},
		{"prints the target of a stack it would refuse", []string{"target", "dev"}, nil, "aws\n", ""},
		{"names an unknown stack", []string{"check", "nope"}, nil, "", `unknown stack "nope"`},
		{"prints its usage", []string{"backend"}, nil, "", "usage: preflight"},
		{"prints a docker stack's app image", []string{"image", "local"}, nil, "shipyard-app:local\n", ""},
		{"prints the app image tagged TAG", []string{"image", "local", "v1.2-dirty"}, nil, "shipyard-app:v1.2-dirty\n", ""},
		{"prints an aws stack's local build before make bootstrap", []string{"image", "dev"}, nil, "shipyard-app:local\n", ""},
		{"image takes one stack and one tag", []string{"image", "local", "v1", "v2"}, nil, "", "usage: preflight"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vars := map[string]string{"SHIPYARD_CONFIG_DIR": config}
			for k, v := range tc.vars {
				vars[k] = v
			}
			var out bytes.Buffer
			err := run(tc.args, func(k string) string { return vars[k] }, &out)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err = %v, want one line with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || out.String() != tc.want {
				t.Errorf("got %q, %v; want %q", out.String(), err, tc.want)
			}
		})
	}
}

// The Makefile builds preflight before anything else because it builds in
// seconds: it imports the standard library and internal/preflight only.
func TestPreflightImportsOnlyTheStandardLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	got := strings.Fields(string(out))
	want := []string{"github.com/shipyard-kit/shipyard/internal/preflight", "github.com/shipyard-kit/shipyard/cmd/preflight"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("cmd/preflight depends on %v, want only %v", got, want)
	}
}

// `make image` tags what this prints: the repository a docker stack's
// release.imageRepository names.
func TestImageNamesTheRepositoryOfTheStacksConfig(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{
		"schema.json": "{}",
		"mine.json":   `{"target": "docker", "release": {"imageRepository": "foo"}}`,
		"bad.json":    `{"target": "docker", "release": {"imageRepository": "Foo"}}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	getenv := func(k string) string { return map[string]string{"SHIPYARD_CONFIG_DIR": dir}[k] }
	for _, tc := range []struct{ args, want string }{{"image mine", "foo:local\n"}, {"image mine v3", "foo:v3\n"}} {
		var out bytes.Buffer
		if err := run(strings.Fields(tc.args), getenv, &out); err != nil || out.String() != tc.want {
			t.Errorf("preflight %s: %q, %v; want %q", tc.args, out.String(), err, tc.want)
		}
	}
	var out bytes.Buffer
	if err := run([]string{"image", "bad"}, getenv, &out); err == nil || !strings.Contains(err.Error(), `release.imageRepository "Foo": allowed a lowercase repository name`) || out.Len() != 0 {
		t.Errorf("preflight image bad: %q, %v", out.String(), err)
	}
}
