package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/shipyard-kit/shipyard/infra/aws/awsmock"
	"github.com/shipyard-kit/shipyard/infra/pulumitest"
)

var configDir = filepath.Join("..", "config")

func env(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }

// runProgram runs the bootstrap program of eu-west-1 for the
// repository's config, repository acme/shop, under the SDK's mocks.
func runProgram(t *testing.T) *pulumitest.Graph {
	t.Helper()
	opts := append(awsmock.Options(), pulumitest.WithOutputs("aws:iam/openIdConnectProvider:OpenIdConnectProvider",
		func(string, resource.PropertyMap) resource.PropertyMap {
			return resource.PropertyMap{"arn": resource.NewStringProperty("arn:aws:iam::" + awsmock.AccountID + ":oidc-provider/token.actions.githubusercontent.com")}
		}))
	g, err := pulumitest.Run("eu-west-1", program(configDir, env(map[string]string{RepositoryEnv: "acme/shop"})), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestTheRegionsBootstrapGivesEveryAWSStackOfTheRegionADeployRole(t *testing.T) {
	g := runProgram(t)
	var roles []string
	for _, r := range g.ByType("aws:iam/role:Role") {
		roles = append(roles, r.String("name"))
	}
	slices.Sort(roles)
	if want := []string{"shipyard-deploy-dev", "shipyard-deploy-prod", "shipyard-deploy-staging", "shipyard-preview", "shipyard-preview-main"}; !slices.Equal(roles, want) {
		t.Errorf("roles %v, want %v", roles, want)
	}
	// config/prod.json sets ci.pullRequestPreviews false: prod's preview
	// role is the one only main may assume.
	previews := fmt.Sprint(g.Outputs["previewRoleArns"])
	wantPreviews := "map[dev:arn:aws:iam::" + awsmock.AccountID + ":role/shipyard-preview prod:arn:aws:iam::" + awsmock.AccountID + ":role/shipyard-preview-main staging:arn:aws:iam::" + awsmock.AccountID + ":role/shipyard-preview]"
	if previews != wantPreviews {
		t.Errorf("previewRoleArns output %s, want %s", previews, wantPreviews)
	}
	want := "map[dev:arn:aws:iam::" + awsmock.AccountID + ":role/shipyard-deploy-dev prod:arn:aws:iam::" + awsmock.AccountID + ":role/shipyard-deploy-prod staging:arn:aws:iam::" + awsmock.AccountID + ":role/shipyard-deploy-staging]"
	if got := fmt.Sprint(g.Outputs["deployRoleArns"]); got != want {
		t.Errorf("deployRoleArns output %v", g.Outputs["deployRoleArns"])
	}
}

func TestTheProgramRefusesWhatItCannotBootstrap(t *testing.T) {
	tests := []struct {
		name, stack string
		vars        map[string]string
		want        string
	}{
		{"a region no stack uses", "us-east-1", map[string]string{RepositoryEnv: "acme/shop"}, `no aws stack of ` + configDir + ` is in region "us-east-1"`},
		{"no repository", "eu-west-1", nil, RepositoryEnv + " is not set: run `make bootstrap"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pulumitest.Run(tc.stack, program(configDir, env(tc.vars)), awsmock.Options()...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
