package stackconfig

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestConfigDocsAreUpToDate fails when docs/config.md differs from what the
// generator produces from config/schema.json: run `make config-docs`.
func TestConfigDocsAreUpToDate(t *testing.T) {
	want, err := ConfigDocs(repoSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatalf("%v; run make config-docs", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("docs/config.md is out of date (run make config-docs); first difference at line %d:\n have %q\n want %q", i+1, g, w)
			}
		}
	}
}

// TestConfigDocsDocumentEverything checks that the generated docs name
// every schema field, every rule and every env var.
func TestConfigDocsDocumentEverything(t *testing.T) {
	doc, err := ConfigDocs(repoSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	for _, f := range repoSchemaDoc(t).fields() {
		path := strings.Join(f.Path, ".")
		if strings.HasPrefix(path, "services.") {
			// Documented once as services.<service>.…
			path = "services.<service>" + strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(path, "services.web"), "services.worker"), "services.clock"), "services")
			if path == "services.<service>" {
				continue
			}
		}
		if !strings.Contains(s, "| `"+path+"` |") && !strings.Contains(s, "### `"+path+"`") {
			t.Errorf("docs lack a row for %s", path)
		}
	}
	for _, r := range Rules() {
		if !strings.Contains(s, r.Doc) {
			t.Errorf("docs lack rule %q", r.Doc)
		}
	}
	for _, n := range ReservedEnvNames() {
		if !strings.Contains(s, "| `"+n+"` |") {
			t.Errorf("docs lack env var %s", n)
		}
	}
}
