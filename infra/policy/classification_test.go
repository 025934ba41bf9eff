package policy_test

import (
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shipyard-kit/shipyard/infra/aws/awsmock"
	"github.com/shipyard-kit/shipyard/infra/bootstrap"
	"github.com/shipyard-kit/shipyard/infra/policy"
	"github.com/shipyard-kit/shipyard/infra/pulumitest"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// recording is one graph an AWS program builds.
type recording struct {
	name  string
	graph *pulumitest.Graph
}

var (
	recordOnce sync.Once
	recorded   []recording
	recordErr  error
)

// awsRecordings runs, under mocks, every program that creates AWS
// resources, from the configs in config/ (as the stacks and bootstrap
// programs do): each aws stack before and after its first release
// (awsinfra.NewStack), a PR environment of each aws stack whose previews
// are enabled on its base's released graph (NewPreviewStack), and the
// bootstrap of each region an aws stack is in (infra/bootstrap).
func awsRecordings(t *testing.T) []recording {
	t.Helper()
	recordOnce.Do(func() { recorded, recordErr = recordAWSPrograms() })
	if recordErr != nil {
		t.Fatal(recordErr)
	}
	return recorded
}

func recordAWSPrograms() ([]recording, error) {
	dir, err := stackconfig.FindDir(os.Getenv, ".")
	if err != nil {
		return nil, err
	}
	stacks, err := stackconfig.Stacks(dir)
	if err != nil {
		return nil, err
	}
	var out []recording
	regions := map[string][]string{}
	for _, stack := range stacks {
		cfg, err := stackconfig.Load(dir, stack)
		if err != nil {
			return nil, err
		}
		if cfg.Target != stackconfig.TargetAWS {
			continue
		}
		regions[cfg.AWS.Region] = append(regions[cfg.AWS.Region], stack)
		unreleased, err := awsmock.RunConfig(cfg)
		if err != nil {
			return nil, err
		}
		released, err := awsmock.RunConfig(awsmock.Released(cfg))
		if err != nil {
			return nil, err
		}
		out = append(out, recording{stack + " before its first release", unreleased}, recording{stack, released})
		if !cfg.Previews.Enabled {
			continue
		}
		pr, err := stackconfig.Load(dir, stackconfig.PreviewStackName(stack, 1))
		if err != nil {
			return nil, err
		}
		if err := pr.SetPreviewSlot("1"); err != nil {
			return nil, err
		}
		if err := pr.SetPreviewImage(awsmock.Digest); err != nil {
			return nil, err
		}
		g, err := awsmock.RunPreview(pr, released)
		if err != nil {
			return nil, err
		}
		out = append(out, recording{pr.Stack, g})
	}
	oidc := pulumitest.WithOutputs("aws:iam/openIdConnectProvider:OpenIdConnectProvider", func(string, resource.PropertyMap) resource.PropertyMap {
		return resource.PropertyMap{"arn": resource.NewStringProperty("arn:aws:iam::" + awsmock.AccountID + ":oidc-provider/token.actions.githubusercontent.com")}
	})
	for region, stacks := range regions {
		// No existing OIDC provider: the bootstrap creates one.
		g, err := pulumitest.Run(region, func(ctx *pulumi.Context) (pulumi.Map, error) {
			b, err := bootstrap.New(ctx, "shipyard", bootstrap.Args{Region: region, Repository: "acme/shop", Stacks: stacks})
			if err != nil {
				return nil, err
			}
			return b.Outputs(), nil
		}, append(awsmock.Options(), oidc)...)
		if err != nil {
			return nil, err
		}
		out = append(out, recording{"the bootstrap of " + region, g})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// createdBy maps each type the AWS programs create to the recordings that
// create it.
func createdBy(t *testing.T) map[string][]string {
	t.Helper()
	recs := awsRecordings(t)
	if !slices.ContainsFunc(recs, func(r recording) bool { return r.graph.Stack == stackconfig.ProdStack }) ||
		!slices.ContainsFunc(recs, func(r recording) bool { return policy.IsPreviewStack(r.graph.Stack) }) ||
		!slices.ContainsFunc(recs, func(r recording) bool { return strings.HasPrefix(r.name, "the bootstrap") }) {
		names := make([]string, len(recs))
		for i, r := range recs {
			names[i] = r.name
		}
		t.Fatalf("recorded %v: want prod, a PR environment and a bootstrap among them", names)
	}
	out := map[string][]string{}
	for _, r := range recs {
		for _, typ := range r.graph.Types() {
			out[typ] = append(out[typ], r.name)
		}
	}
	return out
}

func TestEveryResourceTypeAnAWSProgramCreatesIsClassified(t *testing.T) {
	created := createdBy(t)
	for _, typ := range sortedKeys(created) {
		if _, ok := policy.Classify(typ); !ok {
			t.Errorf("%s (created by %s) is not classified: add it to Classification in infra/policy/stateful.go, Stateful: true with what a deletion or replacement loses, or false with why nothing is",
				typ, strings.Join(created[typ], ", "))
		}
	}
}

// An entry no program creates is dead weight, unless the stacks' states
// may still hold the type: a plan then deletes those resources, and the
// guard must still know the type. Such an entry says so (Kept); one that
// says so while a program creates the type is stale.
func TestEveryClassifiedTypeIsCreatedOrKeptForAReason(t *testing.T) {
	created := createdBy(t)
	for _, s := range policy.Classification {
		switch by, ok := created[s.Type]; {
		case !ok && s.Kept == "":
			t.Errorf("%s is classified, but no aws program creates it: remove its entry from Classification (infra/policy/stateful.go), or, when stacks' states may still hold one, keep it stateful with Kept saying why", s.Type)
		case !ok && !s.Stateful:
			t.Errorf("%s is Kept but not stateful: the guard ignores it either way; remove its entry from Classification", s.Type)
		case ok && s.Kept != "":
			t.Errorf("%s is Kept (%q), but is created by %s: drop Kept", s.Type, s.Kept, strings.Join(by, ", "))
		}
	}
}

var typeToken = regexp.MustCompile(`^[a-z][a-z0-9-]*:[a-z][A-Za-z0-9]*(/[a-z][A-Za-z0-9]*)?:[A-Z][A-Za-z0-9]*$`)

func TestEveryClassificationSaysWhy(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range policy.Classification {
		if !typeToken.MatchString(s.Type) {
			t.Errorf("%q: not a type token (package:module/name:Name)", s.Type)
		}
		if seen[s.Type] {
			t.Errorf("%s is classified twice", s.Type)
		}
		seen[s.Type] = true
		if strings.TrimSpace(s.Why) == "" {
			t.Errorf("%s: Why is empty: say what a deletion or replacement loses (stateful) or why nothing is", s.Type)
		}
		if len(s.RenewedBy) > 0 && !s.Stateful {
			t.Errorf("%s: RenewedBy %v on a type that is not stateful: the guard never refuses its replacement anyway", s.Type, s.RenewedBy)
		}
		for _, p := range policy.WholePrefixes {
			if strings.HasPrefix(s.Type, p.Prefix) {
				t.Errorf("%s has an entry, but every %s type is classified as a whole (WholePrefixes: %s)", s.Type, p.Prefix, p.Why)
			}
		}
	}
}

func sortedKeys(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
