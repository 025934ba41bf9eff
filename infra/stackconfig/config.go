// Package stackconfig loads config/<stack>.json, the single source of truth
// for every Shipyard stack, applies defaults and validates it.
//
// The Pulumi program (stacks/), the Makefile (through cmd/shipyard), the
// tests and the app's environment (Env) all derive from the Config returned
// by Load. Nothing else reads the stack files.
package stackconfig

import "github.com/shipyard-kit/shipyard/internal/preflight"

// Target is where a stack runs.
type Target string

// The targets a stack can have.
const (
	TargetAWS    Target = "aws"
	TargetDocker Target = "docker"
)

// Process is a process type of the app binary; each runs as its own
// ECS service (aws) or set of containers (docker).
type Process string

// The process types, in the order they are deployed and listed.
const (
	Web    Process = "web"
	Worker Process = "worker"
	Clock  Process = "clock"
)

// Processes lists every long-running process type.
var Processes = []Process{Web, Worker, Clock}

// Config is one stack's whole description: config/<stack>.json after
// defaults are applied.
type Config struct {
	// Schema is the "$schema" reference editors use; it has no effect.
	Schema string `json:"$schema,omitempty"`
	// Stack is the stack name: the file name without ".json". Not in the file.
	Stack string `json:"-"`
	// Preview is set on a PR environment's config (see Previews); nil
	// otherwise. Not in the file.
	Preview *Preview `json:"-"`

	Target       Target            `json:"target"`
	AWS          AWS               `json:"aws"`
	Bootstrap    Bootstrap         `json:"bootstrap"`
	CI           CI                `json:"ci"`
	Network      Network           `json:"network"`
	Services     Services          `json:"services"`
	App          App               `json:"app"`
	Database     Database          `json:"database"`
	Cache        Cache             `json:"cache"`
	LoadBalancer LoadBalancer      `json:"loadBalancer"`
	Logging      Logging           `json:"logging"`
	Release      Release           `json:"release"`
	Deploy       Deploy            `json:"deploy"`
	Alarms       Alarms            `json:"alarms"`
	Cost         Cost              `json:"cost"`
	Tracing      Tracing           `json:"tracing"`
	Previews     Previews          `json:"previews"`
	Tags         map[string]string `json:"tags,omitempty"`
	Local        Local             `json:"local"`
}

// AWS holds account-level settings; required when target is "aws".
type AWS struct {
	Region string `json:"region,omitempty"`
}

// NAT gateway layouts.
const (
	NATSingle = "single"
	NATPerAZ  = "perAz"
)

// Network describes the VPC (aws only).
type Network struct {
	CIDR        string `json:"cidr"`
	AZCount     int    `json:"azCount"`
	NATGateways string `json:"natGateways"`
	// VPCEndpoints adds a gateway endpoint for S3 and interface endpoints
	// for ECR, Secrets Manager, CloudWatch Logs and KMS, so the tasks'
	// AWS API traffic stays in the VPC instead of crossing NAT.
	VPCEndpoints bool `json:"vpcEndpoints"`
}

// Services holds the settings of each process type.
type Services struct {
	Web    Service `json:"web"`
	Worker Service `json:"worker"`
	Clock  Service `json:"clock"`
}

// Get returns the settings of process type p.
func (s Services) Get(p Process) Service {
	switch p {
	case Worker:
		return s.Worker
	case Clock:
		return s.Clock
	default:
		return s.Web
	}
}

// Service is one process type's size, count, health check and shutdown.
type Service struct {
	// CPU units and memory (MiB) of the Fargate task; must be a valid pair.
	CPU    int `json:"cpu"`
	Memory int `json:"memory"`
	// Task counts; min <= desired <= max. The clock is always exactly 1.
	DesiredCount int         `json:"desiredCount"`
	MinCount     int         `json:"minCount"`
	MaxCount     int         `json:"maxCount"`
	Autoscaling  Autoscaling `json:"autoscaling"`
	// Port every process listens on for /livez, /readyz and /metrics
	// (the web process also serves the API there).
	Port int `json:"port"`
	// HealthCheckPath is what the load balancer (web) or the container
	// health check probes.
	HealthCheckPath string `json:"healthCheckPath"`
	// StopTimeoutSeconds is the time between SIGTERM and SIGKILL.
	StopTimeoutSeconds int `json:"stopTimeoutSeconds"`
	// HealthCheckGracePeriodSeconds is how long ECS ignores failing load
	// balancer health checks after a task starts (web only).
	HealthCheckGracePeriodSeconds int `json:"healthCheckGracePeriodSeconds"`
}

