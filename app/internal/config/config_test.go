package config_test

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shipyard-kit/shipyard/app/internal/config"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func valid() map[string]string {
	return map[string]string{
		"DATABASE_URL": "postgres://app@db:5432/app?sslmode=disable",
		"REDIS_URL":    "redis://cache:6379/0",
	}
}

var all = config.Needs{Database: true, Redis: true}

func TestLoadDefaults(t *testing.T) {
	c, err := config.Load(env(valid()), all)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"PORT defaults to 8080", c.Port, 8080},
		{"LOG_LEVEL defaults to info", c.LogLevel, slog.LevelInfo},
		{"SHUTDOWN_TIMEOUT defaults to 20s", c.ShutdownTimeout, 20 * time.Second},
		{"REQUEST_TIMEOUT defaults to 10s", c.RequestTimeout, 10 * time.Second},
		{"HTTP_IDLE_TIMEOUT defaults to 75s", c.IdleTimeout, 75 * time.Second},
		{"DATABASE_MAX_CONNS defaults to 10", c.DatabaseMaxConns, int32(10)},
		{"RATE_LIMIT_PER_MINUTE defaults to 600", c.RateLimitPerMinute, 600},
		{"MAX_BODY_BYTES defaults to 1 MiB", c.MaxBodyBytes, int64(1 << 20)},
		{"passwords default to none", c.DatabasePassword + c.RedisPassword, ""},
		{"QUEUE_METRICS_INTERVAL defaults to a minute", c.QueueMetricsInterval, time.Minute},
	} {
		if fmt.Sprint(tc.got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: got %v", tc.name, tc.got)
		}
	}
}

