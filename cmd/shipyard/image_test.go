package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/internal/release"
)

// An image built from a commit before the RDS CA bundle existed would fail
// at start with this checkout's task definitions (DATABASE_URL names the
// bundle): promote and rollback refuse it, told by git. A clone that cannot
// tell says so: a shallow one refuses, a full one warns.
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

	var warnings strings.Builder
	check := imageSupported(osExec(io.Discard, io.Discard), dir, &warnings)
	ctx := context.Background()
	t.Run("a commit without the bundle is refused, naming the file", func(t *testing.T) {
		err := check(ctx, before)
		if err == nil || !strings.Contains(err.Error(), "app/internal/db/rdsca/global-bundle.pem") || !strings.Contains(err.Error(), before) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a commit with it is supported", func(t *testing.T) {
		warnings.Reset()
		if err := check(ctx, after); err != nil || warnings.Len() != 0 {
			t.Fatalf("err %v, warnings %q", err, warnings.String())
		}
	})
	t.Run("a commit a full clone lacks, or none recorded, cannot be told: allowed, with a warning saying so", func(t *testing.T) {
		for c, want := range map[string]string{
			strings.Repeat("ab", 20): "warning: the image's commit " + strings.Repeat("ab", 20) + " is not in this clone",
			"":                       "warning: the release records no image commit",
		} {
			warnings.Reset()
			if err := check(ctx, c); err != nil {
				t.Errorf("%q: %v", c, err)
			}
			if !strings.HasPrefix(warnings.String(), want) || !strings.Contains(warnings.String(), "cannot be checked; deploying it anyway") {
				t.Errorf("%q: the warning %q does not say %q and that it deploys anyway", c, warnings.String(), want)
			}
		}
	})
	t.Run("a commit a shallow clone lacks is refused, saying how to fetch it", func(t *testing.T) {
		shallow := filepath.Join(t.TempDir(), "shallow")
		git("clone", "--quiet", "--depth=1", "file://"+dir, shallow)
		warnings.Reset()
		err := imageSupported(osExec(io.Discard, io.Discard), shallow, &warnings)(ctx, before)
		if !errors.Is(err, release.ErrImageUnchecked) || errors.Is(err, release.ErrImageUnsupported) {
			t.Fatalf("err = %v, want release.ErrImageUnchecked", err)
		}
		for _, want := range []string{before, "shallow", "git fetch --unshallow", "fetch-depth: 0"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the error does not say %q: %v", want, err)
			}
		}
		if err := imageSupported(osExec(io.Discard, io.Discard), shallow, &warnings)(ctx, after); err != nil {
			t.Errorf("the commit the shallow clone has: %v", err)
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
