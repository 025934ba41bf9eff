package stackconfig

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/shipyard-kit/shipyard/app/appenv"
)

// Endpoints are the addresses of a stack's attached resources. On aws they
// are known only after deploy (Pulumi outputs, resolved inside ApplyT); on
// docker they are the network aliases of the Postgres and Redis containers.
type Endpoints struct {
	DatabaseHost string
	DatabasePort int
	RedisHost    string
	RedisPort    int
}

// LocalEndpoints are the endpoints of the docker target: the containers'
// network aliases on the stack's private network.
var LocalEndpoints = Endpoints{DatabaseHost: "postgres", DatabasePort: 5432, RedisHost: "redis", RedisPort: 6379}

// The CA files DATABASE_URL names as sslrootcert (sslmode=verify-full).
const (
	// RDSCABundlePath is where the app image holds the pinned Amazon RDS
	// global CA bundle (the Dockerfile copies app/internal/db/rdsca's
	// global-bundle.pem there).
	RDSCABundlePath = "/etc/ssl/certs/rds-global-bundle.pem"
	// LocalDatabaseCAPath is where the docker target's app containers
	// find the local Postgres container's CA certificate (a read-only
	// volume; infra/docker).
	LocalDatabaseCAPath = "/etc/shipyard/postgres-ca/ca.pem"
)

// Where the app sends its spans (OTLP over HTTP): the ADOT collector
// sidecar in the same task on aws (awsvpc tasks share localhost), the
// stack's Jaeger container (its network alias) on docker.
const (
	OTLPHTTPPort      = 4318
	CollectorHost     = "localhost"
	LocalJaegerHost   = "jaeger"
	TracesServiceName = "shipyard"
)

// EnvVar is one environment variable.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Names of the secret env vars every stack has. Their values never appear
// in Env: on aws they come from Secrets Manager through the task
// definition's "secrets", on docker from Pulumi config secrets.
const (
	SecretDatabasePassword = "DATABASE_PASSWORD"
	SecretRedisPassword    = "REDIS_PASSWORD"
)

// EnvSpec documents one env var Env derives from the stack config.
type EnvSpec struct {
	Name string
	// Doc says what the variable holds and which field it comes from
	// (markdown, for docs/config.md).
	Doc   string
	value func(c *Config, ep Endpoints) string
	// from are the fields the value comes from, for a problem the app
	// finds with it (see checkAppEnv).
	from []string
}

