package aws

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecr"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// RegistryArgs configures the stack's image repository.
type RegistryArgs struct {
	// RepositoryName is stackconfig's RepositoryName(): "shipyard-<stack>".
	RepositoryName string
	// Keep is how many images the lifecycle policy retains.
	Keep int
	// PreviewKeep, when > 0, is how many PR environments' images (tags
	// PreviewImageTagPrefix…) the lifecycle policy retains, apart: they
	// never push the stack's releases out of Keep.
	PreviewKeep int
	Protect     bool
}

// PreviewImageTagPrefix starts the tag of every image `shipyard pr-up`
// pushes to its base stack's repository ("pr-<n>-<image id>").
const PreviewImageTagPrefix = "pr-"

// PreviewImageRetainCount is how many PR images a repository keeps: two
// per PR environment a stack can have.
const PreviewImageRetainCount = 2 * stackconfig.MaxPreviewSlots

// Registry is the ECR repository `make release` pushes the app image to.
type Registry struct {
	pulumi.ResourceState

	RepositoryUrl  pulumi.StringOutput
	RepositoryName pulumi.StringOutput
	RepositoryArn  pulumi.StringOutput
}

// lifecyclePolicy is ECR's lifecycle policy document.
type lifecyclePolicy struct {
	Rules []lifecycleRule `json:"rules"`
}

type lifecycleRule struct {
	RulePriority int                `json:"rulePriority"`
	Description  string             `json:"description"`
	Selection    lifecycleSelection `json:"selection"`
	Action       lifecycleAction    `json:"action"`
}

type lifecycleSelection struct {
	TagStatus     string   `json:"tagStatus"`
	TagPrefixList []string `json:"tagPrefixList,omitempty"`
	CountType     string   `json:"countType"`
	CountNumber   int      `json:"countNumber"`
}

type lifecycleAction struct {
	Type string `json:"type"`
}

// NewRegistry creates the repository: immutable tags (ECR.2), scan on
// push (ECR.1), KMS encryption and a lifecycle policy (ECR.3).
func NewRegistry(ctx *pulumi.Context, name string, args RegistryArgs, opts ...pulumi.ResourceOption) (*Registry, error) {
	comp := &Registry{}
	if err := ctx.RegisterComponentResource(typePrefix+"Registry", name, comp, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(comp)
	repo, err := ecr.NewRepository(ctx, name+"-repo", &ecr.RepositoryArgs{
		Name:               pulumi.String(args.RepositoryName),
		ImageTagMutability: pulumi.String("IMMUTABLE"),
		ImageScanningConfiguration: ecr.RepositoryImageScanningConfigurationArgs{
			ScanOnPush: pulumi.Bool(true),
		},
		EncryptionConfigurations: ecr.RepositoryEncryptionConfigurationArray{
			ecr.RepositoryEncryptionConfigurationArgs{EncryptionType: pulumi.String("KMS")},
		},
		// Non-prod repositories may be destroyed with their images.
		ForceDelete: pulumi.Bool(!args.Protect),
	}, withOpts(protect(args.Protect), parent)...)
	if err != nil {
		return nil, fmt.Errorf("ecr repository: %w", err)
	}
	var rules []lifecycleRule
	if args.PreviewKeep > 0 {
		// A rule's images are never expired by a later one: the
		// catch-all rule (which must come last) keeps Keep releases.
		rules = append(rules, lifecycleRule{
			Description: fmt.Sprintf("keep the last %d PR environments' images", args.PreviewKeep),
			Selection: lifecycleSelection{TagStatus: "tagged", TagPrefixList: []string{PreviewImageTagPrefix},
				CountType: "imageCountMoreThan", CountNumber: args.PreviewKeep},
			Action: lifecycleAction{Type: "expire"},
		})
	}
	rules = append(rules, lifecycleRule{
		Description: fmt.Sprintf("keep the last %d images", args.Keep),
		Selection:   lifecycleSelection{TagStatus: "any", CountType: "imageCountMoreThan", CountNumber: args.Keep},
		Action:      lifecycleAction{Type: "expire"},
	})
	for i := range rules {
		rules[i].RulePriority = i + 1
	}
	policy, err := json.Marshal(lifecyclePolicy{Rules: rules})
	if err != nil {
		return nil, fmt.Errorf("ecr lifecycle policy: %w", err)
	}
	if _, err := ecr.NewLifecyclePolicy(ctx, name+"-lifecycle", &ecr.LifecyclePolicyArgs{
		Repository: repo.Name,
		Policy:     pulumi.String(string(policy)),
	}, parent); err != nil {
		return nil, fmt.Errorf("ecr lifecycle policy: %w", err)
	}
	comp.RepositoryUrl, comp.RepositoryName, comp.RepositoryArn = repo.RepositoryUrl, repo.Name, repo.Arn
	return comp, ctx.RegisterResourceOutputs(comp, pulumi.Map{
		"repositoryUrl": comp.RepositoryUrl,
	})
}
