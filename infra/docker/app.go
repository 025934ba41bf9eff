package docker

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// Subcommands maps each process type to the app binary's subcommand.
var Subcommands = map[stackconfig.Process]string{
	stackconfig.Web:    "serve",
	stackconfig.Worker: "worker",
	stackconfig.Clock:  "clock",
}

// MigrationLabel is the label every app container carries once the
// migration has exited 0; its value comes from the migration's exit code,
// so no app container can be created before (or without) a successful
// migration.
const MigrationLabel = "dev.shipyard.migration"

// ProcessLabel names the process type of an app container.
const ProcessLabel = "dev.shipyard.process"

// HealthCheckCommand is every app container's health check, as in prod's
// task definitions.
var HealthCheckCommand = []string{"CMD", "/app", "healthcheck"}

// AppArgs configures the app image, migration and processes.
type AppArgs struct {
	Config  *stackconfig.Config
	Names   Names
	Network pulumi.StringInput
	Secrets *secrets
	Logs    LogOptions
	// DatabaseCAVolume holds the Postgres container's CA certificate; every
	// app container mounts it read-only where DATABASE_URL's sslrootcert
	// points (stackconfig.LocalDatabaseCAPath).
	DatabaseCAVolume pulumi.StringInput
	// Dependencies must be up (healthy) before the migration runs.
	Dependencies []pulumi.Resource
	// Candidate, when set, is the image ID of a release in progress
	// (`shipyard release` on a docker stack): its migration runs and
	// local.webReplicas web containers of it start beside the running
	// generation, under the network alias CanaryAlias, which nginx gives
	// only the share of requests the release's current step says.
	Candidate string
	// AliasPrefix, when set, prefixes every process's network alias
	// (ProcessAlias): a PR environment's containers join the base stack's
	// network without joining the base's nginx or Prometheus pools.
	AliasPrefix string
	// Prerequisite, when set, must resolve before the migration is
	// created (its label PrerequisiteLabel): a PR's checked `preview
	// create`, whose failure fails the deploy before any migration.
	Prerequisite pulumi.StringInput
}

// PrerequisiteLabel carries AppArgs.Prerequisite on the migration.
const PrerequisiteLabel = "dev.shipyard.prerequisite"

// App is the app image, its migration and its process containers.
type App struct {
	pulumi.ResourceState

	// ImageName is the app image's name (<repository>:local, built by
	// `make image`); ImageID the image ID it resolved to, which every
	// container runs.
	ImageName string
	ImageID   string
	// Generation names this release of the app containers (Generation).
	Generation string
	Migration  *docker.Container
	Web        []*docker.Container
	// CandidateGeneration and Canary are the release's new web
	// generation and its containers (none without AppArgs.Candidate).
	CandidateGeneration string
	Canary              []*docker.Container
	Worker              *docker.Container
	Clock               *docker.Container
	// Containers maps each process type to its containers.
	Containers map[stackconfig.Process][]*docker.Container
}

