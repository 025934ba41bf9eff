package stackconfig

import (
	"net"
	"net/url"
	"sort"
	"strconv"
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

// Env returns the app's plain (non-secret) environment for this stack,
// sorted by name. It is the only place env vars are derived from the stack
// config: the ECS task definitions, the local containers and
// `make env STACK=…` all call it. Every process type receives the same
// environment; the process type is the binary's subcommand.
func (c *Config) Env(ep Endpoints) []EnvVar {
	sslmode, redisScheme := "disable", "redis"
	if c.Target == TargetAWS {
		sslmode, redisScheme = "require", "rediss"
	}
	db := url.URL{
		Scheme:   "postgres",
		User:     url.User(c.Database.Username),
		Host:     net.JoinHostPort(ep.DatabaseHost, strconv.Itoa(ep.DatabasePort)),
		Path:     "/" + c.Database.Name,
		RawQuery: url.Values{"sslmode": {sslmode}}.Encode(),
	}
	redis := url.URL{
		Scheme: redisScheme,
		Host:   net.JoinHostPort(ep.RedisHost, strconv.Itoa(ep.RedisPort)),
		Path:   "/0",
	}
	seconds := func(n int) string { return strconv.Itoa(n) + "s" }

	vars := map[string]string{}
	for k, v := range c.App.Env {
		vars[k] = v
	}
	// Derived values win over app.env; validation rejects app.env keys
	// that collide with them, so this order only matters for bad input.
	for k, v := range map[string]string{
		"APP_ENV":               c.Stack,
		"PORT":                  strconv.Itoa(c.Services.Web.Port),
		"LOG_LEVEL":             c.App.LogLevel,
		"SHUTDOWN_TIMEOUT":      seconds(c.App.ShutdownTimeoutSeconds),
		"REQUEST_TIMEOUT":       seconds(c.App.RequestTimeoutSeconds),
		"HTTP_IDLE_TIMEOUT":     seconds(c.App.IdleTimeoutSeconds),
		"DATABASE_URL":          db.String(),
		"DATABASE_MAX_CONNS":    strconv.Itoa(c.App.DBPoolSize),
		"REDIS_URL":             redis.String(),
		"RATE_LIMIT_PER_MINUTE": strconv.Itoa(c.App.RateLimitPerMinute),
	} {
		vars[k] = v
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
	var c Config
	var names []string
	for _, v := range c.Env(Endpoints{}) {
		names = append(names, v.Name)
	}
	names = append(names, SecretDatabasePassword, SecretRedisPassword)
	sort.Strings(names)
	return names
}
