// Package config loads the process configuration from the environment into
// one typed struct, validated at once.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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
	WorkerConcurrency  int
	// QueueMetricsInterval is how often the worker and the clock write the
	// job queues' backlog as CloudWatch embedded metric format lines; 0
	// turns them off.
	QueueMetricsInterval time.Duration
	// PasswordHashConcurrency bounds concurrent argon2id hashes; 0 means
	// GOMAXPROCS.
	PasswordHashConcurrency int
	// Tracing is the OpenTelemetry trace export, from the standard OTEL_*
	// variables.
	Tracing Tracing

	// Preview is a PR environment's database and user, for `app preview
	// create|drop` only (Needs.Preview).
	Preview Preview
}

// Preview is what `app preview create|drop` make or remove with the admin
// DATABASE_URL: the PR's database, owned by its user.
type Preview struct {
	Database string // EnvPreviewDatabase
	User     string // EnvPreviewDatabaseUser
	Password string // EnvPreviewDatabasePassword, secret; create only
}

// The variables of `app preview create|drop` (Needs.Preview), which
// app/appenv exports for infra (infra/stackconfig.PreviewAdminEnv writes
// them).
const (
	EnvPreviewDatabase         = "PREVIEW_DATABASE"
	EnvPreviewDatabaseUser     = "PREVIEW_DATABASE_USER"
	EnvPreviewDatabasePassword = "PREVIEW_DATABASE_PASSWORD"
)

// PreviewNeeds is what `app preview <sub>` needs of the environment: the
// PR's database and user; create its password too, drop Redis (to empty
// the PR's logical database).
func PreviewNeeds(sub string) Needs {
	return Needs{Database: true, Preview: true, PreviewPassword: sub == "create", Redis: sub == "drop"}
}

// RedisDatabases is how many logical databases the stacks' Redis has:
// Redis's default "databases 16", which ElastiCache's default parameter
// group and the docker stack's redis-server keep (infra/stackconfig's
// MaxPreviewSlots counts on it: the base stack's app uses 0, PR
// environments 1 to 15). A REDIS_URL naming another fails at load, not at
// the first command with "DB index is out of range".
const RedisDatabases = 16

// Needs says which dependencies a subcommand requires.
type Needs struct {
	Database bool
	Redis    bool
	// Preview: PREVIEW_DATABASE and PREVIEW_DATABASE_USER;
	// PreviewPassword: PREVIEW_DATABASE_PASSWORD too.
	Preview, PreviewPassword bool
}

