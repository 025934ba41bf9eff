package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/shipyard-kit/shipyard/app/internal/buildinfo"
	"github.com/shipyard-kit/shipyard/app/internal/cache"
	"github.com/shipyard-kit/shipyard/app/internal/config"
	"github.com/shipyard-kit/shipyard/app/internal/db"
	"github.com/shipyard-kit/shipyard/app/internal/httpapi"
	"github.com/shipyard-kit/shipyard/app/internal/jobs"
	"github.com/shipyard-kit/shipyard/app/internal/logx"
	"github.com/shipyard-kit/shipyard/app/internal/seed"
	"github.com/shipyard-kit/shipyard/app/internal/store"
	"github.com/shipyard-kit/shipyard/app/internal/telemetry"
)

const usage = `usage: app <command>

commands:
  serve          run the web process (HTTP API on $PORT)
  worker         run the background job worker
  clock          run the scheduler (any number of instances: each slot runs once)
  job <name>     run a scheduled job now through the worker's queue, wait for
                 its outcome, exit 0 only if it succeeded (jobs: %s)
  jobs           print each scheduled job's schedule, last run, last success,
                 duration and next run as one JSON line {"jobs":[…]}
  migrate        apply the embedded database migrations
  migrate --report --scratch [--from=N]
                 on a new database created on DATABASE_URL's server and
                 dropped after (never DATABASE_URL's own): apply migrations
                 up to N, load the large seed, apply the rest one by one and
                 print their durations and locks as one JSON line
                 {"migrationReport":…}
  dbcheck        read every table; fail unless the schema is current (restore drills)
  seed <name>    load a data scenario into an empty database (scenarios: %s)
  preview create|drop
                 a PR environment's database: create (or update) the role
                 PREVIEW_DATABASE_USER with PREVIEW_DATABASE_PASSWORD and the
                 database PREVIEW_DATABASE it owns, as DATABASE_URL's admin
                 user; drop both and empty REDIS_URL's Redis database
  healthcheck    probe http://127.0.0.1:$PORT/livez; exit 0 when healthy
  version        print the version

configuration comes from the environment only; see .env.example.
`

// run is the whole program; main only wires it to the OS. Every error is
// logged here, once, as JSON on stdout.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := ""
	if len(args) > 1 {
		cmd = args[1]
	}
	switch cmd {
	case "", "help", "-h", "--help":
		fmt.Fprintf(stderr, usage, jobNames(), strings.Join(seed.Names(), ", "))
		if cmd == "" {
			return errors.New("no command given")
		}
		return nil
	case "version":
		fmt.Fprintf(stdout, "%s %s\n", buildinfo.Version, buildinfo.Commit)
		return nil
	case "healthcheck":
		// Deliberately quiet on success: Docker runs it every few seconds.
		if err := healthcheck(ctx, getenv); err != nil {
			fmt.Fprintf(stderr, "healthcheck: %v\n", err)
			return err
		}
		return nil
	case "serve", "worker", "clock", "migrate", "seed", "dbcheck", "job", "jobs", "preview":
	default:
		err := fmt.Errorf("unknown command %q", cmd)
		fmt.Fprintf(stderr, "app: %v\n\n"+usage, err, jobNames(), strings.Join(seed.Names(), ", "))
		return err
	}

	if err := commandArgs(cmd, args[2:]); err != nil {
		logx.New(stdout, slog.LevelInfo, cmd).Error("invalid arguments", "err", err)
		return err
	}
	cfg, err := config.Load(getenv, needsFor(args))
	if err != nil {
		log := logx.New(stdout, slog.LevelInfo, cmd)
		log.Error("invalid configuration", "err", err)
		return err
	}
	out := logx.NewBuffered(stdout, 50*time.Millisecond)
	defer out.Close()
	// From here on stdout is shared with the log, whose lines a timer
	// goroutine flushes: whatever a command prints goes through out too,
	// after the lines logged before it and never at the same time as a
	// flush.
	stdout = out.Direct()
	log := logx.New(out, cfg.LogLevel, cmd)
	redis.SetLogger(logx.RedisLogger{Log: log})
	log.Info("starting", "version", buildinfo.Version, "commit", buildinfo.Commit, "config", cfg)

	switch cmd {
	case "serve", "worker", "clock":
		var tel *telemetry.Tracing
		if tel, err = telemetry.New(ctx, cfg.Tracing, cmd, buildinfo.Version, log); err != nil {
			break
		}
		defer flushTraces(log, tel)
		switch cmd {
		case "serve":
			err = serve(ctx, log, cfg, tel)
		case "worker":
			err = worker(ctx, log, cfg, tel, out)
		case "clock":
			err = clock(ctx, log, cfg, tel, out)
		}
	case "migrate":
		if len(args) > 2 {
			err = migrateReport(ctx, log, cfg, args[2:], stdout)
		} else {
			err = migrate(ctx, log, cfg)
		}
	case "dbcheck":
		err = dbcheck(ctx, log, cfg)
	case "job":
		err = jobCmd(ctx, log, cfg, args[2:], stdout)
	case "jobs":
		err = jobsCmd(ctx, cfg, args[2:], stdout)
	case "preview":
		err = previewCmd(ctx, log, cfg, args[2:])
	case "seed":
		name := ""
		if len(args) > 2 {
			name = args[2]
		}
		err = seedCmd(ctx, log, cfg, name)
	}
	if err != nil {
		log.Error(cmd+" failed", "err", err)
		return err
	}
	log.Info("exited cleanly")
	return nil
}

