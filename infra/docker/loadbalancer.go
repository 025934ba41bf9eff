package docker

import (
	"bytes"
	_ "embed"
	"fmt"
	"regexp"
	"strconv"
	"text/template"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

//go:embed nginx.conf.tmpl
var nginxTemplate string

var nginxConf = template.Must(template.New("nginx.conf").Parse(nginxTemplate))

// NginxConfPath is where the official nginx image reads its configuration.
const NginxConfPath = "/etc/nginx/nginx.conf"

// DockerDNS is the address of Docker's embedded DNS server in every
// container on a user-defined network.
const DockerDNS = "127.0.0.11"

// NginxResolverValid is how long (seconds) nginx caches the replicas'
// addresses: a replica that joined the network gets traffic at most this
// long after it started.
const NginxResolverValid = 1

// NginxListenPort is nginx's plain HTTP port inside its container (it
// redirects to HTTPS), NginxHTTPSPort its HTTPS port.
const (
	NginxListenPort = 80
	NginxHTTPSPort  = 443
)

// Where nginx reads its TLS files (uploaded into the container).
const (
	NginxTLSDir  = "/etc/nginx/tls"
	NginxCertPem = NginxTLSDir + "/server.crt"
	NginxKeyPem  = NginxTLSDir + "/server.key"
	NginxCAPem   = NginxTLSDir + "/ca.pem"
)

// NginxStatusPort and NginxStatusPath are where nginx serves its
// stub_status counters on the private network (never published).
const (
	NginxStatusPort = 8081
	NginxStatusPath = "/stub_status"
)

// Where nginx reads the traffic split and writes the gate log, and the
// directory of the gate log on the volume nginx shares with mtail.
const (
	NginxSplitFile = "/etc/nginx/shipyard/split.conf"
	GateLogDir     = "/var/log/shipyard"
	GateLogPath    = GateLogDir + "/gate.log"
)

// CanaryAlias is the network alias of a release's new web generation while
// nginx splits traffic between it and the running one (WebAlias).
const CanaryAlias = "web-canary"

// SplitConf returns what nginx's split file holds: the split_clients block
// that sends canaryPercent of the requests to CanaryAlias and the rest to
// WebAlias, split per request ($request_id) as an ALB's weighted target
// groups split, and the map that labels the gate log's lines with the
// running generation ("web") or canaryLabel (release.CanaryLabel: one per
// release, so a release's gates never count an earlier release's requests).
func SplitConf(canaryPercent int, canaryLabel string) (string, error) {
	return splitConf(WebAlias, CanaryAlias, canaryPercent, canaryLabel)
}

// splitConf is SplitConf between the aliases web and canary (a PR
// environment's carry its prefix).
func splitConf(web, canary string, canaryPercent int, canaryLabel string) (string, error) {
	var body string
	switch {
	case canaryPercent < 0 || canaryPercent > 100:
		return "", fmt.Errorf("traffic split: %d%% is out of range; allowed 0 to 100", canaryPercent)
	case canaryPercent > 0 && !labelRE.MatchString(canaryLabel):
		return "", fmt.Errorf("traffic split: canary label %q; allowed letters, digits and -", canaryLabel)
	case canaryPercent == 0:
		body = "* " + web + ";"
	case canaryPercent == 100:
		body = "* " + canary + ";"
	default:
		body = fmt.Sprintf("%d%% %s; * %s;", canaryPercent, canary, web)
	}
	labels := "default " + web + ";"
	if canaryLabel != "" {
		labels = fmt.Sprintf("%s %s; %s", canary, canaryLabel, labels)
	}
	return fmt.Sprintf("# Written by shipyard release: %d%% of requests to %s.\n"+
		"split_clients \"${request_id}\" $web_pool { %s }\n"+
		"map $web_pool $web_generation { %s }\n", canaryPercent, canary, body, labels), nil
}

var labelRE = regexp.MustCompile(`^[A-Za-z0-9-]+$`)

// NginxConfig is the typed data nginx.conf is generated from.
type NginxConfig struct {
	// UpstreamHost is the web replicas' shared network alias, resolved per
	// request through Resolver; CanaryHost a release's new generation's.
	UpstreamHost string
	CanaryHost   string
	// SplitFile holds the split_clients block; GateLog is mtail's log.
	SplitFile, GateLog string
	UpstreamPort       int
	ListenPort         int
	// HTTPSListenPort, when set, serves the site over TLS there (CertPath,
	// KeyPath, StrictTransportSecurity) and turns ListenPort into a
	// redirect to https on PublicHTTPSPort, the port published on the
	// host.
	HTTPSListenPort         int
	PublicHTTPSPort         int
	CertPath, KeyPath       string
	StrictTransportSecurity string
	HealthCheckPath         string
	Resolver                string
	ResolverValid           int
	ConnectTimeout          int
	ReadTimeout             int
	IdleTimeout             int
	// StatusPort, when set, serves stub_status at StatusPath.
	StatusPort int
	StatusPath string
}

// Render returns nginx.conf.
func (n NginxConfig) Render() (string, error) {
	if n.UpstreamHost == "" || n.UpstreamPort == 0 {
		return "", fmt.Errorf("nginx config: no upstream (UpstreamHost %q, UpstreamPort %d)", n.UpstreamHost, n.UpstreamPort)
	}
	if n.CanaryHost == "" || n.SplitFile == "" || n.GateLog == "" {
		return "", fmt.Errorf("nginx config: CanaryHost %q, SplitFile %q and GateLog %q are all needed", n.CanaryHost, n.SplitFile, n.GateLog)
	}
	if n.HTTPSListenPort != 0 && (n.PublicHTTPSPort == 0 || n.CertPath == "" || n.KeyPath == "" || n.StrictTransportSecurity == "") {
		return "", fmt.Errorf("nginx config: HTTPS needs PublicHTTPSPort, CertPath, KeyPath and StrictTransportSecurity")
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
	// HostIP and HostPort are where the load balancer's plain HTTP (a
	// redirect) is published (0: not published), HTTPSPort its HTTPS.
	HostIP    string
	HostPort  int
	HTTPSPort int
	// TLS is the HTTPS certificate, its key and the CA that signed it.
	TLS *databaseTLS
	// UpstreamHost is the web replicas' network alias (WebAlias),
	// CanaryHost a release's (CanaryAlias when empty).
	UpstreamHost    string
	CanaryHost      string
	UpstreamPort    int
	HealthCheckPath string
	ReadTimeout     int
	IdleTimeout     int
	Logs            LogOptions
	Stack           string
	// Dependencies are the web containers of the first deployment, healthy
	// before nginx starts. Later changes to them never touch nginx.
	Dependencies []*docker.Container
	// GateLogVolume is the volume nginx writes the gate log to (mtail reads it).
	GateLogVolume pulumi.StringInput
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
// the container, published on HostIP:HostPort only. Its config does not
// depend on the replicas, so scaling or replacing them leaves nginx (and
// the port clients use) up.
func NewLoadBalancer(ctx *pulumi.Context, name string, args *LoadBalancerArgs, opts ...pulumi.ResourceOption) (*LoadBalancer, error) {
	c := &LoadBalancer{}
	if err := ctx.RegisterComponentResource("shipyard:docker:LoadBalancer", name, c, opts...); err != nil {
		return nil, fmt.Errorf("load balancer: %w", err)
	}
	if args.TLS == nil || args.HTTPSPort == 0 {
		return nil, fmt.Errorf("load balancer: no HTTPS port or certificate: nginx serves HTTPS like the ALB")
	}
	canary := args.CanaryHost
	if canary == "" {
		canary = CanaryAlias
	}
	conf, err := NginxConfig{
		UpstreamHost:            args.UpstreamHost,
		CanaryHost:              canary,
		SplitFile:               NginxSplitFile,
		GateLog:                 GateLogPath,
		UpstreamPort:            args.UpstreamPort,
		ListenPort:              NginxListenPort,
		HTTPSListenPort:         NginxHTTPSPort,
		PublicHTTPSPort:         args.HTTPSPort,
		CertPath:                NginxCertPem,
		KeyPath:                 NginxKeyPem,
		StrictTransportSecurity: stackconfig.StrictTransportSecurity,
		HealthCheckPath:         args.HealthCheckPath,
		Resolver:                DockerDNS,
		ResolverValid:           NginxResolverValid,
		ConnectTimeout:          2,
		ReadTimeout:             args.ReadTimeout,
		IdleTimeout:             args.IdleTimeout,
		StatusPort:              NginxStatusPort,
		StatusPath:              NginxStatusPath,
	}.Render()
	if err != nil {
		return nil, err
	}
	c.Config = conf
	split, err := splitConf(args.UpstreamHost, canary, 0, "")
	if err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)
	image, err := docker.NewRemoteImage(ctx, name+"-image", &docker.RemoteImageArgs{
		Name:        pulumi.String(args.Image),
		KeepLocally: pulumi.Bool(true),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("nginx image: %w", err)
	}
	deps := make([]pulumi.Resource, 0, len(args.Dependencies))
	for _, d := range args.Dependencies {
		deps = append(deps, d)
	}
	ports := docker.ContainerPortArray{}
	if args.HostPort != 0 {
		ports = append(ports, docker.ContainerPortArgs{Internal: pulumi.Int(NginxListenPort), External: pulumi.Int(args.HostPort), Ip: pulumi.String(args.HostIP), Protocol: pulumi.String("tcp")})
	}
	ports = append(ports, docker.ContainerPortArgs{Internal: pulumi.Int(NginxHTTPSPort), External: pulumi.Int(args.HTTPSPort), Ip: pulumi.String(args.HostIP), Protocol: pulumi.String("tcp")})
	c.Container, err = docker.NewContainer(ctx, name, &docker.ContainerArgs{
		Name:    pulumi.String(args.ContainerName),
		Image:   image.ImageId,
		Command: pulumi.StringArray{pulumi.String("nginx"), pulumi.String("-g"), pulumi.String("daemon off;")},
		NetworksAdvanced: docker.ContainerNetworksAdvancedArray{
			docker.ContainerNetworksAdvancedArgs{Name: args.Network},
		},
		Ports:  ports,
		Labels: stackLabels(args.Stack),
		Uploads: docker.ContainerUploadArray{
			docker.ContainerUploadArgs{File: pulumi.String(NginxConfPath), Content: pulumi.String(conf)},
			// All traffic to the running generation; `shipyard release`
			// owns the file's contents from then on (Pulumi never reads
			// an upload back, so a release leaves no diff).
			docker.ContainerUploadArgs{File: pulumi.String(NginxSplitFile), Content: pulumi.String(split)},
			docker.ContainerUploadArgs{File: pulumi.String(NginxCAPem), Content: args.TLS.CACert, Permissions: pulumi.String("0644")},
			docker.ContainerUploadArgs{File: pulumi.String(NginxCertPem), Content: args.TLS.ServerCert, Permissions: pulumi.String("0644")},
			docker.ContainerUploadArgs{File: pulumi.String(NginxKeyPem), Content: args.TLS.ServerKey, Permissions: pulumi.String("0600")},
		},
		Volumes: docker.ContainerVolumeArray{
			docker.ContainerVolumeArgs{VolumeName: args.GateLogVolume, ContainerPath: pulumi.String(GateLogDir)},
		},
		Healthcheck: &docker.ContainerHealthcheckArgs{
			// Over HTTPS, verifying the certificate: plain HTTP only
			// redirects (and curl -f takes a 301 for success).
			Tests: pulumi.StringArray{pulumi.String("CMD"), pulumi.String("curl"), pulumi.String("-fsS"), pulumi.String("-o"), pulumi.String("/dev/null"),
				pulumi.String("--cacert"), pulumi.String(NginxCAPem),
				pulumi.String("https://" + ListenAddress + ":" + strconv.Itoa(NginxHTTPSPort) + args.HealthCheckPath)},
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
		// It holds the published port: the old container must let go of it
		// before its replacement can bind it.
	}, parent, pulumi.DependsOn(deps), pulumi.DeleteBeforeReplace(true))
	if err != nil {
		return nil, fmt.Errorf("nginx container: %w", err)
	}
	c.ContainerName = c.Container.Name
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"containerName": c.ContainerName}); err != nil {
		return nil, fmt.Errorf("load balancer outputs: %w", err)
	}
	return c, nil
}
