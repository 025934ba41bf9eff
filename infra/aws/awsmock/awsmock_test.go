package awsmock_test

import (
	"testing"

	"github.com/shipyard-kit/shipyard/infra/aws/awsmock"
)

func TestEveryAWSStackBuildsUnderMocks(t *testing.T) {
	for _, stack := range []string{"dev", "staging", "prod"} {
		t.Run(stack, func(t *testing.T) {
			cfg, err := awsmock.LoadConfig(stack)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name     string
				released bool
			}{{"before the first release", false}, {"released", true}} {
				t.Run(c.name, func(t *testing.T) {
					run := cfg
					if c.released {
						run = awsmock.Released(cfg)
					}
					g, err := awsmock.RunConfig(run)
					if err != nil {
						t.Fatal(err)
					}
					if len(g.Resources) == 0 {
						t.Fatal("no resources registered")
					}
					t.Logf("%d resources, outputs %v", len(g.Resources), g.Outputs)
				})
			}
		})
	}
}
