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