// commandArgs checks a command's arguments before the configuration is
// loaded: a wrong one is named as such, with the allowed values, not as
// the variables the command would need.
func commandArgs(cmd string, args []string) error {
	switch cmd {
	case "preview":
		return previewArgs(args)
	case "job":
		if len(args) != 1 {
			return fmt.Errorf("job: name one job (jobs: %s)", jobNames())
		}
		if _, err := jobs.Lookup(args[0]); err != nil {
			return fmt.Errorf("job: %w", err)
		}
	case "seed":
		if len(args) != 1 || !slices.Contains(seed.Names(), args[0]) {
			got := "none"
			if len(args) > 0 {
				got = strconv.Quote(strings.Join(args, " "))
			}
			return fmt.Errorf("seed: name one scenario (got %s); scenarios: %s", got, strings.Join(seed.Names(), ", "))
		}
	}
	return nil
}

// needsFor is what `app <args[1]> …` needs configured: Postgres always,
// Redis unless the command never touches it (.env.example and docs/app.md
// name those; TestRedisIsNotNeededByTheCommandsTheDocsName).
func needsFor(args []string) config.Needs {
	switch cmd := args[1]; cmd {
	case "preview":
		return previewNeeds(args)
	default:
		return config.Needs{Database: true, Redis: cmd != "migrate" && cmd != "seed" && cmd != "dbcheck" && cmd != "jobs"}
	}
}

func healthcheck(ctx context.Context, getenv func(string) string) error {
	port, err := config.Port(getenv)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(port)+"/livez", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/livez answered %d", resp.StatusCode)
	}
	return nil
}

// flushTraces exports the spans still batched, for at most 2 s past the
// drain (an unreachable collector must not hold the exit).
func flushTraces(log *slog.Logger, tel *telemetry.Tracing) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := tel.Shutdown(ctx); err != nil {
		log.Warn("spans not exported before exit", "err", err)
	}
}

func poolConfig(cfg *config.Config) db.PoolConfig {
	return db.PoolConfig{URL: cfg.DatabaseURL, Password: cfg.DatabasePassword, MaxConns: cfg.DatabaseMaxConns, ConnectTimeout: cfg.DatabaseConnectTimeout}
}

// deps are the long-lived dependencies of serve, worker and clock.
type deps struct {
	pool *pgxpool.Pool
	rdb  *redis.Client
	// asynqOpt is for the asynq server and scheduler, which own (and
	// close) their connections.
	asynqOpt asynq.RedisClientOpt
	reg      *prometheus.Registry
	metrics  *httpapi.Metrics
	ready    *httpapi.Readiness
	breaker  *cache.Breaker
	epoch    *cache.Epoch

	log       *slog.Logger
	closeBy   time.Time // the shutdown deadline, once the drain started
	budget    time.Duration
	closeOnce sync.Once
	closed    chan struct{}
}