// Autoscaling holds target-tracking targets; zero disables a target.
type Autoscaling struct {
	CPUTargetPercent  int `json:"cpuTargetPercent"`
	RequestsPerTarget int `json:"requestsPerTarget,omitempty"`
	// PendingJobsPerTask is the job queue backlog per running task the
	// worker scales to keep (worker only; 0 disables backlog scaling).
	PendingJobsPerTask int `json:"pendingJobsPerTask,omitempty"`
}

// App holds the app's runtime settings; Env turns them into env vars.
type App struct {
	LogLevel string `json:"logLevel"`
	// ShutdownTimeoutSeconds is the drain budget after SIGTERM.
	ShutdownTimeoutSeconds int `json:"shutdownTimeoutSeconds"`
	// DrainDelaySeconds is how long a process keeps serving after SIGTERM
	// (readyz 503, responses close their connections) before it stops
	// accepting: clients reusing a keep-alive connection learn it is going
	// instead of meeting a closed socket.
	DrainDelaySeconds int `json:"drainDelaySeconds"`
	// RequestTimeoutSeconds is the per-request deadline (handler timeout).
	RequestTimeoutSeconds int `json:"requestTimeoutSeconds"`
	// IdleTimeoutSeconds is the HTTP keep-alive idle timeout; it must
	// exceed the load balancer's.
	IdleTimeoutSeconds int `json:"idleTimeoutSeconds"`
	// DBPoolSize is the pgx pool size of one process.
	DBPoolSize         int `json:"dbPoolSize"`
	RateLimitPerMinute int `json:"rateLimitPerMinute"`
	// Env holds extra plain env vars passed to every process.
	Env map[string]string `json:"env,omitempty"`
	// Secrets names extra env vars whose values are secrets: Pulumi config
	// secrets of the same name, injected from Secrets Manager on aws.
	Secrets []string `json:"secrets,omitempty"`
}

// Database is RDS PostgreSQL on aws; Local.Images.Postgres on docker.
type Database struct {
	EngineVersion         string `json:"engineVersion"`
	InstanceClass         string `json:"instanceClass"`
	AllocatedStorageGB    int    `json:"allocatedStorageGb"`
	MaxAllocatedStorageGB int    `json:"maxAllocatedStorageGb"`
	MultiAZ               bool   `json:"multiAz"`
	BackupRetentionDays   int    `json:"backupRetentionDays"`
	DeletionProtection    bool   `json:"deletionProtection"`
	MaxConnections        int    `json:"maxConnections"`
	Name                  string `json:"name"`
	Username              string `json:"username"`
	// CACertIdentifier is the RDS certificate authority that signs the
	// instance's server certificate (one of RDSCACertIdentifiers); the
	// app verifies it against the pinned bundle (RDSCABundlePath).
	CACertIdentifier string `json:"caCertIdentifier"`
	// PerformanceInsights turns on Performance Insights, encrypted with
	// the stack's key, kept PerformanceInsightsRetentionDays (7 is free).
	PerformanceInsights              bool `json:"performanceInsights"`
	PerformanceInsightsRetentionDays int  `json:"performanceInsightsRetentionDays"`
	// MonitoringIntervalSeconds is the enhanced monitoring interval; 0
	// turns enhanced monitoring off.
	MonitoringIntervalSeconds int `json:"monitoringIntervalSeconds"`
	// LogMinDurationMs is log_min_duration_statement: statements running
	// at least this long are logged with their duration.
	LogMinDurationMs int `json:"logMinDurationMs"`
	// LogStatement is log_statement: which statements are always logged.
	LogStatement string `json:"logStatement"`
}

