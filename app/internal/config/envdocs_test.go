package config_test

import (
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/app/internal/config"
)

// noDefault are the variables .env.example and docs/app.md give no
// default: required, secret, or off when unset.
var noDefault = []string{
	"DATABASE_URL", "REDIS_URL", "DATABASE_PASSWORD", "REDIS_PASSWORD",
	"PREVIEW_DATABASE", "PREVIEW_DATABASE_USER", "PREVIEW_DATABASE_PASSWORD",
	"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_RESOURCE_ATTRIBUTES",
}

// envExampleDefaults reads .env.example: each variable (VAR=… or #VAR=…)
// and the "default: X" at the end of a comment line above it, if any.
func envExampleDefaults(t *testing.T) (vars []string, defaults map[string]string) {
	t.Helper()
	data, err := os.ReadFile("../../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	varRE := regexp.MustCompile(`^#?([A-Z][A-Z0-9_]*)=`)
	defRE := regexp.MustCompile(`default:\s*(\S+)\s*$`)
	defaults = map[string]string{}
	pending := ""
	for _, line := range strings.Split(string(data), "\n") {
		if m := varRE.FindStringSubmatch(line); m != nil {
			vars = append(vars, m[1])
			if pending != "" {
				defaults[m[1]] = pending
			}
			pending = ""
			continue
		}
		if m := defRE.FindStringSubmatch(line); m != nil {
			pending = m[1]
		}
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "# ---") {
			pending = "" // a default belongs to the variable right below it
		}
	}
	return vars, defaults
}

// docsDefaults reads docs/app.md's environment table: the row of each
// variable and its Default cell, where a default is the backquoted value
// starting a comma-separated part ("`0` (= GOMAXPROCS)"; "`shipyard`,
// none" for two variables).
func docsDefaults(t *testing.T) (vars []string, defaults map[string]string) {
	t.Helper()
	data, err := os.ReadFile("../../../docs/app.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(data), "| Variable | Default | Meaning |\n|---|---|---|\n")
	if !ok {
		t.Fatal("docs/app.md has no | Variable | Default | Meaning | table")
	}
	table, _, _ = strings.Cut(table, "\n\n")
	nameRE := regexp.MustCompile("`([A-Z][A-Z0-9_]*)`")
	valueRE := regexp.MustCompile("^`([^`]*)`")
	defaults = map[string]string{}
	for _, row := range strings.Split(table, "\n") {
		cells := strings.Split(strings.Trim(row, "|"), " | ")
		if len(cells) < 3 {
			t.Fatalf("docs/app.md: a row without three cells: %s", row)
		}
		var names []string
		for _, m := range nameRE.FindAllStringSubmatch(cells[0], -1) {
			names = append(names, m[1])
		}
		parts := strings.Split(strings.TrimSpace(cells[1]), ", ")
		var values []string
		for _, p := range parts {
			if m := valueRE.FindStringSubmatch(p); m != nil {
				values = append(values, m[1])
			} else {
				values = append(values, "")
			}
		}
		if slices.ContainsFunc(values, func(v string) bool { return v != "" }) && len(values) != len(names) {
			t.Fatalf("docs/app.md: %d defaults for %d variables in: %s", len(values), len(names), row)
		}
		for i, n := range names {
			vars = append(vars, n)
			if i < len(values) && values[i] != "" {
				defaults[n] = values[i]
			}
		}
	}
	return vars, defaults
}

// TestDocumentedDefaultsAreTheLoadersDefaults: every default .env.example
// and docs/app.md's table state is what config.Load uses when the
// variable is unset (setting it to the documented default changes
// nothing), every variable they list is one Load reads, and only the
// variables of noDefault go without a default.
func TestDocumentedDefaultsAreTheLoadersDefaults(t *testing.T) {
	base := valid()
	base["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://collector:4318" // tracing on: its settings count
	needs := config.Needs{Database: true, Redis: true, Preview: true, PreviewPassword: true}
	base["PREVIEW_DATABASE"], base["PREVIEW_DATABASE_USER"], base["PREVIEW_DATABASE_PASSWORD"] = "pr_7", "pr_7", "a-preview-password"
	read := map[string]bool{}
	want, err := config.Load(func(k string) string { read[k] = true; return base[k] }, needs)
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range []struct {
		file string
		load func(*testing.T) ([]string, map[string]string)
	}{
		{".env.example", envExampleDefaults},
		{"docs/app.md", docsDefaults},
	} {
		vars, defaults := doc.load(t)
		if len(defaults) < 20 {
			t.Fatalf("%s: only %d defaults read (%v): is it still parsed?", doc.file, len(defaults), defaults)
		}
		t.Logf("%s: %d variables, %d defaults", doc.file, len(vars), len(defaults))
		for _, v := range vars {
			if !read[v] {
				t.Errorf("%s lists %s, which config.Load does not read", doc.file, v)
			}
			if _, ok := defaults[v]; !ok && !slices.Contains(noDefault, v) {
				t.Errorf("%s gives %s no default", doc.file, v)
			}
		}
		for v, def := range defaults {
			e := maps.Clone(base)
			e[v] = def
			got, err := config.Load(func(k string) string { return e[k] }, needs)
			if err != nil {
				t.Errorf("%s: %s's default %q is refused: %v", doc.file, v, def, err)
				continue
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: %s's default is %q, but config.Load's differs:\nunset: %v\n%s=%s: %v", doc.file, v, def, want, v, def, got)
			}
		}
	}
}
