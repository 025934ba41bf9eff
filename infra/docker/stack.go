// Package docker holds the Pulumi components of the local Docker target: the
// `local` stack mirrors prod's topology from the same stack config, with a
// private network, Postgres and Redis at prod's major versions, the app image
// built from the root Dockerfile, a one-off migration that must succeed
// before the app starts, the web/worker/clock processes, an nginx load
// balancer published on 127.0.0.1 only, and a Prometheus that scrapes them
// with the alert rules of the alarm table (infra/signals).
//
// Users run it with pulumi-docker (`make up`); `make test` deploys a stack of
// its own with the same program and the real engine (tests/e2e).
package docker

import (
	"fmt"
	"strconv"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// StackLabel is on every container, network and volume of a docker stack,
// with the stack's name as value: what `make destroy` and the tests' leak
// check find the stack's Docker objects by.
const StackLabel = "dev.shipyard.stack"

// WebAlias is the network alias every web replica carries: nginx resolves
// it per request through Docker's DNS, so replicas can be added, replaced
// and removed without touching the load balancer.
const WebAlias = "web"

// ProcessAlias is the network alias every container of process type p
// carries (WebAlias for web): nginx finds the web replicas by it, and
// Prometheus every process's containers, through Docker's DNS.
func ProcessAlias(p stackconfig.Process) string {
	if p == stackconfig.Web {
		return WebAlias
	}
	return string(p)
}

// ListenAddress is the only host address the load balancer is published on.
const ListenAddress = "127.0.0.1"

// AppUser is the uid:gid every app container runs as, as in prod's image.
const AppUser = "65532:65532"

// Names are the names of a stack's resources and Docker objects. App
// containers add their release's Generation to these (see NewApp); the
// stack outputs list their names.
type Names struct{ stack string }

// NamesFor returns the names of stack's Docker objects.
func NamesFor(stack string) Names { return Names{stack: stack} }

// Prefix is the prefix of every Docker object of the stack.
func (n Names) Prefix() string { return "shipyard-" + n.stack }

// Network is the name of the private network.
func (n Names) Network() string { return n.Prefix() }

// Container returns the container name of a role (postgres, redis, nginx,
// migrate, worker, clock).
func (n Names) Container(role string) string { return n.Prefix() + "-" + role }

// Web returns the container name of web replica i (1-based).
func (n Names) Web(i int) string { return n.Container("web-" + strconv.Itoa(i)) }

// Canary returns the container name of a release's new web replica i
// (1-based), before the release is promoted.
func (n Names) Canary(i int) string { return n.Container("canary-web-" + strconv.Itoa(i)) }

// Volume returns the name of a named volume.
func (n Names) Volume(role string) string { return n.Prefix() + "-" + role + "-data" }

// GateLogVolume is the name of the volume nginx writes its gate log to and
// mtail reads it from (not data: `make down` deletes it).
func (n Names) GateLogVolume() string { return n.Prefix() + "-gate-log" }

// DatabaseCAVolume is the name of the volume that hands the Postgres
// container's CA certificate to the app containers.
func (n Names) DatabaseCAVolume() string { return n.Prefix() + "-postgres-ca" }

// NewStack builds the local topology of a docker-target stack and returns
// its outputs (see docs/local.md for the contract).
func NewStack(ctx *pulumi.Context, cfg *stackconfig.Config) (pulumi.Map, error) {
	return NewStackWithCandidate(ctx, cfg, "")
}

// CandidateEnv is the variable through which `shipyard release` hands the
// Pulumi program of a docker stack the image ID of the release in
// progress (AppArgs.Candidate); nothing else sets it.
const CandidateEnv = "SHIPYARD_RELEASE_CANDIDATE"

// NewStackWithCandidate is NewStack with a release in progress: candidate
// (an image ID, or "" for none) runs as the canary web generation.
func NewStackWithCandidate(ctx *pulumi.Context, cfg *stackconfig.Config, candidate string) (pulumi.Map, error) {
	if cfg.Target != stackconfig.TargetDocker {
		return nil, fmt.Errorf("infra/docker: stack %q has target %q, but the local Docker topology builds only target %q stacks: set \"target\": %q in config/%s.json, or deploy it with the %q target's program",
			cfg.Stack, cfg.Target, stackconfig.TargetDocker, stackconfig.TargetDocker, cfg.Stack, cfg.Target)
	}
	names := NamesFor(cfg.Stack)
	logs := LogOptions{Driver: "json-file", MaxSize: cfg.Local.LogMaxSize, MaxFiles: cfg.Local.LogMaxFiles}

	network, err := docker.NewNetwork(ctx, names.Network(), &docker.NetworkArgs{
		Name:   pulumi.String(names.Network()),
		Driver: pulumi.String("bridge"),
		Labels: docker.NetworkLabelArray{docker.NetworkLabelArgs{Label: pulumi.String(StackLabel), Value: pulumi.String(cfg.Stack)}},
	})
	if err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}

	secrets, err := newSecrets(ctx, names.Prefix(), cfg)
	if err != nil {
		return nil, err
	}

	dbTLS, err := newDatabaseTLS(ctx, names.Prefix(), cfg.Stack, stackconfig.LocalEndpoints.DatabaseHost)
	if err != nil {
		return nil, err
	}

	pg, err := NewPostgres(ctx, names.Container("postgres"), &PostgresArgs{
		Image:         cfg.Local.Images.Postgres,
		ContainerName: names.Container("postgres"),
		VolumeName:    names.Volume("postgres"),
		Network:       network.Name,
		Alias:         stackconfig.LocalEndpoints.DatabaseHost,
		Port:          stackconfig.LocalEndpoints.DatabasePort,
		Database:      cfg.Database.Name,
		Username:      cfg.Database.Username,
		Password:      secrets.values[stackconfig.SecretDatabasePassword],
		TLS: &PostgresTLS{
			CACert: dbTLS.CACert, ServerCert: dbTLS.ServerCert, ServerKey: dbTLS.ServerKey,
			CAVolumeName: names.DatabaseCAVolume(),
		},
		Logs:  logs,
		Stack: cfg.Stack,
	})
	if err != nil {
		return nil, err
	}
	redis, err := NewRedis(ctx, names.Container("redis"), &RedisArgs{
		Image:         cfg.Local.Images.Redis,
		ContainerName: names.Container("redis"),
		VolumeName:    names.Volume("redis"),
		Network:       network.Name,
		Alias:         stackconfig.LocalEndpoints.RedisHost,
		Port:          stackconfig.LocalEndpoints.RedisPort,
		Password:      secrets.values[stackconfig.SecretRedisPassword],
		Logs:          logs,
		Stack:         cfg.Stack,
	})
	if err != nil {
		return nil, err
	}

	// Before the app, so that its first spans find it.
	jaeger, err := NewJaeger(ctx, names.Container("jaeger"), &JaegerArgs{Config: cfg, Names: names, Network: network.Name, Logs: logs})
	if err != nil {
		return nil, err
	}

	app, err := NewApp(ctx, names.Prefix()+"-app", &AppArgs{
		Config:  cfg,
		Names:   names,
		Network: network.Name,
		Secrets: secrets,
		Logs:    logs,
		// The app containers read the CA DATABASE_URL names from it.
		DatabaseCAVolume: pg.CAVolume,
		// The containers themselves, not their components: the SDK expands a
		// component dependency to the children registered so far, which
		// races with their registration (seen dropping Postgres entirely).
		Dependencies: []pulumi.Resource{pg.Container, redis.Container, jaeger.Container},
		Candidate:    candidate,
	})
	if err != nil {
		return nil, err
	}

	gateLog, err := newGateLogVolume(ctx, names, cfg.Stack)
	if err != nil {
		return nil, err
	}

	httpsTLS, err := newHTTPSTLS(ctx, names.Prefix(), cfg.Stack)
	if err != nil {
		return nil, err
	}
	web := cfg.Services.Get(stackconfig.Web)
	lb, err := NewLoadBalancer(ctx, names.Container("nginx"), &LoadBalancerArgs{
		Image:           cfg.Local.Images.Nginx,
		ContainerName:   names.Container("nginx"),
		Network:         network.Name,
		HostIP:          ListenAddress,
		HostPort:        cfg.Local.HTTPPort,
		HTTPSPort:       cfg.Local.HTTPSPort,
		TLS:             httpsTLS,
		UpstreamHost:    WebAlias,
		UpstreamPort:    web.Port,
		HealthCheckPath: web.HealthCheckPath,
		ReadTimeout:     cfg.App.RequestTimeoutSeconds + 5,
		IdleTimeout:     cfg.LoadBalancer.IdleTimeoutSeconds,
		Logs:            logs,
		Stack:           cfg.Stack,
		Dependencies:    app.Web,
		GateLogVolume:   gateLog.Name,
	})
	if err != nil {
		return nil, err
	}

	prom, err := NewPrometheus(ctx, names.Container("prometheus"), &PrometheusArgs{
		Config:    cfg,
		Names:     names,
		Network:   network.Name,
		NginxHost: names.Container("nginx"),
		GateLog:   gateLog.Name,
		Logs:      logs,
	})
	if err != nil {
		return nil, err
	}

	webNames := pulumi.StringArray{}
	for _, c := range app.Web {
		webNames = append(webNames, c.Name)
	}
	canaryNames := pulumi.StringArray{}
	for _, c := range app.Canary {
		canaryNames = append(canaryNames, c.Name)
	}
	return pulumi.Map{
		"stack":  pulumi.String(cfg.Stack),
		"target": pulumi.String(string(cfg.Target)),
		// HTTPS, as on aws; plain HTTP on httpUrl only redirects there.
		"url":              pulumi.Sprintf("https://%s:%d", ListenAddress, cfg.Local.HTTPSPort),
		"httpUrl":          pulumi.Sprintf("http://%s:%d", ListenAddress, cfg.Local.HTTPPort),
		"tlsCaCert":        httpsTLS.CACert,
		"prometheusUrl":    prom.URL,
		"jaegerUrl":        jaeger.URL,
		"image":            pulumi.String(app.ImageName),
		"imageDigest":      pulumi.String(app.ImageID),
		"databaseEndpoint": pulumi.Sprintf("%s:%d", stackconfig.LocalEndpoints.DatabaseHost, stackconfig.LocalEndpoints.DatabasePort),
		"redisEndpoint":    pulumi.Sprintf("%s:%d", stackconfig.LocalEndpoints.RedisHost, stackconfig.LocalEndpoints.RedisPort),
		OutputNetworkName:  network.Name,
		// What its PR environments read through their StackReference
		// (NewPreviewStack) and `shipyard pr-down`.
		OutputDatabaseCAVolume: pg.CAVolume,
		OutputDatabasePassword: pulumi.ToSecret(secrets.values[stackconfig.SecretDatabasePassword]),
		OutputRedisPassword:    pulumi.ToSecret(secrets.values[stackconfig.SecretRedisPassword]),
		OutputHTTPSTLSSeed:     httpsTLS.Seed,
		"webContainers":        webNames,
		// A release in progress: its web containers and generation (empty
		// between releases).
		"canaryContainers":    canaryNames,
		"generation":          pulumi.String(app.Generation),
		"candidateGeneration": pulumi.String(app.CandidateGeneration),
		"containers": pulumi.StringMap{
			"postgres":      pg.ContainerName,
			"redis":         redis.ContainerName,
			"nginx":         lb.ContainerName,
			"migrate":       app.Migration.Name,
			"worker":        app.Worker.Name,
			"clock":         app.Clock.Name,
			"prometheus":    prom.Container.Name,
			"nginxExporter": prom.Exporter.Name,
			"mtail":         prom.Mtail.Name,
			"jaeger":        jaeger.Container.Name,
		},
	}, nil
}