// RDSCACertIdentifiers are the RDS certificate authorities
// database.caCertIdentifier may name: the G1 roots the app image's pinned
// bundle holds for every region. The first is the default.
var RDSCACertIdentifiers = []string{"rds-ca-rsa2048-g1", "rds-ca-rsa4096-g1", "rds-ca-ecc384-g1"}

// Cache is an ElastiCache Redis replication group on aws.
type Cache struct {
	EngineVersion string `json:"engineVersion"`
	NodeType      string `json:"nodeType"`
	// Replicas is the number of read replicas besides the primary.
	Replicas int `json:"replicas"`
	// AuthTokenVersion names the AUTH token generation: raising it
	// generates a new token that Redis accepts alongside the previous one.
	AuthTokenVersion int `json:"authTokenVersion"`
	// RetiredAuthTokenVersion is the newest generation Redis no longer
	// accepts: AuthTokenVersion-1 once every task uses the current token,
	// AuthTokenVersion-2 while a rotation is under way (docs/aws.md).
	RetiredAuthTokenVersion int `json:"retiredAuthTokenVersion"`
}

// LoadBalancer is the ALB (aws) or the nginx container (docker).
type LoadBalancer struct {
	// Domain is the DNS name the stack serves. With HostedZone, the stack
	// requests an ACM certificate for it and *.Domain and points alias
	// A/AAAA records at the ALB.
	Domain string `json:"domain,omitempty"`
	// CertificateARN brings an existing ACM certificate instead (the
	// stack then creates no certificate and no DNS record). Exactly one
	// of CertificateARN and HostedZone is set on aws.
	CertificateARN string `json:"certificateArn,omitempty"`
	// HostedZone is the Route 53 public hosted zone Domain is in (aws).
	HostedZone                 *HostedZone `json:"hostedZone,omitempty"`
	IdleTimeoutSeconds         int         `json:"idleTimeoutSeconds"`
	DeregistrationDelaySeconds int         `json:"deregistrationDelaySeconds"`
	// WAF associates an AWS WAF web ACL (AWS managed rule groups and a
	// per-IP rate limit) with the ALB (aws only).
	WAF WAF `json:"waf"`
}

// HostedZone names a Route 53 public hosted zone by ID or by name
// (exactly one).
type HostedZone struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// ManagedCertificate reports whether the stack requests its own ACM
// certificate (loadBalancer.hostedZone set) rather than using
// loadBalancer.certificateArn.
func (lb LoadBalancer) ManagedCertificate() bool { return lb.HostedZone != nil }

// WAF is the web ACL in front of the ALB.
type WAF struct {
	Enabled bool `json:"enabled"`
	// RateLimitPer5Min is how many requests one client IP may send in any
	// 5-minute window before the web ACL blocks it: the backstop of the
	// app's own limit, so at least 5 × App.RateLimitPerMinute.
	RateLimitPer5Min int `json:"rateLimitPer5Min"`
}

// Log destinations.
const (
	LogToCloudWatch = "cloudwatch"
	LogToS3         = "s3"
)

// Logging says where the app's JSON logs go and how long they are kept.
type Logging struct {
	RetentionDays int      `json:"retentionDays"`
	Destinations  []string `json:"destinations"`
}

// Release names the image every process type runs. An empty digest means
// the stack has no release yet.
type Release struct {
	// ImageRepository is the ECR repository name the stack creates (aws) or
	// the local image name (docker); empty means RepositoryName's default.
	ImageRepository string `json:"imageRepository,omitempty"`
	// ImageDigest is "sha256:<64 hex>" of the released image.
	ImageDigest string `json:"imageDigest,omitempty"`
}

// RepositoryName is the image repository of the stack: release.imageRepository,
// or preflight.DefaultAppRepository ("shipyard-app") on docker and
// "shipyard-<stack>" on aws (its ECR repository).
func (c *Config) RepositoryName() string {
	switch {
	case c.Release.ImageRepository != "":
		return c.Release.ImageRepository
	case c.Target == TargetDocker:
		return preflight.DefaultAppRepository
	default:
		return "shipyard-" + c.Stack
	}
}

