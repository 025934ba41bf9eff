package main

// `app preview create|drop`: a PR environment's database, user and Redis
// logical database (docs/operations.md, "PR environments").

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/shipyard-kit/shipyard/app/internal/config"
	"github.com/shipyard-kit/shipyard/app/internal/db"
)

// previewCmd runs `app preview create` or `app preview drop`.
func previewCmd(ctx context.Context, log *slog.Logger, cfg *config.Config, args []string) error {
	if err := previewArgs(args); err != nil {
		return err
	}
	if args[0] == "create" {
		return previewCreate(ctx, log, cfg)
	}
	return previewDrop(ctx, log, cfg)
}

// previewArgs checks the arguments of `app preview`: one subcommand,
// create or drop. run checks them before loading the configuration, whose
// variables depend on the subcommand: a wrong one must be named as such,
// not as the variables it would need.
func previewArgs(args []string) error {
	if len(args) == 1 && (args[0] == "create" || args[0] == "drop") {
		return nil
	}
	got := "none"
	if len(args) > 0 {
		got = strconv.Quote(strings.Join(args, " "))
	}
	return fmt.Errorf(`preview: the subcommand must be "create" or "drop" (got %s); usage: app preview create|drop`, got)
}

// previewNeeds is what `app preview <sub>` needs of the environment
// (config.PreviewNeeds).
func previewNeeds(args []string) config.Needs {
	sub := ""
	if len(args) > 2 {
		sub = args[2]
	}
	return config.PreviewNeeds(sub)
}

// previewCreate connects as the admin user (DATABASE_URL, the base stack's
// master user) and makes the PR's role (LOGIN, its password set or reset)
// and its database, owned by the role, which no other role may connect to.
// Running it again changes nothing but the password.
func previewCreate(ctx context.Context, log *slog.Logger, cfg *config.Config) error {
	conn, err := adminConn(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	p := cfg.Preview
	var exists, super bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1), (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)`, p.User).Scan(&exists, &super); err != nil {
		return fmt.Errorf("preview create: reading roles: %w", err)
	}
	verb := "CREATE ROLE %I LOGIN PASSWORD %L"
	if exists {
		verb = "ALTER ROLE %I WITH LOGIN PASSWORD %L"
	}
	// format() quotes the name and the password server-side.
	if err := execFormat(ctx, conn, verb, p.User, p.Password); err != nil {
		return fmt.Errorf("preview create: role %s: %w", p.User, err)
	}
	if !super {
		// CREATE DATABASE … OWNER needs membership in the owner (an RDS
		// master user is not a superuser; it has ADMIN on roles it made).
		if err := execFormat(ctx, conn, "GRANT %I TO CURRENT_USER", p.User); err != nil {
			return fmt.Errorf("preview create: granting role %s to the admin user: %w", p.User, err)
		}
	}
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, p.Database).Scan(&exists); err != nil {
		return fmt.Errorf("preview create: reading databases: %w", err)
	}
	verb = "CREATE DATABASE %I OWNER %I"
	if exists {
		verb = "ALTER DATABASE %I OWNER TO %I"
	}
	if err := execFormat(ctx, conn, verb, p.Database, p.User); err != nil {
		return fmt.Errorf("preview create: database %s: %w", p.Database, err)
	}
	if err := execFormat(ctx, conn, "REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC", p.Database); err != nil {
		return fmt.Errorf("preview create: database %s: %w", p.Database, err)
	}
	log.Info("preview database ready", "database", p.Database, "user", p.User, "created", !exists)
	return nil
}

// previewDrop drops the PR's database (closing its connections) and its
// role, then empties the PR's Redis logical database (REDIS_URL's, never
// 0: the base stack's). Each step is a no-op when already done.
func previewDrop(ctx context.Context, log *slog.Logger, cfg *config.Config) error {
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("preview drop: REDIS_URL: %w", err)
	}
	if opts.DB == 0 {
		return fmt.Errorf("preview drop: REDIS_URL names Redis database 0, the base stack's; allowed: the PR's slot, 1 to 15 (got %q)", config.Redact(cfg.RedisURL))
	}
	conn, err := adminConn(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	p := cfg.Preview
	// WITH (FORCE) terminates the database's sessions (the PR's processes,
	// if still running) first.
	if err := execFormat(ctx, conn, "DROP DATABASE IF EXISTS %I WITH (FORCE)", p.Database); err != nil {
		return fmt.Errorf("preview drop: database %s: %w", p.Database, err)
	}
	if err := execFormat(ctx, conn, "DROP ROLE IF EXISTS %I", p.User); err != nil {
		return fmt.Errorf("preview drop: role %s: %w", p.User, err)
	}
	if cfg.RedisPassword != "" {
		opts.Password = cfg.RedisPassword
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	keys, err := rdb.DBSize(ctx).Result()
	if err == nil {
		err = rdb.FlushDB(ctx).Err()
	}
	if err != nil {
		return fmt.Errorf("preview drop: flushing Redis database %d: %w", opts.DB, err)
	}
	log.Info("preview dropped", "database", p.Database, "user", p.User, "redis_db", opts.DB, "redis_keys", keys)
	return nil
}

// adminConn is one connection as DATABASE_URL's (admin) user.
func adminConn(ctx context.Context, cfg *config.Config) (*pgx.Conn, error) {
	pc, err := db.ParseConfig(poolConfig(cfg))
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, pc.ConnConfig)
	if err != nil {
		return nil, fmt.Errorf("connecting to postgres: %w", err)
	}
	return conn, nil
}

// execFormat runs the statement that format(f, args…) builds in the server
// (%I identifiers, %L literals quoted there).
func execFormat(ctx context.Context, conn *pgx.Conn, f string, args ...any) error {
	var stmt string
	if err := conn.QueryRow(ctx, "SELECT format($1"+placeholders(len(args))+")", append([]any{f}, args...)...).Scan(&stmt); err != nil {
		return err
	}
	_, err := conn.Exec(ctx, stmt)
	return err
}

func placeholders(n int) string {
	s := ""
	for i := 0; i < n; i++ {
		s += fmt.Sprintf(", $%d::text", i+2)
	}
	return s
}
