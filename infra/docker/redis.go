package docker

import (
	"fmt"
	"strconv"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// RedisArgs configures the Redis container.
type RedisArgs struct {
	// Image is the official image name (config local.images.redis).
	Image         string
	ContainerName string
	VolumeName    string
	Network       pulumi.StringInput
	Alias         string
	Port          int
	// Password is required by the server (--requirepass), as ElastiCache's
	// auth token is in prod, so REDIS_PASSWORD is exercised locally too.
	Password pulumi.StringInput
	Logs     LogOptions
	// Stack labels the container and volume (StackLabel).
	Stack string
}

// Redis is the cache/queue container with its image and named volume.
type Redis struct {
	pulumi.ResourceState

	Container     *docker.Container
	ContainerName pulumi.StringOutput
}

// RedisDataDir is where the official image keeps its data.
const RedisDataDir = "/data"

// NewRedis creates the Redis container with a password, append-only
// persistence on a named volume, the network alias and a health check.
func NewRedis(ctx *pulumi.Context, name string, args *RedisArgs, opts ...pulumi.ResourceOption) (*Redis, error) {
	c := &Redis{}
	if err := ctx.RegisterComponentResource("shipyard:docker:Redis", name, c, opts...); err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	parent := pulumi.Parent(c)
	var err error
	c.Container, err = newDataStore(ctx, name, dataStore{
		Image: args.Image, ContainerName: args.ContainerName, VolumeName: args.VolumeName,
		DataDir: RedisDataDir, Network: args.Network, Alias: args.Alias, Logs: args.Logs, Stack: args.Stack,
		Command: pulumi.StringArray{
			pulumi.String("redis-server"),
			pulumi.String("--port"), pulumi.String(strconv.Itoa(args.Port)),
			pulumi.String("--appendonly"), pulumi.String("yes"),
			pulumi.String("--requirepass"), args.Password.ToStringOutput(),
		},
		// The health check reads the password from the env, not its argv.
		Envs: pulumi.StringArray{pulumi.Sprintf("%s=%s", stackconfig.SecretRedisPassword, args.Password)},
		Healthcheck: &docker.ContainerHealthcheckArgs{
			Tests: pulumi.StringArray{pulumi.String("CMD-SHELL"),
				pulumi.String(fmt.Sprintf(`redis-cli --no-auth-warning -p %d -a "$%s" ping | grep -q PONG`, args.Port, stackconfig.SecretRedisPassword))},
			Interval:    pulumi.String("2s"),
			Timeout:     pulumi.String("5s"),
			Retries:     pulumi.Int(60),
			StartPeriod: pulumi.String("2s"),
		},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	c.ContainerName = c.Container.Name
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"containerName": c.ContainerName}); err != nil {
		return nil, fmt.Errorf("redis outputs: %w", err)
	}
	return c, nil
}