// AppImage is the local app image `make image` builds for the stack
// (preflight.AppImageRef, which `bin/preflight image STACK` prints for the
// Makefile): on docker RepositoryName()+":local", the image the stack runs
// while release.imageDigest is empty and a release's default; on aws
// "shipyard-app:local", the local build `make release` and `make pr-up`
// push to the stack's ECR repository.
func (c *Config) AppImage() string {
	return preflight.AppImageRef(string(c.Target), c.Release.ImageRepository)
}

// Deployment strategies (deploy.strategy).
const (
	StrategyRolling   = "rolling"
	StrategyCanary    = "canary"
	StrategyLinear    = "linear"
	StrategyBlueGreen = "bluegreen"
)

// Strategies lists deploy.strategy's allowed values, in config/schema.json's order.
var Strategies = []string{StrategyRolling, StrategyCanary, StrategyLinear, StrategyBlueGreen}

// Deploy says how a release shifts the web service's traffic from the
// running version to the new one (docs/operations.md, progressive
// delivery). The worker and clock always roll.
type Deploy struct {
	// Strategy is rolling (all traffic as soon as the new containers or
	// tasks are healthy), canary (CanaryPercent for BakeSeconds, then
	// all), linear (StepPercent more every BakeSeconds) or bluegreen (all
	// at once, the old version kept for BakeSeconds for an instant
	// rollback).
	Strategy      string `json:"strategy"`
	CanaryPercent int    `json:"canaryPercent"`
	StepPercent   int    `json:"stepPercent"`
	BakeSeconds   int    `json:"bakeSeconds"`
	// Gates are alarm table rows (infra/signals) evaluated on the new
	// version's traffic only at the end of every step; a breach rolls the
	// release back.
	Gates []string `json:"gates"`
	// MinRequests is how many requests the new version must have served
	// in a gate's window for the gate to judge it: fewer is "no data",
	// which never passes.
	MinRequests int `json:"minRequests"`
}

// Progressive reports whether the strategy shifts traffic in steps
// watched by gates (every strategy but rolling).
func (d Deploy) Progressive() bool { return d.Strategy != "" && d.Strategy != StrategyRolling }

// Alarms tunes the stack's alarm table (infra/signals: the defaults, what
// each alarm watches) and says who hears about them.
type Alarms struct {
	// Overrides change default alarms by name (the names of
	// signals.Table; config/schema.json lists them).
	Overrides map[string]AlarmOverride `json:"overrides,omitempty"`
	Notify    Notify                   `json:"notify"`
	// NoRecipientsReason says why a prod stack has no subscriber on
	// purpose (e.g. its alarms are read from another account's
	// dashboard); without it, prod needs at least one in Notify.
	NoRecipientsReason string `json:"noRecipientsReason,omitempty"`
}

// HasRecipients reports whether the alarm topic has a subscriber.
func (n Notify) HasRecipients() bool { return len(n.Emails)+len(n.HTTPSEndpoints) > 0 }

// AlarmOverride changes one alarm; a zero field keeps the default.
type AlarmOverride struct {
	Threshold         *float64 `json:"threshold,omitempty"`
	PeriodSeconds     int      `json:"periodSeconds,omitempty"`
	EvaluationPeriods int      `json:"evaluationPeriods,omitempty"`
	Severity          string   `json:"severity,omitempty"`
	Disabled          bool     `json:"disabled,omitempty"`
}

// Notify lists the stack's alarm topic subscribers (aws).
type Notify struct {
	Emails         []string `json:"emails,omitempty"`
	HTTPSEndpoints []string `json:"httpsEndpoints,omitempty"`
}

// Cost holds what `make cost` (infra/cost) cannot read from the rest of
// the config: the stack's expected usage. It changes no resource.
type Cost struct {
	Usage Usage `json:"usage"`
}

