package db

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

// MigrationTiming is one migration's measurement: how long it ran and the
// relation-level locks its session was seen holding on relations that
// existed before it (relations it creates are invisible to the watcher
// until it commits; system catalogs and TOAST tables are left out).
type MigrationTiming struct {
	Version    int64  `json:"version"`
	Source     string `json:"source"`
	DurationMS int64  `json:"durationMs"`
	// Locks are "<mode> on <relation>" (e.g. "AccessExclusiveLock on
	// notes"), sorted, each once.
	Locks []string `json:"locks"`
}

// TimingOptions configure MeasureMigrations.
type TimingOptions struct {
	// Migrations replaces the embedded migrations (tests).
	Migrations fs.FS
	// SampleEvery is the pg_locks polling interval (default 2ms).
	SampleEvery time.Duration
	// From: the migrations up to this version are applied first,
	// unmeasured (the schema the stack runs now).
	From int64
	// Prepare runs after those and before the measured ones (loading
	// the data to measure on).
	Prepare func(ctx context.Context) error
}

// MeasureMigrations applies the pending migrations one at a time and
// measures each: its wall-clock duration (goose's, the migration's
// transaction included) and the locks it took.
//
// Method: the migrations run on a single connection whose backend pid is
// known; while each one runs, a second connection polls pg_locks for the
// granted relation locks of that pid (system catalogs left out). Limits:
// a lock held for less than the polling interval can be missed (a
// migration in one transaction holds its locks until commit, so this only
// affects very fast ones, which lock for no noticeable time anyway); the
// locks are those of this database's data, not of the production load (no
// concurrent queries wait on them here), so a migration that would queue
// behind a long query in production measures fast here.
func MeasureMigrations(ctx context.Context, pc PoolConfig, opt TimingOptions) ([]MigrationTiming, error) {
	cfg, err := ParseConfig(pc)
	if err != nil {
		return nil, err
	}
	if opt.SampleEvery <= 0 {
		opt.SampleEvery = 2 * time.Millisecond
	}
	sqldb := stdlib.OpenDB(*cfg.ConnConfig)
	defer sqldb.Close()
	// One connection: goose runs every migration on it, so its pid is
	// the one to watch.
	sqldb.SetMaxOpenConns(1)
	sqldb.SetMaxIdleConns(1)
	sqldb.SetConnMaxLifetime(0)
	sqldb.SetConnMaxIdleTime(0)
	var pid int32
	if err := sqldb.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	watcher, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		return nil, fmt.Errorf("connect the lock watcher: %w", err)
	}
	defer watcher.Close(context.WithoutCancel(ctx))

	src := opt.Migrations
	if src == nil {
		if src, err = fs.Sub(migrationsFS, "migrations"); err != nil {
			return nil, err
		}
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sqldb, src)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	if opt.From > 0 {
		if _, err := p.UpTo(ctx, opt.From); err != nil && !errors.Is(err, goose.ErrNoNextVersion) {
			return nil, fmt.Errorf("apply migrations up to %d: %w", opt.From, err)
		}
	}
	if opt.Prepare != nil {
		if err := opt.Prepare(ctx); err != nil {
			return nil, err
		}
	}
	var out []MigrationTiming
	for {
		var b int32
		if err := sqldb.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&b); err != nil || b != pid {
			return out, fmt.Errorf("the migration connection changed (pid %d, was %d): %v", b, pid, err)
		}
		locks := map[string]bool{}
		sctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			sampleLocks(sctx, watcher, pid, opt.SampleEvery, locks)
		}()
		start := time.Now()
		res, err := p.UpByOne(ctx)
		elapsed := time.Since(start)
		stop()
		wg.Wait()
		if errors.Is(err, goose.ErrNoNextVersion) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("apply migration: %w", err)
		}
		t := MigrationTiming{Version: res.Source.Version, Source: res.Source.Path, DurationMS: elapsed.Milliseconds(), Locks: []string{}}
		if res.Duration > 0 {
			t.DurationMS = res.Duration.Milliseconds()
		}
		for l := range locks {
			t.Locks = append(t.Locks, l)
		}
		sort.Strings(t.Locks)
		out = append(out, t)
	}
}

// sampleLocks polls the granted relation locks of pid into seen until ctx
// is done.
func sampleLocks(ctx context.Context, conn *pgx.Conn, pid int32, every time.Duration, seen map[string]bool) {
	const q = `SELECT l.mode, coalesce(c.relname, l.relation::text)
FROM pg_locks l LEFT JOIN pg_class c ON c.oid = l.relation
WHERE l.pid = $1 AND l.granted AND l.locktype = 'relation'
  AND c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'pg_toast'::regnamespace)
  AND c.relname NOT LIKE 'goose_db_version%'`
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		rows, err := conn.Query(context.WithoutCancel(ctx), q, pid)
		if err == nil {
			for rows.Next() {
				var mode, rel string
				if rows.Scan(&mode, &rel) == nil {
					seen[mode+" on "+rel] = true
				}
			}
			rows.Close()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ScratchDatabase creates an empty database on the server of pc (its user
// needs CREATEDB) and returns the PoolConfig of it and a function that
// drops it. pc.URL must be a postgres:// URL.
func ScratchDatabase(ctx context.Context, pc PoolConfig) (PoolConfig, func() error, error) {
	u, err := url.Parse(pc.URL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return pc, nil, errors.New("a scratch database needs DATABASE_URL as a postgres:// URL")
	}
	cfg, err := ParseConfig(pc)
	if err != nil {
		return pc, nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		return pc, nil, fmt.Errorf("connect: %w", err)
	}
	name := fmt.Sprintf("shipyard_timing_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		return pc, nil, fmt.Errorf("create scratch database: %w", err)
	}
	drop := func() error {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		defer conn.Close(dctx)
		_, err := conn.Exec(dctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		return err
	}
	u.Path = "/" + name
	out := pc
	out.URL = u.String()
	return out, drop, nil
}
