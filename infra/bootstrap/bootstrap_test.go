package bootstrap_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shipyard-kit/shipyard/infra/aws/awsmock"
	"github.com/shipyard-kit/shipyard/infra/bootstrap"
	"github.com/shipyard-kit/shipyard/infra/policy"
	"github.com/shipyard-kit/shipyard/infra/pulumitest"
)

const repo = "acme/shop"

var defaultArgs = bootstrap.Args{Region: awsmock.Region, Repository: repo, Stacks: []string{"prod", "dev", "staging"}, PullRequestStacks: []string{"staging", "dev"}}

// oidcArn is the mocked ARN of the GitHub OIDC provider.
var oidcArn = "arn:aws:iam::" + awsmock.AccountID + ":oidc-provider/token.actions.githubusercontent.com"

func run(t *testing.T, args bootstrap.Args) *pulumitest.Graph {
	t.Helper()
	opts := append(awsmock.Options(), pulumitest.WithOutputs("aws:iam/openIdConnectProvider:OpenIdConnectProvider",
		func(string, resource.PropertyMap) resource.PropertyMap {
			return resource.PropertyMap{"arn": resource.NewStringProperty(oidcArn)}
		}))
	g, err := pulumitest.Run(awsmock.Region, func(ctx *pulumi.Context) (pulumi.Map, error) {
		b, err := bootstrap.New(ctx, "shipyard", args)
		if err != nil {
			return nil, err
		}
		return b.Outputs(), nil
	}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func one(t *testing.T, g *pulumitest.Graph, typ string) pulumitest.Resource {
	t.Helper()
	rs := g.ByType(typ)
	if len(rs) != 1 {
		t.Fatalf("%d resources of type %s, want 1", len(rs), typ)
	}
	return rs[0]
}

func find(t *testing.T, g *pulumitest.Graph, typ, name string) pulumitest.Resource {
	t.Helper()
	r, ok := g.Find(typ, name)
	if !ok {
		t.Fatalf("no %s named %s", typ, name)
	}
	return r
}

// document is an IAM policy document as the tests read it.
type document struct {
	Statement []struct {
		Sid       string
		Effect    string
		Principal map[string]any
		Action    []string
		Resource  []string
		Condition map[string]map[string]any
	}
}

func parse(t *testing.T, r pulumitest.Resource, path string) document {
	t.Helper()
	var d document
	if err := json.Unmarshal([]byte(r.String(path)), &d); err != nil {
		t.Fatalf("%s %s.%s: %v: %q", r.Type, r.Name, path, err, r.String(path))
	}
	return d
}

func TestTheGraphHoldsExactlyTheBootstrap(t *testing.T) {
	g := run(t, defaultArgs)
	var got []string
	for _, r := range g.Resources {
		got = append(got, r.Type+" "+r.Name)
	}
	want := []string{
		"shipyard:bootstrap:Bootstrap shipyard",
		"pulumi:providers:aws shipyard-aws",
		"aws:kms/key:Key shipyard-state-key", "aws:kms/alias:Alias shipyard-state-key",
		"aws:kms/key:Key shipyard-secrets-key", "aws:kms/alias:Alias shipyard-secrets-key",
		"aws:s3/bucketV2:BucketV2 shipyard-state",
		"aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2 shipyard-state-encryption",
		"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock shipyard-state-public-access-block",
		"aws:s3/bucketOwnershipControls:BucketOwnershipControls shipyard-state-ownership",
		"aws:s3/bucketVersioningV2:BucketVersioningV2 shipyard-state-versioning",
		"aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2 shipyard-state-lifecycle",
		"aws:s3/bucketPolicy:BucketPolicy shipyard-state-policy",
		"aws:iam/openIdConnectProvider:OpenIdConnectProvider shipyard-github",
		"aws:iam/role:Role shipyard-deploy-dev", "aws:iam/rolePolicyAttachment:RolePolicyAttachment shipyard-deploy-dev",
		"aws:iam/role:Role shipyard-deploy-prod", "aws:iam/rolePolicyAttachment:RolePolicyAttachment shipyard-deploy-prod",
		"aws:iam/role:Role shipyard-deploy-staging", "aws:iam/rolePolicyAttachment:RolePolicyAttachment shipyard-deploy-staging",
		"aws:iam/role:Role shipyard-preview", "aws:iam/rolePolicyAttachment:RolePolicyAttachment shipyard-preview",
		"aws:iam/rolePolicy:RolePolicy shipyard-preview",
		"aws:iam/role:Role shipyard-preview-main", "aws:iam/rolePolicyAttachment:RolePolicyAttachment shipyard-preview-main",
		"aws:iam/rolePolicy:RolePolicy shipyard-preview-main",
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("resources:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestTheStateBucketRefusesPlainHTTPAndOldTLS(t *testing.T) {
	g := run(t, defaultArgs)
	bucket := one(t, g, "aws:s3/bucketV2:BucketV2")
	arn := "arn:aws:s3:::" + bucket.String("bucket")
	d := parse(t, one(t, g, "aws:s3/bucketPolicy:BucketPolicy"), "policy")
	denies := map[string]string{}
	for _, s := range d.Statement {
		if s.Effect != "Deny" || s.Principal["AWS"] != "*" || !slices.Equal(s.Action, []string{"s3:*"}) || !slices.Equal(s.Resource, []string{arn, arn + "/*"}) {
			continue
		}
		if s.Condition["Bool"]["aws:SecureTransport"] == "false" {
			denies["http"] = s.Sid
		}
		if s.Condition["NumericLessThan"]["s3:TlsVersion"] == "1.2" {
			denies["tls"] = s.Sid
		}
	}
	if denies["http"] == "" || denies["tls"] == "" {
		t.Errorf("the bucket policy does not deny every action on the bucket and its objects to everyone over plain HTTP and TLS < 1.2: %+v", d)
	}
}

func TestTheStateBucketIsEncryptedWithAKeyOfItsOwn(t *testing.T) {
	g := run(t, defaultArgs)
	enc := one(t, g, "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2")
	if enc.String("rules.0.applyServerSideEncryptionByDefault.sseAlgorithm") != "aws:kms" {
		t.Fatalf("state bucket encryption %v, want aws:kms", enc.Inputs)
	}
	keyArn := enc.String("rules.0.applyServerSideEncryptionByDefault.kmsMasterKeyId")
	state := find(t, g, "aws:kms/key:Key", "shipyard-state-key")
	secrets := find(t, g, "aws:kms/key:Key", "shipyard-secrets-key")
	if !strings.Contains(keyArn, "shipyard-state-key") || strings.Contains(keyArn, "shipyard-secrets-key") {
		t.Errorf("state bucket key %q, want the state key", keyArn)
	}
	for _, k := range []pulumitest.Resource{state, secrets} {
		if !k.Bool("enableKeyRotation") {
			t.Errorf("%s: key rotation is off", k.Name)
		}
	}
}

func TestTheStateBucketIsPrivateAndVersionedAndItsOldVersionsExpire(t *testing.T) {
	g := run(t, defaultArgs)
	pab := one(t, g, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
	for _, f := range []string{"blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"} {
		if !pab.Bool(f) {
			t.Errorf("public access block %s is not set", f)
		}
	}
	if v := one(t, g, "aws:s3/bucketVersioningV2:BucketVersioningV2"); v.String("versioningConfiguration.status") != "Enabled" {
		t.Errorf("versioning %v", v.Inputs)
	}
	lc := one(t, g, "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2")
	if lc.String("rules.0.status") != "Enabled" || lc.Number("rules.0.noncurrentVersionExpiration.noncurrentDays") != bootstrap.NoncurrentVersionDays {
		t.Errorf("lifecycle %v: want noncurrent versions expiring after %d days", lc.Inputs, bootstrap.NoncurrentVersionDays)
	}
	if _, ok := lc.Input("rules.0.expiration.days"); ok {
		t.Error("the lifecycle expires current objects: the state would disappear")
	}
	if lc.String("rules.0.filter.prefix") != "" {
		t.Errorf("the lifecycle rule covers only %q", lc.String("rules.0.filter.prefix"))
	}
}

func TestTheStateAndTheKeysAreProtected(t *testing.T) {
	g := run(t, defaultArgs)
	for _, r := range append(g.ByType("aws:kms/key:Key"), g.ByType("aws:s3/bucketV2:BucketV2")...) {
		if !r.Protect {
			t.Errorf("%s %s is not protected: `pulumi destroy` would delete it", r.Type, r.Name)
		}
	}
	if one(t, g, "aws:s3/bucketV2:BucketV2").Bool("forceDestroy") {
		t.Error("the state bucket may be deleted with its objects")
	}
}

func TestTheSecretsKeyHasTheAliasOfTheSecretsProvider(t *testing.T) {
	g := run(t, defaultArgs)
	alias := find(t, g, "aws:kms/alias:Alias", "shipyard-secrets-key")
	if alias.String("name") != bootstrap.SecretsKeyAlias || !strings.Contains(alias.String("targetKeyId"), "shipyard-secrets-key") {
		t.Errorf("secrets key alias %v", alias.Inputs)
	}
	if got, want := g.Outputs["secretsProvider"], "awskms://alias/shipyard-pulumi?region=eu-west-1"; got != want {
		t.Errorf("secretsProvider %v, want %s", got, want)
	}
	if got, want := g.Outputs["backendUrl"], "s3://shipyard-pulumi-state-"+awsmock.AccountID+"-eu-west-1?region=eu-west-1&awssdk=v2"; got != want {
		t.Errorf("backendUrl %v, want %s", got, want)
	}
}

// trust returns the one statement of a role's trust policy.
func trust(t *testing.T, g *pulumitest.Graph, name string) (principal map[string]any, action []string, cond map[string]map[string]any) {
	t.Helper()
	d := parse(t, find(t, g, "aws:iam/role:Role", name), "assumeRolePolicy")
	if len(d.Statement) != 1 || d.Statement[0].Effect != "Allow" {
		t.Fatalf("%s trust policy: want one Allow statement, got %+v", name, d)
	}
	s := d.Statement[0]
	return s.Principal, s.Action, s.Condition
}

func TestEachDeployRoleTrustsOnlyItsEnvironmentOfThisRepository(t *testing.T) {
	g := run(t, defaultArgs)
	for _, stack := range []string{"dev", "staging", "prod"} {
		t.Run(stack, func(t *testing.T) {
			principal, action, cond := trust(t, g, "shipyard-deploy-"+stack)
			if len(principal) != 1 || principal["Federated"] != oidcArn {
				t.Errorf("principal %v, want only the GitHub OIDC provider", principal)
			}
			if !slices.Equal(action, []string{"sts:AssumeRoleWithWebIdentity"}) {
				t.Errorf("action %v", action)
			}
			// Exact values only: no StringLike, no wildcard.
			want := map[string]map[string]string{"StringEquals": {
				"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
				"token.actions.githubusercontent.com:sub": "repo:" + repo + ":environment:" + stack,
			}}
			gotJSON, _ := json.Marshal(cond)
			wantJSON, _ := json.Marshal(want)
			if string(gotJSON) != string(wantJSON) {
				t.Errorf("condition %s, want %s", gotJSON, wantJSON)
			}
			if r := find(t, g, "aws:iam/role:Role", "shipyard-deploy-"+stack); r.String("name") != bootstrap.DeployRoleName(stack) {
				t.Errorf("role name %q, want %q", r.String("name"), bootstrap.DeployRoleName(stack))
			}
		})
	}
}

// iamMatch says whether an IAM pattern (wildcards * and ?) matches value.
func iamMatch(pattern, value string) bool {
	re := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(pattern)) + "$"
	return regexp.MustCompile(re).MatchString(value)
}

// secretsKeyArn is the secrets key's ARN under awsmock.
var secretsKeyArn = "arn:aws:kms:" + awsmock.Region + ":" + awsmock.AccountID + ":key/shipyard-secrets-key-key-id"

// previewPolicy is a preview role's trust condition, the stacks whose
// secrets its policy decrypts, the objects it may write, and its policy.
// Every Allow that lets it decrypt with the secrets key (kms:Decrypt, or a
// pattern matching it, on a resource pattern matching the key) must carry
// exactly the condition StringEquals kms:EncryptionContext:stack; one
// that lets it re-encrypt from the key, grant, or change the key's policy
// fails the test.
func previewPolicy(t *testing.T, g *pulumitest.Graph, name string) (trustJSON string, decrypts, writes []string, d document) {
	t.Helper()
	_, _, cond := trust(t, g, name)
	data, _ := json.Marshal(cond)
	d = parse(t, find(t, g, "aws:iam/rolePolicy:RolePolicy", name), "policy")
	named := false
	for _, s := range d.Statement {
		if s.Effect != "Allow" {
			continue
		}
		onKey := slices.ContainsFunc(s.Resource, func(r string) bool { return iamMatch(r, secretsKeyArn) })
		named = named || slices.Contains(s.Resource, secretsKeyArn)
		for _, a := range s.Action {
			for _, forbidden := range []string{"kms:ReEncryptFrom", "kms:CreateGrant", "kms:PutKeyPolicy"} {
				if onKey && iamMatch(a, forbidden) {
					t.Errorf("%s: statement %s allows %s (%s) on the secrets key", name, s.Sid, forbidden, a)
				}
			}
			for _, w := range []string{"s3:PutObject", "s3:DeleteObject"} {
				if iamMatch(a, w) {
					writes = append(writes, s.Resource...)
				}
			}
		}
		if !onKey || !slices.ContainsFunc(s.Action, func(a string) bool { return iamMatch(a, "kms:Decrypt") }) {
			continue
		}
		// Exactly one condition: StringEquals on the stack's context.
		if len(s.Condition) != 1 || len(s.Condition["StringEquals"]) != 1 {
			t.Fatalf("%s: statement %s decrypts with the secrets key under condition %v, want only StringEquals kms:EncryptionContext:stack", name, s.Sid, s.Condition)
		}
		v, ok := s.Condition["StringEquals"]["kms:EncryptionContext:"+bootstrap.EncryptionContextKey].([]any)
		if !ok {
			t.Fatalf("%s: statement %s decrypts with the secrets key under condition %v, want a list of stacks for kms:EncryptionContext:stack", name, s.Sid, s.Condition)
		}
		for _, x := range v {
			decrypts = append(decrypts, x.(string))
		}
	}
	if !named {
		t.Fatalf("%s: no statement names the secrets key %s (has awsmock's ARN changed?)", name, secretsKeyArn)
	}
	slices.Sort(writes)
	return string(data), decrypts, slices.Compact(writes), d
}

func TestPullRequestsDecryptOnlyTheSecretsOfTheStacksTheyPreview(t *testing.T) {
	g := run(t, defaultArgs)
	// Exact subjects only, no wildcard: pull requests (ci.yml) and main
	// (drift.yml) for the pull-request stacks; main alone for the others.
	for _, c := range []struct {
		role     string
		subjects []string
		decrypts []string
	}{
		{"shipyard-preview", []string{"repo:" + repo + ":pull_request", "repo:" + repo + ":ref:refs/heads/main"}, []string{"dev", "staging"}},
		{"shipyard-preview-main", []string{"repo:" + repo + ":ref:refs/heads/main"}, []string{"prod"}},
	} {
		t.Run(c.role, func(t *testing.T) {
			var sub any = c.subjects
			if len(c.subjects) == 1 {
				sub = c.subjects[0]
			}
			wantTrust, _ := json.Marshal(map[string]map[string]any{"StringEquals": {
				"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
				"token.actions.githubusercontent.com:sub": sub,
			}})
			gotTrust, decrypts, writes, d := previewPolicy(t, g, c.role)
			if gotTrust != string(wantTrust) {
				t.Errorf("trust condition %s, want %s", gotTrust, wantTrust)
			}
			if !slices.Equal(decrypts, c.decrypts) {
				t.Errorf("decrypts the secrets of %v, want %v", decrypts, c.decrypts)
			}
			// It writes the lock files of its stacks, nothing else.
			var wantWrites []string
			for _, st := range c.decrypts {
				wantWrites = append(wantWrites, "arn:aws:s3:::"+bootstrap.BucketName(awsmock.AccountID, awsmock.Region)+"/.pulumi/locks/organization/shipyard/"+st+"/*")
			}
			if !slices.Equal(writes, wantWrites) {
				t.Errorf("may write %v, want exactly its stacks' lock files %v", writes, wantWrites)
			}
			if r := find(t, g, "aws:iam/role:Role", c.role); !strings.HasSuffix(r.String("name"), c.role) {
				t.Errorf("role name %q", r.String("name"))
			}
			if a := find(t, g, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", c.role); a.String("policyArn") != "arn:aws:iam::aws:policy/ReadOnlyAccess" {
				t.Errorf("managed policy %q, want ReadOnlyAccess", a.String("policyArn"))
			}
			for _, s := range d.Statement {
				for _, a := range s.Action {
					if strings.HasSuffix(a, "*") {
						t.Errorf("its policy grants %s", a)
					}
					if strings.HasPrefix(a, "kms:") && a != "kms:Decrypt" && a != "kms:GenerateDataKey" {
						t.Errorf("its policy grants %s", a)
					}
				}
				// The secrets key only under the context condition.
				if slices.ContainsFunc(s.Resource, func(r string) bool { return strings.Contains(r, "shipyard-secrets-key") }) && len(s.Condition) == 0 {
					t.Errorf("statement %s uses the secrets key without a condition", s.Sid)
				}
			}
		})
	}
	// Each stack is told its own role and its own secrets provider.
	roles, providers := stringMap(t, g.Outputs["previewRoleArns"]), stringMap(t, g.Outputs["secretsProviders"])
	for _, c := range []struct{ stack, role string }{{"dev", "shipyard-preview"}, {"staging", "shipyard-preview"}, {"prod", "shipyard-preview-main"}} {
		if arn := roles[c.stack]; !strings.HasSuffix(arn, "/"+c.role) {
			t.Errorf("previewRoleArns[%s] = %q, want the role %s", c.stack, arn, c.role)
		}
		if got, want := providers[c.stack], "awskms://alias/shipyard-pulumi?region=eu-west-1&context_stack="+c.stack; got != want {
			t.Errorf("secretsProviders[%s] = %v, want %s", c.stack, got, want)
		}
	}
	if len(roles) != 3 || len(providers) != 3 {
		t.Errorf("previewRoleArns %v, secretsProviders %v: want one of each per stack", roles, providers)
	}
}

// stringMap is a resolved map output.
func stringMap(t *testing.T, v any) map[string]string {
	t.Helper()
	out := map[string]string{}
	switch m := v.(type) {
	case map[string]string:
		return m
	case map[string]any:
		for k, x := range m {
			s, ok := x.(string)
			if !ok {
				t.Fatalf("output %v: %s is %T, want a string", v, k, x)
			}
			out[k] = s
		}
		return out
	}
	t.Fatalf("output %v (%T) is no map of strings", v, v)
	return nil
}

func TestWithNoStackPreviewedOnPullRequestsNoRoleTrustsThem(t *testing.T) {
	args := defaultArgs
	args.PullRequestStacks = nil
	g := run(t, args)
	for _, r := range g.ByType("aws:iam/role:Role") {
		if strings.Contains(r.String("assumeRolePolicy"), ":pull_request") {
			t.Errorf("role %s trusts pull requests: %s", r.Name, r.String("assumeRolePolicy"))
		}
	}
	if _, decrypts, _, _ := previewPolicy(t, g, "shipyard-preview-main"); !slices.Equal(decrypts, []string{"dev", "prod", "staging"}) {
		t.Errorf("the main preview role decrypts %v, want every stack's", decrypts)
	}
	if _, ok := g.Find("aws:iam/role:Role", "shipyard-preview"); ok {
		t.Error("a pull-request preview role exists for no stack")
	}
}

func TestAnExistingOIDCProviderIsUsedNotCreated(t *testing.T) {
	existing := "arn:aws:iam::" + awsmock.AccountID + ":oidc-provider/token.actions.githubusercontent.com"
	args := defaultArgs
	args.OIDCProviderArn = existing
	g := run(t, args)
	if n := len(g.ByType("aws:iam/openIdConnectProvider:OpenIdConnectProvider")); n != 0 {
		t.Errorf("%d OIDC providers created, want 0", n)
	}
	if principal, _, _ := trust(t, g, "shipyard-deploy-prod"); principal["Federated"] != existing {
		t.Errorf("principal %v, want %s", principal, existing)
	}
}

func TestTheGitHubOIDCProviderAcceptsOnlyTheSTSAudience(t *testing.T) {
	p := one(t, run(t, defaultArgs), "aws:iam/openIdConnectProvider:OpenIdConnectProvider")
	v, _ := p.Input("clientIdLists")
	if p.String("url") != bootstrap.GitHubOIDCURL || !v.IsArray() || len(v.ArrayValue()) != 1 || v.ArrayValue()[0].StringValue() != "sts.amazonaws.com" {
		t.Errorf("OIDC provider %v", p.Inputs)
	}
}

func TestEverySecurityRulePassesOnTheBootstrap(t *testing.T) {
	rs := policy.FromGraph(run(t, defaultArgs))
	for _, v := range policy.Evaluate(policy.All(), rs) {
		t.Errorf("%s", v)
	}
}

func TestBadArgumentsAreRefusedNamingTheField(t *testing.T) {
	tests := []struct {
		name string
		args bootstrap.Args
		want string
	}{
		{"a repository without an owner", bootstrap.Args{Region: "eu-west-1", Repository: "shop", Stacks: []string{"dev"}}, `repository "shop": want the GitHub repository as owner/name`},
		{"no stack", bootstrap.Args{Region: "eu-west-1", Repository: repo}, "no stack"},
		{"a stack name with a wildcard", bootstrap.Args{Region: "eu-west-1", Repository: repo, Stacks: []string{"*"}}, `stack "*"`},
		{"a pull-request stack that is no stack", bootstrap.Args{Region: "eu-west-1", Repository: repo, Stacks: []string{"dev"}, PullRequestStacks: []string{"prod"}}, `pull-request stack "prod": not one of the stacks [dev]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pulumitest.Run("eu-west-1", func(ctx *pulumi.Context) (pulumi.Map, error) {
				_, err := bootstrap.New(ctx, "shipyard", tc.args)
				return nil, err
			}, awsmock.Options()...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// The lock files the preview roles may write are the stacks' project's
// (Pulumi.yaml's name): another name would leave every preview unable to
// take its lock.
func TestTheLockPrefixIsThatOfTheStacksProject(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "Pulumi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var project string
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "name:"); ok {
			project = strings.TrimSpace(v)
		}
	}
	if project != bootstrap.StacksProject {
		t.Errorf("Pulumi.yaml names project %q; bootstrap.StacksProject is %q", project, bootstrap.StacksProject)
	}
	if got, want := bootstrap.LockPrefix("dev"), ".pulumi/locks/organization/"+project+"/dev/"; got != want {
		t.Errorf("LockPrefix(dev) = %q, want %q", got, want)
	}
}
