package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// An aws stack is destroyed only with CONFIRM naming it, any stack never
// with CONFIRM naming another, and `make down` (which asks to keep the
// data) is refused without pointing at the command that deletes it. All
// are refused before any pulumi call.
func TestDestroyingAnAWSStackNeedsItsNameAndDownIsNotPointedAtDestroy(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string {
		return map[string]string{stackconfig.DirEnv: filepath.Join(root, "config")}[k]
	}
	tests := []struct {
		name    string
		args    []string
		want    string
		notWant string
	}{
		{"destroy without CONFIRM is refused, naming the CONFIRM that would do it", []string{"destroy", "dev"},
			"confirm with `make destroy STACK=dev CONFIRM=dev`", ""},
		{"destroy with another stack's name is refused", []string{"destroy", "dev", "--confirm=prod"},
			"confirm with `make destroy STACK=dev CONFIRM=dev`", ""},
		{"down is refused as a docker-stack command, not told to confirm a destroy", []string{"destroy", "dev", "--keep-data"},
			"make down (--keep-data) is for docker stacks", "confirm with"},
		{"down with CONFIRM is still refused: it never deletes the data", []string{"destroy", "dev", "--keep-data", "--confirm=dev"},
			"nothing was done", "confirm with"},
		{"a docker stack refuses a CONFIRM naming another stack", []string{"destroy", "local", "--confirm=prod"},
			"CONFIRM=prod does not name STACK=local; allowed: local, or empty for a docker stack", ""},
		{"so does down", []string{"destroy", "local", "--keep-data", "--confirm=prod"},
			"CONFIRM=prod does not name STACK=local", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), tt.args, getenv, &out, &out)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
			if tt.notWant != "" && strings.Contains(err.Error(), tt.notWant) {
				t.Errorf("error %q contains %q", err, tt.notWant)
			}
			if out.Len() != 0 {
				t.Errorf("printed before refusing: %q", out.String())
			}
		})
	}
}
