package stackconfig

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// repoConfig is the repository's config directory.
const repoConfig = "../../config"

func repoSchema(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoConfig, SchemaFile))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// awsBase is a minimal valid aws stack; dockerBase a minimal docker one.
const (
	awsBase    = `{"target": "aws", "aws": {"region": "eu-west-1"}, "loadBalancer": {"certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc"}}`
	dockerBase = `{"target": "docker"}`
)

// patched deep-merges the JSON object patch into base; a null in patch
// deletes the key.
func patched(t testing.TB, base, patch string) []byte {
	t.Helper()
	var b, p map[string]any
	if err := json.Unmarshal([]byte(base), &b); err != nil {
		t.Fatalf("base: %v", err)
	}
	if patch != "" {
		if err := json.Unmarshal([]byte(patch), &p); err != nil {
			t.Fatalf("patch %s: %v", patch, err)
		}
	}
	out := deepMerge(b, p)
	if out == nil {
		t.Fatal("marshalling the merged JSON failed")
	}
	return out
}

// deepMerge merges patch into base (a nil value deletes the key) and
// returns the indented JSON, or nil.
func deepMerge(base, patch map[string]any) []byte {
	var merge func(dst, src map[string]any)
	merge = func(dst, src map[string]any) {
		for k, v := range src {
			if v == nil {
				delete(dst, k)
				continue
			}
			sm, sok := v.(map[string]any)
			dm, dok := dst[k].(map[string]any)
			if sok && dok {
				merge(dm, sm)
				continue
			}
			dst[k] = v
		}
	}
	merge(base, patch)
	out, err := json.MarshalIndent(base, "", "  ")
	if err != nil {
		return nil
	}
	return out
}

// problemsOf returns the problems of a *ValidationError in err, failing
// the test when err is another error.
func problemsOf(t testing.TB, err error) []Problem {
	t.Helper()
	if err == nil {
		return nil
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error is not a *ValidationError: %v", err)
	}
	return ve.Problems
}

// want is an expected problem: its exact path and a substring of its
// message.
type want struct{ path, msg string }

// checkProblems fails unless got holds exactly the wanted problems (one per
// want, matched by path and message substring).
func checkProblems(t testing.TB, got []Problem, wants ...want) {
	t.Helper()
	used := make([]bool, len(got))
	for _, w := range wants {
		found := false
		for i, p := range got {
			if !used[i] && p.Path == w.path && strings.Contains(p.Message, w.msg) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("missing problem %s: …%s…", w.path, w.msg)
		}
	}
	for i, p := range got {
		if !used[i] {
			t.Errorf("unexpected problem %s", p)
		}
	}
}

// writeDir makes a config directory holding the repository's schema and
// the given stack files (name without .json → content).
func writeDir(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, SchemaFile), repoSchema(t), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name+".json"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