// newDeps connects (lazily) to Postgres and Redis. redisOptional makes a
// Redis outage a "degraded" readiness instead of a failing one (the web
// process serves without Redis; the worker and clock cannot).
func newDeps(ctx context.Context, log *slog.Logger, cfg *config.Config, tel *telemetry.Tracing, redisOptional bool) (*deps, error) {
	pc := poolConfig(cfg)
	pc.Tracer = tel.Pgx()
	pool, err := db.NewPool(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	ropts, err := config.ParseRedisURL(cfg.RedisURL)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("redis: %w", err)
	}
	if cfg.RedisPassword != "" {
		ropts.Password = cfg.RedisPassword
	}
	ropts.PoolSize = cfg.RedisPoolSize
	ropts.DialTimeout = cfg.RedisTimeout
	ropts.ReadTimeout = cfg.RedisTimeout
	ropts.WriteTimeout = cfg.RedisTimeout
	// Fail fast when Redis is down: the cache and the rate limiter degrade
	// instead of making requests wait for dial retries.
	ropts.MaxRetries = 1
	ropts.DialerRetries = 1
	ropts.DialerRetryTimeout = 50 * time.Millisecond
	ropts.ContextTimeoutEnabled = true
	// Every connection learns the server's run id before it is used: a
	// restarted or failed-over Redis is never mistaken for the one whose
	// entries the process trusted.
	epoch := cache.NewEpoch(pool, log, cache.EpochOptions{})
	ropts.OnConnect = epoch.OnConnect
	rdb := redis.NewClient(ropts)
	reg := prometheus.NewRegistry()
	breaker := cache.NewBreaker(rdb, log, reg, cache.BreakerOptions{ProbeTimeout: min(cfg.RedisTimeout, 500*time.Millisecond), SlowAfter: cfg.RedisTimeout / 4})
	if err := tel.Redis(rdb); err != nil {
		pool.Close()
		_ = rdb.Close()
		return nil, err
	}
	asynqOpt := asynq.RedisClientOpt{
		Network: ropts.Network, Addr: ropts.Addr, Username: ropts.Username, Password: ropts.Password, DB: ropts.DB,
		DialTimeout: ropts.DialTimeout, ReadTimeout: ropts.ReadTimeout, WriteTimeout: ropts.WriteTimeout,
		PoolSize: ropts.PoolSize, TLSConfig: ropts.TLSConfig,
	}

	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ready := httpapi.NewReadiness(
		httpapi.Check{Name: "postgres", Fn: pool.Ping},
		httpapi.Check{Name: "redis", Fn: httpapi.RedisCheck(rdb, breaker), Optional: redisOptional},
	)
	return &deps{
		pool: pool, rdb: rdb, asynqOpt: asynqOpt, reg: reg, metrics: httpapi.NewMetrics(reg), ready: ready, breaker: breaker, epoch: epoch,
		log: log, budget: cfg.ShutdownTimeout, closed: make(chan struct{}),
	}, nil
}

// close closes Redis and Postgres but waits for that only until the
// shutdown deadline (SHUTDOWN_TIMEOUT after the drain started, or from now):
// pgxpool.Close waits for every borrowed connection and a hung Postgres
// can hold one for as long as it likes. The process is exiting, so what
// is still closing is abandoned.
func (d *deps) close() {
	d.closeOnce.Do(func() {
		go func() {
			d.epoch.Stop()
			d.breaker.Stop()
			_ = d.rdb.Close()
			d.pool.Close()
			close(d.closed)
		}()
	})
	by := d.closeBy
	if by.IsZero() {
		by = time.Now().Add(d.budget)
	}
	t := time.NewTimer(time.Until(by))
	defer t.Stop()
	select {
	case <-d.closed:
	case <-t.C:
		d.log.Warn("postgres/redis connections not closed within SHUTDOWN_TIMEOUT; exiting without waiting")
	}
}