// Usage is the monthly usage the usage-priced lines of `make cost` assume
// (aws). An unset field is unknown: its line shows the unit price, not $0.
type Usage struct {
	// ALBLCUs is the load balancer's average LCUs (load balancer capacity
	// units: the largest of new connections, active connections, processed
	// bytes and rule evaluations, each over its LCU allowance).
	ALBLCUs *float64 `json:"albLcus,omitempty"`
	// NATDataGB is the GB a month the NAT gateways process.
	NATDataGB *float64 `json:"natDataGb,omitempty"`
	// VPCEndpointDataGB is the GB a month the interface endpoints process.
	VPCEndpointDataGB *float64 `json:"vpcEndpointDataGb,omitempty"`
	// WAFRequestsMillions is the requests a month the web ACL inspects, in
	// millions.
	WAFRequestsMillions *float64 `json:"wafRequestsMillions,omitempty"`
	// LogsIngestedGB is the GB a month of logs CloudWatch Logs ingests.
	LogsIngestedGB *float64 `json:"logsIngestedGb,omitempty"`
}

// CI is what the workflows do with an aws stack.
type CI struct {
	// PullRequestPreviews: every pull request previews the stack with the
	// bootstrap's preview role, which can then decrypt the stack's
	// secrets (a pull request runs its own code). false gives the stack
	// a preview role only main may assume (infra/bootstrap).
	PullRequestPreviews bool `json:"pullRequestPreviews"`
}

// Tracing is the app's OpenTelemetry tracing: spans go to the ADOT
// collector sidecar of each task and on to X-Ray (aws), or to the stack's
// Jaeger (docker). Env turns it into the standard OTEL_* variables.
type Tracing struct {
	Enabled bool `json:"enabled"`
	// SamplingRatio is the share of traces started in the stack that are
	// recorded (parent-based: a request that arrives with a sampled
	// traceparent is always recorded, and its job with it).
	SamplingRatio float64 `json:"samplingRatio"`
}

// Local holds docker-only settings; ignored on aws.
type Local struct {
	WebReplicas int `json:"webReplicas"`
	// HTTPPort is nginx's plain HTTP port on 127.0.0.1: like the ALB's
	// port 80, it only redirects to HTTPSPort.
	HTTPPort int `json:"httpPort"`
	// HTTPSPort is nginx's HTTPS port on 127.0.0.1, serving a certificate
	// of the stack's local CA (the tlsCaCert output) with the ALB's HSTS
	// header.
	HTTPSPort int `json:"httpsPort"`
	// PrometheusPort is the host port of the stack's Prometheus UI, on
	// 127.0.0.1.
	PrometheusPort int `json:"prometheusPort"`
	// JaegerPort is the host port of the stack's Jaeger UI and query API,
	// on 127.0.0.1.
	JaegerPort int         `json:"jaegerPort"`
	Images     LocalImages `json:"images"`
	// LogMaxSize and LogMaxFiles configure Docker's json-file log rotation.
	LogMaxSize  string `json:"logMaxSize"`
	LogMaxFiles int    `json:"logMaxFiles"`
	// HealthWaitSeconds is how long `make up` and a release wait for a new
	// app container to pass its health check before they fail (and a
	// release prints the container's health-check log and last log lines).
	HealthWaitSeconds int `json:"healthWaitSeconds"`
}

// LocalImages are the images of the attached resources on docker: the
// official images' names for users (the local test harness builds
// stand-ins with the same names and interface).
type LocalImages struct {
	Postgres string `json:"postgres"`
	Redis    string `json:"redis"`
	Nginx    string `json:"nginx"`
	// Prometheus scrapes every process and nginx; NginxExporter turns
	// nginx's stub_status into metrics.
	Prometheus    string `json:"prometheus"`
	NginxExporter string `json:"nginxExporter"`
	// Mtail turns nginx's access log into per-generation request and
	// latency metrics: the load balancer's side of the release gates.
	Mtail string `json:"mtail"`
	// Jaeger (v2: an OpenTelemetry Collector build) receives every
	// process's spans over OTLP and keeps them in memory.
	Jaeger string `json:"jaeger"`
}

