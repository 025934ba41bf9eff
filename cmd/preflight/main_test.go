package main

import (
	"bytes"
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