// NewApp runs the app image `make image` built (looked up by name, run by
// ID: a rebuilt image with identical content is no change), `app migrate`
// as a one-off container and, once it has exited 0, local.webReplicas web
// containers, a worker and a clock.
//
// pulumi-docker replaces a container delete-before-replace, which would
// stop every replica before its successor starts. So a change never
// replaces an app container: their resource (and container) names carry
// the release's Generation, and a change to the image, the env or a
// process's settings registers new containers, which Pulumi creates (each
// healthy before the update goes on) before it deletes the previous
// generation's, last, as resources the program no longer has: the 200 %
// rolling deployment of ECS. A replica count change adds or removes
// replicas only.
func NewApp(ctx *pulumi.Context, name string, args *AppArgs, opts ...pulumi.ResourceOption) (*App, error) {
	cfg := args.Config
	c := &App{Containers: map[stackconfig.Process][]*docker.Container{}, ImageName: cfg.AppImage()}
	if err := ctx.RegisterComponentResource("shipyard:docker:App", name, c, opts...); err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	parent := pulumi.Parent(c)
	if d := cfg.Release.ImageDigest; d != "" {
		// A released image (`shipyard release` on a docker stack wrote
		// its image ID here): run it, not what `make image` built last.
		c.ImageName, c.ImageID = d, d
	} else {
		img, err := docker.LookupRemoteImage(ctx, &docker.LookupRemoteImageArgs{Name: c.ImageName}, pulumi.Parent(c))
		if err != nil {
			return nil, fmt.Errorf("app image %s (built by `make image STACK=%s`, which `make up` runs): %w", c.ImageName, cfg.Stack, err)
		}
		c.ImageID = img.Id
	}
	var err error
	if c.Generation, err = Generation(cfg, c.ImageID, args.Secrets.names); err != nil {
		return nil, err
	}
	gen := func(resourceName string) string { return resourceName + "-" + c.Generation }
	envs := args.Secrets.envs(cfg)
	common := func(cname, image string, command ...string) *docker.ContainerArgs {
		cmd := pulumi.StringArray{}
		for _, s := range command {
			cmd = append(cmd, pulumi.String(s))
		}
		return &docker.ContainerArgs{
			Name:    pulumi.String(cname),
			Image:   pulumi.String(image),
			Command: cmd,
			Envs:    envs,
			NetworksAdvanced: docker.ContainerNetworksAdvancedArray{
				docker.ContainerNetworksAdvancedArgs{Name: args.Network},
			},
			User:     pulumi.String(AppUser),
			ReadOnly: pulumi.Bool(true),
			// The only writable path, as the task's scratch volume on ECS.
			Mounts: docker.ContainerMountArray{
				docker.ContainerMountArgs{Type: pulumi.String("tmpfs"), Target: pulumi.String("/tmp")},
			},
			Volumes: docker.ContainerVolumeArray{
				docker.ContainerVolumeArgs{VolumeName: args.DatabaseCAVolume, ContainerPath: pulumi.String(DatabaseCADir), ReadOnly: pulumi.Bool(true)},
			},
			LogDriver: pulumi.String(args.Logs.Driver),
			LogOpts:   args.Logs.opts(),
		}
	}

	newMigration := func(generation, image string) (*docker.Container, pulumi.StringOutput, error) {
		cname := args.Names.Container("migrate") + "-" + generation
		migrate := common(cname, image, "migrate")
		migrate.Labels = stackLabels(cfg.Stack, docker.ContainerLabelArgs{Label: pulumi.String(ProcessLabel), Value: pulumi.String("migrate")})
		if args.Prerequisite != nil {
			migrate.Labels = append(migrate.Labels.(docker.ContainerLabelArray), docker.ContainerLabelArgs{Label: pulumi.String(PrerequisiteLabel), Value: args.Prerequisite})
		}
		// attach: the deploy waits for the one-off to exit; logs: its output is
		// kept for the error message. mustRun must be off for a container that
		// exits, and exitCode is checked below.
		migrate.Attach = pulumi.Bool(true)
		migrate.Logs = pulumi.Bool(true)
		migrate.MustRun = pulumi.Bool(false)
		migrate.Restart = pulumi.String("no")
		// As prod's release task, which runs with the web service's settings.
		migrate.StopTimeout = pulumi.Int(cfg.Services.Get(stackconfig.Web).StopTimeoutSeconds)
		m, err := docker.NewContainer(ctx, cname, migrate, parent, pulumi.DependsOn(args.Dependencies))
		if err != nil {
			return nil, pulumi.StringOutput{}, fmt.Errorf("migration container: %w", err)
		}
		return m, pulumi.All(m.ExitCode, m.ContainerLogs).ApplyT(func(v []any) (string, error) {
			return CheckMigration(v[0].(int), v[1].(string))
		}).(pulumi.StringOutput), nil
	}
	var migrated pulumi.StringOutput
	c.Migration, migrated, err = newMigration(c.Generation, c.ImageID)
	if err != nil {
		return nil, err
	}

	add := func(p stackconfig.Process, cname, image, alias string, migration *docker.Container, migrated pulumi.StringOutput) (*docker.Container, error) {
		svc := cfg.Services.Get(p)
		a := common(cname, image, Subcommands[p])
		a.Labels = stackLabels(cfg.Stack,
			docker.ContainerLabelArgs{Label: pulumi.String(MigrationLabel), Value: migrated},
			docker.ContainerLabelArgs{Label: pulumi.String(ProcessLabel), Value: pulumi.String(string(p))},
		)
		a.NetworksAdvanced = docker.ContainerNetworksAdvancedArray{
			docker.ContainerNetworksAdvancedArgs{Name: args.Network, Aliases: pulumi.StringArray{pulumi.String(alias)}},
		}
		hc := pulumi.StringArray{}
		for _, s := range HealthCheckCommand {
			hc = append(hc, pulumi.String(s))
		}
		a.Healthcheck = &docker.ContainerHealthcheckArgs{
			Tests:       hc,
			Interval:    pulumi.String("5s"),
			Timeout:     pulumi.String("3s"),
			Retries:     pulumi.Int(3),
			StartPeriod: pulumi.String("10s"),
		}
		a.Restart = pulumi.String("unless-stopped")
		a.StopTimeout = pulumi.Int(svc.StopTimeoutSeconds)
		a.DestroyGraceSeconds = pulumi.Int(svc.StopTimeoutSeconds)
		a.Wait = pulumi.Bool(true)
		a.WaitTimeout = pulumi.Int(cfg.Local.HealthWaitSeconds)
		return docker.NewContainer(ctx, cname, a, parent, pulumi.DependsOn([]pulumi.Resource{migration}))
	}
	addCurrent := func(p stackconfig.Process, cname string) (*docker.Container, error) {
		ctr, err := add(p, cname, c.ImageID, args.AliasPrefix+ProcessAlias(p), c.Migration, migrated)
		if err != nil {
			return nil, fmt.Errorf("%s container: %w", p, err)
		}
		c.Containers[p] = append(c.Containers[p], ctr)
		return ctr, nil
	}
	for i := 1; i <= cfg.Local.WebReplicas; i++ {
		ctr, err := addCurrent(stackconfig.Web, gen(args.Names.Web(i)))
		if err != nil {
			return nil, err
		}
		c.Web = append(c.Web, ctr)
	}
	if c.Worker, err = addCurrent(stackconfig.Worker, gen(args.Names.Container("worker"))); err != nil {
		return nil, err
	}
	if c.Clock, err = addCurrent(stackconfig.Clock, gen(args.Names.Container("clock"))); err != nil {
		return nil, err
	}
	if args.Candidate != "" {
		if c.CandidateGeneration, err = Generation(cfg, args.Candidate, args.Secrets.names); err != nil {
			return nil, err
		}
		// The new image's migrations first (the N-1 gate keeps them
		// compatible with the running generation); once the release is
		// promoted this is the running generation's migration, unchanged.
		migration, done := c.Migration, migrated
		if c.CandidateGeneration != c.Generation {
			if migration, done, err = newMigration(c.CandidateGeneration, args.Candidate); err != nil {
				return nil, err
			}
		}
		for i := 1; i <= cfg.Local.WebReplicas; i++ {
			cname := args.Names.Canary(i) + "-" + c.CandidateGeneration
			ctr, err := add(stackconfig.Web, cname, args.Candidate, args.AliasPrefix+CanaryAlias, migration, done)
			if err != nil {
				return nil, fmt.Errorf("canary web container: %w", err)
			}
			c.Canary = append(c.Canary, ctr)
		}
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"image":      pulumi.String(c.ImageName),
		"imageId":    pulumi.String(c.ImageID),
		"generation": pulumi.String(c.Generation),
		"migration":  c.Migration.Name,
	}); err != nil {
		return nil, fmt.Errorf("app outputs: %w", err)
	}
	return c, nil
}

