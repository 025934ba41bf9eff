package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// claimDir holds the suite's claims on its docker objects: tests/cleanup.sh
// (run by `make test` after the tests) removes the leftovers of an e2e
// stack only when no live run holds the claim of its label, so two `make
// test` runs at once, from two clones, never remove each other's stack.
// Keep it equal to cleanup.sh's.
func claimDir() string { return filepath.Join(os.TempDir(), "shipyard-e2e-claims") }

// claim holds a shared lock on claimDir()/<key>.lock for the rest of the
// test (the kernel drops it when the process ends, however it ends, so a
// killed run's leftovers are no one's). key is the dev.shipyard.stack label
// of the objects the test creates: the stack's name (its PR environments'
// labels, <name>-pr-<n>, are claimed with it). Shared, so runs that use the
// same label (the health test's) can hold it at once; cleanup.sh tries an
// exclusive lock, which any holder refuses.
func claim(t *testing.T, key string) {
	t.Helper()
	if err := os.MkdirAll(claimDir(), 0o777); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(claimDir(), key+".lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
		f.Close()
		t.Fatalf("claiming %s: %v", key, err)
	}
	// Registered before the objects' own cleanups, so it runs after them:
	// the claim lasts until the objects are gone.
	t.Cleanup(func() { f.Close() })
}

// tests/cleanup.sh removes an e2e stack's leftovers, but not while a live
// run claims the stack: neither its objects nor its PR environments'.
// Volumes stand in for every kind of object (the script treats containers,
// networks and volumes alike, by their label).
func TestCleanupLeavesWhatALiveRunClaims(t *testing.T) {
	script := filepath.Join(repositoryRoot(t), "tests", "cleanup.sh")
	live, dead := "e2ecleanup"+randomSuffix(t), "e2ecleanup"+randomSuffix(t)
	claim(t, live)
	volumes := map[string]string{} // label -> volume name
	for _, label := range []string{live, live + "-pr-3", dead, dead + "-pr-3"} {
		name := strings.TrimSpace(dockerOut(t, "volume", "create", "--label", "dev.shipyard.stack="+label))
		volumes[label] = name
		t.Cleanup(func() { _, _ = exec.Command("docker", "volume", "rm", "--force", name).CombinedOutput() })
	}
	if out, err := exec.Command("bash", script).CombinedOutput(); err != nil {
		t.Fatalf("tests/cleanup.sh: %v\n%s", err, out)
	}
	left := dockerOut(t, "volume", "ls", "--quiet")
	for label, name := range volumes {
		kept := strings.Contains(left, name)
		if want := strings.HasPrefix(label, live); kept != want {
			t.Errorf("volume labelled %s: kept %v, want %v", label, kept, want)
		}
	}
}
