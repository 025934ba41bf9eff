package config_test

import (
	"strings"
	"testing"

	"github.com/shipyard-kit/shipyard/app/internal/config"
)

func TestTracingFromTheStandardVariables(t *testing.T) {
	for _, tc := range []struct {
		name     string
		set      map[string]string
		endpoint string
		sampler  string
		arg      float64
	}{
		{"no endpoint is tracing off", nil, "", "parentbased_always_on", 1},
		{"OTEL_EXPORTER_OTLP_ENDPOINT is the base of /v1/traces", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4318"}, "http://jaeger:4318/v1/traces", "parentbased_always_on", 1},
		{"a trailing slash on the base is not doubled", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318/"}, "http://localhost:4318/v1/traces", "parentbased_always_on", 1},
		{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as it is and wins", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://b/traces"}, "https://b/traces", "parentbased_always_on", 1},
		{"the sampler and its ratio come from OTEL_TRACES_SAMPLER(_ARG)", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.05"}, "http://a:4318/v1/traces", "parentbased_traceidratio", 0.05},
		{"OTEL_SDK_DISABLED=true turns it off", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_SDK_DISABLED": "true"}, "", "parentbased_always_on", 1},
		{"OTEL_TRACES_EXPORTER=none turns it off", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_TRACES_EXPORTER": "none"}, "", "parentbased_always_on", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := valid()
			for k, v := range tc.set {
				e[k] = v
			}
			c, err := config.Load(env(e), all)
			if err != nil {
				t.Fatal(err)
			}
			tr := c.Tracing
			if tr.Endpoint != tc.endpoint || tr.Enabled() != (tc.endpoint != "") || tr.Sampler != tc.sampler || tr.SamplerArg != tc.arg {
				t.Fatalf("got %+v", tr)
			}
		})
	}
	t.Run("the service name and resource attributes are read, values percent-decoded", func(t *testing.T) {
		e := valid()
		e["OTEL_SERVICE_NAME"] = "notes"
		e["OTEL_RESOURCE_ATTRIBUTES"] = "deployment.environment.name=prod,team=a%20b"
		c, err := config.Load(env(e), all)
		if err != nil {
			t.Fatal(err)
		}
		if c.Tracing.ServiceName != "notes" || len(c.Tracing.ResourceAttributes) != 2 || c.Tracing.ResourceAttributes[1] != [2]string{"team", "a b"} {
			t.Fatalf("%+v", c.Tracing)
		}
	})
}

func TestTracingErrorsNameTheVariable(t *testing.T) {
	for _, tc := range []struct {
		name, varName, value string
		want                 string // what the message says is allowed
	}{
		{"an endpoint that is not a URL", "OTEL_EXPORTER_OTLP_ENDPOINT", "jaeger:4318", `http(s) URL`},
		{"a gRPC-only scheme", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "grpc://jaeger:4317", `http(s) URL`},
		{"an unknown sampler", "OTEL_TRACES_SAMPLER", "xray", `parentbased_traceidratio`},
		{"a ratio above 1", "OTEL_TRACES_SAMPLER_ARG", "5", `from 0 to 1`},
		{"a ratio in words", "OTEL_TRACES_SAMPLER_ARG", "half", `from 0 to 1`},
		{"a ratio of NaN", "OTEL_TRACES_SAMPLER_ARG", "NaN", `from 0 to 1`},
		{"a ratio of nan in lower case", "OTEL_TRACES_SAMPLER_ARG", "nan", `from 0 to 1`},
		{"a ratio of Inf", "OTEL_TRACES_SAMPLER_ARG", "Inf", `from 0 to 1`},
		{"a ratio of -Inf", "OTEL_TRACES_SAMPLER_ARG", "-Inf", `from 0 to 1`},
		{"the gRPC protocol", "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", `http/protobuf`},
		{"an unknown exporter", "OTEL_TRACES_EXPORTER", "zipkin", `"otlp" or "none"`},
		{"resource attributes without =", "OTEL_RESOURCE_ATTRIBUTES", "a=b,c", `key=value pairs`},
		{"a bad OTEL_SDK_DISABLED", "OTEL_SDK_DISABLED", "perhaps", `"true" or "false"`},
	} {
		t.Run(tc.name+" is rejected naming "+tc.varName, func(t *testing.T) {
			e := valid()
			e[tc.varName] = tc.value
			_, err := config.Load(env(e), all)
			if err == nil || !strings.Contains(err.Error(), tc.varName+":") {
				t.Fatalf("error does not name %s: %v", tc.varName, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error does not say %s: %v", tc.want, err)
			}
		})
	}
}

func TestTracingEndpointErrorsShowTheValue(t *testing.T) {
	for _, tc := range []struct {
		name, varName, value string
		want                 []string
	}{
		{"an endpoint without a scheme is shown as given", "OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318",
			[]string{`must be an http(s) URL such as "http://localhost:4318" (got "localhost:4318")`}},
		{"a refused endpoint's password is masked, the rest shown", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "grpc://u:S3cr3t@collector:4317",
			[]string{`(got "grpc://u:xxxxx@collector:4317")`}},
		{"an endpoint url.Parse refuses is shown with its password masked", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://u:S3cr3t%zz@collector:4318",
			[]string{`(got "http://u:xxxxx@collector:4318")`}},
		{"a password with a slash stays masked", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://u:S3cr3t/x@collector:4318",
			[]string{`(got "http://u:xxxxx@collector:4318")`}},
		{"a query string is named as the problem, its values masked", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318?api_key=S3cr3t&x",
			[]string{`must have no query string`, `(got "http://collector:4318?api_key=xxxxx&xxxxx")`}},
		{"a fragment is named as the problem, masked: the appended /v1/traces would vanish into it", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318#token",
			[]string{`or fragment ("#…")`, `(got "http://collector:4318#xxxxx")`}},
		{"a fragment on the traces endpoint is refused too", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://collector/v1/traces#",
			[]string{`must have no query string ("?…") or fragment`}},
		{"a query on a value without a scheme is named too", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "collector:4318/v1/traces?token=S3cr3t",
			[]string{`with no query string`, `(got "collector:4318/v1/traces?token=xxxxx")`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := valid()
			e[tc.varName] = tc.value
			_, err := config.Load(env(e), all)
			if err == nil || !strings.Contains(err.Error(), tc.varName+":") {
				t.Fatalf("error does not name %s: %v", tc.varName, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %s: %v", w, err)
				}
			}
			if strings.Contains(err.Error(), "S3cr3t") {
				t.Errorf("secret in the error: %v", err)
			}
		})
	}
}
