package db_test

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/shipyard-kit/shipyard/app/internal/db"
	"github.com/shipyard-kit/shipyard/app/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func tables(t *testing.T, url string) map[string]bool {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, n := range names {
		out[n] = true
	}
	return out
}

func TestMigrate(t *testing.T) {
	t.Run("an empty database gets every table and the latest version", func(t *testing.T) {
		url := testenv.EmptyDatabaseURL(t)
		applied, err := db.Migrate(context.Background(), db.PoolConfig{URL: url})
		if err != nil {
			t.Fatalf("migrate: %v", err)
		}
		if len(applied) == 0 {
			t.Fatal("nothing applied to an empty database")
		}
		got := tables(t, url)
		for _, want := range []string{"users", "tokens", "notes", "goose_db_version"} {
			if !got[want] {
				t.Errorf("table %s missing after migrate (have %v)", want, got)
			}
		}
		cur, latest, err := db.SchemaVersion(context.Background(), db.PoolConfig{URL: url})
		if err != nil || cur != latest {
			t.Errorf("schema version = %d, latest %d, err %v", cur, latest, err)
		}
	})

	t.Run("running it again applies nothing and succeeds", func(t *testing.T) {
		url := testenv.EmptyDatabaseURL(t)
		if _, err := db.Migrate(context.Background(), db.PoolConfig{URL: url}); err != nil {
			t.Fatal(err)
		}
		applied, err := db.Migrate(context.Background(), db.PoolConfig{URL: url})
		if err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		if len(applied) != 0 {
			t.Errorf("second migrate applied %v, want nothing", applied)
		}
	})

	t.Run("replicas racing to migrate all succeed and apply each migration once", func(t *testing.T) {
		url := testenv.EmptyDatabaseURL(t)
		const n = 5
		var wg sync.WaitGroup
		results := make([][]int64, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { results[i], errs[i] = db.Migrate(context.Background(), db.PoolConfig{URL: url}) })
		}
		wg.Wait()
		total := 0
		for i := range n {
			if errs[i] != nil {
				t.Errorf("racer %d: %v", i, errs[i])
			}
			total += len(results[i])
		}
		_, latest, err := db.SchemaVersion(context.Background(), db.PoolConfig{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		if int64(total) != latest {
			t.Errorf("racers applied %d migrations in total, want %d (each exactly once)", total, latest)
		}
	})

	t.Run("an unreachable database is an error naming the cause", func(t *testing.T) {
		port := testenv.FreePort(t)
		_, err := db.Migrate(context.Background(), db.PoolConfig{URL: "postgres://nobody@127.0.0.1:" + strconv.Itoa(port) + "/x?sslmode=disable"})
		if err == nil {
			t.Fatal("want an error")
		}
	})

	t.Run("a password in DATABASE_PASSWORD overrides the URL's", func(t *testing.T) {
		cfg, err := db.ParseConfig(db.PoolConfig{URL: "postgres://u:old@h:5432/d", Password: "new"})
		if err != nil || cfg.ConnConfig.Password != "new" {
			t.Fatalf("password = %q, err %v", cfg.ConnConfig.Password, err)
		}
		cfg, err = db.ParseConfig(db.PoolConfig{URL: "postgres://u:inurl@h:5432/d"})
		if err != nil || cfg.ConnConfig.Password != "inurl" {
			t.Fatalf("password = %q, err %v", cfg.ConnConfig.Password, err)
		}
	})
}

func TestReadCheck(t *testing.T) {
	ctx := context.Background()
	t.Run("reads every table of a migrated database", func(t *testing.T) {
		url := testenv.DatabaseURL(t)
		c, err := db.ReadCheck(ctx, db.PoolConfig{URL: url})
		if err != nil {
			t.Fatalf("ReadCheck: %v", err)
		}
		if c.SchemaVersion != c.LatestVersion || c.SchemaVersion == 0 {
			t.Errorf("versions %d/%d", c.SchemaVersion, c.LatestVersion)
		}
		for _, want := range []string{"users", "notes", "goose_db_version"} {
			if _, ok := c.Rows[want]; !ok {
				t.Errorf("no count for %s: %v", want, c.Rows)
			}
		}
	})
	t.Run("fails on a database behind the migrations", func(t *testing.T) {
		url := testenv.EmptyDatabaseURL(t)
		if _, err := db.ReadCheck(ctx, db.PoolConfig{URL: url}); err == nil {
			t.Fatal("ReadCheck passed on an unmigrated database")
		}
	})
}
