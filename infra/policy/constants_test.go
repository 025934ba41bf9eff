package policy_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// topLevelNames returns the names of the constants and variables declared
// at the top level of the package in dir (test files left out).
func topLevelNames(t *testing.T, dir string, tok token.Token, exportedOnly bool) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != tok {
				continue
			}
			for _, s := range g.Specs {
				for _, n := range s.(*ast.ValueSpec).Names {
					if !exportedOnly || n.IsExported() {
						out[n.Name] = filepath.Base(f)
					}
				}
			}
		}
	}
	return out
}

// TestPolicyDeclaresNoConstantOfStackconfigAgain: the stack names and
// thresholds the rules share with the stack config (ProdStack, DevStack,
// MinLogRetentionDays…) are stackconfig's, which this package imports; a
// second copy here could drift from the one `make validate` applies.
func TestPolicyDeclaresNoConstantOfStackconfigAgain(t *testing.T) {
	theirs := topLevelNames(t, "../stackconfig", token.CONST, true)
	if len(theirs) == 0 {
		t.Fatal("read no constant of infra/stackconfig")
	}
	var again []string
	for name, file := range topLevelNames(t, ".", token.CONST, false) {
		if _, ok := theirs[name]; ok {
			again = append(again, name+" ("+file+")")
		}
	}
	sort.Strings(again)
	if len(again) > 0 {
		t.Errorf("infra/policy declares stackconfig's constants again: %s; use stackconfig's", strings.Join(again, ", "))
	}
}
