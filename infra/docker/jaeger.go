package docker

import (
	_ "embed"
	"fmt"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// JaegerConfig is the committed Jaeger v2 configuration (jaeger.yaml):
// OTLP receivers, in-memory storage, the query UI, all listening on
// 0.0.0.0 inside the stack's network.
//
//go:embed jaeger.yaml
var JaegerConfig string

// Jaeger's paths and ports inside its container.
const (
	JaegerConfigPath = "/etc/jaeger/config.yaml"
	// JaegerUIPort serves the UI and the query API (/api/traces/<id>).
	JaegerUIPort = 16686
	// JaegerUser runs Jaeger (the official image's UID).
	JaegerUser = "10001"
)

// JaegerArgs configures the stack's Jaeger.
type JaegerArgs struct {
	Config  *stackconfig.Config
	Names   Names
	Network pulumi.StringInput
	Logs    LogOptions
}

// Jaeger is the local stack's trace store: every process's spans, in
// memory, browsable on 127.0.0.1:local.jaegerPort.
type Jaeger struct {
	pulumi.ResourceState

	Container *docker.Container
	// URL is the UI (and query API) on the host.
	URL pulumi.StringOutput
}

// NewJaeger creates the Jaeger container, reachable by the app as
// stackconfig.LocalJaegerHost (OTLP/HTTP on stackconfig.OTLPHTTPPort), its
// UI published on 127.0.0.1:local.jaegerPort only.
func NewJaeger(ctx *pulumi.Context, name string, args *JaegerArgs, opts ...pulumi.ResourceOption) (*Jaeger, error) {
	cfg := args.Config
	c := &Jaeger{}
	if err := ctx.RegisterComponentResource("shipyard:docker:Jaeger", name, c, opts...); err != nil {
		return nil, fmt.Errorf("jaeger: %w", err)
	}
	parent := pulumi.Parent(c)
	image, err := docker.NewRemoteImage(ctx, name+"-image", &docker.RemoteImageArgs{
		Name: pulumi.String(cfg.Local.Images.Jaeger), KeepLocally: pulumi.Bool(true),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("jaeger image: %w", err)
	}
	c.Container, err = docker.NewContainer(ctx, name, &docker.ContainerArgs{
		Name:  pulumi.String(args.Names.Container("jaeger")),
		Image: image.ImageId,
		// The official image's entrypoint is the jaeger binary; v2 reads
		// only its YAML.
		Command: pulumi.StringArray{pulumi.String("--config"), pulumi.String(JaegerConfigPath)},
		NetworksAdvanced: docker.ContainerNetworksAdvancedArray{docker.ContainerNetworksAdvancedArgs{
			Name:    args.Network,
			Aliases: pulumi.StringArray{pulumi.String(stackconfig.LocalJaegerHost)},
		}},
		Ports: docker.ContainerPortArray{
			docker.ContainerPortArgs{Internal: pulumi.Int(JaegerUIPort), External: pulumi.Int(cfg.Local.JaegerPort), Ip: pulumi.String(ListenAddress), Protocol: pulumi.String("tcp")},
		},
		// Not read-only: Docker refuses the config upload into a read-only
		// root filesystem. Jaeger itself writes nothing (memory store).
		User:   pulumi.String(JaegerUser),
		Labels: stackLabels(cfg.Stack),
		Uploads: docker.ContainerUploadArray{
			docker.ContainerUploadArgs{File: pulumi.String(JaegerConfigPath), Content: pulumi.String(JaegerConfig)},
		},
		Restart:     pulumi.String("unless-stopped"),
		StopTimeout: pulumi.Int(10),
		LogDriver:   pulumi.String(args.Logs.Driver),
		LogOpts:     args.Logs.opts(),
		// It holds the published port: the old container must let go of it
		// before its replacement can bind it.
	}, parent, pulumi.DeleteBeforeReplace(true))
	if err != nil {
		return nil, fmt.Errorf("jaeger container: %w", err)
	}
	c.URL = pulumi.Sprintf("http://%s:%d", ListenAddress, cfg.Local.JaegerPort)
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"url": c.URL, "containerName": c.Container.Name}); err != nil {
		return nil, fmt.Errorf("jaeger outputs: %w", err)
	}
	return c, nil
}
