package docker_test

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	dockerinfra "github.com/shipyard-kit/shipyard/infra/docker"
	"github.com/shipyard-kit/shipyard/infra/pulumitest"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

const candidateID = "sha256:c0ffee0000000000000000000000000000000000000000000000000000000001"

func runWithCandidate(t *testing.T, cfg *stackconfig.Config, candidate string) *pulumitest.Graph {
	t.Helper()
	g, err := pulumitest.Run(cfg.Stack, func(ctx *pulumi.Context) (pulumi.Map, error) {
		return dockerinfra.NewStackWithCandidate(ctx, cfg, candidate)
	}, providerOutputs(0, "")...)
	if err != nil {
		t.Fatalf("running the docker program: %v", err)
	}
	return g
}

func containerNames(g *pulumitest.Graph) map[string]pulumitest.Resource {
	out := map[string]pulumitest.Resource{}
	for _, r := range g.ByType(containerType) {
		out[r.String("name")] = r
	}
	return out
}

func TestAReleaseCandidateRunsBesideTheRunningGenerationUnderTheCanaryAliasOnly(t *testing.T) {
	cfg := loadLocal(t)
	n := dockerinfra.NamesFor(cfg.Stack)
	before := containerNames(runWithCandidate(t, cfg, ""))
	g := runWithCandidate(t, cfg, candidateID)
	during := containerNames(g)
	for name := range before {
		if _, ok := during[name]; !ok {
			t.Errorf("the candidate removes %s", name)
		}
	}
	var canaries, migrations []pulumitest.Resource
	for name, r := range during {
		if _, ok := before[name]; ok {
			continue
		}
		switch {
		case strings.HasPrefix(name, n.Container("canary-web-")):
			canaries = append(canaries, r)
		case strings.HasPrefix(name, n.Container("migrate-")):
			migrations = append(migrations, r)
		default:
			t.Errorf("the candidate adds %s, which is neither a canary web container nor its migration", name)
		}
	}
	if len(canaries) != cfg.Local.WebReplicas || len(migrations) != 1 {
		t.Fatalf("candidate containers: %d canaries, %d migrations; want %d and 1", len(canaries), len(migrations), cfg.Local.WebReplicas)
	}
	for _, r := range append(canaries, migrations...) {
		if r.String("image") != candidateID {
			t.Errorf("%s runs %s, want the candidate %s", r.String("name"), r.String("image"), candidateID)
		}
	}
	for _, r := range canaries {
		if got := r.String("networksAdvanced.0.aliases.0"); got != dockerinfra.CanaryAlias {
			t.Errorf("%s has alias %q, want only %q (nginx gives it the step's share)", r.String("name"), got, dockerinfra.CanaryAlias)
		}
		if _, ok := r.Input("networksAdvanced.0.aliases.1"); ok {
			t.Errorf("%s has a second alias", r.String("name"))
		}
		if !dependsOn(r, migrations[0]) {
			t.Errorf("%s does not wait for the candidate's migration", r.String("name"))
		}
	}
	if got := g.Outputs["candidateGeneration"]; got == "" || got == g.Outputs["generation"] {
		t.Errorf("candidateGeneration %v, generation %v", got, g.Outputs["generation"])
	}
}

func TestAPromotedReleaseKeepsItsMigrationAndRunsEveryProcessOnTheNewImage(t *testing.T) {
	cfg := loadLocal(t)
	n := dockerinfra.NamesFor(cfg.Stack)
	c := *cfg
	c.Release.ImageDigest = candidateID
	during := containerNames(runWithCandidate(t, cfg, candidateID))
	promoted := runWithCandidate(t, &c, candidateID)
	after := containerNames(promoted)
	for name, r := range after {
		if p, ok := label(r, dockerinfra.ProcessLabel); ok && r.String("image") != candidateID {
			t.Errorf("after promotion the %s container %s runs %s, want %s", p, name, r.String("image"), candidateID)
		}
	}
	for name := range during {
		if strings.HasPrefix(name, n.Container("migrate-")) && during[name].String("image") == candidateID && after[name].URN != during[name].URN {
			t.Errorf("promotion replaces the candidate's migration %s (it would run again)", name)
		}
	}
	if promoted.Outputs["image"] != candidateID || promoted.Outputs["imageDigest"] != candidateID {
		t.Errorf("outputs image %v imageDigest %v, want the released image %s", promoted.Outputs["image"], promoted.Outputs["imageDigest"], candidateID)
	}
}

func TestTheTrafficSplitNamesBothGenerationsByWeight(t *testing.T) {
	for _, tt := range []struct {
		percent int
		want    string
	}{
		{0, `{ * web; }`},
		{25, `{ 25% web-canary; * web; }`},
		{100, `{ * web-canary; }`},
	} {
		got, err := dockerinfra.SplitConf(tt.percent, "canary-0a1b2c3d")
		if err != nil || !strings.Contains(got, `split_clients "${request_id}" $web_pool `+tt.want) ||
			!strings.Contains(got, `map $web_pool $web_generation { web-canary canary-0a1b2c3d; default web; }`) {
			t.Errorf("SplitConf(%d) = %q, %v; want the block %s and the canary's label", tt.percent, got, err, tt.want)
		}
	}
	if got, _ := dockerinfra.SplitConf(0, ""); !strings.Contains(got, `map $web_pool $web_generation { default web; }`) {
		t.Errorf("the split between releases labels %q", got)
	}
	if _, err := dockerinfra.SplitConf(101, "canary-x"); err == nil || !strings.Contains(err.Error(), "allowed 0 to 100") {
		t.Errorf("SplitConf(101) error %v", err)
	}
	if _, err := dockerinfra.SplitConf(25, `x"; }`); err == nil {
		t.Error("a label that would break nginx's config was accepted")
	}
}

func dependsOn(r, on pulumitest.Resource) bool {
	for _, d := range r.Dependencies {
		if d == on.URN {
			return true
		}
	}
	return false
}
