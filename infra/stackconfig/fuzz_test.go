package stackconfig

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse. It must never panic; a nil
// error means a config that passes Validate and yields an environment; an
// error is either a *ValidationError with problems or a plain message.
// Seeds: the repository's stack files plus testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	schema := repoSchema(f)
	names, err := Stacks(repoConfig)
	if err != nil {
		f.Fatal(err)
	}
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(repoConfig, n+".json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(n, data)
	}
	f.Fuzz(func(t *testing.T, stack string, data []byte) {
		cfg, err := Parse(stack, data, schema)
		if err != nil {
			if cfg != nil {
				t.Fatal("config and error both returned")
			}
			var ve *ValidationError
			if errors.As(err, &ve) {
				if len(ve.Problems) == 0 {
					t.Fatal("ValidationError without problems")
				}
				for _, p := range ve.Problems {
					if p.Message == "" {
						t.Fatalf("problem without message at %q", p.Path)
					}
				}
			} else if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("empty error")
			}
			return
		}
		if cfg.Stack != stack {
			t.Fatalf("Stack = %q, want %q", cfg.Stack, stack)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Parse accepted a config Validate rejects: %v", err)
		}
		// What Parse accepts survives a round trip through JSON unchanged.
		again, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		cfg2, err := Parse(stack, again, schema)
		if err != nil {
			t.Fatalf("re-parsing the marshalled config: %v\n%s", err, again)
		}
		if !reflect.DeepEqual(normalized(cfg), normalized(cfg2)) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v", cfg, cfg2)
		}
		for _, v := range cfg.Env(LocalEndpoints) {
			if !ValidEnvName(v.Name) || strings.ContainsAny(v.Value, "\r\n") && v.Name != "APP_ENV" {
				t.Fatalf("bad env var %q=%q", v.Name, v.Value)
			}
		}
	})
}

// normalized makes empty and nil maps and slices equal.
func normalized(c *Config) Config {
	n := *c
	if len(n.Tags) == 0 {
		n.Tags = nil
	}
	if len(n.App.Env) == 0 {
		n.App.Env = nil
	}
	if len(n.App.Secrets) == 0 {
		n.App.Secrets = nil
	}
	return n
}
