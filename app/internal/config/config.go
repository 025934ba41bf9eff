// Package config loads the process configuration from the environment into
// one typed struct, validated at once.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Config is every setting the app reads. It is built only by Load.
type Config struct {
	AppEnv   string
	Port     int
	LogLevel slog.Level

	ShutdownTimeout time.Duration
	DrainDelay      time.Duration
	RequestTimeout  time.Duration
	IdleTimeout     time.Duration
	MaxBodyBytes    int64
	TrustProxy      bool

	DatabaseURL            string // as given, possibly without a password
	DatabasePassword       string // secret
	DatabaseMaxConns       int32
	DatabaseConnectTimeout time.Duration

	RedisURL      string
	RedisPassword string // secret
	RedisPoolSize int
	RedisTimeout  time.Duration

	RateLimitPerMinute int
	CacheTTL           time.Duration
	TokenTTL           time.Duration
	TokenPurgeInterval time.Duration
	WorkerConcurrency  int
}

// Needs says which dependencies a subcommand requires.
type Needs struct {
	Database bool
	Redis    bool
}

// Load reads and validates the configuration. Every problem is reported at
// once, each naming the variable and what it expects.
func Load(getenv func(string) string, needs Needs) (*Config, error) {
	l := loader{getenv: getenv}
	c := &Config{
		AppEnv:                 l.str("APP_ENV", "development"),
		Port:                   l.intRange("PORT", 8080, 1, 65535),
		LogLevel:               l.level("LOG_LEVEL", slog.LevelInfo),
		ShutdownTimeout:        l.duration("SHUTDOWN_TIMEOUT", 20*time.Second, time.Second),
		DrainDelay:             l.duration("DRAIN_DELAY", 0, 0),
		RequestTimeout:         l.duration("REQUEST_TIMEOUT", 10*time.Second, time.Millisecond),
		IdleTimeout:            l.duration("HTTP_IDLE_TIMEOUT", 75*time.Second, time.Second),
		MaxBodyBytes:           int64(l.intRange("MAX_BODY_BYTES", 1<<20, 1, 1<<30)),
		TrustProxy:             l.boolean("TRUST_PROXY", false),
		DatabaseURL:            l.str("DATABASE_URL", ""),
		DatabasePassword:       getenv("DATABASE_PASSWORD"),
		DatabaseMaxConns:       int32(l.intRange("DATABASE_MAX_CONNS", 10, 1, 1000)),
		DatabaseConnectTimeout: l.duration("DATABASE_CONNECT_TIMEOUT", 5*time.Second, time.Millisecond),
		RedisURL:               l.str("REDIS_URL", ""),
		RedisPassword:          getenv("REDIS_PASSWORD"),
		RedisPoolSize:          l.intRange("REDIS_POOL_SIZE", 20, 1, 10000),
		RedisTimeout:           l.duration("REDIS_TIMEOUT", time.Second, time.Millisecond),
		RateLimitPerMinute:     l.intRange("RATE_LIMIT_PER_MINUTE", 600, 0, 1_000_000_000),
		CacheTTL:               l.duration("CACHE_TTL", 5*time.Minute, time.Second),
		TokenTTL:               l.duration("TOKEN_TTL", 24*time.Hour, time.Minute),
		TokenPurgeInterval:     l.duration("TOKEN_PURGE_INTERVAL", time.Hour, time.Second),
		WorkerConcurrency:      l.intRange("WORKER_CONCURRENCY", 10, 1, 1000),
	}
	if c.DrainDelay >= c.ShutdownTimeout && l.getenv("DRAIN_DELAY") != "" {
		l.fail("DRAIN_DELAY", "must be shorter than SHUTDOWN_TIMEOUT", l.getenv("DRAIN_DELAY"))
	}
	if needs.Database {
		switch {
		case c.DatabaseURL == "":
			l.fail("DATABASE_URL", `is required: a URL such as "postgres://user@host:5432/db?sslmode=disable"`, "")
		default:
			u, err := url.Parse(c.DatabaseURL)
			if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
				l.fail("DATABASE_URL", `must be a URL such as "postgres://user@host:5432/db?sslmode=disable"`, redactURL(c.DatabaseURL))
			}
		}
	}
	if needs.Redis {
		switch {
		case c.RedisURL == "":
			l.fail("REDIS_URL", `is required: a URL such as "redis://host:6379/0" or "rediss://…"`, "")
		default:
			if _, err := redis.ParseURL(c.RedisURL); err != nil {
				l.fail("REDIS_URL", `must be a URL such as "redis://host:6379/0" or "rediss://…"`, redactURL(c.RedisURL))
			}
		}
	}
	if len(l.errs) > 0 {
		msgs := make([]string, len(l.errs))
		for i, e := range l.errs {
			msgs[i] = e.Error()
		}
		return nil, errors.New("config: " + strings.Join(msgs, "; "))
	}
	return c, nil
}

