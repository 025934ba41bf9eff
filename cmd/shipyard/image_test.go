package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// An image built from a commit before the RDS CA bundle existed would fail
// at start with this checkout's task definitions (DATABASE_URL names the
// bundle): promote and rollback refuse it, told by git.
func TestImageSupportedNeedsTheFilesTheTaskDefinitionsName(t *testing.T) {
	dir := t.TempDir()
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	write := func(path string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, path)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, path), []byte(path+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("init", "--quiet")
	write("app/main.go")
	git("add", ".")
	git("commit", "--quiet", "-m", "before the bundle")
	before := git("rev-parse", "HEAD")
	for _, f := range imageFiles {
		write(f)
	}
	git("add", ".")
	git("commit", "--quiet", "-m", "the bundle")
	after := git("rev-parse", "HEAD")

	check := imageSupported(osExec(io.Discard, io.Discard), dir)
	ctx := context.Background()
	t.Run("a commit without the bundle is refused, naming the file", func(t *testing.T) {
		err := check(ctx, before)
		if err == nil || !strings.Contains(err.Error(), "app/internal/db/rdsca/global-bundle.pem") || !strings.Contains(err.Error(), before) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a commit with it is supported", func(t *testing.T) {
		if err := check(ctx, after); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a commit this clone lacks, or none recorded, cannot be told and is allowed", func(t *testing.T) {
		for _, c := range []string{strings.Repeat("ab", 20), ""} {
			if err := check(ctx, c); err != nil {
				t.Errorf("%q: %v", c, err)
			}
		}
	})
	t.Run("the repository itself has every file", func(t *testing.T) {
		for _, f := range imageFiles {
			if _, err := os.Stat(filepath.Join("..", "..", f)); err != nil {
				t.Error(err)
			}
		}
	})
}