// Load reads and validates the configuration. Every problem is reported at
// once, each naming the variable and what it expects.
func Load(getenv func(string) string, needs Needs) (*Config, error) {
	l := loader{getenv: getenv}
	c := &Config{
		AppEnv:                  l.str("APP_ENV", "development"),
		Port:                    l.port(),
		LogLevel:                l.level("LOG_LEVEL", slog.LevelInfo),
		ShutdownTimeout:         l.duration("SHUTDOWN_TIMEOUT", 20*time.Second, time.Second),
		DrainDelay:              l.duration("DRAIN_DELAY", 0, 0),
		RequestTimeout:          l.duration("REQUEST_TIMEOUT", 10*time.Second, time.Millisecond),
		IdleTimeout:             l.duration("HTTP_IDLE_TIMEOUT", 75*time.Second, time.Second),
		MaxBodyBytes:            int64(l.intRange("MAX_BODY_BYTES", 1<<20, 1, 1<<30)),
		TrustProxy:              l.boolean("TRUST_PROXY", false),
		DatabaseURL:             l.str("DATABASE_URL", ""),
		DatabasePassword:        getenv("DATABASE_PASSWORD"),
		DatabaseMaxConns:        int32(l.intRange("DATABASE_MAX_CONNS", 10, 1, 1000)),
		DatabaseConnectTimeout:  l.duration("DATABASE_CONNECT_TIMEOUT", 5*time.Second, time.Millisecond),
		RedisURL:                l.str("REDIS_URL", ""),
		RedisPassword:           getenv("REDIS_PASSWORD"),
		RedisPoolSize:           l.intRange("REDIS_POOL_SIZE", 20, 1, 10000),
		RedisTimeout:            l.duration("REDIS_TIMEOUT", time.Second, time.Millisecond),
		RateLimitPerMinute:      l.intRange("RATE_LIMIT_PER_MINUTE", 600, 0, 1_000_000_000),
		CacheTTL:                l.duration("CACHE_TTL", 5*time.Minute, time.Second),
		TokenTTL:                l.duration("TOKEN_TTL", 24*time.Hour, time.Minute),
		WorkerConcurrency:       l.intRange("WORKER_CONCURRENCY", 10, 1, 1000),
		QueueMetricsInterval:    l.durationOrOff("QUEUE_METRICS_INTERVAL", time.Minute, time.Second, time.Hour),
		PasswordHashConcurrency: l.intRange("PASSWORD_HASH_CONCURRENCY", 0, 0, 1000),
	}
	c.Tracing = l.tracing()
	if needs.Preview {
		c.Preview = l.preview(needs.PreviewPassword)
		if c.Preview.Database != "" && c.Preview.Database == databaseName(c.DatabaseURL) {
			l.fail(EnvPreviewDatabase, "must differ from DATABASE_URL's database (the base stack's, which preview commands never touch)", c.Preview.Database)
		}
		if c.Preview.User != "" && c.Preview.User == databaseUser(c.DatabaseURL) {
			l.fail(EnvPreviewDatabaseUser, "must differ from DATABASE_URL's user (the admin user preview commands connect as)", c.Preview.User)
		}
	}
	if c.DrainDelay >= c.ShutdownTimeout && l.getenv("DRAIN_DELAY") != "" {
		l.fail("DRAIN_DELAY", "must be shorter than SHUTDOWN_TIMEOUT", l.getenv("DRAIN_DELAY"))
	}
	if needs.Database {
		switch {
		case c.DatabaseURL == "":
			l.fail("DATABASE_URL", `is required: a URL such as "postgres://user@host:5432/db?sslmode=disable"`, "")
		case !strings.Contains(c.DatabaseURL, "://"):
			// A libpq key=value DSN ("host=… dbname=… password=…"), which
			// pgx accepts too.
			if _, ok := dsnPairs(c.DatabaseURL); !ok || !dsnHasHost(c.DatabaseURL) {
				l.fail("DATABASE_URL", `must be a URL such as "postgres://user@host:5432/db?sslmode=disable" or a key=value DSN with host=`, Redact(c.DatabaseURL))
			} else {
				l.checkDatabaseParams(c.DatabaseURL)
			}
		default:
			u, err := url.Parse(c.DatabaseURL)
			if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
				l.fail("DATABASE_URL", `must be a URL such as "postgres://user@host:5432/db?sslmode=disable"`, Redact(c.DatabaseURL))
			} else {
				l.checkDatabaseParams(c.DatabaseURL)
			}
		}
	}
	if needs.Redis {
		switch {
		case c.RedisURL == "":
			l.fail("REDIS_URL", `is required: a URL such as "redis://host:6379/0" or "rediss://…"`, "")
		default:
			o, err := redis.ParseURL(c.RedisURL)
			switch {
			case err != nil:
				expect := `must be a URL such as "redis://host:6379/0" or "rediss://…"`
				if u, perr := url.Parse(c.RedisURL); perr == nil && hasSecretParam(u.Query()) {
					expect += "; put the password in REDIS_PASSWORD or in the URL's userinfo, not in the query"
				}
				l.fail("REDIS_URL", expect, Redact(c.RedisURL))
			case o.DB < 0 || o.DB >= RedisDatabases:
				l.fail("REDIS_URL", fmt.Sprintf(`must name a logical database from 0 to %d, such as "redis://host:6379/0": Redis has %d (its default "databases %d", which ElastiCache and the docker stack keep)`,
					RedisDatabases-1, RedisDatabases, RedisDatabases), Redact(c.RedisURL))
			}
		}
	}
	if err := l.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// Port reads PORT alone, exactly as Load does, for `app healthcheck`,
// which needs nothing else of the environment.
func Port(getenv func(string) string) (int, error) {
	l := loader{getenv: getenv}
	port := l.port()
	return port, l.err()
}

