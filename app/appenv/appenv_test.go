package appenv_test

import (
	"slices"
	"testing"

	"github.com/shipyard-kit/shipyard/app/appenv"
)

// stackEnv is what infra/stackconfig.Env gives the local stack's processes.
func stackEnv() map[string]string {
	return map[string]string{
		"APP_ENV": "local", "PORT": "8080", "LOG_LEVEL": "debug", "SHUTDOWN_TIMEOUT": "20s", "DRAIN_DELAY": "2s",
		"REQUEST_TIMEOUT": "10s", "HTTP_IDLE_TIMEOUT": "75s",
		"DATABASE_URL":       "postgres://shipyard@postgres:5432/shipyard?sslmode=verify-full&sslrootcert=/etc/shipyard/postgres-ca/ca.pem",
		"DATABASE_MAX_CONNS": "10", "REDIS_URL": "redis://redis:6379/0", "RATE_LIMIT_PER_MINUTE": "120",
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]string
		want []appenv.Problem
	}{
		{name: "the stack's environment passes", set: nil},
		{name: "a variable the app does not read is not judged", set: map[string]string{"FEATURE_X": "whatever"}},
		{name: "a non-numeric MAX_BODY_BYTES is refused with the app's range",
			set:  map[string]string{"MAX_BODY_BYTES": "abc"},
			want: []appenv.Problem{{"MAX_BODY_BYTES", `MAX_BODY_BYTES: must be an integer from 1 to 1073741824 (got "abc")`}}},
		{name: "WORKER_CONCURRENCY 0 is refused with the app's range",
			set:  map[string]string{"WORKER_CONCURRENCY": "0"},
			want: []appenv.Problem{{"WORKER_CONCURRENCY", `WORKER_CONCURRENCY: must be an integer from 1 to 1000 (got "0")`}}},
		{name: "a QUEUE_METRICS_INTERVAL over an hour is refused with the app's range",
			set:  map[string]string{"QUEUE_METRICS_INTERVAL": "2h"},
			want: []appenv.Problem{{"QUEUE_METRICS_INTERVAL", `QUEUE_METRICS_INTERVAL: must be a Go duration such as "60s", from 1s to 1h0m0s, or 0 for off (got "2h")`}}},
		{name: "every refused variable is listed, sorted by name",
			set: map[string]string{"WORKER_CONCURRENCY": "0", "MAX_BODY_BYTES": "abc"},
			want: []appenv.Problem{
				{"MAX_BODY_BYTES", `MAX_BODY_BYTES: must be an integer from 1 to 1073741824 (got "abc")`},
				{"WORKER_CONCURRENCY", `WORKER_CONCURRENCY: must be an integer from 1 to 1000 (got "0")`}}},
		{name: "the web, worker and clock processes need Redis",
			set:  map[string]string{"REDIS_URL": ""},
			want: []appenv.Problem{{"REDIS_URL", `REDIS_URL: is required: a URL such as "redis://host:6379/0" or "rediss://…"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := stackEnv()
			for k, v := range tt.set {
				env[k] = v
			}
			if got := appenv.Check(env); !slices.Equal(got, tt.want) {
				t.Errorf("Check = %q\nwant    %q", got, tt.want)
			}
		})
	}
}

func TestCheckPreview(t *testing.T) {
	admin := func() map[string]string {
		env := stackEnv()
		env[appenv.PreviewDatabase], env[appenv.PreviewDatabaseUser] = "pr_7", "pr_7"
		return env
	}
	tests := []struct {
		name string
		sub  string
		set  map[string]string
		want []appenv.Problem
	}{
		{name: "drop needs no password", sub: "drop"},
		{name: "create needs the PR user's password", sub: "create",
			want: []appenv.Problem{{appenv.PreviewDatabasePassword, "PREVIEW_DATABASE_PASSWORD: is required: the PR user's password, at least 16 characters"}}},
		{name: "create with it passes", sub: "create", set: map[string]string{appenv.PreviewDatabasePassword: "correct-horse-battery-staple"}},
		{name: "drop needs Redis", sub: "drop", set: map[string]string{"REDIS_URL": ""},
			want: []appenv.Problem{{"REDIS_URL", `REDIS_URL: is required: a URL such as "redis://host:6379/0" or "rediss://…"`}}},
		{name: "the PR's database as DATABASE_URL's is refused", sub: "drop",
			set: map[string]string{"DATABASE_URL": "postgres://pr_7@postgres:5432/pr_7"},
			want: []appenv.Problem{
				{appenv.PreviewDatabase, "PREVIEW_DATABASE: must differ from DATABASE_URL's database (the base stack's, which preview commands never touch) (got \"pr_7\")"},
				{appenv.PreviewDatabaseUser, "PREVIEW_DATABASE_USER: must differ from DATABASE_URL's user (the admin user preview commands connect as) (got \"pr_7\")"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := admin()
			for k, v := range tt.set {
				env[k] = v
			}
			if got := appenv.CheckPreview(env, tt.sub); !slices.Equal(got, tt.want) {
				t.Errorf("CheckPreview = %q\nwant           %q", got, tt.want)
			}
		})
	}
}