func TestLoadTheStackEnvironment(t *testing.T) {
	// What infra/stackconfig.Env produces for the local stack.
	e := map[string]string{
		"APP_ENV": "local", "PORT": "8080", "LOG_LEVEL": "debug", "SHUTDOWN_TIMEOUT": "20s",
		"REQUEST_TIMEOUT": "10s", "HTTP_IDLE_TIMEOUT": "75s",
		"DATABASE_URL":       "postgres://shipyard@postgres:5432/shipyard?sslmode=verify-full&sslrootcert=/etc/shipyard/postgres-ca/ca.pem",
		"DATABASE_MAX_CONNS": "10", "REDIS_URL": "rediss://redis:6379/0", "RATE_LIMIT_PER_MINUTE": "120",
		"DATABASE_PASSWORD": "pw1", "REDIS_PASSWORD": "pw2",
	}
	c, err := config.Load(env(e), all)
	if err != nil {
		t.Fatal(err)
	}
	if c.AppEnv != "local" || c.LogLevel != slog.LevelDebug || c.RateLimitPerMinute != 120 || c.DatabasePassword != "pw1" || c.RedisPassword != "pw2" {
		t.Fatalf("%+v", c)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		set     map[string]string
		needs   config.Needs
		varName string
	}{
		{"a missing DATABASE_URL is named", map[string]string{"DATABASE_URL": ""}, all, "DATABASE_URL"},
		{"a DATABASE_URL that is not postgres:// is rejected", map[string]string{"DATABASE_URL": "mysql://x@h/db"}, all, "DATABASE_URL"},
		{"a DATABASE_URL without a host is rejected", map[string]string{"DATABASE_URL": "postgres:///db"}, all, "DATABASE_URL"},
		{"a missing REDIS_URL is named", map[string]string{"REDIS_URL": ""}, all, "REDIS_URL"},
		{"a REDIS_URL with another scheme is rejected", map[string]string{"REDIS_URL": "http://cache:6379"}, all, "REDIS_URL"},
		{"a non-numeric PORT is rejected", map[string]string{"PORT": "http"}, all, "PORT"},
		{"PORT 0 is rejected", map[string]string{"PORT": "0"}, all, "PORT"},
		{"PORT above 65535 is rejected", map[string]string{"PORT": "70000"}, all, "PORT"},
		{"an unknown LOG_LEVEL is rejected", map[string]string{"LOG_LEVEL": "loud"}, all, "LOG_LEVEL"},
		{"SHUTDOWN_TIMEOUT without a unit is rejected", map[string]string{"SHUTDOWN_TIMEOUT": "20"}, all, "SHUTDOWN_TIMEOUT"},
		{"a REQUEST_TIMEOUT in words is rejected", map[string]string{"REQUEST_TIMEOUT": "ten seconds"}, all, "REQUEST_TIMEOUT"},
		{"a negative HTTP_IDLE_TIMEOUT is rejected", map[string]string{"HTTP_IDLE_TIMEOUT": "-1s"}, all, "HTTP_IDLE_TIMEOUT"},
		{"DRAIN_DELAY not shorter than SHUTDOWN_TIMEOUT is rejected", map[string]string{"DRAIN_DELAY": "30s", "SHUTDOWN_TIMEOUT": "20s"}, all, "DRAIN_DELAY"},
		{"DATABASE_MAX_CONNS 0 is rejected", map[string]string{"DATABASE_MAX_CONNS": "0"}, all, "DATABASE_MAX_CONNS"},
		{"a non-numeric DATABASE_MAX_CONNS is rejected", map[string]string{"DATABASE_MAX_CONNS": "many"}, all, "DATABASE_MAX_CONNS"},
		{"a bad DATABASE_CONNECT_TIMEOUT is rejected", map[string]string{"DATABASE_CONNECT_TIMEOUT": "5"}, all, "DATABASE_CONNECT_TIMEOUT"},
		{"a negative RATE_LIMIT_PER_MINUTE is rejected", map[string]string{"RATE_LIMIT_PER_MINUTE": "-1"}, all, "RATE_LIMIT_PER_MINUTE"},
		{"a non-numeric REDIS_POOL_SIZE is rejected", map[string]string{"REDIS_POOL_SIZE": "big"}, all, "REDIS_POOL_SIZE"},
		{"a bad REDIS_TIMEOUT is rejected", map[string]string{"REDIS_TIMEOUT": "1"}, all, "REDIS_TIMEOUT"},
		{"MAX_BODY_BYTES 0 is rejected", map[string]string{"MAX_BODY_BYTES": "0"}, all, "MAX_BODY_BYTES"},
		{"a bad TRUST_PROXY is rejected", map[string]string{"TRUST_PROXY": "yes please"}, all, "TRUST_PROXY"},
		{"a CACHE_TTL under a second is rejected", map[string]string{"CACHE_TTL": "10ms"}, all, "CACHE_TTL"},
		{"a bad TOKEN_TTL is rejected", map[string]string{"TOKEN_TTL": "1d"}, all, "TOKEN_TTL"},
		{"WORKER_CONCURRENCY 0 is rejected", map[string]string{"WORKER_CONCURRENCY": "0"}, all, "WORKER_CONCURRENCY"},
		{"a QUEUE_METRICS_INTERVAL without a unit is rejected", map[string]string{"QUEUE_METRICS_INTERVAL": "60"}, all, "QUEUE_METRICS_INTERVAL"},
		{"a QUEUE_METRICS_INTERVAL under a second is rejected", map[string]string{"QUEUE_METRICS_INTERVAL": "500ms"}, all, "QUEUE_METRICS_INTERVAL"},
		{"a QUEUE_METRICS_INTERVAL over an hour is rejected", map[string]string{"QUEUE_METRICS_INTERVAL": "2h"}, all, "QUEUE_METRICS_INTERVAL"},
		{"a negative QUEUE_METRICS_INTERVAL is rejected", map[string]string{"QUEUE_METRICS_INTERVAL": "-1m"}, all, "QUEUE_METRICS_INTERVAL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := valid()
			for k, v := range tc.set {
				e[k] = v
			}
			_, err := config.Load(env(e), tc.needs)
			if err == nil {
				t.Fatal("want an error")
			}
			if !strings.Contains(err.Error(), tc.varName+":") {
				t.Fatalf("error does not name %s: %v", tc.varName, err)
			}
		})
	}

	t.Run("every problem is reported at once", func(t *testing.T) {
		_, err := config.Load(env(map[string]string{"PORT": "x", "LOG_LEVEL": "y"}), all)
		for _, name := range []string{"PORT", "LOG_LEVEL", "DATABASE_URL", "REDIS_URL"} {
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("error does not name %s: %v", name, err)
			}
		}
	})
	t.Run("the error lists each refused variable apart, in the order read", func(t *testing.T) {
		_, err := config.Load(env(map[string]string{"PORT": "x", "MAX_BODY_BYTES": "0", "DATABASE_URL": "postgres://app@db/app"}), config.Needs{Database: true})
		var errs config.Errors
		if !errors.As(err, &errs) {
			t.Fatalf("error is not a config.Errors: %v", err)
		}
		want := config.Errors{
			{Name: "PORT", Problem: `must be an integer from 1 to 65535 (got "x")`},
			{Name: "MAX_BODY_BYTES", Problem: `must be an integer from 1 to 1073741824 (got "0")`},
		}
		if !slices.Equal(errs, want) {
			t.Errorf("errors = %q, want %q", errs, want)
		}
		if got := err.Error(); got != `config: PORT: must be an integer from 1 to 65535 (got "x"); MAX_BODY_BYTES: must be an integer from 1 to 1073741824 (got "0")` {
			t.Errorf("message = %q", got)
		}
	})
	t.Run("QUEUE_METRICS_INTERVAL 0 turns the embedded metric format lines off", func(t *testing.T) {
		for _, v := range []string{"0", "0s"} {
			e := valid()
			e["QUEUE_METRICS_INTERVAL"] = v
			c, err := config.Load(env(e), all)
			if err != nil || c.QueueMetricsInterval != 0 {
				t.Fatalf("%s: %v, %v", v, c, err)
			}
		}
	})
	t.Run("migrate needs no REDIS_URL", func(t *testing.T) {
		e := valid()
		delete(e, "REDIS_URL")
		if _, err := config.Load(env(e), config.Needs{Database: true}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a malformed URL is not echoed with its password", func(t *testing.T) {
		_, err := config.Load(env(map[string]string{"DATABASE_URL": "mysql://u:hunter2@h/db", "REDIS_URL": "http://:hunter3@h"}), all)
		if err == nil || strings.Contains(err.Error(), "hunter") {
			t.Fatalf("secret in error: %v", err)
		}
	})
}

