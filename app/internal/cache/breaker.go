package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// ErrUnavailable is returned, at once, for every Redis command while the
// breaker is open.
var ErrUnavailable = errors.New("redis unavailable (circuit open)")

// Breaker is a circuit breaker installed as a go-redis hook, so that every
// user of the client (caches, rate limiter, job enqueues, readiness) shares
// it. The first command that fails with a timeout or a network error opens
// it, and so does a reply that says this server cannot serve us (NOAUTH,
// WRONGPASS, NOPERM: the credentials; READONLY, LOADING, MASTERDOWN: a
// replica or a server still loading) and SlowAfter commands in a row
// slower than SlowAfter (a Redis answering just under REDIS_TIMEOUT); while open, commands fail at once with ErrUnavailable (callers fall
// back to Postgres or fail open) instead of each waiting REDIS_TIMEOUT. A
// background probe pings Redis every ProbeEvery; on the first success the
// OnRecover functions run (pending cache writes are flushed) and then the
// breaker closes.
type Breaker struct {
	rdb          redis.UniversalClient
	log          *slog.Logger
	probeEvery   time.Duration
	probeTimeout time.Duration
	slowAfter    time.Duration

	open      atomic.Bool
	slow      atomic.Int32 // commands in a row slower than slowAfter
	rejected  atomic.Bool  // Redis refused our credentials; cleared by a probe that succeeds
	mu        sync.Mutex
	onRecover []func(context.Context)
	closed    chan struct{}
	closeOnce sync.Once

	trips   prometheus.Counter
	skipped prometheus.Counter
	state   prometheus.Gauge
}

// BreakerOptions tune a Breaker.
type BreakerOptions struct {
	ProbeEvery   time.Duration // default 200ms
	ProbeTimeout time.Duration // default 500ms
	// SlowAfter: slowInARow commands in a row slower than this open the
	// breaker, and a probe slower than this does not close it. 0: off.
	SlowAfter time.Duration
}

// slowInARow slow commands in a row open the breaker: one slow reply (a
// GC pause, a busy box) is not an outage.
const slowInARow = 3

// NewBreaker installs a breaker on rdb. reg may be nil.
func NewBreaker(rdb redis.UniversalClient, log *slog.Logger, reg prometheus.Registerer, o BreakerOptions) *Breaker {
	if o.ProbeEvery <= 0 {
		o.ProbeEvery = 200 * time.Millisecond
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = 500 * time.Millisecond
	}
	b := &Breaker{
		rdb: rdb, log: log, probeEvery: o.ProbeEvery, probeTimeout: o.ProbeTimeout, slowAfter: o.SlowAfter, closed: make(chan struct{}),
		trips: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "app_redis_breaker_trips_total",
			Help: "Times Redis was detected unavailable and the circuit breaker opened.",
		}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "app_redis_breaker_skipped_total",
			Help: "Redis commands not sent because the circuit breaker was open.",
		}),
		state: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "app_redis_breaker_open",
			Help: "1 while the Redis circuit breaker is open (Redis skipped), else 0.",
		}),
	}
	if reg != nil {
		reg.MustRegister(b.trips, b.skipped, b.state)
	}
	rdb.AddHook(b)
	return b
}

// Open reports whether Redis is currently skipped.
func (b *Breaker) Open() bool { return b != nil && b.open.Load() }

// CredentialsRejected reports whether Redis refused our credentials (a
// wrong or rotated REDIS_PASSWORD) and no probe has succeeded since: the
// process must not be ready, so that a deploy with a wrong secret rolls
// back instead of serving without its cache and rate limiter.
func (b *Breaker) CredentialsRejected() bool { return b != nil && b.rejected.Load() }

// IsCredentialsError reports whether err is Redis refusing our
// credentials or their permissions.
func IsCredentialsError(err error) bool {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return false
	}
	msg := rerr.Error()
	for _, p := range []string{"NOAUTH", "WRONGPASS", "NOPERM", "ERR invalid password", "ERR AUTH", "ERR Client sent AUTH"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// unavailableReply reports whether err is a reply saying this server
// cannot serve us now: a replica (READONLY), a server loading its dataset
// (LOADING), one whose primary is down (MASTERDOWN), or our credentials.
func unavailableReply(err error) bool {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return false
	}
	msg := rerr.Error()
	for _, p := range []string{"READONLY", "LOADING", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return IsCredentialsError(err)
}

// OnRecover registers f to run (with a context that bypasses the breaker)
// after a successful probe and before the breaker closes.
func (b *Breaker) OnRecover(f func(context.Context)) {
	b.mu.Lock()
	b.onRecover = append(b.onRecover, f)
	b.mu.Unlock()
}

// Stop ends the background probe and the skipping (call it when the client
// is closed, so that pending retries learn it).
func (b *Breaker) Stop() { b.closeOnce.Do(func() { close(b.closed) }) }

type bypassKey struct{}

func bypass(ctx context.Context) context.Context { return context.WithValue(ctx, bypassKey{}, true) }

type redisDeadlineKey struct{}

// withRedisDeadline returns ctx with a deadline d from now that stands for
// Redis's own timeout (the batcher's pipelines): a command that fails
// because it passed counts as Redis being too slow, unlike a caller's
// deadline.
func withRedisDeadline(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithValue(ctx, redisDeadlineKey{}, true), d)
}