// VarError is one variable Load refuses: its name and what is wrong with
// it (what it expects, and the value it got).
type VarError struct {
	Name    string
	Problem string
}

func (e VarError) Error() string { return e.Name + ": " + e.Problem }

// Errors is Load's error: every variable it refuses, in the order read.
type Errors []VarError

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return "config: " + strings.Join(msgs, "; ")
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
		slog.String("database_url", Redact(c.DatabaseURL)),
		slog.String("database_password", mask(c.DatabasePassword)),
		slog.Int("database_max_conns", int(c.DatabaseMaxConns)),
		slog.Duration("database_connect_timeout", c.DatabaseConnectTimeout),
		slog.String("redis_url", Redact(c.RedisURL)),
		slog.String("redis_password", mask(c.RedisPassword)),
		slog.Int("redis_pool_size", c.RedisPoolSize),
		slog.Duration("redis_timeout", c.RedisTimeout),
		slog.Int("rate_limit_per_minute", c.RateLimitPerMinute),
		slog.Duration("cache_ttl", c.CacheTTL),
		slog.Duration("token_ttl", c.TokenTTL),
		slog.Int("worker_concurrency", c.WorkerConcurrency),
		slog.Duration("queue_metrics_interval", c.QueueMetricsInterval),
		slog.Int("password_hash_concurrency", c.PasswordHashConcurrency),
		slog.Any("tracing", c.Tracing),
		slog.Group("preview",
			slog.String("database", c.Preview.Database),
			slog.String("user", c.Preview.User),
			slog.String("password", mask(c.Preview.Password))),
	)
}

// String is LogValue's text, so that fmt never prints secrets either.
func (c *Config) String() string { return c.LogValue().String() }