func TestRedisURLNamesADatabaseRedisHas(t *testing.T) {
	for _, tc := range []struct {
		name, url string
		ok        bool
	}{
		{"database 0 is read", "redis://cache:6379/0", true},
		{"no database is database 0", "redis://cache:6379", true},
		{"database 15, the last of 16, is read", "rediss://cache:6379/15", true},
		{"database 16 is refused", "redis://cache:6379/16", false},
		{"database 99 is refused", "redis://cache:6379/99", false},
		{"a database given as ?db= is checked too", "redis://cache:6379/0?db=99", false},
		{"a negative database is refused", "redis://cache:6379/-1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := valid()
			e["REDIS_URL"] = tc.url
			_, err := config.Load(env(e), all)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			want := `REDIS_URL: must name a logical database from 0 to 15`
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), fmt.Sprintf("(got %q)", tc.url)) {
				t.Fatalf("want %s and the URL, got %v", want, err)
			}
		})
	}
	t.Run("the refused URL is echoed without its password", func(t *testing.T) {
		e := valid()
		e["REDIS_URL"] = "redis://:hunter2@cache:6379/99"
		_, err := config.Load(env(e), all)
		if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "xxxxx@cache:6379/99") {
			t.Fatalf("%v", err)
		}
	})
}

func TestDatabaseURLParametersAreCheckedAtLoad(t *testing.T) {
	const sslmodes = `"disable", "allow", "prefer", "require", "verify-ca", "verify-full"`
	for _, tc := range []struct {
		name, url string
		want      string // "" = accepted
	}{
		{"a connect_timeout in words is refused", "postgres://app@db/app?connect_timeout=abc",
			`DATABASE_URL: parameter connect_timeout must be a whole number of seconds, 0 or more (got "abc")`},
		{"a negative connect_timeout is refused", "postgres://app@db/app?sslmode=disable&connect_timeout=-1",
			`DATABASE_URL: parameter connect_timeout must be a whole number of seconds, 0 or more (got "-1")`},
		{"an unknown sslmode is refused with the allowed ones", "postgres://app@db/app?sslmode=bogus",
			`DATABASE_URL: parameter sslmode must be one of ` + sslmodes + ` (got "bogus")`},
		{"an unknown sslmode of a DSN is refused with the allowed ones", "host=db user=app sslmode='bogus'",
			`DATABASE_URL: parameter sslmode must be one of ` + sslmodes + ` (got "bogus")`},
		{"an unknown target_session_attrs is refused with the allowed ones", "postgres://app@db/app?target_session_attrs=any-but-standby",
			`DATABASE_URL: parameter target_session_attrs must be one of "any", "read-write", "read-only", "primary", "standby", "prefer-standby" (got "any-but-standby")`},
		{"a pool parameter pgx cannot parse is named", "postgres://app@db/app?pool_max_conns=many",
			`DATABASE_URL: parameter pool_max_conns is invalid: cannot parse pool_max_conns`},
		{"a parameter given twice is refused, not the last one taken", "postgres://app@db/app?sslmode=verify-full&sslmode=disable",
			`DATABASE_URL: parameter sslmode must be given once`},
		{"a port out of range is refused", "postgres://app@db:70000/app",
			`DATABASE_URL: must have a port from 1 to 65535 (got "postgres://app@db:70000/app")`},
		{"the stacks' URL is accepted without reading its CA file, which is the container's", "postgres://app@db/app?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem", ""},
		{"a client certificate and key are left to the first connection too", "host=db user=app sslmode=verify-full sslcert=/nonexistent/c.pem sslkey=/nonexistent/k.pem", ""},
		{"every valid parameter is accepted", "postgres://app@db/app?sslmode=require&connect_timeout=10&target_session_attrs=read-write&application_name=shipyard", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := valid()
			e["DATABASE_URL"] = tc.url
			_, err := config.Load(env(e), all)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %s, got %v", tc.want, err)
			}
		})
	}
}

