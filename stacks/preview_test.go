package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/shipyard-kit/shipyard/infra/docker/dockermock"
	"github.com/shipyard-kit/shipyard/infra/pulumitest"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// The program builds a docker PR stack from the slot and image shipyard
// pr-up hands it, and refuses one without a slot.
func TestProgramBuildsADockerPRStackFromItsSlotAndImage(t *testing.T) {
	dir := configDir(t)
	image := "sha256:" + strings.Repeat("7", 64)
	base := pulumitest.WithOutputs("pulumi:pulumi:StackReference", func(string, resource.PropertyMap) resource.PropertyMap {
		o := resource.PropertyMap{}
		for _, k := range []string{"networkName", "databaseCaVolume", "databasePassword", "redisPassword"} {
			o[resource.PropertyKey(k)] = resource.NewStringProperty("x-" + k)
		}
		o["httpsTlsSeed"] = resource.NewStringProperty("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
		return resource.PropertyMap{"outputs": resource.NewObjectProperty(o)}
	})
	env := map[string]string{stackconfig.PreviewSlotEnv: "3", stackconfig.PreviewImageEnv: image}
	g, err := pulumitest.Run("local-pr-9", program(dir, func(k string) string { return env[k] }), append(dockermock.Options(dockermock.Migration{}), base)...)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(g.Outputs["previewSlot"]) != "3" || g.Outputs["imageDigest"] != image || fmt.Sprint(g.Outputs["pr"]) != "9" {
		t.Errorf("outputs slot %v image %v pr %v", g.Outputs["previewSlot"], g.Outputs["imageDigest"], g.Outputs["pr"])
	}
	if len(g.ByType("docker:index/network:Network")) != 0 {
		t.Error("the PR program built a base stack's network")
	}

	delete(env, stackconfig.PreviewSlotEnv)
	_, err = pulumitest.Run("local-pr-9", program(dir, func(k string) string { return env[k] }), append(dockermock.Options(dockermock.Migration{}), base)...)
	if err == nil || !strings.Contains(err.Error(), stackconfig.PreviewSlotEnv) {
		t.Fatalf("a PR stack without its slot: %v", err)
	}
}
