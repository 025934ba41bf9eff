// Package bootstrap is what an AWS account needs, once per region, before
// the first `make up` of an aws stack (`make bootstrap`, the program in
// bootstrap/):
//
//   - the state bucket the stacks' Pulumi state lives in: versioned,
//     encrypted with a KMS key of its own, TLS-only, public access
//     blocked, noncurrent versions expiring;
//   - the KMS key (alias/shipyard-pulumi) that encrypts the stacks'
//     Pulumi secrets;
//   - GitHub's OIDC provider, a deploy role per stack that only that
//     stack's GitHub environment of this repository may assume (the
//     deploy and promote workflows), and two read-only preview roles:
//     one the repository's pull requests (ci.yml) and main may assume,
//     which decrypts only the secrets of the stacks pull requests
//     preview (ci.pullRequestPreviews), and one only main may assume
//     (drift.yml), for the others.
//
// Every stack's secrets provider binds its secrets to the stack's name
// (the KMS encryption context stack=<name>), so an IAM condition on that
// context is what keeps one stack's secrets from a role of another.
package bootstrap

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	awssdk "github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// The fixed names the stacks, the workflows and the docs rely on.
const (
	// SecretsKeyAlias is the alias of the key that encrypts the stacks'
	// Pulumi secrets (awskms://alias/shipyard-pulumi?region=…).
	SecretsKeyAlias = "alias/shipyard-pulumi"
	// StateKeyAlias is the alias of the state bucket's own key.
	StateKeyAlias = "alias/shipyard-pulumi-state"
	// GitHubOIDCURL is the issuer of GitHub Actions' OIDC tokens.
	GitHubOIDCURL = "https://token.actions.githubusercontent.com"
	// GitHubAudience is the audience configure-aws-credentials requests.
	GitHubAudience = "sts.amazonaws.com"
	// PreviewRoleName is the read-only role of pull-request previews
	// (and of main's drift checks of the same stacks).
	PreviewRoleName = "shipyard-preview"
	// MainPreviewRoleName is the read-only role of the stacks pull
	// requests do not preview: only main's runs may assume it.
	MainPreviewRoleName = "shipyard-preview-main"
	// EncryptionContextKey is the KMS encryption context key each stack's
	// secrets provider sets to the stack's name ("context_stack=<name>"
	// in its URL: gocloud.dev's awskms, which the Pulumi CLI uses).
	EncryptionContextKey = "stack"
	// StacksProject is the Pulumi project of the stacks (Pulumi.yaml):
	// their lock files in the state bucket are under
	// .pulumi/locks/organization/<project>/<stack>/.
	StacksProject = "shipyard"
	// NoncurrentVersionDays is how long the state bucket keeps a state
	// file's overwritten versions (each update writes a new one).
	NoncurrentVersionDays = 90
)

// DeployRoleName is the deploy role of a stack.
func DeployRoleName(stack string) string { return "shipyard-deploy-" + stack }

// BucketName is the state bucket of an account and region (bucket names
// are global: the account and region make it unique).
func BucketName(account, region string) string {
	return fmt.Sprintf("shipyard-pulumi-state-%s-%s", account, region)
}

// BackendURL is the PULUMI_BACKEND_URL of a state bucket.
func BackendURL(bucket, region string) string {
	return fmt.Sprintf("s3://%s?region=%s&awssdk=v2", bucket, region)
}

// SecretsProvider is the secrets provider of a region's key without an
// encryption context: the bootstrap stack's own (it holds no secret).
func SecretsProvider(region string) string {
	return fmt.Sprintf("awskms://%s?region=%s", SecretsKeyAlias, region)
}

// StackSecretsProvider is a stack's secrets provider: the region's key,
// with the stack's name as the encryption context, so its secrets decrypt
// only for a caller allowed that context.
func StackSecretsProvider(region, stack string) string {
	return SecretsProvider(region) + "&context_" + EncryptionContextKey + "=" + stack
}