func TestSecretsAreMaskedWhenLogged(t *testing.T) {
	e := valid()
	e["DATABASE_URL"] = "postgres://app:urlsecret1@db:5432/app"
	e["REDIS_URL"] = "redis://:urlsecret2@cache:6379/0"
	e["DATABASE_PASSWORD"] = "envsecret1"
	e["REDIS_PASSWORD"] = "envsecret2"
	c, err := config.Load(env(e), all)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	slog.New(slog.NewJSONHandler(&b, nil)).Info("starting", "config", c)
	out := b.String() + fmt.Sprint(c) + fmt.Sprintf("%v %+v", c, c)
	for _, s := range []string{"urlsecret1", "urlsecret2", "envsecret1", "envsecret2"} {
		if strings.Contains(out, s) {
			t.Errorf("secret %q leaked: %s", s, out)
		}
	}
	if !strings.Contains(b.String(), "db:5432") {
		t.Errorf("non-secret parts should still be logged: %s", b.String())
	}
}

func TestLogLevel(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        slog.Level
		ok          bool
	}{
		{"debug is read", "debug", slog.LevelDebug, true},
		{"info is read", "info", slog.LevelInfo, true},
		{"warn is read", "warn", slog.LevelWarn, true},
		{"error is read", "error", slog.LevelError, true},
		{"a name in upper case is read", "WARN", slog.LevelWarn, true},
		{"a name with an offset is refused", "info+3", 0, false},
		{"a name with a negative offset is refused", "debug-4", 0, false},
		{"warning is refused", "warning", 0, false},
		{"a number is refused", "4", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := valid()
			e["LOG_LEVEL"] = tc.value
			c, err := config.Load(env(e), all)
			if tc.ok {
				if err != nil || c.LogLevel != tc.want {
					t.Fatalf("%v, %v", c, err)
				}
				return
			}
			want := `LOG_LEVEL: must be one of "debug", "info", "warn", "error" (got "` + tc.value + `")`
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("want %s, got %v", want, err)
			}
		})
	}
}

func TestPortReadsPORTAsLoadDoes(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        int // 0: refused
	}{
		{"an empty PORT is 8080", "", 8080},
		{"a plain PORT is read", "9000", 9000},
		{"a PORT with a leading space is trimmed", " 8080", 8080},
		{"a PORT with surrounding whitespace is trimmed", "\t9000\n", 9000},
		{"PORT 0 is refused", "0", 0},
		{"PORT above 65535 is refused", "65536", 0},
		{"a PORT in words is refused", "eighty", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := valid()
			e["PORT"] = tc.value
			port, err := config.Port(env(e))
			c, lerr := config.Load(env(e), all)
			if tc.want == 0 {
				if err == nil || lerr == nil || !strings.Contains(err.Error(), "PORT: must be an integer from 1 to 65535") || err.Error() != lerr.Error() {
					t.Fatalf("Port: %d, %v; Load: %v", port, err, lerr)
				}
				return
			}
			if err != nil || lerr != nil || port != tc.want || c.Port != tc.want {
				t.Fatalf("Port: %d, %v; Load: %v, %v", port, err, c, lerr)
			}
		})
	}
}
