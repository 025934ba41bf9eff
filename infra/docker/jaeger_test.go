package docker_test

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	dockerinfra "github.com/shipyard-kit/shipyard/infra/docker"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

func TestJaegerIsPublishedOnLoopbackOnlyAndReachableByTheAppOnTheNetwork(t *testing.T) {
	cfg := loadLocal(t)
	cfg.Local.JaegerPort = 26686
	g := mustRun(t, cfg)
	n := dockerinfra.NamesFor(cfg.Stack)
	j := container(t, g, n.Container("jaeger"))
	if count(j, "ports") != 1 || j.String("ports.0.ip") != "127.0.0.1" || int(j.Number("ports.0.external")) != 26686 || int(j.Number("ports.0.internal")) != dockerinfra.JaegerUIPort {
		t.Errorf("published on %s:%v→%v, want only the UI on 127.0.0.1:26686", j.String("ports.0.ip"), j.Number("ports.0.external"), j.Number("ports.0.internal"))
	}
	if g.Outputs["jaegerUrl"] != "http://127.0.0.1:26686" {
		t.Errorf("jaegerUrl = %v", g.Outputs["jaegerUrl"])
	}
	if j.String("networksAdvanced.0.aliases.0") != stackconfig.LocalJaegerHost {
		t.Errorf("network alias %q, want %q (the host of OTEL_EXPORTER_OTLP_ENDPOINT)", j.String("networksAdvanced.0.aliases.0"), stackconfig.LocalJaegerHost)
	}
	if j.String("user") != dockerinfra.JaegerUser {
		t.Errorf("jaeger runs as %q, want the unprivileged %s", j.String("user"), dockerinfra.JaegerUser)
	}
	if got := upload(t, j, dockerinfra.JaegerConfigPath); got != dockerinfra.JaegerConfig {
		t.Error("the committed jaeger.yaml is not what the container gets")
	}
	// Every app process sends its spans there.
	for _, name := range []string{n.Web(1), n.Web(2), n.Container("worker"), n.Container("clock")} {
		env := envMap(t, container(t, g, name))
		if env["OTEL_EXPORTER_OTLP_ENDPOINT"] != "http://jaeger:4318" || env["OTEL_SDK_DISABLED"] != "false" {
			t.Errorf("%s does not send its spans to the stack's Jaeger", name)
		}
	}
}

// TestJaegersConfigListensOnTheNetworkAndKeepsTracesInMemory reads the
// committed YAML the way Jaeger v2 does (an OpenTelemetry Collector
// config).
func TestJaegersConfigListensOnTheNetworkAndKeepsTracesInMemory(t *testing.T) {
	var c struct {
		Service struct {
			Extensions []string `yaml:"extensions"`
			Pipelines  map[string]struct {
				Receivers []string `yaml:"receivers"`
				Exporters []string `yaml:"exporters"`
			} `yaml:"pipelines"`
		} `yaml:"service"`
		Extensions struct {
			Storage struct {
				Backends map[string]struct {
					Memory *struct {
						MaxTraces int `yaml:"max_traces"`
					} `yaml:"memory"`
				} `yaml:"backends"`
			} `yaml:"jaeger_storage"`
			Query struct {
				Storage struct {
					Traces string `yaml:"traces"`
				} `yaml:"storage"`
				HTTP struct {
					Endpoint string `yaml:"endpoint"`
				} `yaml:"http"`
			} `yaml:"jaeger_query"`
		} `yaml:"extensions"`
		Receivers struct {
			OTLP struct {
				Protocols struct {
					HTTP struct {
						Endpoint string `yaml:"endpoint"`
					} `yaml:"http"`
				} `yaml:"protocols"`
			} `yaml:"otlp"`
		} `yaml:"receivers"`
		Exporters struct {
			Storage struct {
				TraceStorage string `yaml:"trace_storage"`
			} `yaml:"jaeger_storage_exporter"`
		} `yaml:"exporters"`
	}
	if err := yaml.Unmarshal([]byte(dockerinfra.JaegerConfig), &c); err != nil {
		t.Fatal(err)
	}
	store := c.Extensions.Query.Storage.Traces
	if b, ok := c.Extensions.Storage.Backends[store]; !ok || b.Memory == nil || b.Memory.MaxTraces <= 0 {
		t.Errorf("the query reads %q, which is not an in-memory store with max_traces", store)
	}
	if c.Exporters.Storage.TraceStorage != store {
		t.Errorf("spans are written to %q, read from %q", c.Exporters.Storage.TraceStorage, store)
	}
	if got := c.Receivers.OTLP.Protocols.HTTP.Endpoint; got != "0.0.0.0:4318" {
		t.Errorf("OTLP/HTTP listens on %q, want 0.0.0.0:4318 (the app's OTEL_EXPORTER_OTLP_ENDPOINT port, on the network)", got)
	}
	if got := c.Extensions.Query.HTTP.Endpoint; !strings.HasPrefix(got, "0.0.0.0:") || !strings.HasSuffix(got, ":16686") {
		t.Errorf("the UI listens on %q, want 0.0.0.0:16686 (published by Docker on 127.0.0.1 only)", got)
	}
	p := c.Service.Pipelines["traces"]
	if len(p.Receivers) != 1 || p.Receivers[0] != "otlp" || len(p.Exporters) != 1 || p.Exporters[0] != "jaeger_storage_exporter" {
		t.Errorf("traces pipeline %+v", p)
	}
}
