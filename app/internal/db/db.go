// Package db connects to Postgres and owns the schema: embedded goose
// migrations serialized by an advisory lock, and the seed scenarios.
package db

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

//go:embed migrations/*.sql
var migrationsFS embed.FS

// PoolConfig is what NewPool needs from the app config.
type PoolConfig struct {
	URL            string
	Password       string // overrides a password in URL when non-empty
	MaxConns       int32
	ConnectTimeout time.Duration
	// Tracer, when set, traces every query (ConnConfig.Tracer).
	Tracer pgx.QueryTracer
}

// ParseConfig parses the URL and applies the password override and pool
// settings.
func ParseConfig(pc PoolConfig) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(pc.URL)
	if err != nil {
		// pgx errors can quote the connection string; don't. Its TLS
		// errors do not (they name the CA file and the cause: a
		// missing or unreadable sslrootcert must say so, not "invalid").
		var pe *pgconn.ParseConfigError
		if errors.As(err, &pe) && strings.Contains(pe.Error(), "failed to configure TLS") && errors.Unwrap(pe) != nil {
			return nil, fmt.Errorf("parse DATABASE_URL: TLS settings (sslmode, sslrootcert): %w", errors.Unwrap(pe))
		}
		return nil, errors.New("parse DATABASE_URL: invalid connection URL")
	}
	if pc.Password != "" {
		cfg.ConnConfig.Password = pc.Password
	}
	if pc.MaxConns > 0 {
		cfg.MaxConns = pc.MaxConns
	}
	if pc.ConnectTimeout > 0 {
		cfg.ConnConfig.ConnectTimeout = pc.ConnectTimeout
	}
	if pc.Tracer != nil {
		cfg.ConnConfig.Tracer = pc.Tracer
	}
	cfg.MaxConnIdleTime = 5 * time.Minute
	cfg.HealthCheckPeriod = 30 * time.Second
	return cfg, nil
}

// NewPool returns a lazily connecting pool: the process starts (and /livez
// answers) even while Postgres is down; /readyz reports it.
func NewPool(ctx context.Context, pc PoolConfig) (*pgxpool.Pool, error) {
	cfg, err := ParseConfig(pc)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("create pool: %w", err)
	}
	return pool, nil
}

// migrateLockID is the advisory lock key that serializes `app migrate`.
const migrateLockID int64 = 0x5348495059415244 // "SHIPYARD"

// Migrate applies every pending migration. Concurrent callers queue on a
// session-level advisory lock, so N replicas racing is safe; the ones that
// get the lock after the first find nothing to do. It returns the versions
// it applied.
func Migrate(ctx context.Context, pc PoolConfig) ([]int64, error) {
	cfg, err := ParseConfig(pc)
	if err != nil {
		return nil, err
	}
	sqldb := stdlib.OpenDB(*cfg.ConnConfig)
	defer sqldb.Close()
	sqldb.SetMaxOpenConns(2)

	conn, err := sqldb.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrateLockID); err != nil {
		return nil, fmt.Errorf("take migration lock: %w", err)
	}
	defer func() {
		// A fresh context: unlock even when ctx is done. Closing the
		// session would release the lock anyway.
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = conn.ExecContext(uctx, "SELECT pg_advisory_unlock($1)", migrateLockID)
	}()

	p, err := newProvider(sqldb)
	if err != nil {
		return nil, err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("apply migrations: %w", err)
	}
	applied := make([]int64, 0, len(results))
	for _, r := range results {
		applied = append(applied, r.Source.Version)
	}
	return applied, nil
}

func newProvider(sqldb *sql.DB) (*goose.Provider, error) {
	sub, err := fs.Sub(migrationsFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("migrations fs: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sqldb, sub)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return p, nil
}

// SchemaVersion reports the current and the latest embedded migration
// version.
func SchemaVersion(ctx context.Context, pc PoolConfig) (current, latest int64, err error) {
	cfg, err := ParseConfig(pc)
	if err != nil {
		return 0, 0, err
	}
	sqldb := stdlib.OpenDB(*cfg.ConnConfig)
	defer sqldb.Close()
	p, err := newProvider(sqldb)
	if err != nil {
		return 0, 0, err
	}
	current, err = p.GetDBVersion(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("schema version: %w", err)
	}
	srcs := p.ListSources()
	if len(srcs) > 0 {
		latest = srcs[len(srcs)-1].Version
	}
	return current, latest, nil
}

// IsUnavailable reports whether err means Postgres could not be reached
// or the deadline passed, as opposed to an error Postgres itself returned.
func IsUnavailable(err error) bool {
	if err == nil || errors.Is(err, pgx.ErrNoRows) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// 57P01 admin_shutdown, 57P03 cannot_connect_now, 53300 too_many_connections.
		switch pgErr.Code {
		case "57P01", "57P02", "57P03", "53300", "57014":
			return true
		}
		return false
	}
	return true
}

// IsUniqueViolation reports a unique constraint violation.
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// ErrNoRows re-exports pgx.ErrNoRows for callers that don't import pgx.
var ErrNoRows = pgx.ErrNoRows

// Check is what `app dbcheck` reads: the schema version and the row count
// of every table in the public schema (each one read in full with
// count(*), so a damaged table or a missing grant fails it).
type Check struct {
	SchemaVersion int64
	LatestVersion int64
	Rows          map[string]int64
}

// ReadCheck reads every table of the public schema; it fails when the
// schema is behind the embedded migrations.
func ReadCheck(ctx context.Context, pc PoolConfig) (Check, error) {
	c := Check{Rows: map[string]int64{}}
	cur, latest, err := SchemaVersion(ctx, pc)
	if err != nil {
		return c, err
	}
	c.SchemaVersion, c.LatestVersion = cur, latest
	if cur < latest {
		return c, fmt.Errorf("schema version %d is behind the embedded migrations (%d): run `app migrate` first", cur, latest)
	}
	cfg, err := ParseConfig(pc)
	if err != nil {
		return c, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		return c, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`)
	if err != nil {
		return c, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return c, err
	}
	for _, n := range names {
		var count int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{"public", n}.Sanitize()).Scan(&count); err != nil {
			return c, fmt.Errorf("reading table %s: %w", n, err)
		}
		c.Rows[n] = count
	}
	if len(c.Rows) == 0 {
		return c, errors.New("the public schema has no tables")
	}
	return c, nil
}
