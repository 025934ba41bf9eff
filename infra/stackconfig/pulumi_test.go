package stackconfig

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestPulumiStackFilesHoldOnlySecrets enforces that config/<stack>.json is
// the single source of truth: a Pulumi.<stack>.yaml (at the root or in
// stacks/, Pulumi.yaml's stackConfigDir) holds only the secrets provider,
// its salt or key, and encrypted ("secure") config values, for a stack that
// has a config file.
func TestPulumiStackFilesHoldOnlySecrets(t *testing.T) {
	stacks, err := Stacks(repoConfig)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, dir := range []string{"../..", "../../stacks"} {
		m, err := filepath.Glob(filepath.Join(dir, "Pulumi.*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	for _, f := range files {
		for _, p := range pulumiStackFileProblems(f, stacks) {
			t.Error(p)
		}
	}
}

// pulumiStackFileProblems lists what a Pulumi.<stack>.yaml holds beyond
// secrets.
func pulumiStackFileProblems(path string, stacks []string) (problems []string) {
	errorf := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	data, err := os.ReadFile(path)
	if err != nil {
		return []string{err.Error()}
	}
	stack := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), "Pulumi."), ".yaml")
	if !slices.Contains(stacks, stack) {
		errorf("%s: no config/%s.json for this stack; known stacks: %v", path, stack, stacks)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		errorf("%s: %v", path, err)
		return
	}
	for k, v := range doc {
		switch k {
		case "secretsprovider", "encryptionsalt", "encryptedkey":
		case "config":
			cfg, ok := v.(map[string]any)
			if !ok && v != nil {
				errorf("%s: config is not a map", path)
				continue
			}
			for name, val := range cfg {
				m, ok := val.(map[string]any)
				if _, secure := m["secure"]; !ok || !secure || len(m) != 1 {
					errorf("%s: config %s is not an encrypted secret; plain settings belong in config/%s.json", path, name, stack)
				}
			}
		default:
			errorf("%s: %s is not allowed; a stack file holds only secretsprovider, encryptionsalt/encryptedkey and secure config values", path, k)
		}
	}
	return problems
}

func TestCheckPulumiStackFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "Pulumi.prod.yaml")
	if err := os.WriteFile(good, []byte("secretsprovider: passphrase\nencryptionsalt: v1:abc\nconfig:\n  shipyard:DATABASE_PASSWORD:\n    secure: v1:xyz\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if ps := pulumiStackFileProblems(good, []string{"prod"}); len(ps) != 0 {
		t.Errorf("a secrets-only file was rejected: %v", ps)
	}

	bad := filepath.Join(dir, "Pulumi.qa.yaml")
	if err := os.WriteFile(bad, []byte("config:\n  aws:region: eu-west-1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ps := pulumiStackFileProblems(bad, []string{"prod"})
	if len(ps) != 2 || !strings.Contains(ps[0], "no config/qa.json") || !strings.Contains(ps[1], "aws:region is not an encrypted secret") {
		t.Errorf("problems = %q", ps)
	}
}
