package docker

import (
	"fmt"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/shipyard-kit/shipyard/app/appenv"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// PreviewDatabasePasswordLength is the length of a PR user's generated
// password.
const PreviewDatabasePasswordLength = 32

// previewRequired are the base stack outputs a PR cannot run without.
var previewRequired = []string{OutputNetworkName, OutputDatabaseCAVolume, OutputDatabasePassword, OutputRedisPassword, OutputHTTPSTLSSeed}

// NewPreviewStack builds PR environment cfg.Preview of a docker base stack
// next to it (docs/operations.md, "PR environments"): reading the base's
// network, Postgres CA, passwords and HTTPS CA seed through a
// StackReference, it creates only the PR's own Docker objects: a one-off
// `app preview create` (the PR's database and user, as the base's admin
// user), then the migration as the PR's user, one web replica, a worker
// and a clock on the base's network under aliases of their own, and an
// nginx serving HTTPS on 127.0.0.1:previews.localPortBase+slot with a
// certificate of the base's local CA for pr-<n>.localhost. Every object
// carries StackLabel with the PR stack's name; none of the base's is
// touched.
func NewPreviewStack(ctx *pulumi.Context, cfg *stackconfig.Config) (pulumi.Map, error) {
	p := cfg.Preview
	switch {
	case cfg.Target != stackconfig.TargetDocker:
		return nil, fmt.Errorf("infra/docker: stack %q has target %q; docker PR environments need a %q base", cfg.Stack, cfg.Target, stackconfig.TargetDocker)
	case p == nil:
		return nil, fmt.Errorf("infra/docker: stack %q is not a PR environment (<base>-pr-<n>)", cfg.Stack)
	case p.Slot < 1:
		return nil, fmt.Errorf("stack %s: no slot; deploy it with `make pr-up PR=%d STACK=%s`, which allocates one (%s)", cfg.Stack, p.Number, p.Base, stackconfig.PreviewSlotEnv)
	}
	// One web replica: a PR environment is for trying, not for load.
	prCfg := *cfg
	prCfg.Local.WebReplicas = 1
	cfg = &prCfg
	names := NamesFor(cfg.Stack)
	logs := LogOptions{Driver: "json-file", MaxSize: cfg.Local.LogMaxSize, MaxFiles: cfg.Local.LogMaxFiles}
	aliasPrefix := p.Host() + "-"
	port := cfg.Previews.LocalPortBase + p.Slot

	ref, err := pulumi.NewStackReference(ctx, p.Base, &pulumi.StackReferenceArgs{
		Name: pulumi.String("organization/" + ctx.Project() + "/" + p.Base),
	})
	if err != nil {
		return nil, fmt.Errorf("stack reference to %s: %w", p.Base, err)
	}
	base := map[string]pulumi.StringOutput{}
	for _, k := range previewRequired {
		k := k
		base[k] = ref.GetOutput(pulumi.String(k)).ApplyT(func(v any) (string, error) {
			s, ok := v.(string)
			if !ok || s == "" {
				return "", fmt.Errorf("base stack %s has no output %q: run `make up STACK=%s` (it adds the outputs its PR environments read)", p.Base, k, p.Base)
			}
			return s, nil
		}).(pulumi.StringOutput)
	}

	image := cfg.Release.ImageDigest
	if image == "" {
		img, err := docker.LookupRemoteImage(ctx, &docker.LookupRemoteImageArgs{Name: cfg.AppImage()})
		if err != nil {
			return nil, fmt.Errorf("app image %s (built by `make image STACK=%s`): %w", cfg.AppImage(), p.Base, err)
		}
		image = img.Id
	}
	// The app runs exactly this image (NewApp runs a set digest as is).
	cfg.Release.ImageDigest = image

	password, err := random.NewRandomPassword(ctx, names.Prefix()+"-database-password", &random.RandomPasswordArgs{
		Length:  pulumi.Int(PreviewDatabasePasswordLength),
		Special: pulumi.Bool(false),
	})
	if err != nil {
		return nil, fmt.Errorf("PR database password: %w", err)
	}
	sec, err := previewSecrets(ctx, cfg, password.Result, base[OutputRedisPassword])
	if err != nil {
		return nil, err
	}

	// `app preview create`: as the base's admin user, the PR's role (with
	// its password) and database. Its exit code gates the migration. Its
	// env is the one aws gives the admin task (stackconfig's
	// PreviewAdminEnv); the secrets it needs are plain container env here,
	// as every container's are: the base admin's password (the base
	// stack's output) and the PR user's (generated above).
	adminEnv := pulumi.StringArray{}
	for _, v := range cfg.PreviewAdminEnv(stackconfig.LocalEndpoints) {
		adminEnv = append(adminEnv, pulumi.String(v.Name+"="+v.Value))
	}
	adminEnv = append(adminEnv,
		pulumi.Sprintf("%s=%s", stackconfig.SecretDatabasePassword, base[OutputDatabasePassword]),
		pulumi.Sprintf("%s=%s", appenv.PreviewDatabasePassword, password.Result))
	createName := names.Container("preview-create")
	create, err := docker.NewContainer(ctx, createName, &docker.ContainerArgs{
		Name:     pulumi.String(createName),
		Image:    pulumi.String(image),
		Command:  pulumi.StringArray{pulumi.String("preview"), pulumi.String("create")},
		Envs:     adminEnv,
		User:     pulumi.String(AppUser),
		ReadOnly: pulumi.Bool(true),
		Mounts: docker.ContainerMountArray{
			docker.ContainerMountArgs{Type: pulumi.String("tmpfs"), Target: pulumi.String("/tmp")},
		},
		Volumes: docker.ContainerVolumeArray{
			docker.ContainerVolumeArgs{VolumeName: base[OutputDatabaseCAVolume], ContainerPath: pulumi.String(DatabaseCADir), ReadOnly: pulumi.Bool(true)},
		},
		NetworksAdvanced: docker.ContainerNetworksAdvancedArray{docker.ContainerNetworksAdvancedArgs{Name: base[OutputNetworkName]}},
		Labels:           stackLabels(cfg.Stack, docker.ContainerLabelArgs{Label: pulumi.String(ProcessLabel), Value: pulumi.String("preview-create")}),
		Attach:           pulumi.Bool(true),
		Logs:             pulumi.Bool(true),
		MustRun:          pulumi.Bool(false),
		Restart:          pulumi.String("no"),
		LogDriver:        pulumi.String(logs.Driver),
		LogOpts:          logs.opts(),
	})
	if err != nil {
		return nil, fmt.Errorf("preview create container: %w", err)
	}
	created := pulumi.All(create.ExitCode, create.ContainerLogs).ApplyT(func(v []any) (string, error) {
		if code := v[0].(int); code != 0 {
			msg := fmt.Sprintf("`app preview create` exited %d, so PR %d got no database and no app container was started", code, p.Number)
			if tail := lastLines(v[1].(string), 20); tail != "" {
				msg += "; its output:\n" + tail
			}
			return "", fmt.Errorf("%s", msg)
		}
		return "succeeded", nil
	}).(pulumi.StringOutput)

	app, err := NewApp(ctx, names.Prefix()+"-app", &AppArgs{
		Config:           cfg,
		Names:            names,
		Network:          base[OutputNetworkName],
		Secrets:          sec,
		Logs:             logs,
		DatabaseCAVolume: base[OutputDatabaseCAVolume],
		Dependencies:     []pulumi.Resource{create},
		AliasPrefix:      aliasPrefix,
		Prerequisite:     created,
	})
	if err != nil {
		return nil, err
	}

	gateLog, err := newGateLogVolume(ctx, names, cfg.Stack)
	if err != nil {
		return nil, err
	}
	host := p.Host() + ".localhost"
	tls := deriveTLS("https", base[OutputHTTPSTLSSeed], func(seed []byte) (DatabaseCerts, error) {
		return DerivePreviewHTTPSCerts(seed, p.Base, host)
	})
	web := cfg.Services.Get(stackconfig.Web)
	lb, err := NewLoadBalancer(ctx, names.Container("nginx"), &LoadBalancerArgs{
		Image:           cfg.Local.Images.Nginx,
		ContainerName:   names.Container("nginx"),
		Network:         base[OutputNetworkName],
		HostIP:          ListenAddress,
		HTTPSPort:       port,
		TLS:             tls,
		UpstreamHost:    aliasPrefix + WebAlias,
		CanaryHost:      aliasPrefix + CanaryAlias,
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

	webNames := pulumi.StringArray{}
	for _, c := range app.Web {
		webNames = append(webNames, c.Name)
	}
	return pulumi.Map{
		"stack":         pulumi.String(cfg.Stack),
		"target":        pulumi.String(string(cfg.Target)),
		"url":           pulumi.Sprintf("https://%s:%d", host, port),
		"httpsPort":     pulumi.Int(port),
		"tlsCaCert":     tls.CACert,
		"previewSlot":   pulumi.Int(p.Slot),
		"pr":            pulumi.Int(p.Number),
		"baseStack":     pulumi.String(p.Base),
		"databaseName":  pulumi.String(p.Database()),
		"image":         pulumi.String(image),
		"imageDigest":   pulumi.String(image),
		"generation":    pulumi.String(app.Generation),
		"networkName":   base[OutputNetworkName],
		"webContainers": webNames,
		"redisDatabase": pulumi.Int(p.Slot),
		"containers": pulumi.StringMap{
			"previewCreate": create.Name,
			"migrate":       app.Migration.Name,
			"worker":        app.Worker.Name,
			"clock":         app.Clock.Name,
			"nginx":         lb.ContainerName,
		},
	}, nil
}

// previewSecrets are the PR's secret env: its own database password, the
// base's Redis password, and any other app secret from the PR stack's
// config secrets (as on the base, `pulumi config set --secret`).
func previewSecrets(ctx *pulumi.Context, cfg *stackconfig.Config, dbPassword, redisPassword pulumi.StringOutput) (*secrets, error) {
	conf := config.New(ctx, "shipyard")
	s := &secrets{names: cfg.SecretNames(), values: map[string]pulumi.StringOutput{
		stackconfig.SecretDatabasePassword: dbPassword,
		stackconfig.SecretRedisPassword:    redisPassword,
	}}
	for _, name := range s.names {
		if _, ok := s.values[name]; ok {
			continue
		}
		v, err := conf.TrySecret(name)
		if err != nil {
			return nil, fmt.Errorf("secret %s: config secret shipyard:%s is not set on the PR stack; run `pulumi config set --secret %s <value> --stack %s`", name, name, name, cfg.Stack)
		}
		s.values[name] = v
	}
	return s, nil
}