// StrictTransportSecurity is the Strict-Transport-Security header every
// HTTPS response of a stack carries: from the ALB's HTTPS listener on aws,
// from nginx on docker. A year, the subdomains (pull-request environments
// at pr-<n>.<domain>) included.
const StrictTransportSecurity = "max-age=31536000; includeSubDomains"

// Defaults returns the configuration every stack file starts from. The
// values are the ones config/schema.json documents as "default"; a test
// keeps the two equal.
func Defaults() Config {
	svc := func(path string, desired, max int) Service {
		return Service{
			CPU: 256, Memory: 512,
			DesiredCount: desired, MinCount: desired, MaxCount: max,
			Autoscaling:                   Autoscaling{CPUTargetPercent: 60},
			Port:                          8080,
			HealthCheckPath:               path,
			StopTimeoutSeconds:            30,
			HealthCheckGracePeriodSeconds: 30,
		}
	}
	web := svc("/readyz", 1, 2)
	web.Autoscaling.RequestsPerTarget = 1000
	worker := svc("/livez", 1, 2)
	worker.Autoscaling.PendingJobsPerTask = 100
	return Config{
		Network: Network{CIDR: "10.0.0.0/16", AZCount: 2, NATGateways: NATSingle, VPCEndpoints: true},
		Services: Services{
			Web:    web,
			Worker: worker,
			Clock:  svc("/livez", 1, 1),
		},
		App: App{
			LogLevel:               "info",
			ShutdownTimeoutSeconds: 20,
			DrainDelaySeconds:      2,
			RequestTimeoutSeconds:  10,
			IdleTimeoutSeconds:     75,
			DBPoolSize:             10,
			RateLimitPerMinute:     600,
		},
		Database: Database{
			EngineVersion:         "15",
			InstanceClass:         "db.t4g.micro",
			AllocatedStorageGB:    20,
			MaxAllocatedStorageGB: 100,
			BackupRetentionDays:   7,
			MaxConnections:        100,
			Name:                  "shipyard",
			Username:              "shipyard",
			CACertIdentifier:      RDSCACertIdentifiers[0],

			PerformanceInsights:              true,
			PerformanceInsightsRetentionDays: 7,
			MonitoringIntervalSeconds:        60,
			LogMinDurationMs:                 1000,
			LogStatement:                     "ddl",
		},
		Cache: Cache{EngineVersion: "7.1", NodeType: "cache.t4g.micro", Replicas: 1, AuthTokenVersion: 1},
		LoadBalancer: LoadBalancer{IdleTimeoutSeconds: 60, DeregistrationDelaySeconds: 30,
			WAF: WAF{Enabled: true, RateLimitPer5Min: 6000}},
		Logging: Logging{RetentionDays: MinLogRetentionDays, Destinations: []string{LogToCloudWatch}},
		Deploy: Deploy{Strategy: StrategyRolling, CanaryPercent: 10, StepPercent: 25, BakeSeconds: 300,
			Gates: []string{"targetErrorRate", "targetLatencyP99"}, MinRequests: 20},
		CI:       CI{PullRequestPreviews: true},
		Tracing:  Tracing{Enabled: true, SamplingRatio: 0.1},
		Previews: Previews{MaxConcurrent: 5, TTLHours: 72, LogRetentionDays: 3, LocalPortBase: 8600},
		Local: Local{
			WebReplicas:    2,
			HTTPPort:       8080,
			HTTPSPort:      8443,
			PrometheusPort: 9090,
			JaegerPort:     16686,
			Images: LocalImages{
				Postgres: "postgres:15", Redis: "redis:7", Nginx: "nginx:1.27",
				Prometheus: "prom/prometheus:v2.53.4", NginxExporter: "nginx/nginx-prometheus-exporter:1.4.2",
				Mtail:  "ghcr.io/google/mtail:3.0.8",
				Jaeger: "jaegertracing/jaeger:2.12.0",
			},
			LogMaxSize:        "10m",
			LogMaxFiles:       3,
			HealthWaitSeconds: 120,
		},
	}
}
