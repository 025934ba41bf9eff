package main

import (
	"strings"
	"testing"

	awsinfra "github.com/shipyard-kit/shipyard/infra/aws"
	"github.com/shipyard-kit/shipyard/infra/aws/awsmock"
	"github.com/shipyard-kit/shipyard/infra/pulumitest"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// The program builds an aws PR stack on the outputs its base's own program
// exports, from the slot and image digest shipyard pr-up hands it.
func TestProgramBuildsAnAWSPRStackOnWhatItsBaseExports(t *testing.T) {
	dir := configDir(t)
	devCfg, err := stackconfig.Load(dir, "dev")
	if err != nil {
		t.Fatal(err)
	}
	dev, err := pulumitest.Run("dev", program(dir, noEnv), mocksFor(devCfg)...)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{stackconfig.PreviewSlotEnv: "2", stackconfig.PreviewImageEnv: awsmock.Digest}
	mocks := append(awsmock.Options(), awsmock.BaseStack(dev.Outputs))
	g, err := pulumitest.Run("dev-pr-7", program(dir, func(k string) string { return env[k] }), mocks...)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"stack": "dev-pr-7", "previewSlot": 2, "pr": 7, "url": "https://pr-7." + devCfg.LoadBalancer.Domain,
		"image": dev.Outputs[awsinfra.OutputImageRepositoryURL].(string) + "@" + awsmock.Digest,
	} {
		if g.Outputs[k] != want {
			t.Errorf("%s = %v, want %v", k, g.Outputs[k], want)
		}
	}
	if n := len(g.ByType("aws:ecs/cluster:Cluster")); n != 0 {
		t.Errorf("the PR program built %d clusters", n)
	}
	delete(env, stackconfig.PreviewSlotEnv)
	if _, err := pulumitest.Run("dev-pr-7", program(dir, func(k string) string { return env[k] }), mocks...); err == nil || !strings.Contains(err.Error(), stackconfig.PreviewSlotEnv) {
		t.Errorf("without a slot: %v", err)
	}
}
