package stackconfig

import (
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
)

// documentedEnv are the variables docs/config.md documents (the envSpecs
// table); a change here is a change of the app's contract.
var documentedEnv = []string{
	"APP_ENV", "DATABASE_MAX_CONNS", "DATABASE_URL", "HTTP_IDLE_TIMEOUT", "LOG_LEVEL",
	"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_SDK_DISABLED",
	"OTEL_SERVICE_NAME", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "PORT",
	"RATE_LIMIT_PER_MINUTE", "REDIS_URL", "REQUEST_TIMEOUT", "SHUTDOWN_TIMEOUT", "DRAIN_DELAY", "TRUST_PROXY",
}

func names(vars []EnvVar) []string {
	out := make([]string, len(vars))
	for i, v := range vars {
		out[i] = v.Name
	}
	return out
}

// TestEnvOfEveryStack checks, for every config/*.json, that Env has exactly
// the documented keys plus app.env, sorted, and no secret in any value.
func TestEnvOfEveryStack(t *testing.T) {
	all, err := LoadAll(repoConfig)
	if err != nil {
		t.Fatal(err)
	}
	for name, cfg := range all {
		t.Run(name, func(t *testing.T) {
			for _, ep := range []Endpoints{LocalEndpoints, {DatabaseHost: "db.abc.rds.amazonaws.com", DatabasePort: 5432, RedisHost: "master.x.cache.amazonaws.com", RedisPort: 6379}} {
				env := cfg.Env(ep)
				want := slices.Clone(documentedEnv)
				for k := range cfg.App.Env {
					want = append(want, k)
				}
				sort.Strings(want)
				if got := names(env); !slices.Equal(got, want) {
					t.Errorf("Env keys = %v, want %v", got, want)
				}
				checkNoSecrets(t, cfg, env)
			}
			secrets := cfg.SecretNames()
			if !sort.StringsAreSorted(secrets) {
				t.Errorf("SecretNames not sorted: %v", secrets)
			}
			for _, s := range append([]string{SecretDatabasePassword, SecretRedisPassword}, cfg.App.Secrets...) {
				if !slices.Contains(secrets, s) {
					t.Errorf("SecretNames %v lacks %s", secrets, s)
				}
			}
		})
	}
}

// checkNoSecrets fails when an env value carries a password or a secret
// name is also a plain variable.
func checkNoSecrets(t *testing.T, cfg *Config, env []EnvVar) {
	t.Helper()
	for _, v := range env {
		if slices.Contains(cfg.SecretNames(), v.Name) {
			t.Errorf("secret %s is a plain env var", v.Name)
		}
		if strings.Contains(v.Name, "URL") {
			u, err := url.Parse(v.Value)
			if err != nil {
				t.Errorf("%s=%q: %v", v.Name, v.Value, err)
				continue
			}
			if _, has := u.User.Password(); has {
				t.Errorf("%s carries a password: %s", v.Name, v.Value)
			}
		}
	}
}

func TestEnvValues(t *testing.T) {
	c := Defaults()
	c.Stack, c.Target = "staging", TargetAWS
	c.App.Env = map[string]string{"FEATURE_X": "on"}
	c.App.Secrets = []string{"STRIPE_KEY"}
	got := map[string]string{}
	for _, v := range c.Env(Endpoints{DatabaseHost: "db", DatabasePort: 5433, RedisHost: "cache", RedisPort: 6380}) {
		got[v.Name] = v.Value
	}
	want := map[string]string{
		"APP_ENV": "staging", "PORT": "8080", "LOG_LEVEL": "info", "SHUTDOWN_TIMEOUT": "20s", "DRAIN_DELAY": "2s",
		"REQUEST_TIMEOUT": "10s", "HTTP_IDLE_TIMEOUT": "75s",
		"DATABASE_URL":       "postgres://shipyard@db:5433/shipyard?sslmode=verify-full&sslrootcert=/etc/ssl/certs/rds-global-bundle.pem",
		"DATABASE_MAX_CONNS": "10", "REDIS_URL": "rediss://cache:6380/0", "RATE_LIMIT_PER_MINUTE": "600",
		"TRUST_PROXY": "true",
		"FEATURE_X":   "on",
		// Spans to the task's collector sidecar, 10 % of the traces
		// started here.
		"OTEL_SDK_DISABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318",
		"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
		"OTEL_TRACES_SAMPLER_ARG": "0.1", "OTEL_SERVICE_NAME": "shipyard",
		"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=staging",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("Env = %v", got)
	}
	if !slices.Equal(c.SecretNames(), []string{"DATABASE_PASSWORD", "REDIS_PASSWORD", "STRIPE_KEY"}) {
		t.Errorf("SecretNames = %v", c.SecretNames())
	}

	c.Target = TargetDocker
	for _, v := range c.Env(LocalEndpoints) {
		switch v.Name {
		case "DATABASE_URL":
			if v.Value != "postgres://shipyard@postgres:5432/shipyard?sslmode=verify-full&sslrootcert=/etc/shipyard/postgres-ca/ca.pem" {
				t.Errorf("docker DATABASE_URL = %s", v.Value)
			}
		case "REDIS_URL":
			if v.Value != "redis://redis:6379/0" {
				t.Errorf("docker REDIS_URL = %s", v.Value)
			}
		case "OTEL_EXPORTER_OTLP_ENDPOINT":
			if v.Value != "http://jaeger:4318" {
				t.Errorf("docker OTEL_EXPORTER_OTLP_ENDPOINT = %s, want the stack's Jaeger", v.Value)
			}
		}
	}

	c.Tracing = Tracing{Enabled: false, SamplingRatio: 0.25}
	for _, v := range c.Env(LocalEndpoints) {
		if v.Name == "OTEL_SDK_DISABLED" && v.Value != "true" || v.Name == "OTEL_TRACES_SAMPLER_ARG" && v.Value != "0.25" {
			t.Errorf("tracing off: %s = %s", v.Name, v.Value)
		}
	}
}

func TestDerivedEnvWinsOverAppEnv(t *testing.T) {
	c := Defaults()
	c.App.Env = map[string]string{"PORT": "1"}
	for _, v := range c.Env(LocalEndpoints) {
		if v.Name == "PORT" && v.Value != "8080" {
			t.Errorf("PORT = %s", v.Value)
		}
	}
}

func TestReservedEnvNamesAreTheDerivedNames(t *testing.T) {
	want := append(slices.Clone(documentedEnv), SecretDatabasePassword, SecretRedisPassword)
	sort.Strings(want)
	if got := ReservedEnvNames(); !slices.Equal(got, want) {
		t.Errorf("ReservedEnvNames = %v, want %v", got, want)
	}
	plain, secret := EnvSpecs()
	for _, s := range append(plain, secret...) {
		if s.Doc == "" || !ValidEnvName(s.Name) {
			t.Errorf("EnvSpec %q: bad name or no doc", s.Name)
		}
	}
}

// The aws stacks' DATABASE_URL names RDSCABundlePath: the image must hold
// the pinned bundle there.
func TestTheImageHoldsTheRDSCABundleWhereDatabaseURLNamesIt(t *testing.T) {
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	want := "COPY app/internal/db/rdsca/global-bundle.pem " + RDSCABundlePath + "\n"
	if !strings.Contains(string(b), want) {
		t.Errorf("the Dockerfile lacks %q", strings.TrimSpace(want))
	}
}