// LogValue renders the config for logs with every secret masked.
func (c *Config) LogValue() slog.Value {
	mask := func(s string) string {
		if s == "" {
			return ""
		}
		return "********"
	}
	return slog.GroupValue(
		slog.String("app_env", c.AppEnv),
		slog.Int("port", c.Port),
		slog.String("log_level", c.LogLevel.String()),
		slog.Duration("shutdown_timeout", c.ShutdownTimeout),
		slog.Duration("drain_delay", c.DrainDelay),
		slog.Duration("request_timeout", c.RequestTimeout),
		slog.Duration("http_idle_timeout", c.IdleTimeout),
		slog.Int64("max_body_bytes", c.MaxBodyBytes),
		slog.Bool("trust_proxy", c.TrustProxy),
		slog.String("database_url", redactURL(c.DatabaseURL)),
		slog.String("database_password", mask(c.DatabasePassword)),
		slog.Int("database_max_conns", int(c.DatabaseMaxConns)),
		slog.Duration("database_connect_timeout", c.DatabaseConnectTimeout),
		slog.String("redis_url", redactURL(c.RedisURL)),
		slog.String("redis_password", mask(c.RedisPassword)),
		slog.Int("redis_pool_size", c.RedisPoolSize),
		slog.Duration("redis_timeout", c.RedisTimeout),
		slog.Int("rate_limit_per_minute", c.RateLimitPerMinute),
		slog.Duration("cache_ttl", c.CacheTTL),
		slog.Duration("token_ttl", c.TokenTTL),
		slog.Duration("token_purge_interval", c.TokenPurgeInterval),
		slog.Int("worker_concurrency", c.WorkerConcurrency),
	)
}

// String is LogValue's text, so that fmt never prints secrets either.
func (c *Config) String() string { return c.LogValue().String() }

// redactURL hides a password embedded in a URL. Unparseable input is
// replaced entirely: it may contain a password we cannot locate.
func redactURL(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return "<unparseable>"
	}
	return u.Redacted()
}

type loader struct {
	getenv func(string) string
	errs   []error
}

func (l *loader) fail(name, expect, got string) {
	if got != "" {
		l.errs = append(l.errs, fmt.Errorf("%s: %s (got %q)", name, expect, got))
		return
	}
	l.errs = append(l.errs, fmt.Errorf("%s: %s", name, expect))
}

func (l *loader) str(name, def string) string {
	if v := strings.TrimSpace(l.getenv(name)); v != "" {
		return v
	}
	return def
}

func (l *loader) intRange(name string, def, lo, hi int) int {
	v := strings.TrimSpace(l.getenv(name))
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		l.fail(name, fmt.Sprintf("must be an integer from %d to %d", lo, hi), v)
		return def
	}
	return n
}

func (l *loader) duration(name string, def, min time.Duration) time.Duration {
	v := strings.TrimSpace(l.getenv(name))
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < min {
		l.fail(name, fmt.Sprintf("must be a Go duration such as \"20s\", at least %s", min), v)
		return def
	}
	return d
}

func (l *loader) boolean(name string, def bool) bool {
	v := strings.TrimSpace(l.getenv(name))
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		l.fail(name, `must be "true" or "false"`, v)
		return def
	}
	return b
}

func (l *loader) level(name string, def slog.Level) slog.Level {
	v := strings.TrimSpace(l.getenv(name))
	if v == "" {
		return def
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(v)); err != nil {
		l.fail(name, `must be one of "debug", "info", "warn", "error"`, v)
		return def
	}
	return lv
}
