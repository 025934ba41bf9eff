package aws

import (
	"fmt"

	awssdk "github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// What NewStack and NewPreviewStack share: the provider, the secrets of
// the task definitions and the service of every process type.

// newProvider is the stack's AWS provider in aws.region, tagging every
// resource with the stack, the project, tags.* and extra.
func newProvider(ctx *pulumi.Context, cfg *stackconfig.Config, extra map[string]string) (*awssdk.Provider, error) {
	tags := pulumi.StringMap{
		"shipyard:stack":   pulumi.String(cfg.Stack),
		"shipyard:project": pulumi.String("shipyard"),
	}
	for k, v := range extra {
		tags[k] = pulumi.String(v)
	}
	for k, v := range cfg.Tags {
		tags[k] = pulumi.String(v)
	}
	provider, err := awssdk.NewProvider(ctx, "aws", &awssdk.ProviderArgs{
		Region:      pulumi.String(cfg.AWS.Region),
		DefaultTags: awssdk.ProviderDefaultTagsArgs{Tags: tags},
	})
	if err != nil {
		return nil, fmt.Errorf("aws provider: %w", err)
	}
	return provider, nil
}

// secretSource is where a secret env var comes from: the task definition's
// valueFrom and the secret itself, for IAM.
type secretSource struct{ ValueFrom, Arn pulumi.StringInput }

// taskSecrets maps each secret env var of cfg (Config.SecretNames) to its
// valueFrom and lists the secrets the execution role may read:
// DATABASE_PASSWORD and REDIS_PASSWORD from database and redis, the app's
// own from app (Secrets Manager ARNs by name).
func taskSecrets(cfg *stackconfig.Config, database, redis secretSource, app map[string]pulumi.StringInput) (map[string]pulumi.StringInput, []pulumi.StringInput, error) {
	secrets := map[string]pulumi.StringInput{}
	var arns []pulumi.StringInput
	for _, n := range cfg.SecretNames() {
		src := secretSource{}
		switch n {
		case stackconfig.SecretDatabasePassword:
			src = database
		case stackconfig.SecretRedisPassword:
			src = redis
		default:
			arn, ok := app[n]
			if !ok {
				return nil, nil, fmt.Errorf("secret %s: no Secrets Manager secret", n)
			}
			src = secretSource{ValueFrom: arn, Arn: arn}
		}
		secrets[n] = src.ValueFrom
		arns = append(arns, src.Arn)
	}
	return secrets, arns, nil
}

// processServices are a stack's services and what its outputs say of them.
type processServices struct {
	web                    *Service
	names, taskDefinitions pulumi.StringMap
}

// newServices creates the service of every process type, web first, with
// the ServiceArgs args returns for it (given web's service, nil for web).
func newServices(ctx *pulumi.Context, args func(p stackconfig.Process, web *Service) ServiceArgs, opts ...pulumi.ResourceOption) (*processServices, error) {
	out := &processServices{names: pulumi.StringMap{}, taskDefinitions: pulumi.StringMap{}}
	for _, p := range stackconfig.Processes {
		svc, err := NewService(ctx, string(p), args(p, out.web), opts...)
		if err != nil {
			return nil, err
		}
		if p == stackconfig.Web {
			out.web = svc
		}
		out.names[string(p)] = svc.ServiceName
		out.taskDefinitions[string(p)] = svc.TaskDefinitionArn
	}
	return out, nil
}
