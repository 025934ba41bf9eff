package aws

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// ContainerDefinition is the subset of an ECS container definition Shipyard
// uses; task definitions marshal a slice of them with encoding/json.
type ContainerDefinition struct {
	Name                   string                 `json:"name"`
	Image                  string                 `json:"image"`
	Essential              bool                   `json:"essential"`
	Command                []string               `json:"command,omitempty"`
	User                   string                 `json:"user,omitempty"`
	ReadonlyRootFilesystem bool                   `json:"readonlyRootFilesystem"`
	Privileged             bool                   `json:"privileged"`
	StopTimeout            int                    `json:"stopTimeout,omitempty"`
	MemoryReservation      int                    `json:"memoryReservation,omitempty"`
	PortMappings           []PortMapping          `json:"portMappings,omitempty"`
	Environment            []stackconfig.EnvVar   `json:"environment"`
	Secrets                []Secret               `json:"secrets,omitempty"`
	LogConfiguration       *LogConfiguration      `json:"logConfiguration,omitempty"`
	FirelensConfiguration  *FirelensConfiguration `json:"firelensConfiguration,omitempty"`
	HealthCheck            *HealthCheck           `json:"healthCheck,omitempty"`
	DependsOn              []ContainerDependency  `json:"dependsOn,omitempty"`
	MountPoints            []MountPoint           `json:"mountPoints,omitempty"`
	LinuxParameters        *LinuxParameters       `json:"linuxParameters,omitempty"`
}

// PortMapping exposes a container port (awsvpc: host port = container port).
type PortMapping struct {
	Name          string `json:"name,omitempty"`
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol"`
}

// Secret injects a Secrets Manager value (or a JSON key of it) as an env var.
type Secret struct {
	Name      string `json:"name"`
	ValueFrom string `json:"valueFrom"`
}

// LogConfiguration is a container's log driver.
type LogConfiguration struct {
	LogDriver string            `json:"logDriver"`
	Options   map[string]string `json:"options,omitempty"`
}

// FirelensConfiguration marks the log router container.
type FirelensConfiguration struct {
	Type    string            `json:"type"`
	Options map[string]string `json:"options,omitempty"`
}

// HealthCheck is a container health check.
type HealthCheck struct {
	Command     []string `json:"command"`
	Interval    int      `json:"interval"`
	Timeout     int      `json:"timeout"`
	Retries     int      `json:"retries"`
	StartPeriod int      `json:"startPeriod"`
}

// ContainerDependency orders container start-up within a task.
type ContainerDependency struct {
	ContainerName string `json:"containerName"`
	Condition     string `json:"condition"`
}

// MountPoint mounts a task volume.
type MountPoint struct {
	SourceVolume  string `json:"sourceVolume"`
	ContainerPath string `json:"containerPath"`
	ReadOnly      bool   `json:"readOnly"`
}

// LinuxParameters holds kernel-level container settings.
type LinuxParameters struct {
	InitProcessEnabled bool          `json:"initProcessEnabled"`
	Capabilities       *Capabilities `json:"capabilities,omitempty"`
}

// Capabilities adds or drops Linux capabilities.
type Capabilities struct {
	Drop []string `json:"drop,omitempty"`
}

// Container names inside every Shipyard task.
const (
	AppContainer     = "app"
	MigrateContainer = "migrate"
	AdminContainer   = "admin"
	RouterContainer  = "log_router"
	// tmpVolume is the task's scratch volume, the only writable path.
	tmpVolume = "tmp"
)

// Subcommand is the app binary's subcommand of each process type.
func Subcommand(p stackconfig.Process) string {
	if p == stackconfig.Web {
		return "serve"
	}
	return string(p)
}

// taskSpec is everything one task's container definitions are built from,
// once the outputs they need are known.
type taskSpec struct {
	Process stackconfig.Process
	// Migrate adds the release init container (see docs/aws.md).
	Migrate bool
	// OnlyMigrate makes the release task: the migrate container alone.
	OnlyMigrate bool
	// Admin makes an admin task: the AdminContainer alone, running the
	// app with these arguments (a PR environment's `preview create`).
	Admin  []string
	Image  string
	Region string
	Env    []stackconfig.EnvVar
	// Secrets maps env var names to valueFrom ARNs.
	Secrets map[string]string
	Service stackconfig.Service
	// Tracing adds the ADOT collector sidecar (collector.go) that the
	// app's spans go to.
	Tracing          bool
	AppLogGroup      string
	RouterLogGroup   string
	ArchiveConfigArn string
}