// CheckMigration turns the migration's exit code into the value of
// MigrationLabel, or the error that fails the deploy (the test harness
// applies it to the real exit code too).
func CheckMigration(exitCode int, logs string) (string, error) {
	if exitCode == 0 {
		return "succeeded", nil
	}
	msg := fmt.Sprintf("migration failed: `app migrate` exited %d, so no app container was started", exitCode)
	if tail := lastLines(logs, 20); tail != "" {
		msg += "; its output:\n" + tail
	}
	return "", fmt.Errorf("%s", msg)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// Generation is the 8-hex-digit name of a release of the app containers:
// a hash of everything that would otherwise replace them (the image ID, the
// env, the secrets' names, the processes' settings, the log options), and
// of nothing else (not the replica count). A new value gives every app
// container a new name, so a change rolls instead of replacing in place.
func Generation(cfg *stackconfig.Config, imageID string, secretNames []string) (string, error) {
	data, err := json.Marshal(struct {
		Image    string
		Env      []stackconfig.EnvVar
		Secrets  []string
		Services stackconfig.Services
		LogSize  string
		LogFiles int
		User     string
	}{imageID, cfg.Env(stackconfig.LocalEndpoints), secretNames, cfg.Services, cfg.Local.LogMaxSize, cfg.Local.LogMaxFiles, AppUser})
	if err != nil {
		return "", fmt.Errorf("app generation: %w", err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:4]), nil
}
