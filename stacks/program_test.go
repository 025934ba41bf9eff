package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/infra/aws/awsmock"
	"github.com/shipyard-kit/shipyard/infra/docker/dockermock"
	"github.com/shipyard-kit/shipyard/infra/pulumitest"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
	"github.com/shipyard-kit/shipyard/internal/release"
)

// mocksFor returns the mocks a stack's target needs.
func mocksFor(cfg *stackconfig.Config) []pulumitest.Option {
	if cfg.Target == stackconfig.TargetAWS {
		return append(awsmock.Options(), awsmock.SecretConfig(cfg)...)
	}
	return dockermock.Options(dockermock.Migration{})
}

// The outputs every stack exports, and the ones each target adds: what
// the Makefile, cmd/shipyard and the tests read.
var (
	commonOutputs = []string{"stack", "target", "url", "databaseEndpoint", "redisEndpoint"}
	targetOutputs = map[stackconfig.Target][]string{
		stackconfig.TargetAWS: {"clusterName", "logGroupNames",
			"imageRepositoryUrl", "albDnsName", "privateSubnetIds", "appSecurityGroupId", "region"},
		stackconfig.TargetDocker: {"image", "imageDigest", "networkName", "webContainers", "containers"},
	}
	// releasedOutputs are the outputs an aws stack adds once it runs a
	// release: what promote and rollback verify.
	releasedOutputs = []string{"image", "imageDigest", "serviceNames", "taskDefinitionArns"}
	// foreignPrefix is the type prefix a target's graph must not contain.
	foreignPrefix = map[stackconfig.Target]string{stackconfig.TargetAWS: "docker:", stackconfig.TargetDocker: "aws:"}
	// landmark is a resource type each target's graph must contain.
	landmark = map[stackconfig.Target]string{stackconfig.TargetAWS: "aws:ecs/cluster:Cluster", stackconfig.TargetDocker: "docker:index/container:Container"}
)

func configDir(t *testing.T) string {
	t.Helper()
	dir, err := stackconfig.FindDir(func(string) string { return "" }, ".")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestProgramBuildsEveryStackOfItsTarget(t *testing.T) {
	dir := configDir(t)
	stacks, err := stackconfig.Stacks(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(stacks) == 0 {
		t.Fatal("no stacks in config/")
	}
	for _, stack := range stacks {
		t.Run(stack, func(t *testing.T) {
			cfg, err := stackconfig.Load(dir, stack)
			if err != nil {
				t.Fatalf("config/%s.json: %v", stack, err)
			}
			g, err := pulumitest.Run(stack, program(dir, noEnv), mocksFor(cfg)...)
			if err != nil {
				t.Fatalf("program for stack %s (target %s): %v", stack, cfg.Target, err)
			}
			if len(g.ByType(landmark[cfg.Target])) == 0 {
				t.Errorf("target %s: no %s in the graph; types: %v", cfg.Target, landmark[cfg.Target], g.Types())
			}
			for _, typ := range g.Types() {
				if strings.HasPrefix(typ, foreignPrefix[cfg.Target]) {
					t.Errorf("target %s built a %s resource", cfg.Target, typ)
				}
			}
			var missing []string
			for _, k := range append(append([]string{}, commonOutputs...), targetOutputs[cfg.Target]...) {
				if v, ok := g.Outputs[k]; !ok || fmt.Sprint(v) == "" {
					missing = append(missing, k)
				}
			}
			sort.Strings(missing)
			if len(missing) > 0 {
				t.Errorf("missing or empty outputs: %v (has %v)", missing, keys(g.Outputs))
			}
			if g.Outputs["stack"] != stack || g.Outputs["target"] != string(cfg.Target) {
				t.Errorf("outputs stack=%v target=%v, want %s %s", g.Outputs["stack"], g.Outputs["target"], stack, cfg.Target)
			}
		})
	}
}

// A released aws stack exports the digest its config names: promote and
// rollback compare it with what they deployed.
func TestProgramExportsTheReleasedDigest(t *testing.T) {
	src := configDir(t)
	stacks, err := stackconfig.Stacks(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range append(stacks, "schema") {
		data, err := os.ReadFile(filepath.Join(src, f+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f+".json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	digest := "sha256:" + strings.Repeat("d", 64)
	tested := 0
	for _, stack := range stacks {
		cfg, err := stackconfig.Load(dir, stack)
		if err != nil || cfg.Target != stackconfig.TargetAWS {
			continue
		}
		tested++
		t.Run(stack, func(t *testing.T) {
			path := filepath.Join(dir, stack+".json")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			data, err = release.SetImageDigest(data, digest)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := stackconfig.Load(dir, stack)
			if err != nil {
				t.Fatal(err)
			}
			g, err := pulumitest.Run(stack, program(dir, noEnv), mocksFor(cfg)...)
			if err != nil {
				t.Fatal(err)
			}
			if len(g.ByType("aws:ecs/service:Service")) != len(stackconfig.Processes) {
				t.Errorf("%d ECS services, want one per process type (%v)", len(g.ByType("aws:ecs/service:Service")), stackconfig.Processes)
			}
			var missing []string
			for _, k := range releasedOutputs {
				if v, ok := g.Outputs[k]; !ok || fmt.Sprint(v) == "" {
					missing = append(missing, k)
				}
			}
			if len(missing) > 0 {
				t.Errorf("a released stack lacks outputs %v (has %v)", missing, keys(g.Outputs))
			}
			out := release.Outputs(g.Outputs)
			names, taskDefs := out.Map("serviceNames"), out.Map("taskDefinitionArns")
			for _, p := range stackconfig.Processes {
				if names[string(p)] == "" {
					t.Errorf("serviceNames[%s] is missing: promote verifies every service", p)
				}
				if taskDefs[string(p)] == "" {
					t.Errorf("taskDefinitionArns[%s] is missing: promote compares it with the PRIMARY deployment", p)
				}
			}
			if g.Outputs["imageDigest"] != digest {
				t.Errorf("imageDigest output = %v, want %s", g.Outputs["imageDigest"], digest)
			}
			if img, _ := g.Outputs["image"].(string); !strings.HasSuffix(img, "@"+digest) {
				t.Errorf("image output = %q, want it pinned by digest @%s", img, digest)
			}
		})
	}
	if tested == 0 {
		t.Fatal("no aws stack in config/")
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// noEnv is the environment of a plain `make up`: no release in progress,
// no PR slot or image.
func noEnv(string) string { return "" }
