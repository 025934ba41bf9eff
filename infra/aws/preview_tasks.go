package aws

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/secretsmanager"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shipyard-kit/shipyard/app/appenv"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// PreviewAdminCommand is the admin task definition's own command; `shipyard
// pr-down` overrides it with "preview drop".
var PreviewAdminCommand = []string{"preview", "create"}

// newPreviewLogging is a PR environment's Logging: its own app and log
// router groups, encrypted with the base stack's key (kmsKeyArn) and kept
// previews.logRetentionDays; no key and no archive of its own.
func newPreviewLogging(ctx *pulumi.Context, name, prefix, kmsKeyArn string, retentionDays int, opts ...pulumi.ResourceOption) (*Logging, error) {
	comp := &Logging{args: LoggingArgs{Prefix: prefix, RetentionDays: retentionDays}}
	if err := ctx.RegisterComponentResource(typePrefix+"Logging", name, comp, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(comp)
	comp.KeyArn = pulumi.String(kmsKeyArn).ToStringOutput()
	comp.AppLogGroupNames = map[stackconfig.Process]pulumi.StringOutput{}
	comp.AppLogGroupArns = map[stackconfig.Process]pulumi.StringOutput{}
	for _, p := range stackconfig.Processes {
		g, err := comp.LogGroup(ctx, name+"-"+string(p), prefix+"/"+string(p), parent)
		if err != nil {
			return nil, err
		}
		comp.AppLogGroupNames[p], comp.AppLogGroupArns[p] = g.Name, g.Arn
	}
	router, err := comp.LogGroup(ctx, name+"-router", prefix+"/log-router", parent)
	if err != nil {
		return nil, err
	}
	comp.RouterLogGroupName, comp.RouterLogGroupArn = router.Name, router.Arn
	empty := pulumi.String("").ToStringOutput()
	comp.ArchiveBucket, comp.ArchiveBucketArn, comp.ArchiveConfigArn = empty, empty, empty
	return comp, ctx.RegisterResourceOutputs(comp, pulumi.Map{"keyArn": comp.KeyArn, "routerLogGroupName": comp.RouterLogGroupName})
}

// PreviewDatabaseSecret is the password of a PR environment's database
// user: generated in the stack (random) and kept in Secrets Manager with
// the base's key, so tasks read it as every other secret.
type PreviewDatabaseSecret struct {
	pulumi.ResourceState

	Arn pulumi.StringOutput
}

// NewPreviewDatabaseSecret creates the password and its secret
// "shipyard/<stack>/DATABASE_PASSWORD".
func NewPreviewDatabaseSecret(ctx *pulumi.Context, name, stack, kmsKeyArn string, opts ...pulumi.ResourceOption) (*PreviewDatabaseSecret, error) {
	comp := &PreviewDatabaseSecret{}
	if err := ctx.RegisterComponentResource(typePrefix+"PreviewDatabaseSecret", name, comp, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(comp)
	// Letters and digits only: it goes into a connection string unescaped.
	pw, err := random.NewRandomPassword(ctx, name+"-password", &random.RandomPasswordArgs{
		Length:  pulumi.Int(32),
		Special: pulumi.Bool(false),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("database password: %w", err)
	}
	s, err := secretsmanager.NewSecret(ctx, name, &secretsmanager.SecretArgs{
		Name:                 pulumi.Sprintf("shipyard/%s/%s", stack, stackconfig.SecretDatabasePassword),
		Description:          pulumi.Sprintf("password of the database user of PR environment %s", stack),
		KmsKeyId:             pulumi.String(kmsKeyArn),
		RecoveryWindowInDays: pulumi.Int(recoveryWindow(false)),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("database password secret: %w", err)
	}
	if _, err := secretsmanager.NewSecretVersion(ctx, name, &secretsmanager.SecretVersionArgs{
		SecretId:     s.ID(),
		SecretString: pw.Result,
	}, parent); err != nil {
		return nil, fmt.Errorf("database password secret version: %w", err)
	}
	comp.Arn = s.Arn
	return comp, ctx.RegisterResourceOutputs(comp, pulumi.Map{"arn": comp.Arn})
}

// PreviewAdminArgs configures a PR environment's admin task.
type PreviewAdminArgs struct {
	// Task is the PR's TaskArgs; its Secrets and SecretArns are replaced.
	Task TaskArgs
	// Family is "shipyard-<stack>-admin".
	Family string
	// MasterSecretArn is the RDS-managed master user secret (JSON);
	// RedisAuthSecretArn and DatabaseSecret (the PR user's password) are
	// plain.
	MasterSecretArn, RedisAuthSecretArn string
	DatabaseSecret                      pulumi.StringOutput
}

// PreviewAdmin is the task definition `shipyard pr-up` and `pr-down` run
// (`aws ecs run-task`) to create and drop the PR's database, user and
// Redis keys. It is the only task of the PR that holds the master user's
// secret.
type PreviewAdmin struct {
	pulumi.ResourceState

	TaskDefinitionArn pulumi.StringOutput
}

// NewPreviewAdmin creates the admin task definition and its roles.
func NewPreviewAdmin(ctx *pulumi.Context, name string, args PreviewAdminArgs, opts ...pulumi.ResourceOption) (*PreviewAdmin, error) {
	comp := &PreviewAdmin{}
	if err := ctx.RegisterComponentResource(typePrefix+"PreviewAdmin", name, comp, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(comp)
	if !args.Task.Config.IsPreview() {
		return nil, fmt.Errorf("admin task of stack %s, which is no PR environment", args.Task.Config.Stack)
	}
	t := args.Task
	// The env docker gives its create and drop containers
	// (stackconfig's PreviewAdminEnv); the secrets of both commands are
	// ECS secrets of the one task definition: the RDS master user's
	// password (the base's admin), Redis's AUTH token and the PR user's
	// password.
	t.Secrets = map[string]pulumi.StringInput{
		stackconfig.SecretDatabasePassword: pulumi.String(args.MasterSecretArn + ":password::"),
		stackconfig.SecretRedisPassword:    pulumi.String(args.RedisAuthSecretArn),
		appenv.PreviewDatabasePassword:     args.DatabaseSecret,
	}
	t.SecretArns = []pulumi.StringInput{pulumi.String(args.MasterSecretArn), pulumi.String(args.RedisAuthSecretArn), args.DatabaseSecret}
	t.Env = t.Config.PreviewAdminEnv
	// It logs to the web log group (stream prefix "admin/") and makes no
	// spans.
	execRole, taskRole, _, err := taskRoles(ctx, name, t, stackconfig.Web, false, parent)
	if err != nil {
		return nil, err
	}
	td, err := newTaskDefinition(ctx, name+"-task", args.Family, t, taskSpec{
		Process: stackconfig.Web,
		Admin:   PreviewAdminCommand,
		Region:  t.Region,
		Service: t.Config.Services.Web,
	}, execRole.Arn, taskRole.Arn, parent)
	if err != nil {
		return nil, err
	}
	comp.TaskDefinitionArn = td.Arn
	return comp, ctx.RegisterResourceOutputs(comp, pulumi.Map{"taskDefinitionArn": comp.TaskDefinitionArn})
}