func (b *Breaker) skip(ctx context.Context) bool {
	if !b.open.Load() || ctx.Value(bypassKey{}) != nil {
		return false
	}
	select {
	case <-b.closed:
		return false // stopped: let the client say it is closed
	default:
	}
	b.skipped.Inc()
	return true
}

// DialHook implements redis.Hook. Dials are never skipped (the pool may
// dial for the probe on a context of its own); commands are.
func (b *Breaker) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		b.observe(ctx, err)
		return c, err
	}
}

// ProcessHook implements redis.Hook.
func (b *Breaker) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if b.skip(ctx) {
			cmd.SetErr(ErrUnavailable)
			return ErrUnavailable
		}
		start := time.Now()
		err := next(ctx, cmd)
		b.observe(ctx, err)
		b.observeLatency(ctx, err, time.Since(start))
		return err
	}
}

// ProcessPipelineHook implements redis.Hook.
func (b *Breaker) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if b.skip(ctx) {
			for _, c := range cmds {
				c.SetErr(ErrUnavailable)
			}
			return ErrUnavailable
		}
		start := time.Now()
		err := next(ctx, cmds)
		b.observe(ctx, err)
		b.observeLatency(ctx, err, time.Since(start))
		return err
	}
}

// observe opens the breaker on an error that says Redis is unreachable or
// too slow, not on replies (redis.Nil, NOSCRIPT, …), on our own shutdown or
// on a caller whose context ended (gone, or past its own deadline).
func (b *Breaker) observe(ctx context.Context, err error) {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, redis.ErrClosed) || errors.Is(err, ErrUnavailable) {
		return
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		if !unavailableReply(err) {
			return // an answer about the command, not about Redis
		}
		if ctx.Value(bypassKey{}) != nil {
			return // the probe itself
		}
		if IsCredentialsError(err) && !b.rejected.Swap(true) {
			b.log.Error("redis rejected our credentials (check REDIS_PASSWORD and the user in REDIS_URL); not ready until it accepts them", "err", err)
		}
		b.trip(err)
		return
	}
	if ctx.Value(redisDeadlineKey{}) == nil {
		if ctx.Err() != nil {
			// The caller went away or ran out of its own time (a
			// request near its deadline): that says nothing about Redis.
			return
		}
		if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			return // the same, before the context's own timer has fired
		}
	}
	if ctx.Value(bypassKey{}) != nil {
		return // the probe itself
	}
	b.trip(err)
}

// observeLatency counts commands slower than slowAfter that succeeded (or
// failed with a reply); slowInARow of them in a row open the breaker.
func (b *Breaker) observeLatency(ctx context.Context, err error, took time.Duration) {
	if b.slowAfter <= 0 || ctx.Value(bypassKey{}) != nil {
		return
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		var rerr redis.Error
		if !errors.As(err, &rerr) {
			return // a failure: observe judged it
		}
	}
	if took < b.slowAfter {
		b.slow.Store(0)
		return
	}
	if b.slow.Add(1) >= slowInARow {
		b.slow.Store(0)
		b.trip(fmt.Errorf("%d commands in a row took over %s (the last %s)", slowInARow, b.slowAfter, took.Round(time.Millisecond)))
	}
}

// trip opens the breaker (once: the first cause is logged, not each).
func (b *Breaker) trip(err error) {
	if b.open.CompareAndSwap(false, true) {
		b.trips.Inc()
		b.state.Set(1)
		b.log.Warn("redis unavailable; skipping it until a probe succeeds", "err", err, "probe_every", b.probeEvery.String())
		go b.probe()
	}
}

func (b *Breaker) probe() {
	t := time.NewTicker(b.probeEvery)
	defer t.Stop()
	for {
		select {
		case <-b.closed:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(bypass(context.Background()), b.probeTimeout)
		start := time.Now()
		err := b.rdb.Ping(ctx).Err()
		took := time.Since(start)
		cancel()
		if errors.Is(err, redis.ErrClosed) {
			return
		}
		if err != nil || (b.slowAfter > 0 && took >= b.slowAfter) {
			continue
		}
		b.rejected.Store(false)
		b.mu.Lock()
		fs := b.onRecover
		b.mu.Unlock()
		for _, f := range fs {
			ctx, cancel := context.WithTimeout(bypass(context.Background()), 5*b.probeTimeout)
			f(ctx)
			cancel()
		}
		b.open.Store(false)
		b.state.Set(0)
		b.log.Info("redis is back; using it again")
		return
	}
}
