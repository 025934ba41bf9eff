package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

func TestRekeyMovesAnExistingStackToItsConfigsSecretsProviderOnce(t *testing.T) {
	const (
		regionKMS = "awskms://alias/shipyard-pulumi?region=eu-west-1"
		devKMS    = regionKMS + "&context_stack=dev"
	)
	for _, tc := range []struct {
		name     string
		stack    string
		section  string // dev's bootstrap section; "" leaves the repository's
		settings string // stacks/Pulumi.<stack>.yaml; "" writes none
		wantCall string // the pulumi call made; "" none
		wantOut  string
		wantErr  string
	}{
		{name: "a stack on the region's provider is re-encrypted with its own", stack: "dev", section: bootstrapSection("dev"),
			settings: "secretsprovider: " + regionKMS + "\nencryptedkey: AQICAHg=\n",
			wantCall: "pulumi stack change-secrets-provider " + devKMS + " --stack dev", wantOut: "commit stacks/Pulumi.dev.yaml"},
		{name: "a stack already on it is left alone", stack: "dev", section: bootstrapSection("dev"),
			settings: "secretsprovider: " + devKMS + "\n", wantOut: "already encrypted with " + devKMS},
		{name: "a stack not created yet has nothing to re-encrypt", stack: "dev", section: bootstrapSection("dev"),
			wantOut: "a stack not created yet gets " + devKMS},
		{name: "a stack without a bootstrap section is told to bootstrap first", stack: "dev", section: `{"backendUrl": "` + bootstrapS3 + `"}`,
			settings: "secretsprovider: " + regionKMS + "\n", wantErr: "no bootstrap.secretsProvider (and SHIPYARD_SECRETS_PROVIDER is not set): run make bootstrap STACK=dev first"},
		{name: "a docker stack is refused", stack: "local", wantErr: `rekey is for aws stacks; stack "local" has target "docker"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := bootstrapRepo(t)
			configDir := filepath.Join(root, "config")
			if tc.section != "" {
				setBootstrapSection(t, configDir, tc.stack, tc.section)
			}
			if tc.settings != "" {
				if err := os.MkdirAll(filepath.Join(root, stackSettingsDir), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(root, stackSettingsDir, "Pulumi."+tc.stack+".yaml"), []byte(tc.settings), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cfg, err := stackconfig.Load(configDir, tc.stack)
			if err != nil {
				t.Fatal(err)
			}
			x := newFakeExec(map[string]answer{"pulumi stack change-secrets-provider": {}})
			p := &pulumiCLI{x: x.exec, root: root, getenv: func(string) string { return "" }, configDir: configDir}
			var out bytes.Buffer
			err = rekey(context.Background(), p, cfg, &out)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatalf("%v\n%s", err, &out)
			}
			lines := x.lines()
			switch {
			case tc.wantCall == "" && len(lines) > 0:
				t.Errorf("calls %q, want none", lines)
			case tc.wantCall != "" && (len(lines) != 1 || !strings.HasPrefix(lines[0], tc.wantCall)):
				t.Errorf("calls %q, want one: %s", lines, tc.wantCall)
			}
			if !strings.Contains(out.String(), tc.wantOut) {
				t.Errorf("output %q, want %q", out.String(), tc.wantOut)
			}
		})
	}
}
