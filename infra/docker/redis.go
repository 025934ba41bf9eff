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
	image, err := docker.NewRemoteImage(ctx, name+"-image", &docker.RemoteImageArgs{
		Name:        pulumi.String(args.Image),
		KeepLocally: pulumi.Bool(true),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("redis image: %w", err)
	}
	volume, err := docker.NewVolume(ctx, name+"-data", &docker.VolumeArgs{
		Name: pulumi.String(args.VolumeName),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("redis volume: %w", err)
	}
	c.Container, err = docker.NewContainer(ctx, name, &docker.ContainerArgs{
		Name:  pulumi.String(args.ContainerName),
		Image: image.ImageId,
		Command: pulumi.StringArray{
			pulumi.String("redis-server"),
			pulumi.String("--port"), pulumi.String(strconv.Itoa(args.Port)),
			pulumi.String("--appendonly"), pulumi.String("yes"),
			pulumi.String("--requirepass"), args.Password.ToStringOutput(),
		},
		// The health check reads the password from the env, not its argv.
		Envs: pulumi.StringArray{pulumi.Sprintf("%s=%s", stackconfig.SecretRedisPassword, args.Password)},
		NetworksAdvanced: docker.ContainerNetworksAdvancedArray{
			docker.ContainerNetworksAdvancedArgs{Name: args.Network, Aliases: pulumi.StringArray{pulumi.String(args.Alias)}},
		},
		Volumes: docker.ContainerVolumeArray{
			docker.ContainerVolumeArgs{VolumeName: volume.Name, ContainerPath: pulumi.String(RedisDataDir)},
		},
		Healthcheck: &docker.ContainerHealthcheckArgs{
			Tests: pulumi.StringArray{pulumi.String("CMD-SHELL"),
				pulumi.String(fmt.Sprintf(`redis-cli --no-auth-warning -p %d -a "$%s" ping | grep -q PONG`, args.Port, stackconfig.SecretRedisPassword))},
			Interval:    pulumi.String("2s"),
			Timeout:     pulumi.String("5s"),
			Retries:     pulumi.Int(60),
			StartPeriod: pulumi.String("2s"),
		},
		Restart:     pulumi.String("unless-stopped"),
		StopTimeout: pulumi.Int(30),
		LogDriver:   pulumi.String(args.Logs.Driver),
		LogOpts:     args.Logs.opts(),
		Wait:        pulumi.Bool(true),
		WaitTimeout: pulumi.Int(120),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("redis container: %w", err)
	}
	c.ContainerName = c.Container.Name
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"containerName": c.ContainerName}); err != nil {
		return nil, fmt.Errorf("redis outputs: %w", err)
	}
	return c, nil
}
