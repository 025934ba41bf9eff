package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTheBenchScriptMeasuresTheImageMakeImageBuilds: bench/run.sh's image
// size line is about the image `preflight image STACK` names (what `make
// image` tags), not a fixed name: with a stack whose release.imageRepository
// is bench-probe/app it inspects bench-probe/app:local, and names it when
// there is none.
func TestTheBenchScriptMeasuresTheImageMakeImageBuilds(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{
		"schema.json": "{}",
		"probe.json":  `{"target": "docker", "release": {"imageRepository": "bench-probe/app"}}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A docker that logs its arguments and has only the images in $HAVE,
	// each 32.2 MB.
	log := filepath.Join(dir, "docker.log")
	docker := filepath.Join(dir, "docker")
	fake := `#!/bin/sh
echo "$*" >> ` + log + `
[ "$1 $2" = "image inspect" ] || exit 3
case " $HAVE " in *" $3 "*) ;; *) echo "No such image: $3" >&2; exit 1;; esac
[ "$4" = --format ] && echo 32200000
exit 0
`
	if err := os.WriteFile(docker, []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	script, _ := filepath.Abs(filepath.Join("..", "..", "bench", "run.sh"))
	for _, tc := range []struct {
		have, want string
	}{
		{"bench-probe/app:local", "== image size (make image STACK=probe first)\nbench-probe/app:local 32.2 MB\n"},
		{"shipyard-app:local", "== image size: no bench-probe/app:local image; run make image STACK=probe\n"},
	} {
		_ = os.Remove(log)
		cmd := exec.Command("bash", script, "image-size")
		cmd.Env = append(os.Environ(), "STACK=probe", "SHIPYARD_CONFIG_DIR="+dir, "DOCKER="+docker, "HAVE="+tc.have)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("bench/run.sh image-size with %s: %v\n%s", tc.have, err, out)
		}
		if string(out) != tc.want {
			t.Errorf("bench/run.sh image-size with %s:\n%s\nwant\n%s", tc.have, out, tc.want)
		}
		calls, _ := os.ReadFile(log)
		for _, l := range strings.Split(strings.TrimSpace(string(calls)), "\n") {
			if !strings.HasPrefix(l, "image inspect bench-probe/app:local") {
				t.Errorf("docker %s: want only inspections of bench-probe/app:local", l)
			}
		}
	}
	if out, err := exec.Command("bash", script, "bogus").CombinedOutput(); err == nil || !strings.Contains(string(out), "usage: bench/run.sh [image-size]") {
		t.Errorf("bench/run.sh bogus: %v\n%s", err, out)
	}
}
