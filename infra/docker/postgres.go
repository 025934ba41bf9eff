package docker

import (
	"fmt"
	"strconv"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// PostgresArgs configures the Postgres container.
type PostgresArgs struct {
	// Image is the official image name (config local.images.postgres).
	Image         string
	ContainerName string
	VolumeName    string
	// Network is the private network's name; Alias the container's name on it.
	Network  pulumi.StringInput
	Alias    string
	Port     int
	Database string
	Username string
	Password pulumi.StringInput
	Logs     LogOptions
	// Stack labels the container and volume (StackLabel).
	Stack string
}

// Postgres is the database container with its image and named volume.
type Postgres struct {
	pulumi.ResourceState

	Container     *docker.Container
	ContainerName pulumi.StringOutput
}

// PostgresDataDir is where the official image keeps its data.
const PostgresDataDir = "/var/lib/postgresql/data"

// NewPostgres creates the Postgres container: the official image's env
// interface, a named volume for the data, the network alias, a readiness
// health check the deploy waits for.
func NewPostgres(ctx *pulumi.Context, name string, args *PostgresArgs, opts ...pulumi.ResourceOption) (*Postgres, error) {
	c := &Postgres{}
	if err := ctx.RegisterComponentResource("shipyard:docker:Postgres", name, c, opts...); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	parent := pulumi.Parent(c)
	var err error
	c.Container, err = newDataStore(ctx, name, dataStore{
		Image: args.Image, ContainerName: args.ContainerName, VolumeName: args.VolumeName,
		DataDir: PostgresDataDir, Network: args.Network, Alias: args.Alias, Logs: args.Logs, Stack: args.Stack,
		Envs: pulumi.StringArray{
			pulumi.String("POSTGRES_USER=" + args.Username),
			pulumi.String("POSTGRES_DB=" + args.Database),
			pulumi.Sprintf("POSTGRES_PASSWORD=%s", args.Password),
		},
		Healthcheck: &docker.ContainerHealthcheckArgs{
			Tests: pulumi.StringArray{pulumi.String("CMD"), pulumi.String("pg_isready"), pulumi.String("-h"), pulumi.String("127.0.0.1"),
				pulumi.String("-p"), pulumi.String(strconv.Itoa(args.Port)), pulumi.String("-U"), pulumi.String(args.Username), pulumi.String("-d"), pulumi.String(args.Database)},
			Interval:    pulumi.String("2s"),
			Timeout:     pulumi.String("5s"),
			Retries:     pulumi.Int(60), // a slow first start (initdb) on a busy machine
			StartPeriod: pulumi.String("5s"),
		},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	c.ContainerName = c.Container.Name
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"containerName": c.ContainerName}); err != nil {
		return nil, fmt.Errorf("postgres outputs: %w", err)
	}
	return c, nil
}