func newHTTPServer(log *slog.Logger, cfg *config.Config, h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: min(5*time.Second, cfg.RequestTimeout),
		ReadTimeout:       cfg.RequestTimeout,
		WriteTimeout:      cfg.RequestTimeout + 5*time.Second,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// listenAndDrain serves h on $PORT until ctx is done, then drains: readyz
// turns 503, serving continues for DRAIN_DELAY, then the listener closes
// and in-flight requests get the rest of SHUTDOWN_TIMEOUT to finish.
// beforeShutdown runs between the drain delay and the HTTP shutdown (the
// worker stops its job server there).
func listenAndDrain(ctx context.Context, log *slog.Logger, cfg *config.Config, d *deps, h http.Handler, beforeShutdown func()) error {
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := newHTTPServer(log, cfg, h)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String())

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	start := time.Now()
	d.closeBy = start.Add(cfg.ShutdownTimeout)
	d.ready.Drain()
	log.Info("draining", "drain_delay", cfg.DrainDelay.String(), "shutdown_timeout", cfg.ShutdownTimeout.String())
	if cfg.DrainDelay > 0 {
		time.Sleep(cfg.DrainDelay)
	}
	sctx, cancel := context.WithDeadline(context.Background(), start.Add(cfg.ShutdownTimeout))
	defer cancel()
	if beforeShutdown != nil {
		// Bounded like the rest: asynq's shutdown talks to Redis, which
		// may not answer.
		done := make(chan struct{})
		go func() { beforeShutdown(); close(done) }()
		select {
		case <-done:
		case <-sctx.Done():
			log.Warn("job server/scheduler did not stop within SHUTDOWN_TIMEOUT; exiting without waiting")
		}
	}
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shutdown: in-flight requests did not finish within SHUTDOWN_TIMEOUT: %w", err)
	}
	log.Info("drained", "took_ms", time.Since(start).Milliseconds())
	return nil
}

func serve(ctx context.Context, log *slog.Logger, cfg *config.Config, tel *telemetry.Tracing) error {
	d, err := newDeps(ctx, log, cfg, tel, true)
	if err != nil {
		return err
	}
	defer d.close()
	q := asynq.NewClientFromRedisClient(d.rdb)
	cm := cache.NewMetrics(d.reg)
	d.epoch.Start(ctx, d.rdb)
	notes := cache.NewNotes(d.rdb, cfg.CacheTTL, log, cm, d.epoch)
	tokens := cache.NewTokens(d.rdb, min(cfg.CacheTTL, time.Minute), log, cm, d.epoch)
	d.breaker.OnRecover(notes.Flush)
	d.breaker.OnRecover(tokens.Flush)
	h := httpapi.NewServer(log, httpapi.Options{
		RequestTimeout:     cfg.RequestTimeout,
		MaxBodyBytes:       cfg.MaxBodyBytes,
		RateLimitPerMinute: cfg.RateLimitPerMinute,
		TrustProxy:         cfg.TrustProxy,
		TokenTTL:           cfg.TokenTTL,

		PasswordHashConcurrency: cfg.PasswordHashConcurrency,
	}, httpapi.Deps{
		Store: store.New(d.pool), Notes: notes, Tokens: tokens, Redis: d.rdb, Jobs: tel.Enqueuer(q),
		Ready: d.ready, Metrics: d.metrics, Gatherer: d.reg,
	})
	return listenAndDrain(ctx, log, cfg, d, tel.HTTP(h), nil)
}

func worker(ctx context.Context, log *slog.Logger, cfg *config.Config, tel *telemetry.Tracing, out io.Writer) error {
	specs, err := jobs.Specs()
	if err != nil {
		return fmt.Errorf("scheduled jobs: %w", err)
	}
	d, err := newDeps(ctx, log, cfg, tel, false)
	if err != nil {
		return err
	}
	defer d.close()
	defer publishBacklog(ctx, log, cfg, d, out, "worker")()
	defer publishJobStatus(ctx, log, cfg, d, specs, out, "worker")()
	d.epoch.Start(ctx, d.rdb)
	notes := cache.NewNotes(d.rdb, cfg.CacheTTL, log, cache.NewMetrics(d.reg), d.epoch)
	d.breaker.OnRecover(notes.Flush)
	handlers := &jobs.Handlers{
		Store: store.New(d.pool),
		Cache: notes,
		Log:   log,
		Done:  jobs.NewMetrics(d.reg),
		Runs:  jobs.NewRuns(d.pool),
	}
	srv := asynq.NewServer(d.asynqOpt, workerConfig(log, cfg))
	if err := srv.Start(tel.Jobs(handlers.Mux())); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	// Shutdown waits for in-flight jobs up to its ShutdownTimeout and
	// requeues the rest.
	return listenAndDrain(ctx, log, cfg, d, httpapi.NewOpsServer(log, d.ready, d.metrics, d.reg), srv.Shutdown)
}

