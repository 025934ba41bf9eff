package main

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/shipyard-kit/shipyard/app/internal/testenv"
)

var previewCounter atomic.Int64

// previewEnv is the environment of `app preview …` for a fresh PR name on
// the test's admin database and Redis database.
func previewEnv(t *testing.T) map[string]string {
	name := fmt.Sprintf("pr_%d", previewCounter.Add(1)+int64(testenv.FreePort(t)))
	return map[string]string{
		"DATABASE_URL":              testenv.EmptyDatabaseURL(t),
		"REDIS_URL":                 testenv.RedisURL(t),
		"PREVIEW_DATABASE":          name,
		"PREVIEW_DATABASE_USER":     name,
		"PREVIEW_DATABASE_PASSWORD": "correct-horse-battery-" + name,
	}
}

func appRun(env map[string]string, args ...string) (string, error) {
	var out bytes.Buffer
	err := run(context.Background(), append([]string{"app"}, args...), func(k string) string { return env[k] }, &out, &out)
	return out.String(), err
}

// asUser is DATABASE_URL with another user and database.
func asUser(t *testing.T, admin, user, database string) string {
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(user)
	u.Path = "/" + database
	return u.String()
}

func queryOne[T any](t *testing.T, dsn, q string, args ...any) T {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	var v T
	if err := conn.QueryRow(context.Background(), q, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

func mustApp(t *testing.T, env map[string]string, args ...string) {
	t.Helper()
	if out, err := appRun(env, args...); err != nil {
		t.Fatalf("app %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestPreviewCreateGivesThePRADatabaseOfItsOwn(t *testing.T) {
	env := previewEnv(t)
	name := env["PREVIEW_DATABASE"]
	t.Cleanup(func() { _, _ = appRun(env, "preview", "drop") })
	out, err := appRun(env, "preview", "create")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if strings.Contains(out, env["PREVIEW_DATABASE_PASSWORD"]) || !strings.Contains(out, `"password":"********"`) {
		t.Fatalf("the PR's password is not masked in the log:\n%s", out)
	}

	t.Run("the role logs in and owns the database", func(t *testing.T) {
		owner := queryOne[string](t, env["DATABASE_URL"], `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1`, name)
		login := queryOne[bool](t, env["DATABASE_URL"], `SELECT rolcanlogin AND rolpassword IS NOT NULL AND NOT rolsuper AND NOT rolcreatedb AND NOT rolcreaterole FROM pg_authid WHERE rolname = $1`, name)
		if owner != name || !login {
			t.Fatalf("owner %q, can log in with a password and no more: %v", owner, login)
		}
	})
	t.Run("migrate runs as the PR's user on its database", func(t *testing.T) {
		mustApp(t, map[string]string{"DATABASE_URL": asUser(t, env["DATABASE_URL"], name, name)}, "migrate")
		if n := queryOne[int](t, asUser(t, env["DATABASE_URL"], name, name), `SELECT count(*) FROM notes`); n != 0 {
			t.Fatalf("notes: %d", n)
		}
	})
	t.Run("no other role may connect to it", func(t *testing.T) {
		other := previewEnv(t)
		t.Cleanup(func() { _, _ = appRun(other, "preview", "drop") })
		mustApp(t, other, "preview", "create")
		conn, err := pgx.Connect(context.Background(), asUser(t, env["DATABASE_URL"], other["PREVIEW_DATABASE_USER"], name))
		if err == nil {
			conn.Close(context.Background())
			t.Fatal("PR user of another PR connected to this PR's database")
		}
		if !strings.Contains(err.Error(), "permission denied") {
			t.Fatalf("want permission denied, got %v", err)
		}
	})
	t.Run("create again succeeds and sets the new password", func(t *testing.T) {
		before := queryOne[string](t, env["DATABASE_URL"], `SELECT rolpassword FROM pg_authid WHERE rolname = $1`, name)
		env["PREVIEW_DATABASE_PASSWORD"] = "another-long-password-" + name
		mustApp(t, env, "preview", "create")
		after := queryOne[string](t, env["DATABASE_URL"], `SELECT rolpassword FROM pg_authid WHERE rolname = $1`, name)
		if after == before {
			t.Fatal("password unchanged")
		}
		if n := queryOne[int](t, asUser(t, env["DATABASE_URL"], name, name), `SELECT count(*) FROM goose_db_version WHERE version_id > 0`); n == 0 {
			t.Fatal("the migrated schema is gone")
		}
	})
}

func TestPreviewCreateWorksAsANonSuperuserAdmin(t *testing.T) {
	// As an RDS master user: CREATEDB and CREATEROLE, not a superuser.
	env := previewEnv(t)
	admin := fmt.Sprintf("rds_admin_%d", testenv.FreePort(t))
	super := env["DATABASE_URL"]
	conn, err := pgx.Connect(context.Background(), super)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"CREATE ROLE " + admin + " LOGIN CREATEDB CREATEROLE"} {
		if _, err := conn.Exec(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close(context.Background())
	t.Cleanup(func() {
		_, _ = appRun(env, "preview", "drop")
		c, err := pgx.Connect(context.Background(), super)
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP ROLE IF EXISTS "+admin)
			c.Close(context.Background())
		}
	})
	u, _ := url.Parse(super)
	env["DATABASE_URL"] = asUser(t, super, admin, strings.TrimPrefix(u.Path, "/"))
	mustApp(t, env, "preview", "create")
	mustApp(t, env, "preview", "drop")
	if n := queryOne[int](t, super, `SELECT count(*) FROM pg_roles WHERE rolname = $1`, env["PREVIEW_DATABASE_USER"]); n != 0 {
		t.Fatal("role left behind")
	}
}

func TestPreviewDropRemovesDatabaseRoleAndKeys(t *testing.T) {
	env := previewEnv(t)
	name := env["PREVIEW_DATABASE"]
	mustApp(t, env, "preview", "create")
	mustApp(t, map[string]string{"DATABASE_URL": asUser(t, env["DATABASE_URL"], name, name)}, "migrate")

	ctx := context.Background()
	prOpts, _ := redis.ParseURL(env["REDIS_URL"])
	pr := redis.NewClient(prOpts)
	defer pr.Close()
	other := redis.NewClient(mustRedisOpts(t, testenv.RedisURL(t)))
	defer other.Close()
	pr.Set(ctx, "asynq:{default}:pending", "x", 0)
	other.Set(ctx, "base-key", "kept", 0)
	// A session of the PR's app is still open: drop closes it.
	open, err := pgx.Connect(ctx, asUser(t, env["DATABASE_URL"], name, name))
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close(ctx)

	mustApp(t, env, "preview", "drop")
	if n := queryOne[int](t, env["DATABASE_URL"], `SELECT (SELECT count(*) FROM pg_database WHERE datname = $1) + (SELECT count(*) FROM pg_roles WHERE rolname = $1)`, name); n != 0 {
		t.Fatalf("database or role left: %d", n)
	}
	if n := pr.DBSize(ctx).Val(); n != 0 {
		t.Fatalf("PR's Redis database holds %d keys", n)
	}
	if v := other.Get(ctx, "base-key").Val(); v != "kept" {
		t.Fatalf("another Redis database lost its key: %q", v)
	}
	if n := queryOne[int](t, env["DATABASE_URL"], `SELECT 1`); n != 1 {
		t.Fatal("admin database gone")
	}
	t.Run("a second drop succeeds", func(t *testing.T) { mustApp(t, env, "preview", "drop") })
}

func TestPreviewRefusesADatabaseShipyardWouldNotNameAPRs(t *testing.T) {
	// DATABASE_URL names no database, so "must differ from DATABASE_URL's
	// database" cannot guard; the name's form must.
	for _, sub := range []string{"create", "drop"} {
		t.Run(sub+" leaves the database and the role alone", func(t *testing.T) {
			env := previewEnv(t)
			keep := fmt.Sprintf("keep_%s_%d", sub, testenv.FreePort(t))
			for _, q := range []string{"CREATE ROLE " + keep + " LOGIN", "CREATE DATABASE " + keep + " OWNER " + keep} {
				if err := appExec(env["DATABASE_URL"], q); err != nil {
					t.Fatal(err)
				}
			}
			t.Cleanup(func() {
				_ = appExec(env["DATABASE_URL"], "DROP DATABASE IF EXISTS "+keep)
				_ = appExec(env["DATABASE_URL"], "DROP ROLE IF EXISTS "+keep)
			})
			admin := env["DATABASE_URL"]
			u, _ := url.Parse(admin)
			u.Path = ""
			env["DATABASE_URL"] = u.String()
			env["PREVIEW_DATABASE"], env["PREVIEW_DATABASE_USER"] = keep, keep
			out, err := appRun(env, "preview", sub)
			for _, want := range []string{`PREVIEW_DATABASE: must be "pr_<n>"`, `PREVIEW_DATABASE_USER: must be "pr_<n>"`} {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("err %v, want %q in:\n%s", err, want, out)
				}
			}
			if n := queryOne[int](t, admin, `SELECT (SELECT count(*) FROM pg_database WHERE datname = $1) + (SELECT count(*) FROM pg_roles WHERE rolname = $1)`, keep); n != 2 {
				t.Fatalf("database and role %s: %d of 2 left", keep, n)
			}
		})
	}
}

// appExec runs one statement on dsn.
func appExec(dsn, q string) error {
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(context.Background(), q)
	return err
}

func mustRedisOpts(t *testing.T, s string) *redis.Options {
	o, err := redis.ParseURL(s)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestPreviewCommandsRefuseBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		edit func(env map[string]string)
		want string
	}{
		{"drop never flushes Redis database 0, the base stack's", []string{"drop"}, func(e map[string]string) {
			u, _ := url.Parse(e["REDIS_URL"])
			u.Path = "/0"
			e["REDIS_URL"] = u.String()
		}, "Redis database 0"},
		{"a missing database name is named", []string{"create"}, func(e map[string]string) { delete(e, "PREVIEW_DATABASE") }, "PREVIEW_DATABASE: is required"},
		{"a name that needs quoting is refused", []string{"create"}, func(e map[string]string) { e["PREVIEW_DATABASE_USER"] = `pr"; DROP` }, `PREVIEW_DATABASE_USER: must be`},
		{"create needs a long password", []string{"create"}, func(e map[string]string) { e["PREVIEW_DATABASE_PASSWORD"] = "short" }, "PREVIEW_DATABASE_PASSWORD: must be at least 16 characters long; it has 5"},
		{"the base's own database is never a PR's", []string{"drop"}, func(e map[string]string) {
			u, _ := url.Parse(e["DATABASE_URL"])
			e["PREVIEW_DATABASE"] = strings.TrimPrefix(u.Path, "/")
		}, "PREVIEW_DATABASE: must differ from DATABASE_URL's database"},
		{"the admin user is never a PR's", []string{"drop"}, func(e map[string]string) { e["PREVIEW_DATABASE_USER"] = "postgres" }, "PREVIEW_DATABASE_USER: must differ"},
		{"an unknown subcommand gets the usage", []string{"make"}, func(map[string]string) {}, "usage: app preview create|drop"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := previewEnv(t)
			tc.edit(env)
			out, err := appRun(env, append([]string{"preview"}, tc.args...)...)
			if err == nil || !strings.Contains(out, tc.want) {
				t.Fatalf("err %v, want %q in:\n%s", err, tc.want, out)
			}
			if strings.Contains(out, env["PREVIEW_DATABASE_PASSWORD"]) && len(env["PREVIEW_DATABASE_PASSWORD"]) >= 16 {
				t.Fatal("the PR's password reached the output")
			}
		})
	}
}

func TestPreviewSubcommandIsCheckedBeforeTheEnvironment(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		got  string
	}{
		{"an unknown subcommand is named", []string{"bogus"}, `(got "bogus")`},
		{"no subcommand is named", nil, `(got none)`},
		{"a subcommand with extra arguments is named", []string{"drop", "now"}, `(got "drop now")`},
	} {
		t.Run(tc.name+" with an empty environment, not the variables", func(t *testing.T) {
			out, err := appRun(map[string]string{}, append([]string{"preview"}, tc.args...)...)
			want := `the subcommand must be "create" or "drop" ` + tc.got
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(out, "usage: app preview create|drop") {
				t.Fatalf("err %v, want %q and the usage in:\n%s", err, want, out)
			}
			for _, v := range []string{"DATABASE_URL", "PREVIEW_DATABASE", "REDIS_URL"} {
				if strings.Contains(out, v) {
					t.Errorf("the output names %s, which the subcommand's error is not about:\n%s", v, out)
				}
			}
		})
	}
}

func TestSeedAndJobArgumentsAreCheckedBeforeTheEnvironment(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"an unknown scenario is named with the scenarios", []string{"seed", "bogus"}, `seed: name one scenario (got "bogus"); scenarios: demo, large`},
		{"no scenario is named", []string{"seed"}, `seed: name one scenario (got none); scenarios: demo, large`},
		{"two scenarios are refused", []string{"seed", "demo", "large"}, `(got "demo large")`},
		{"an unknown job is named with the jobs", []string{"job", "nope"}, `job: no scheduled job "nope" (jobs: `},
		{"no job is named", []string{"job"}, `job: name one job (jobs: `},
	} {
		t.Run(tc.name+" with an empty environment, not the variables", func(t *testing.T) {
			out, err := appRun(map[string]string{}, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q in:\n%s", err, tc.want, out)
			}
			for _, v := range []string{"DATABASE_URL", "REDIS_URL"} {
				if strings.Contains(out, v) {
					t.Errorf("the output names %s, which the argument's error is not about:\n%s", v, out)
				}
			}
		})
	}
}
