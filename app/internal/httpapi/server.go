// Package httpapi is the HTTP layer: NewServer builds the API handler and
// NewOpsServer the ops-only handler of the worker and clock.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/shipyard-kit/shipyard/app/internal/auth"
	"github.com/shipyard-kit/shipyard/app/internal/cache"
	"github.com/shipyard-kit/shipyard/app/internal/store"
)

// Options are the HTTP settings NewServer needs from the config.
type Options struct {
	RequestTimeout     time.Duration
	MaxBodyBytes       int64
	RateLimitPerMinute int
	TrustProxy         bool
	TokenTTL           time.Duration
	// PasswordHashConcurrency bounds concurrent argon2id hashes (register,
	// login); 0 means GOMAXPROCS. Used when Deps.Hashes is nil.
	PasswordHashConcurrency int
}

// Enqueuer enqueues background jobs (an *asynq.Client).
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Deps are the API's dependencies.
type Deps struct {
	Store    *store.Store
	Notes    *cache.Notes
	Tokens   *cache.Tokens
	Redis    redis.UniversalClient
	Jobs     Enqueuer
	Ready    *Readiness
	Metrics  *Metrics
	Gatherer prometheus.Gatherer
	Hashes   *auth.Limiter // optional; default from Options
}

// NewServer returns the web process's handler: API and ops endpoints.
func NewServer(log *slog.Logger, opts Options, deps Deps) http.Handler {
	if deps.Hashes == nil {
		n := opts.PasswordHashConcurrency
		if n <= 0 {
			n = runtime.GOMAXPROCS(0)
		}
		deps.Hashes = auth.NewLimiter(n)
	}
	r := chi.NewRouter()
	addRoutes(r, log, opts, deps)
	return r
}

// NewOpsServer returns the handler of the worker and clock: only /livez,
// /readyz, /metrics and /version.
func NewOpsServer(log *slog.Logger, ready *Readiness, m *Metrics, g prometheus.Gatherer) http.Handler {
	r := chi.NewRouter()
	addOpsRoutes(r, log, ready, m, g)
	return r
}

// Check is one readiness dependency check. An Optional check that fails
// makes /readyz answer 200 "degraded" instead of 503: the process still
// serves (e.g. without Redis the API falls back to Postgres), and failing
// every replica's readiness on a shared dependency would take the whole
// fleet out of the load balancer. An error wrapping ErrRejected fails
// readiness even for an Optional check (a dependency that refuses this
// process's configuration, e.g. a wrong password: a deploy with it must
// roll back).
type Check struct {
	Name     string
	Fn       func(context.Context) error
	Optional bool
}

// ErrRejected, wrapped by a check's error, makes the process not ready
// whether the check is Optional or not.
var ErrRejected = errors.New("rejected")

// readyFor is how long a /readyz result is reused: under a flood of
// /readyz the checks run at most once per readyFor (and one round at a
// time), not once per request.
const readyFor = time.Second

// Readiness tracks whether the process should receive traffic.
type Readiness struct {
	checks   []Check
	draining atomic.Bool

	mu      sync.Mutex
	last    *readyResult
	lastAt  time.Time
	running chan struct{}
}

type readyResult struct {
	status int
	body   []byte
}

// NewReadiness returns a Readiness running checks.
func NewReadiness(checks ...Check) *Readiness { return &Readiness{checks: checks} }

// Drain makes /readyz answer 503 from now on.
func (r *Readiness) Drain() { r.draining.Store(true) }

// Draining reports whether Drain was called.
func (r *Readiness) Draining() bool { return r.draining.Load() }

func stackTrace() []byte { return debug.Stack() }

// RedisCheck is the readiness check of Redis: a PING, and ErrRejected
// while Redis refuses the process's credentials (the breaker saw NOAUTH,
// WRONGPASS or NOPERM and no probe has succeeded since).
func RedisCheck(rdb redis.UniversalClient, b *cache.Breaker) func(context.Context) error {
	return func(ctx context.Context) error {
		err := rdb.Ping(ctx).Err()
		if b.CredentialsRejected() || cache.IsCredentialsError(err) {
			return fmt.Errorf("redis refuses our credentials: %w", ErrRejected)
		}
		return err
	}
}
