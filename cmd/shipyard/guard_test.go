package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

func TestGuardCommand(t *testing.T) {
	fixture := func(name string) string { return "../../infra/policy/testdata/" + name }
	replaceDB, err := os.ReadFile(fixture("preview-replace-database.json"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		args       []string
		stdin      string
		wantErr    string
		wantStdout string
		wantStderr string
	}{
		{name: "refuses a plan on stdin that replaces the database",
			args: []string{"guard"}, stdin: string(replaceDB), wantErr: "database-instance"},
		{name: "lets an explicitly allowed replacement through and still lists it",
			args: []string{"guard", "--allow-stateful-changes"}, stdin: string(replaceDB), wantStderr: "replace because of dbName"},
		{name: "passes a plan file that only replaces task definitions",
			args: []string{"guard", fixture("preview-deploy.json")}, wantStdout: "no stateful resource"},
		{name: "refuses a plan file that deletes log groups",
			args: []string{"guard", fixture("preview-delete-logs.json")}, wantErr: "logs-clock"},
		{name: "fails on an empty plan", args: []string{"guard", "--allow-stateful-changes"}, wantErr: "empty preview"},
		{name: "rejects unknown flags", args: []string{"guard", "--yes"}, wantErr: "usage: shipyard guard"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			guardInput = strings.NewReader(c.stdin)
			defer func() { guardInput = os.Stdin }()
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), c.args, func(string) string { return "" }, &stdout, &stderr)
			if c.wantErr == "" && err != nil {
				t.Fatalf("guard: %v", err)
			}
			if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("guard: %v, want an error containing %q", err, c.wantErr)
			}
			if !strings.Contains(stdout.String(), c.wantStdout) || !strings.Contains(stderr.String(), c.wantStderr) {
				t.Errorf("stdout %q, stderr %q; want %q, %q", stdout.String(), stderr.String(), c.wantStdout, c.wantStderr)
			}
		})
	}
}