// Args configures a bootstrap.
type Args struct {
	// Region is where the bucket and keys live.
	Region string
	// Repository is the GitHub repository, "owner/name", whose workflows
	// assume the roles.
	Repository string
	// Stacks get a deploy role each, trusted only by the GitHub
	// environment of the same name.
	Stacks []string
	// PullRequestStacks are the stacks of Stacks pull requests preview
	// (ci.pullRequestPreviews): the preview role pull requests assume
	// decrypts their secrets and no other's. None: no role pull requests
	// may assume is created.
	PullRequestStacks []string
	// OIDCProviderArn is the account's existing GitHub OIDC provider (an
	// account has at most one per issuer); empty creates it.
	OIDCProviderArn string
}

var (
	repositoryPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$`)
	stackPattern      = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
)

func (a Args) validate() error {
	var errs []error
	if a.Region == "" {
		errs = append(errs, errors.New("region is empty"))
	}
	if !repositoryPattern.MatchString(a.Repository) {
		errs = append(errs, fmt.Errorf("repository %q: want the GitHub repository as owner/name", a.Repository))
	}
	if len(a.Stacks) == 0 {
		errs = append(errs, errors.New("no stack to create a deploy role for"))
	}
	for _, s := range a.PullRequestStacks {
		if !slices.Contains(a.Stacks, s) {
			errs = append(errs, fmt.Errorf("pull-request stack %q: not one of the stacks %v", s, a.Stacks))
		}
	}
	for _, s := range a.Stacks {
		if !stackPattern.MatchString(s) {
			errs = append(errs, fmt.Errorf("stack %q: want lowercase letters, digits and dashes", s))
		}
	}
	return errors.Join(errs...)
}

// Bootstrap is the component.
type Bootstrap struct {
	pulumi.ResourceState

	StateBucket     pulumi.StringOutput
	BackendURL      pulumi.StringOutput
	SecretsProvider pulumi.StringOutput
	SecretsKeyArn   pulumi.StringOutput
	OIDCProviderArn pulumi.StringOutput
	// The maps are by stack name: each stack's deploy role, preview role
	// (PreviewRoleName for the pull-request stacks, MainPreviewRoleName
	// for the others) and secrets provider (StackSecretsProvider).
	DeployRoleArns   pulumi.StringMapOutput
	PreviewRoleArns  pulumi.StringMapOutput
	SecretsProviders pulumi.StringMapOutput
}

// New creates everything a region of an account needs before its stacks.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Bootstrap, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	b := &Bootstrap{}
	if err := ctx.RegisterComponentResource("shipyard:bootstrap:Bootstrap", name, b, opts...); err != nil {
		return nil, err
	}
	provider, err := awssdk.NewProvider(ctx, name+"-aws", &awssdk.ProviderArgs{
		Region:      pulumi.String(args.Region),
		DefaultTags: awssdk.ProviderDefaultTagsArgs{Tags: pulumi.StringMap{"shipyard:project": pulumi.String("shipyard-bootstrap")}},
	}, pulumi.Parent(b))
	if err != nil {
		return nil, fmt.Errorf("aws provider: %w", err)
	}
	child := []pulumi.ResourceOption{pulumi.Parent(b), pulumi.Provider(provider)}
	// What must never be deleted by accident: the state and the keys
	// that decrypt it and the stacks' secrets.
	keep := append([]pulumi.ResourceOption{pulumi.Protect(true)}, child...)

	id, err := awssdk.GetCallerIdentity(ctx, nil, pulumi.Parent(b), pulumi.Provider(provider))
	if err != nil {
		return nil, fmt.Errorf("reading the account id: %w", err)
	}
	bucketName := BucketName(id.AccountId, args.Region)

	stateKey, err := newKey(ctx, name+"-state-key", StateKeyAlias, "Shipyard: encrypts the Pulumi state bucket "+bucketName, keep, child)
	if err != nil {
		return nil, err
	}
	secretsKey, err := newKey(ctx, name+"-secrets-key", SecretsKeyAlias, "Shipyard: encrypts the stacks' Pulumi secrets", keep, child)
	if err != nil {
		return nil, err
	}
	bucket, err := newStateBucket(ctx, name+"-state", bucketName, stateKey, keep, child)
	if err != nil {
		return nil, err
	}

	providerArn := pulumi.String(args.OIDCProviderArn).ToStringOutput()
	if args.OIDCProviderArn == "" {
		oidc, err := iam.NewOpenIdConnectProvider(ctx, name+"-github", &iam.OpenIdConnectProviderArgs{
			Url:           pulumi.String(GitHubOIDCURL),
			ClientIdLists: pulumi.StringArray{pulumi.String(GitHubAudience)},
		}, child...)
		if err != nil {
			return nil, fmt.Errorf("github oidc provider: %w", err)
		}
		providerArn = oidc.Arn
	}

	deployArns := pulumi.StringMap{}
	stacks := append([]string(nil), args.Stacks...)
	sort.Strings(stacks)
	for _, s := range stacks {
		role, err := newGitHubRole(ctx, name+"-deploy-"+s, DeployRoleName(s), "Shipyard: deploys stack "+s+" from the "+s+" environment of "+args.Repository,
			providerArn, []string{"repo:" + args.Repository + ":environment:" + s}, child)
		if err != nil {
			return nil, err
		}
		// Deploying creates every service of infra/aws, including IAM
		// roles: docs/operations.md says how to narrow it once stable.
		if _, err := iam.NewRolePolicyAttachment(ctx, name+"-deploy-"+s, &iam.RolePolicyAttachmentArgs{
			Role:      role.Name,
			PolicyArn: pulumi.String("arn:aws:iam::aws:policy/AdministratorAccess"),
		}, child...); err != nil {
			return nil, fmt.Errorf("deploy role %s policy: %w", s, err)
		}
		deployArns[s] = role.Arn
	}

	// Pull requests preview their stacks (ci.yml) with one role, which
	// main's scheduled drift checks of the same stacks use too; the other
	// stacks' drift checks use a role only main may assume. Each decrypts
	// the secrets of its stacks only.
	var pullRequest []string
	for _, s := range stacks {
		if slices.Contains(args.PullRequestStacks, s) {
			pullRequest = append(pullRequest, s)
		}
	}
	var mainStacks []string
	for _, s := range stacks {
		if !slices.Contains(pullRequest, s) {
			mainStacks = append(mainStacks, s)
		}
	}
	previewArns := pulumi.StringMap{}
	for _, r := range []struct {
		name, roleName, from string
		subjects, stacks     []string
	}{
		{name + "-preview", PreviewRoleName, "pull requests and main", PreviewSubjects(args.Repository), pullRequest},
		{name + "-preview-main", MainPreviewRoleName, "main", MainPreviewSubjects(args.Repository), mainStacks},
	} {
		if len(r.stacks) == 0 {
			continue
		}
		role, err := newPreviewRole(ctx, r.name, r.roleName, "Shipyard: read-only previews and drift checks of "+strings.Join(r.stacks, ", ")+" from "+r.from+" of "+args.Repository,
			providerArn, r.subjects, r.stacks, bucket, stateKey, secretsKey, child)
		if err != nil {
			return nil, err
		}
		for _, s := range r.stacks {
			previewArns[s] = role.Arn
		}
	}
	providers := pulumi.StringMap{}
	for _, s := range stacks {
		providers[s] = pulumi.String(StackSecretsProvider(args.Region, s))
	}

	b.StateBucket = bucket.Bucket
	b.BackendURL = pulumi.String(BackendURL(bucketName, args.Region)).ToStringOutput()
	b.SecretsProvider = pulumi.String(SecretsProvider(args.Region)).ToStringOutput()
	b.SecretsKeyArn = secretsKey.Arn
	b.OIDCProviderArn = providerArn
	b.DeployRoleArns = deployArns.ToStringMapOutput()
	b.PreviewRoleArns = previewArns.ToStringMapOutput()
	b.SecretsProviders = providers.ToStringMapOutput()
	if err := ctx.RegisterResourceOutputs(b, b.Outputs()); err != nil {
		return nil, err
	}
	return b, nil
}

// Outputs are the component's outputs by the names the bootstrap program
// exports (cmd/shipyard reads them).
func (b *Bootstrap) Outputs() pulumi.Map {
	return pulumi.Map{
		"stateBucket":      b.StateBucket,
		"backendUrl":       b.BackendURL,
		"secretsProvider":  b.SecretsProvider,
		"secretsKeyArn":    b.SecretsKeyArn,
		"oidcProviderArn":  b.OIDCProviderArn,
		"deployRoleArns":   b.DeployRoleArns,
		"previewRoleArns":  b.PreviewRoleArns,
		"secretsProviders": b.SecretsProviders,
	}
}

// newKey creates a KMS key with yearly rotation and its alias.
func newKey(ctx *pulumi.Context, name, alias, description string, keep, child []pulumi.ResourceOption) (*kms.Key, error) {
	key, err := kms.NewKey(ctx, name, &kms.KeyArgs{
		Description:          pulumi.String(description),
		EnableKeyRotation:    pulumi.Bool(true),
		DeletionWindowInDays: pulumi.Int(30),
	}, keep...)
	if err != nil {
		return nil, fmt.Errorf("kms key %s: %w", name, err)
	}
	if _, err := kms.NewAlias(ctx, name, &kms.AliasArgs{
		Name:        pulumi.String(alias),
		TargetKeyId: key.KeyId,
	}, child...); err != nil {
		return nil, fmt.Errorf("kms alias %s: %w", alias, err)
	}
	return key, nil
}

// newStateBucket creates the state bucket: KMS-encrypted with its own
// key, public access blocked, bucket-owner objects, versioned, old
// versions expiring, plain HTTP and old TLS refused.
func newStateBucket(ctx *pulumi.Context, name, bucketName string, key *kms.Key, keep, child []pulumi.ResourceOption) (*s3.BucketV2, error) {
	bucket, err := s3.NewBucketV2(ctx, name, &s3.BucketV2Args{
		Bucket:       pulumi.String(bucketName),
		ForceDestroy: pulumi.Bool(false),
	}, keep...)
	if err != nil {
		return nil, fmt.Errorf("state bucket: %w", err)
	}
	if _, err := s3.NewBucketServerSideEncryptionConfigurationV2(ctx, name+"-encryption", &s3.BucketServerSideEncryptionConfigurationV2Args{
		Bucket: bucket.ID(),
		Rules: s3.BucketServerSideEncryptionConfigurationV2RuleArray{
			s3.BucketServerSideEncryptionConfigurationV2RuleArgs{
				ApplyServerSideEncryptionByDefault: s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs{
					SseAlgorithm:   pulumi.String("aws:kms"),
					KmsMasterKeyId: key.Arn,
				},
				BucketKeyEnabled: pulumi.Bool(true),
			},
		},
	}, child...); err != nil {
		return nil, fmt.Errorf("state bucket encryption: %w", err)
	}
	pab, err := s3.NewBucketPublicAccessBlock(ctx, name+"-public-access-block", &s3.BucketPublicAccessBlockArgs{
		Bucket:                bucket.ID(),
		BlockPublicAcls:       pulumi.Bool(true),
		BlockPublicPolicy:     pulumi.Bool(true),
		IgnorePublicAcls:      pulumi.Bool(true),
		RestrictPublicBuckets: pulumi.Bool(true),
	}, child...)
	if err != nil {
		return nil, fmt.Errorf("state bucket public access block: %w", err)
	}
	if _, err := s3.NewBucketOwnershipControls(ctx, name+"-ownership", &s3.BucketOwnershipControlsArgs{
		Bucket: bucket.ID(),
		Rule:   s3.BucketOwnershipControlsRuleArgs{ObjectOwnership: pulumi.String("BucketOwnerEnforced")},
	}, child...); err != nil {
		return nil, fmt.Errorf("state bucket ownership: %w", err)
	}
	versioning, err := s3.NewBucketVersioningV2(ctx, name+"-versioning", &s3.BucketVersioningV2Args{
		Bucket: bucket.ID(),
		VersioningConfiguration: s3.BucketVersioningV2VersioningConfigurationArgs{
			Status: pulumi.String("Enabled"),
		},
	}, child...)
	if err != nil {
		return nil, fmt.Errorf("state bucket versioning: %w", err)
	}
	if _, err := s3.NewBucketLifecycleConfigurationV2(ctx, name+"-lifecycle", &s3.BucketLifecycleConfigurationV2Args{
		Bucket: bucket.ID(),
		Rules: s3.BucketLifecycleConfigurationV2RuleArray{
			s3.BucketLifecycleConfigurationV2RuleArgs{
				Id:     pulumi.String("expire-noncurrent-versions"),
				Status: pulumi.String("Enabled"),
				Filter: s3.BucketLifecycleConfigurationV2RuleFilterArgs{Prefix: pulumi.String("")},
				NoncurrentVersionExpiration: s3.BucketLifecycleConfigurationV2RuleNoncurrentVersionExpirationArgs{
					NoncurrentDays: pulumi.Int(NoncurrentVersionDays),
				},
				AbortIncompleteMultipartUpload: s3.BucketLifecycleConfigurationV2RuleAbortIncompleteMultipartUploadArgs{
					DaysAfterInitiation: pulumi.Int(7),
				},
			},
		},
	}, append([]pulumi.ResourceOption{pulumi.DependsOn([]pulumi.Resource{versioning})}, child...)...); err != nil {
		return nil, fmt.Errorf("state bucket lifecycle: %w", err)
	}
	policy := bucket.Arn.ApplyT(func(arn string) (string, error) {
		objects := []string{arn, arn + "/*"}
		return policyJSON(
			statement{Sid: "DenyInsecureTransport", Effect: "Deny", Principal: &principal{AWS: "*"}, Action: []string{"s3:*"}, Resource: objects,
				Condition: map[string]map[string]any{"Bool": {"aws:SecureTransport": "false"}}},
			statement{Sid: "DenyOutdatedTLS", Effect: "Deny", Principal: &principal{AWS: "*"}, Action: []string{"s3:*"}, Resource: objects,
				Condition: map[string]map[string]any{"NumericLessThan": {"s3:TlsVersion": "1.2"}}},
		)
	}).(pulumi.StringOutput)
	if _, err := s3.NewBucketPolicy(ctx, name+"-policy", &s3.BucketPolicyArgs{
		Bucket: bucket.ID(),
		Policy: policy,
	}, append([]pulumi.ResourceOption{pulumi.DependsOn([]pulumi.Resource{pab})}, child...)...); err != nil {
		return nil, fmt.Errorf("state bucket policy: %w", err)
	}
	return bucket, nil
}

// PreviewSubjects are the OIDC subjects the pull-request preview role
// trusts: the repository's pull requests (ci.yml's previews) and its
// default branch, main (drift.yml's scheduled runs).
func PreviewSubjects(repository string) []string {
	return []string{"repo:" + repository + ":pull_request", "repo:" + repository + ":ref:refs/heads/main"}
}

// LockPrefix is where the Pulumi CLI keeps a stack's lock files in the
// state bucket: .pulumi/locks/<its fully qualified name>/, which a DIY
// backend's project-scoped stack names organization/<project>/<stack>.
func LockPrefix(stack string) string {
	return ".pulumi/locks/organization/" + StacksProject + "/" + stack + "/"
}

// MainPreviewSubjects are the OIDC subjects the main-only preview role
// trusts: the default branch's runs (drift.yml).
func MainPreviewSubjects(repository string) []string {
	return []string{"repo:" + repository + ":ref:refs/heads/main"}
}

// newPreviewRole creates a read-only role of the given subjects for
// stacks: AWS's ReadOnlyAccess, the state bucket's objects, its lock
// files to write, the state key, and the secrets key only with the
// encryption context of one of stacks.
func newPreviewRole(ctx *pulumi.Context, name, roleName, description string, providerArn pulumi.StringOutput, subjects, stacks []string,
	bucket *s3.BucketV2, stateKey, secretsKey *kms.Key, child []pulumi.ResourceOption) (*iam.Role, error) {
	role, err := newGitHubRole(ctx, name, roleName, description, providerArn, subjects, child)
	if err != nil {
		return nil, err
	}
	if _, err := iam.NewRolePolicyAttachment(ctx, name, &iam.RolePolicyAttachmentArgs{
		Role:      role.Name,
		PolicyArn: pulumi.String("arn:aws:iam::aws:policy/ReadOnlyAccess"),
	}, child...); err != nil {
		return nil, fmt.Errorf("%s policy: %w", roleName, err)
	}
	// A preview reads the state and decrypts its stacks' secrets; it
	// writes only the backend's lock files.
	policy := pulumi.All(bucket.Arn, stateKey.Arn, secretsKey.Arn).ApplyT(func(v []any) (string, error) {
		bucketArn, stateKeyArn, secretsKeyArn := v[0].(string), v[1].(string), v[2].(string)
		// The lock files of its stacks only: a preview takes its stack's
		// lock, and may not take or remove another's (prod's, from a pull
		// request, would stall or unguard a promotion).
		var locks []string
		for _, st := range stacks {
			locks = append(locks, bucketArn+"/"+LockPrefix(st)+"*")
		}
		return policyJSON(
			statement{Sid: "ReadState", Effect: "Allow", Action: []string{"s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"}, Resource: []string{bucketArn, bucketArn + "/*"}},
			statement{Sid: "Locks", Effect: "Allow", Action: []string{"s3:PutObject", "s3:DeleteObject"}, Resource: locks},
			statement{Sid: "StateKey", Effect: "Allow", Action: []string{"kms:Decrypt", "kms:GenerateDataKey"}, Resource: []string{stateKeyArn}},
			statement{Sid: "DecryptTheStacksSecrets", Effect: "Allow", Action: []string{"kms:Decrypt"}, Resource: []string{secretsKeyArn},
				Condition: map[string]map[string]any{"StringEquals": {"kms:EncryptionContext:" + EncryptionContextKey: stacks}}},
		)
	}).(pulumi.StringOutput)
	if _, err := iam.NewRolePolicy(ctx, name, &iam.RolePolicyArgs{
		Role:   role.Name,
		Policy: policy,
	}, child...); err != nil {
		return nil, fmt.Errorf("%s state policy: %w", roleName, err)
	}
	return role, nil
}

// newGitHubRole creates a role that only GitHub Actions tokens of the given
// subjects (repository and environment, pull requests, the default branch)
// may assume.
func newGitHubRole(ctx *pulumi.Context, name, roleName, description string, providerArn pulumi.StringOutput, subjects []string, child []pulumi.ResourceOption) (*iam.Role, error) {
	var subject any = subjects
	if len(subjects) == 1 {
		subject = subjects[0]
	}
	trust := providerArn.ApplyT(func(arn string) (string, error) {
		return policyJSON(statement{
			Effect:    "Allow",
			Principal: &principal{Federated: arn},
			Action:    []string{"sts:AssumeRoleWithWebIdentity"},
			Condition: map[string]map[string]any{"StringEquals": {
				"token.actions.githubusercontent.com:aud": GitHubAudience,
				"token.actions.githubusercontent.com:sub": subject,
			}},
		})
	}).(pulumi.StringOutput)
	role, err := iam.NewRole(ctx, name, &iam.RoleArgs{
		Name:               pulumi.String(roleName),
		Description:        pulumi.String(description),
		AssumeRolePolicy:   trust,
		MaxSessionDuration: pulumi.Int(3600),
	}, child...)
	if err != nil {
		return nil, fmt.Errorf("role %s: %w", roleName, err)
	}
	return role, nil
}

// The IAM policy document, built with json.Marshal.
type (
	policyDocument struct {
		Version   string      `json:"Version"`
		Statement []statement `json:"Statement"`
	}
	statement struct {
		Sid       string                    `json:"Sid,omitempty"`
		Effect    string                    `json:"Effect"`
		Principal *principal                `json:"Principal,omitempty"`
		Action    []string                  `json:"Action"`
		Resource  []string                  `json:"Resource,omitempty"`
		Condition map[string]map[string]any `json:"Condition,omitempty"`
	}
	principal struct {
		AWS       string `json:"AWS,omitempty"`
		Federated string `json:"Federated,omitempty"`
	}
)

func policyJSON(stmts ...statement) (string, error) {
	data, err := json.Marshal(policyDocument{Version: "2012-10-17", Statement: stmts})
	return string(data), err
}