// newGateLogVolume is the volume nginx writes its gate log to (mtail reads
// the base stack's).
func newGateLogVolume(ctx *pulumi.Context, names Names, stack string) (*docker.Volume, error) {
	v, err := docker.NewVolume(ctx, names.GateLogVolume(), &docker.VolumeArgs{
		Name:   pulumi.String(names.GateLogVolume()),
		Labels: docker.VolumeLabelArray{docker.VolumeLabelArgs{Label: pulumi.String(StackLabel), Value: pulumi.String(stack)}},
	})
	if err != nil {
		return nil, fmt.Errorf("gate log volume: %w", err)
	}
	return v, nil
}

// LogOptions is Docker's log driver and json-file rotation.
type LogOptions struct {
	Driver   string
	MaxSize  string
	MaxFiles int
}

func (l LogOptions) opts() pulumi.StringMap {
	return pulumi.StringMap{
		"max-size": pulumi.String(l.MaxSize),
		"max-file": pulumi.String(strconv.Itoa(l.MaxFiles)),
	}
}

// stackLabels labels a container with the stack it belongs to.
func stackLabels(stack string, more ...docker.ContainerLabelArgs) docker.ContainerLabelArray {
	out := docker.ContainerLabelArray{docker.ContainerLabelArgs{Label: pulumi.String(StackLabel), Value: pulumi.String(stack)}}
	for _, l := range more {
		out = append(out, l)
	}
	return out
}