// Redact hides every password in a connection string: a URL's userinfo
// password and password-like query parameters, or the password-like
// values of a key=value DSN. Input it cannot parse is replaced entirely:
// it may contain a password we cannot locate.
func Redact(s string) string {
	if s == "" {
		return ""
	}
	if !strings.Contains(s, "://") {
		return redactDSN(s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return "<unparseable>"
	}
	if q := u.Query(); hasSecretParam(q) {
		for k := range q {
			if secretKey(k) {
				q[k] = []string{"xxxxx"}
			}
		}
		u.RawQuery = q.Encode()
	} else if u.RawQuery != "" && strings.Contains(strings.ToLower(u.RawQuery), "pass") {
		u.RawQuery = "<redacted>" // unparseable query that may hold a password
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// ParseRedisURL is redis.ParseURL with an error that names REDIS_URL,
// shows the URL only redacted and keeps the cause without what could be a
// password: net/url's errors quote the whole URL, userinfo included, and
// pieces of it (`invalid URL escape "%zz"`), so their quoted parts are
// withheld. go-redis's own errors name the scheme, path or option at fault
// and are kept whole.
func ParseRedisURL(raw string) (*redis.Options, error) {
	o, err := redis.ParseURL(raw)
	if err == nil {
		return o, nil
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = errors.New("not a URL: " + quotedRE.ReplaceAllLiteralString(ue.Err.Error(), `"…"`))
	}
	return nil, fmt.Errorf(`REDIS_URL %q: want a URL such as "redis://host:6379/0" or "rediss://…": %w`, Redact(raw), err)
}

// quotedRE matches a Go-quoted string (strconv.Quote, %q).
var quotedRE = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// secretKey reports whether a connection parameter name holds a secret
// (password, sslpassword, pass, pwd, secret, token, …).
func secretKey(k string) bool {
	k = strings.ToLower(k)
	return strings.Contains(k, "pass") || strings.Contains(k, "pwd") || strings.Contains(k, "secret") || strings.Contains(k, "token")
}

func hasSecretParam(q url.Values) bool {
	for k := range q {
		if secretKey(k) {
			return true
		}
	}
	return false
}

// redactDSN masks the secret values of a libpq key=value string (dsnPairs).
// Anything it cannot tokenize is replaced entirely.
func redactDSN(s string) string {
	pairs, ok := dsnPairs(s)
	if !ok {
		return "<unparseable>"
	}
	var b strings.Builder
	last := 0
	for _, p := range pairs {
		if secretKey(p.key) {
			b.WriteString(s[last:p.start])
			b.WriteString("xxxxx")
			last = p.end
		}
	}
	b.WriteString(s[last:])
	return b.String()
}

// dsnHasHost reports whether a key=value DSN names a host (otherwise pgx
// would silently fall back to a local socket or $PGHOST).
func dsnHasHost(s string) bool {
	for _, f := range strings.Fields(s) {
		if k, v, ok := strings.Cut(f, "="); ok && (k == "host" || k == "hostaddr") && v != "" {
			return true
		}
	}
	return false
}

// previewNameRE is a PR database or user name as Shipyard makes them
// (infra/stackconfig's Preview.Database): "pr_" and the pull request's
// number, at most 63 characters. Nothing else may be created or dropped,
// whatever DATABASE_URL names.
var previewNameRE = regexp.MustCompile(`^pr_[1-9][0-9]{0,59}$`)

const previewNameForm = `"pr_<n>", n the pull request's number, as Shipyard names it (such as "pr_7")`

// minPreviewPassword is the shortest PREVIEW_DATABASE_PASSWORD, in
// characters.
const minPreviewPassword = 16

func (l *loader) preview(password bool) Preview {
	p := Preview{Database: l.str(EnvPreviewDatabase, ""), User: l.str(EnvPreviewDatabaseUser, ""), Password: l.getenv(EnvPreviewDatabasePassword)}
	for _, v := range []struct{ name, value string }{{EnvPreviewDatabase, p.Database}, {EnvPreviewDatabaseUser, p.User}} {
		switch {
		case v.value == "":
			l.fail(v.name, "is required: "+previewNameForm, "")
		case !previewNameRE.MatchString(v.value):
			l.fail(v.name, "must be "+previewNameForm, v.value)
		}
	}
	// The password is never echoed, only its length.
	switch n := utf8.RuneCountInString(p.Password); {
	case !password:
	case n == 0:
		l.fail(EnvPreviewDatabasePassword, fmt.Sprintf("is required: the PR user's password, at least %d characters", minPreviewPassword), "")
	case n < minPreviewPassword:
		l.fail(EnvPreviewDatabasePassword, fmt.Sprintf("must be at least %d characters long; it has %d", minPreviewPassword, n), "")
	}
	return p
}

// databaseName and databaseUser read a DATABASE_URL's database and user
// ("" when it names none or cannot be parsed).
func databaseName(s string) string {
	if u, err := url.Parse(s); err == nil && strings.Contains(s, "://") {
		return strings.TrimPrefix(u.Path, "/")
	}
	return dsnValue(s, "dbname")
}

func databaseUser(s string) string {
	if u, err := url.Parse(s); err == nil && strings.Contains(s, "://") {
		return u.User.Username()
	}
	return dsnValue(s, "user")
}

func dsnValue(s, key string) string {
	for _, f := range strings.Fields(s) {
		if k, v, ok := strings.Cut(f, "="); ok && k == key {
			return strings.Trim(v, "'")
		}
	}
	return ""
}

type loader struct {
	getenv func(string) string
	errs   Errors
}

// err is every problem found (an Errors), or nil.
func (l *loader) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	return l.errs
}

func (l *loader) port() int { return l.intRange("PORT", 8080, 1, 65535) }

func (l *loader) fail(name, expect, got string) {
	if got != "" {
		expect += fmt.Sprintf(" (got %q)", got)
	}
	l.errs = append(l.errs, VarError{Name: name, Problem: expect})
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

// durationOrOff is a duration from lo to hi, or 0 ("0" or "0s") for off.
func (l *loader) durationOrOff(name string, def, lo, hi time.Duration) time.Duration {
	v := strings.TrimSpace(l.getenv(name))
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d != 0 && (d < lo || d > hi) {
		l.fail(name, fmt.Sprintf("must be a Go duration such as \"60s\", from %s to %s, or 0 for off", lo, hi), v)
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
	// Only the four names, in any case: slog's own parser would also take
	// offsets such as "info+3".
	switch strings.ToLower(v) {
	case "debug":
		return slog.LevelDebug
	case "info":
		return slog.LevelInfo
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	l.fail(name, `must be one of "debug", "info", "warn", "error"`, v)
	return def
}
