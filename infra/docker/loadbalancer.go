package docker

import (
	"bytes"
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"text/template"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

//go:embed nginx.conf.tmpl
var nginxTemplate string

var nginxConf = template.Must(template.New("nginx.conf").Parse(nginxTemplate))

// NginxConfPath is where the official nginx image reads its configuration.
const NginxConfPath = "/etc/nginx/nginx.conf"

// NginxFailTimeout is how long (seconds) nginx keeps a web replica out of
// rotation after a failed request (max_fails=1): a replica that came back
// is used again at most this long after its failure. A rolling restart
// must wait this long after a replica is healthy before stopping the next.
const NginxFailTimeout = 5

// UpstreamsLabel holds the IDs of the web containers nginx was started
// with.
const UpstreamsLabel = "dev.shipyard.upstreams"

// NginxListenPort is the port nginx listens on inside its container.
const NginxListenPort = 80

// NginxConfig is the typed data nginx.conf is generated from.
type NginxConfig struct {
	Upstreams       []string
	UpstreamPort    int
	ListenPort      int
	HealthCheckPath string
	// MaxFails failures within FailTimeout seconds take a replica out of
	// rotation for FailTimeout seconds.
	MaxFails    int
	FailTimeout int
	// Tries bounds the replicas one request may be tried on.
	Tries       int
	ReadTimeout int
	IdleTimeout int
}

// Render returns nginx.conf.
func (n NginxConfig) Render() (string, error) {
	if len(n.Upstreams) == 0 {
		return "", fmt.Errorf("nginx config: no upstream web replicas (local.webReplicas must be at least 1)")
	}
	var b bytes.Buffer
	if err := nginxConf.Execute(&b, n); err != nil {
		return "", fmt.Errorf("nginx config: %w", err)
	}
	return b.String(), nil
}

// LoadBalancerArgs configures the nginx load balancer.
type LoadBalancerArgs struct {
	// Image is the official image name (config local.images.nginx).
	Image         string
	ContainerName string
	Network       pulumi.StringInput
	// HostIP and HostPort are where the load balancer is published.
	HostIP   string
	HostPort int
	// Upstreams are the web replicas' container names.
	Upstreams       []string
	UpstreamPort    int
	HealthCheckPath string
	ReadTimeout     int
	IdleTimeout     int
	Logs            LogOptions
	// Dependencies are the web containers, healthy before nginx starts
	// (nginx resolves the upstream names at start).
	Dependencies []*docker.Container
}

// LoadBalancer is the nginx container in front of the web replicas.
type LoadBalancer struct {
	pulumi.ResourceState

	Container     *docker.Container
	ContainerName pulumi.StringOutput
	// Config is the generated nginx.conf.
	Config string
}

// NewLoadBalancer creates nginx with a generated nginx.conf uploaded into
// the container, published on HostIP:HostPort only.
func NewLoadBalancer(ctx *pulumi.Context, name string, args *LoadBalancerArgs, opts ...pulumi.ResourceOption) (*LoadBalancer, error) {
	c := &LoadBalancer{}
	if err := ctx.RegisterComponentResource("shipyard:docker:LoadBalancer", name, c, opts...); err != nil {
		return nil, fmt.Errorf("load balancer: %w", err)
	}
	conf, err := NginxConfig{
		Upstreams:       args.Upstreams,
		UpstreamPort:    args.UpstreamPort,
		ListenPort:      NginxListenPort,
		HealthCheckPath: args.HealthCheckPath,
		MaxFails:        1,
		FailTimeout:     NginxFailTimeout,
		Tries:           len(args.Upstreams),
		ReadTimeout:     args.ReadTimeout,
		IdleTimeout:     args.IdleTimeout,
	}.Render()
	if err != nil {
		return nil, err
	}
	c.Config = conf
	parent := pulumi.Parent(c)
	image, err := docker.NewRemoteImage(ctx, name+"-image", &docker.RemoteImageArgs{
		Name:        pulumi.String(args.Image),
		KeepLocally: pulumi.Bool(true),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("nginx image: %w", err)
	}
	deps := make([]pulumi.Resource, 0, len(args.Dependencies))
	ids := pulumi.StringArray{}
	for _, d := range args.Dependencies {
		deps = append(deps, d)
		ids = append(ids, d.ID().ToStringOutput())
	}
	// nginx resolves the replicas' names when it starts: when a replica is
	// replaced (and may get another address), so is nginx.
	upstreamIDs := ids.ToStringArrayOutput().ApplyT(func(v []string) string {
		return strings.Join(v, ",")
	}).(pulumi.StringOutput)
	c.Container, err = docker.NewContainer(ctx, name, &docker.ContainerArgs{
		Name:    pulumi.String(args.ContainerName),
		Image:   image.ImageId,
		Command: pulumi.StringArray{pulumi.String("nginx"), pulumi.String("-g"), pulumi.String("daemon off;")},
		NetworksAdvanced: docker.ContainerNetworksAdvancedArray{
			docker.ContainerNetworksAdvancedArgs{Name: args.Network},
		},
		Ports: docker.ContainerPortArray{
			docker.ContainerPortArgs{Internal: pulumi.Int(NginxListenPort), External: pulumi.Int(args.HostPort), Ip: pulumi.String(args.HostIP), Protocol: pulumi.String("tcp")},
		},
		Labels: docker.ContainerLabelArray{
			docker.ContainerLabelArgs{Label: pulumi.String(UpstreamsLabel), Value: upstreamIDs},
		},
		Uploads: docker.ContainerUploadArray{
			docker.ContainerUploadArgs{File: pulumi.String(NginxConfPath), Content: pulumi.String(conf)},
		},
		Healthcheck: &docker.ContainerHealthcheckArgs{
			Tests: pulumi.StringArray{pulumi.String("CMD"), pulumi.String("curl"), pulumi.String("-fsS"), pulumi.String("-o"), pulumi.String("/dev/null"),
				pulumi.String("http://127.0.0.1:" + strconv.Itoa(NginxListenPort) + args.HealthCheckPath)},
			Interval:    pulumi.String("5s"),
			Timeout:     pulumi.String("3s"),
			Retries:     pulumi.Int(3),
			StartPeriod: pulumi.String("2s"),
		},
		Restart:     pulumi.String("unless-stopped"),
		StopTimeout: pulumi.Int(10),
		LogDriver:   pulumi.String(args.Logs.Driver),
		LogOpts:     args.Logs.opts(),
		Wait:        pulumi.Bool(true),
		WaitTimeout: pulumi.Int(60),
	}, parent, pulumi.DependsOn(deps))
	if err != nil {
		return nil, fmt.Errorf("nginx container: %w", err)
	}
	c.ContainerName = c.Container.Name
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"containerName": c.ContainerName}); err != nil {
		return nil, fmt.Errorf("load balancer outputs: %w", err)
	}
	return c, nil
}