// envSpecs is the table Env computes: to give the app a new variable, add
// a row here (docs/config.md and ReservedEnvNames follow).
var envSpecs = []EnvSpec{
	{"APP_ENV", "The stack name (`local`, `dev`, `staging`, `prod`).",
		func(c *Config, _ Endpoints) string { return c.Stack },
		nil},
	{"PORT", "Listening port: `services.web.port`.",
		func(c *Config, _ Endpoints) string { return strconv.Itoa(c.Services.Web.Port) },
		[]string{"services.web.port"}},
	{"LOG_LEVEL", "`app.logLevel`.",
		func(c *Config, _ Endpoints) string { return c.App.LogLevel },
		[]string{"app.logLevel"}},
	{"SHUTDOWN_TIMEOUT", "Drain budget after SIGTERM, a Go duration: `app.shutdownTimeoutSeconds` + `s`.",
		func(c *Config, _ Endpoints) string { return seconds(c.App.ShutdownTimeoutSeconds) },
		[]string{"app.shutdownTimeoutSeconds"}},
	{"DRAIN_DELAY", "Serving on after SIGTERM before the listener closes: `app.drainDelaySeconds` + `s`.",
		func(c *Config, _ Endpoints) string { return seconds(c.App.DrainDelaySeconds) },
		[]string{"app.drainDelaySeconds", "app.shutdownTimeoutSeconds"}},
	{"REQUEST_TIMEOUT", "Per-request deadline: `app.requestTimeoutSeconds` + `s`.",
		func(c *Config, _ Endpoints) string { return seconds(c.App.RequestTimeoutSeconds) },
		[]string{"app.requestTimeoutSeconds"}},
	{"HTTP_IDLE_TIMEOUT", "Keep-alive idle timeout: `app.idleTimeoutSeconds` + `s`.",
		func(c *Config, _ Endpoints) string { return seconds(c.App.IdleTimeoutSeconds) },
		[]string{"app.idleTimeoutSeconds"}},
	{envDatabaseURL, "`postgres://<database.username>@<host>:<port>/<database.name>?sslmode=verify-full&sslrootcert=<CA file>` (a PR environment's: `pr_<n>` as user and database), without the password (`DATABASE_PASSWORD`): the app checks that the server's certificate chains to the CA file and names `<host>`. The CA file is the Amazon RDS global bundle the image ships (`" + RDSCABundlePath + "`) on aws, the local stack's generated CA (`" + LocalDatabaseCAPath + "`) on docker.",
		databaseURL,
		[]string{"database.name", "database.username"}},
	{"DATABASE_MAX_CONNS", "Pool size of one process: `app.dbPoolSize`.",
		func(c *Config, _ Endpoints) string { return strconv.Itoa(c.App.DBPoolSize) },
		[]string{"app.dbPoolSize"}},
	{"REDIS_URL", "`rediss://<host>:<port>/0` (`redis://` on docker; a PR environment's: its slot as the logical database), without the password (`REDIS_PASSWORD`).",
		func(c *Config, ep Endpoints) string {
			scheme := "redis"
			if c.Target == TargetAWS {
				scheme = "rediss"
			}
			u := url.URL{Scheme: scheme, Host: net.JoinHostPort(ep.RedisHost, strconv.Itoa(ep.RedisPort)), Path: "/" + strconv.Itoa(c.previewRedisDB())}
			return u.String()
		},
		nil},
	{"RATE_LIMIT_PER_MINUTE", "`app.rateLimitPerMinute`.",
		func(c *Config, _ Endpoints) string { return strconv.Itoa(c.App.RateLimitPerMinute) },
		[]string{"app.rateLimitPerMinute"}},
	{"OTEL_SDK_DISABLED", "`true` when `tracing.enabled` is false: the app then makes no span at all.",
		func(c *Config, _ Endpoints) string { return strconv.FormatBool(!c.Tracing.Enabled) },
		[]string{"tracing.enabled"}},
	{"OTEL_EXPORTER_OTLP_ENDPOINT", "Where spans go, OTLP over HTTP: the task's ADOT collector sidecar `http://" + CollectorHost + ":4318` on aws, the stack's Jaeger `http://" + LocalJaegerHost + ":4318` on docker.",
		func(c *Config, _ Endpoints) string {
			host := LocalJaegerHost
			if c.Target == TargetAWS {
				host = CollectorHost
			}
			return "http://" + net.JoinHostPort(host, strconv.Itoa(OTLPHTTPPort))
		},
		nil},
	{"OTEL_EXPORTER_OTLP_PROTOCOL", "Always `http/protobuf`.",
		func(*Config, Endpoints) string { return "http/protobuf" },
		nil},
	{"OTEL_TRACES_SAMPLER", "Always `parentbased_traceidratio`: a trace started here is recorded with `tracing.samplingRatio`, one continued from a caller's traceparent as the caller decided.",
		func(*Config, Endpoints) string { return "parentbased_traceidratio" },
		nil},
	{"OTEL_TRACES_SAMPLER_ARG", "`tracing.samplingRatio`.",
		func(c *Config, _ Endpoints) string { return strconv.FormatFloat(c.Tracing.SamplingRatio, 'g', -1, 64) },
		[]string{"tracing.samplingRatio"}},
	{"OTEL_SERVICE_NAME", "Always `" + TracesServiceName + "` (the process type is the resource attribute `shipyard.process`).",
		func(*Config, Endpoints) string { return TracesServiceName },
		nil},
	{"OTEL_RESOURCE_ATTRIBUTES", "`deployment.environment.name=<stack>`.",
		func(c *Config, _ Endpoints) string { return "deployment.environment.name=" + c.Stack },
		nil},
	{"TRUST_PROXY", "Always `true`: every stack serves through exactly one load balancer (the ALB on aws, nginx on docker), so the client is the right-most `X-Forwarded-For` hop it appends; rate limits are per client, not per load balancer.",
		func(*Config, Endpoints) string { return "true" },
		nil},
}

// envDatabaseURL is the variable of the app's database connection.
const envDatabaseURL = "DATABASE_URL"

// databaseURL is DATABASE_URL's value: the config's app database and user
// (a PR's own on a PR stack) at ep, without the password.
func databaseURL(c *Config, ep Endpoints) string {
	rootCert := LocalDatabaseCAPath
	if c.Target == TargetAWS {
		rootCert = RDSCABundlePath
	}
	name, user := c.appDatabase()
	u := url.URL{
		Scheme: "postgres",
		User:   url.User(user),
		Host:   net.JoinHostPort(ep.DatabaseHost, strconv.Itoa(ep.DatabasePort)),
		Path:   "/" + name,
		// Constant paths: no escaping, so the URL reads as written.
		RawQuery: "sslmode=verify-full&sslrootcert=" + rootCert,
	}
	return u.String()
}

