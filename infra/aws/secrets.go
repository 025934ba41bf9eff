package aws

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/secretsmanager"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

// ConfigNamespace is the Pulumi config namespace of app secrets: each name
// in app.secrets is read from the secret config key "shipyard:<NAME>".
const ConfigNamespace = "shipyard"

// AppSecretsArgs configures the app's own secrets.
type AppSecretsArgs struct {
	// Stack is used in the secrets' names and in error messages.
	Stack string
	// Names are app.secrets.
	Names []string
	// Protect protects the secrets (prod).
	Protect bool
	// KMSKeyArn is the stack's customer-managed key, which encrypts them.
	KMSKeyArn pulumi.StringInput
}

// AppSecrets stores each app secret (a Pulumi config secret) in a Secrets
// Manager secret the task definitions inject.
type AppSecrets struct {
	pulumi.ResourceState

	// Arns maps each name to its secret's ARN.
	Arns map[string]pulumi.StringOutput
}

// MissingSecretError is returned when an app secret has no config value.
type MissingSecretError struct {
	Stack, Name string
}

func (e *MissingSecretError) Error() string {
	return fmt.Sprintf("app secret %s is not set: run `pulumi config set --secret %s <value> --stack %s`", e.Name, e.Name, e.Stack)
}

// NewAppSecrets reads every secret from config before creating anything, so
// a missing one fails the whole program with the command that fixes it.
func NewAppSecrets(ctx *pulumi.Context, name string, args AppSecretsArgs, opts ...pulumi.ResourceOption) (*AppSecrets, error) {
	values := map[string]pulumi.StringOutput{}
	for _, n := range args.Names {
		v, err := config.TrySecret(ctx, ConfigNamespace+":"+n)
		if err != nil {
			return nil, &MissingSecretError{Stack: args.Stack, Name: n}
		}
		values[n] = v
	}
	comp := &AppSecrets{Arns: map[string]pulumi.StringOutput{}}
	if err := ctx.RegisterComponentResource(typePrefix+"AppSecrets", name, comp, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(comp)
	for _, n := range args.Names {
		s, err := secretsmanager.NewSecret(ctx, name+"-"+n, &secretsmanager.SecretArgs{
			Name:                 pulumi.Sprintf("shipyard/%s/%s", args.Stack, n),
			Description:          pulumi.Sprintf("app secret %s (pulumi config shipyard:%s)", n, n),
			KmsKeyId:             args.KMSKeyArn,
			RecoveryWindowInDays: pulumi.Int(recoveryWindow(args.Protect)),
		}, withOpts(protect(args.Protect), parent)...)
		if err != nil {
			return nil, fmt.Errorf("secret %s: %w", n, err)
		}
		if _, err := secretsmanager.NewSecretVersion(ctx, name+"-"+n, &secretsmanager.SecretVersionArgs{
			SecretId:     s.ID(),
			SecretString: values[n],
		}, parent); err != nil {
			return nil, fmt.Errorf("secret %s version: %w", n, err)
		}
		comp.Arns[n] = s.Arn
	}
	arns := pulumi.Map{}
	for n, a := range comp.Arns {
		arns[n] = a
	}
	return comp, ctx.RegisterResourceOutputs(comp, pulumi.Map{"arns": arns})
}