// publishBacklog publishes the job queues' backlog (see jobs.Backlog): as
// the gauges app_jobs_queue_pending and app_jobs_queue_latency_seconds on
// /metrics, read at each scrape, and, unless QUEUE_METRICS_INTERVAL is 0,
// as CloudWatch embedded metric format lines on out every interval (the
// Stack dimension is APP_ENV, the stack's name). Both the worker and the
// clock publish it, so the backlog is still seen when every worker is
// down; they read the same Redis, so their values agree and aggregating
// them with a maximum is exact. The returned func stops the emitter and
// waits for it.
func publishBacklog(ctx context.Context, log *slog.Logger, cfg *config.Config, d *deps, out io.Writer, process string) (stop func()) {
	r := jobs.NewBacklogReader(d.rdb)
	jobs.NewBacklogMetrics(d.reg, r.Read, 5*time.Second)
	if cfg.QueueMetricsInterval == 0 {
		return func() {}
	}
	e := &jobs.EMFEmitter{W: out, Stack: cfg.AppEnv, Process: process, Every: cfg.QueueMetricsInterval, Read: r.Read, Log: log}
	return background(ctx, e.Run)
}

// background runs f in a goroutine until the returned stop cancels its
// context and waits for it.
func background(ctx context.Context, f func(context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// workerConfig is the asynq server config: on Shutdown it stops fetching,
// gives in-flight jobs what is left of SHUTDOWN_TIMEOUT (minus a second for
// the HTTP side) and requeues the ones still running.
func workerConfig(log *slog.Logger, cfg *config.Config) asynq.Config {
	return asynq.Config{
		Concurrency:     cfg.WorkerConcurrency,
		Queues:          jobs.Queues(),
		ShutdownTimeout: max(cfg.ShutdownTimeout-cfg.DrainDelay-time.Second, time.Second),
		Logger:          asynqLogger{log},
		LogLevel:        asynqLevel(cfg.LogLevel),
	}
}

func clock(ctx context.Context, log *slog.Logger, cfg *config.Config, tel *telemetry.Tracing, out io.Writer) error {
	specs, err := jobs.Specs()
	if err != nil {
		return fmt.Errorf("scheduled jobs: %w", err)
	}
	d, err := newDeps(ctx, log, cfg, tel, false)
	if err != nil {
		return err
	}
	defer d.close()
	defer publishBacklog(ctx, log, cfg, d, out, "clock")()
	defer publishJobStatus(ctx, log, cfg, d, specs, out, "clock")()
	c := &jobs.Clock{Specs: specs, Runs: jobs.NewRuns(d.pool), Queue: asynq.NewClientFromRedisClient(d.rdb), Log: log}
	// The clock schedules until the drain stops it, not at SIGTERM.
	stop := background(context.WithoutCancel(ctx), c.Run)
	return listenAndDrain(ctx, log, cfg, d, httpapi.NewOpsServer(log, d.ready, d.metrics, d.reg), stop)
}

func migrate(ctx context.Context, log *slog.Logger, cfg *config.Config) error {
	applied, err := db.Migrate(ctx, poolConfig(cfg))
	if err != nil {
		return err
	}
	current, _, err := db.SchemaVersion(ctx, poolConfig(cfg))
	if err != nil {
		return err
	}
	log.Info("migrations applied", "applied", applied, "schema_version", current)
	return nil
}

// migrateReport measures the migrations on a scratch database (see
// db.MeasureMigrations): up to --from unmeasured, then the large seed
// when the database has no users, then the rest one by one. --scratch is
// required: on DATABASE_URL itself the report would apply its pending
// migrations outside a release and load 1000 demo users into it.
func migrateReport(ctx context.Context, log *slog.Logger, cfg *config.Config, args []string, stdout io.Writer) error {
	report, scratch, from := false, false, int64(0)
	for _, a := range args {
		switch {
		case a == "--report":
			report = true
		case a == "--scratch":
			scratch = true
		case strings.HasPrefix(a, "--from="):
			n, err := strconv.ParseInt(strings.TrimPrefix(a, "--from="), 10, 64)
			if err != nil || n < 0 {
				return fmt.Errorf("migrate: --from wants a migration version, got %q", a)
			}
			from = n
		default:
			return fmt.Errorf("migrate: unknown argument %q (usage: app migrate [--report --scratch [--from=N]])", a)
		}
	}
	if !report {
		return errors.New("migrate: --from and --scratch need --report")
	}
	if !scratch {
		return errors.New("migrate: --report needs --scratch: it measures on a new database it creates on DATABASE_URL's server and drops after, never on DATABASE_URL's own (it would apply the pending migrations there and load 1000 demo users) (usage: app migrate --report --scratch [--from=N])")
	}
	pc, drop, err := db.ScratchDatabase(ctx, poolConfig(cfg))
	if err != nil {
		return err
	}
	defer func() {
		if err := drop(); err != nil {
			log.Warn("dropping the scratch database failed", "err", err)
		}
	}()
	var seedNotes int64
	timings, err := db.MeasureMigrations(ctx, pc, db.TimingOptions{
		From: from,
		Prepare: func(ctx context.Context) error {
			pool, err := db.NewPool(ctx, pc)
			if err != nil {
				return err
			}
			defer pool.Close()
			var hasNotes bool
			if err := pool.QueryRow(ctx, `SELECT to_regclass('public.notes') IS NOT NULL`).Scan(&hasNotes); err != nil {
				return err
			}
			if !hasNotes {
				log.Info("no notes table at this version: measuring on an empty database", "from", from)
				return nil
			}
			st := store.New(pool)
			if n, err := st.CountUsers(ctx); err == nil && n == 0 {
				summary, err := seed.Run(ctx, st, "large")
				if err != nil {
					return err
				}
				log.Info(summary)
			}
			return pool.QueryRow(ctx, `SELECT count(*) FROM notes`).Scan(&seedNotes)
		},
	})
	if err != nil {
		return err
	}
	if timings == nil {
		timings = []db.MigrationTiming{}
	}
	line, err := json.Marshal(map[string]any{"migrationReport": map[string]any{"seedNotes": seedNotes, "migrations": timings}})
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(stdout, "%s\n", line); err != nil {
		return err
	}
	return nil
}

func dbcheck(ctx context.Context, log *slog.Logger, cfg *config.Config) error {
	c, err := db.ReadCheck(ctx, poolConfig(cfg))
	if err != nil {
		return err
	}
	log.Info("read check passed", "schema_version", c.SchemaVersion, "rows", c.Rows)
	return nil
}

// prodAppEnv is the production stack's APP_ENV: its name
// (infra/stackconfig.ProdStack).
const prodAppEnv = "prod"

func seedCmd(ctx context.Context, log *slog.Logger, cfg *config.Config, name string) error {
	// A scenario's users log in with the documented DemoPassword: never
	// on production, even into its empty database before the first user.
	if strings.EqualFold(strings.TrimSpace(cfg.AppEnv), prodAppEnv) {
		return fmt.Errorf("seed: APP_ENV=%s is the production stack: seed never loads demo data (users with the documented password) there; allowed: any other APP_ENV (local, dev, staging, a PR environment)", cfg.AppEnv)
	}
	if name == "" {
		return fmt.Errorf("seed: name a scenario (available: %s)", strings.Join(seed.Names(), ", "))
	}
	pool, err := db.NewPool(ctx, poolConfig(cfg))
	if err != nil {
		return err
	}
	defer pool.Close()
	summary, err := seed.Run(ctx, store.New(pool), name)
	if err != nil {
		return fmt.Errorf("seed %s: %w", name, err)
	}
	log.Info(summary)
	return nil
}

// asynqLogger adapts slog to asynq's logger.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Fatal(args ...any) { a.l.Error(fmt.Sprint(args...), "component", "asynq") }

func asynqLevel(l slog.Level) asynq.LogLevel {
	switch {
	case l <= slog.LevelDebug:
		return asynq.DebugLevel
	case l <= slog.LevelInfo:
		return asynq.InfoLevel
	case l <= slog.LevelWarn:
		return asynq.WarnLevel
	default:
		return asynq.ErrorLevel
	}
}