// secretSpecs documents the secret env vars every stack has.
var secretSpecs = []EnvSpec{
	{Name: SecretDatabasePassword, Doc: "Password of `database.username`."},
	{Name: SecretRedisPassword, Doc: "Redis AUTH token."},
}

func seconds(n int) string { return strconv.Itoa(n) + "s" }

// EnvSpecs documents the plain env vars Env derives, then the secret ones
// every stack has (their values never appear in Env).
func EnvSpecs() (plain, secret []EnvSpec) {
	return append([]EnvSpec(nil), envSpecs...), append([]EnvSpec(nil), secretSpecs...)
}

// Env returns the app's plain (non-secret) environment for this stack,
// sorted by name: the variables of EnvSpecs plus app.env. It is the only
// place env vars are derived from the stack config: the ECS task
// definitions, the local containers and `make env STACK=…` all call it.
// Every process type receives the same environment; the process type is
// the binary's subcommand.
func (c *Config) Env(ep Endpoints) []EnvVar {
	vars := map[string]string{}
	for k, v := range c.App.Env {
		vars[k] = v
	}
	// Derived values win over app.env; validation rejects app.env keys
	// that collide with them, so this order only matters for bad input.
	for _, s := range envSpecs {
		vars[s.Name] = s.value(c, ep)
	}
	out := make([]EnvVar, 0, len(vars))
	for k, v := range vars {
		out = append(out, EnvVar{Name: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// SecretNames returns the names of the env vars whose values are secrets,
// sorted: the database and Redis passwords plus app.secrets.
func (c *Config) SecretNames() []string {
	names := append([]string{SecretDatabasePassword, SecretRedisPassword}, c.App.Secrets...)
	sort.Strings(names)
	return names
}

// ReservedEnvNames are the env var names Env and SecretNames derive; app.env
// and app.secrets may not use them.
func ReservedEnvNames() []string {
	var names []string
	for _, s := range envSpecs {
		names = append(names, s.Name)
	}
	for _, s := range secretSpecs {
		names = append(names, s.Name)
	}
	sort.Strings(names)
	return names
}

// previewEnvNames are the variables Shipyard sets on a PR environment's
// `app preview` commands only (PreviewAdminEnv and each target's secrets):
// the PR's own database, user and password.
var previewEnvNames = []string{appenv.PreviewDatabase, appenv.PreviewDatabaseUser, appenv.PreviewDatabasePassword}

// otelPrefix is the family of the OpenTelemetry variables: Shipyard sets
// the app's tracing from tracing.* (the OTEL_* names of ReservedEnvNames),
// and any other of them (OTEL_TRACES_EXPORTER,
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT…) would override it.
const otelPrefix = "OTEL_"

// stackSetEnvReason says why app.env and app.secrets may not set name,
// which Shipyard sets itself beyond ReservedEnvNames, or "".
func stackSetEnvReason(name string) string {
	switch {
	case slices.Contains(previewEnvNames, name):
		return fmt.Sprintf("%q is set by Shipyard on a PR environment's `app preview` commands only (the PR's own database, user and password); not allowed here (nor %s)",
			name, strings.Join(previewEnvNames, ", "))
	case strings.HasPrefix(name, otelPrefix):
		return fmt.Sprintf("%q would override the tracing Shipyard sets from tracing.enabled and tracing.samplingRatio; not allowed here (no %s* name): set tracing.* instead", name, otelPrefix)
	}
	return ""
}

// checkAppEnv runs the app's own config loader (app/appenv) on the
// environment every process gets: a value of app.env the app would refuse
// at start is a problem at app.env.<NAME> carrying the app's message.
// Secrets are left unset (the loader does not judge them) and the
// endpoints are the docker hosts, of the same shape as the aws ones.
func (c *Config) checkAppEnv(ps *problems) {
	env := map[string]string{}
	for _, v := range c.Env(LocalEndpoints) {
		env[v.Name] = v.Value
	}
	reserved := ReservedEnvNames()
	for _, p := range appenv.Check(env) {
		if _, set := c.App.Env[p.Name]; set && !slices.Contains(reserved, p.Name) {
			ps.add("app.env."+p.Name, "the app refuses it at start: %s", p.Message)
			continue
		}
		// A derived value the app refuses is the project's bug, unless
		// the schema rejected a field it comes from (then that field
		// kept a value the rules never judged).
		var from []string
		for _, s := range envSpecs {
			if s.Name == p.Name {
				from = s.from
			}
		}
		path := ""
		if len(from) > 0 {
			path = from[0]
		}
		ps.addAbout(path, from, "the app refuses %s derived from the stack config: %s (the stack config's rules and app/internal/config disagree: fix config/schema.json, infra/stackconfig or app/internal/config)", p.Name, p.Message)
	}
}