// containerDefinitions builds and marshals a task's containers: the app
// (or the migrate task), the migrate init container, the ADOT collector
// when tracing is on, and the FireLens log router.
func containerDefinitions(s taskSpec) (string, error) {
	names := make([]string, 0, len(s.Secrets))
	for n := range s.Secrets {
		names = append(names, n)
	}
	sort.Strings(names)
	secrets := make([]Secret, 0, len(names))
	for _, n := range names {
		secrets = append(secrets, Secret{Name: n, ValueFrom: s.Secrets[n]})
	}
	env := append([]stackconfig.EnvVar{}, s.Env...)
	firelens := func(prefix string) *LogConfiguration {
		return &LogConfiguration{LogDriver: "awsfirelens", Options: map[string]string{
			"Name":              "cloudwatch_logs",
			"region":            s.Region,
			"log_group_name":    s.AppLogGroup,
			"log_stream_prefix": prefix + "/",
			"auto_create_group": "false",
			// The app logs JSON lines: ship the line itself, not a wrapper.
			"log_key":     "log",
			"retry_limit": "2",
		}}
	}
	hardening := &LinuxParameters{InitProcessEnabled: true, Capabilities: &Capabilities{Drop: []string{"ALL"}}}
	tmp := []MountPoint{{SourceVolume: tmpVolume, ContainerPath: "/tmp"}}
	appContainer := func(name string, command []string, essential bool) ContainerDefinition {
		return ContainerDefinition{
			Name:                   name,
			Image:                  s.Image,
			Essential:              essential,
			Command:                command,
			User:                   AppUser,
			ReadonlyRootFilesystem: true,
			StopTimeout:            s.Service.StopTimeoutSeconds,
			Environment:            env,
			Secrets:                secrets,
			LogConfiguration:       firelens(name),
			DependsOn:              []ContainerDependency{{ContainerName: RouterContainer, Condition: "START"}},
			MountPoints:            tmp,
			LinuxParameters:        hardening,
		}
	}

	var defs []ContainerDefinition
	switch {
	case len(s.Admin) > 0:
		defs = append(defs, appContainer(AdminContainer, s.Admin, true))
	case s.OnlyMigrate:
		defs = append(defs, appContainer(MigrateContainer, []string{"migrate"}, true))
	default:
		app := appContainer(AppContainer, []string{Subcommand(s.Process)}, true)
		app.PortMappings = []PortMapping{{Name: "http", ContainerPort: s.Service.Port, Protocol: "tcp"}}
		app.HealthCheck = &HealthCheck{
			Command:     []string{"CMD", "/app", "healthcheck"},
			Interval:    15,
			Timeout:     5,
			Retries:     3,
			StartPeriod: 30,
		}
		if s.Migrate {
			m := appContainer(MigrateContainer, []string{"migrate"}, false)
			defs = append(defs, m)
			app.DependsOn = append(app.DependsOn, ContainerDependency{ContainerName: MigrateContainer, Condition: "SUCCESS"})
		}
		if s.Tracing {
			collector, err := collectorContainer(s)
			if err != nil {
				return "", err
			}
			defs = append(defs, collector)
			// Started first, so the app's first spans find it.
			app.DependsOn = append(app.DependsOn, ContainerDependency{ContainerName: CollectorContainer, Condition: "START"})
		}
		defs = append(defs, app)
	}
	defs = append(defs, routerContainer(s))
	b, err := json.Marshal(defs)
	if err != nil {
		return "", fmt.Errorf("marshal container definitions: %w", err)
	}
	return string(b), nil
}

// routerContainer is the FireLens sidecar. It runs as root because FireLens
// requires it (aws/containers-roadmap#2122); with the S3 archive it uses the
// init image, which writes the downloaded config under /init and so cannot
// have a read-only root filesystem (aws/aws-for-fluent-bit#928). Both are
// exceptions written down in infra/policy.
func routerContainer(s taskSpec) ContainerDefinition {
	c := ContainerDefinition{
		Name:                   RouterContainer,
		Image:                  FluentBitImage,
		Essential:              true,
		User:                   "0",
		ReadonlyRootFilesystem: true,
		MemoryReservation:      50,
		Environment:            []stackconfig.EnvVar{},
		FirelensConfiguration: &FirelensConfiguration{Type: "fluentbit", Options: map[string]string{
			"enable-ecs-log-metadata": "true",
		}},
		LogConfiguration: &LogConfiguration{LogDriver: "awslogs", Options: map[string]string{
			"awslogs-group":         s.RouterLogGroup,
			"awslogs-region":        s.Region,
			"awslogs-stream-prefix": string(s.Process),
		}},
		MountPoints: []MountPoint{{SourceVolume: tmpVolume, ContainerPath: "/tmp"}},
	}
	if s.ArchiveConfigArn != "" {
		c.Image = FluentBitInitImage
		c.ReadonlyRootFilesystem = false
		c.Environment = []stackconfig.EnvVar{{Name: "aws_fluent_bit_init_s3_1", Value: s.ArchiveConfigArn}}
	}
	return c
}

// itoa is strconv.Itoa, for the string-typed task sizes.
func itoa(n int) string { return strconv.Itoa(n) }
