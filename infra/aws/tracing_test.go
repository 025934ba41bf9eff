package aws_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	awsinfra "github.com/shipyard-kit/shipyard/infra/aws"
	"github.com/shipyard-kit/shipyard/infra/aws/awsmock"
	"github.com/shipyard-kit/shipyard/infra/pulumitest"
)

// xrayActions returns the X-Ray actions a role policy allows.
func xrayActions(t *testing.T, p pulumitest.Resource) []string {
	t.Helper()
	var doc struct {
		Statement []struct {
			Effect   string
			Action   []string
			Resource []string
		}
	}
	if err := json.Unmarshal([]byte(p.String("policy")), &doc); err != nil {
		t.Fatalf("%s: %v", p.Name, err)
	}
	var out []string
	for _, s := range doc.Statement {
		for _, a := range s.Action {
			if strings.HasPrefix(a, "xray:") && s.Effect == "Allow" {
				out = append(out, a)
			}
		}
	}
	return out
}

func TestEveryServiceTaskSendsItsSpansThroughTheCollectorToXRay(t *testing.T) {
	for _, stack := range awsStacks {
		t.Run(stack, func(t *testing.T) {
			cfg := loadConfig(t, stack)
			g := graph(t, stack, true)
			for _, td := range g.ByType(tTask) {
				var collector, app map[string]any
				for _, c := range containerDefs(t, td) {
					switch c["name"] {
					case awsinfra.CollectorContainer:
						collector = c
					case awsinfra.AppContainer:
						app = c
					}
				}
				if app == nil { // the release task: migrate only, no spans
					if collector != nil {
						t.Errorf("%s: the migrate-only task runs a collector", td.Name)
					}
					continue
				}
				if collector == nil {
					t.Fatalf("%s: no collector sidecar", td.Name)
				}
				env := map[string]string{}
				for _, e := range app["environment"].([]any) {
					m := e.(map[string]any)
					env[m["name"].(string)] = m["value"].(string)
				}
				if env["OTEL_EXPORTER_OTLP_ENDPOINT"] != "http://localhost:4318" || env["OTEL_SDK_DISABLED"] != "false" {
					t.Errorf("%s: the app sends its spans to %q (disabled %q), want the sidecar on localhost:4318", td.Name, env["OTEL_EXPORTER_OTLP_ENDPOINT"], env["OTEL_SDK_DISABLED"])
				}
				if want := strconv.FormatFloat(cfg.Tracing.SamplingRatio, 'g', -1, 64); env["OTEL_TRACES_SAMPLER_ARG"] != want || env["OTEL_TRACES_SAMPLER"] != "parentbased_traceidratio" {
					t.Errorf("%s: sampler %s(%s), want parentbased_traceidratio(%s) from tracing.samplingRatio", td.Name, env["OTEL_TRACES_SAMPLER"], env["OTEL_TRACES_SAMPLER_ARG"], want)
				}
				dependsOnCollector := false
				for _, d := range app["dependsOn"].([]any) {
					dependsOnCollector = dependsOnCollector || d.(map[string]any)["containerName"] == awsinfra.CollectorContainer
				}
				if !dependsOnCollector {
					t.Errorf("%s: the app does not start after the collector", td.Name)
				}
				var conf string
				for _, e := range collector["environment"].([]any) {
					if m := e.(map[string]any); m["name"] == "AOT_CONFIG_CONTENT" {
						conf = m["value"].(string)
					}
				}
				var c struct {
					Receivers struct {
						OTLP struct {
							Protocols map[string]struct{ Endpoint string } `yaml:"protocols"`
						} `yaml:"otlp"`
					} `yaml:"receivers"`
					Exporters struct {
						XRay struct{ Region string } `yaml:"awsxray"`
					} `yaml:"exporters"`
					Service struct {
						Pipelines map[string]struct{ Receivers, Exporters []string } `yaml:"pipelines"`
					} `yaml:"service"`
				}
				if err := yaml.Unmarshal([]byte(conf), &c); err != nil {
					t.Fatalf("%s: AOT_CONFIG_CONTENT: %v\n%s", td.Name, err, conf)
				}
				if len(c.Receivers.OTLP.Protocols) != 1 || c.Receivers.OTLP.Protocols["http"].Endpoint != "127.0.0.1:4318" {
					t.Errorf("%s: the collector receives %+v, want OTLP/HTTP on 127.0.0.1:4318 only", td.Name, c.Receivers.OTLP.Protocols)
				}
				if c.Exporters.XRay.Region != cfg.AWS.Region || strings.Join(c.Service.Pipelines["traces"].Exporters, ",") != "awsxray" {
					t.Errorf("%s: traces go to %v in %q, want awsxray in %s", td.Name, c.Service.Pipelines["traces"].Exporters, c.Exporters.XRay.Region, cfg.AWS.Region)
				}
			}
			// Each service's task role may write traces, exactly; the
			// release task's may not.
			for _, p := range g.ByType(tRolePol) {
				if !strings.HasSuffix(p.Name, "-task") {
					if got := xrayActions(t, p); len(got) != 0 {
						t.Errorf("%s allows %v", p.Name, got)
					}
					continue
				}
				want := "xray:PutTraceSegments"
				if strings.HasPrefix(p.Name, "release") || strings.Contains(p.Name, "migrate") {
					want = ""
				}
				if got := strings.Join(xrayActions(t, p), ","); got != want {
					t.Errorf("%s: X-Ray actions %q, want %q", p.Name, got, want)
				}
			}
			if u := g.Outputs[awsinfra.OutputTracesURL]; u != awsinfra.TracesURL(cfg.AWS.Region, stack) || !strings.Contains(u.(string), "#xray:traces") {
				t.Errorf("tracesUrl %v", u)
			}
		})
	}
}

func TestTracingOffRunsNoCollectorAndGrantsNoXRay(t *testing.T) {
	cfg := awsmock.Released(loadConfig(t, "staging"))
	cfg.Tracing.Enabled = false
	g, err := awsmock.RunConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, td := range g.ByType(tTask) {
		for _, c := range containerDefs(t, td) {
			if c["name"] == awsinfra.CollectorContainer {
				t.Errorf("%s runs the collector", td.Name)
			}
			if c["name"] != awsinfra.AppContainer {
				continue
			}
			for _, e := range c["environment"].([]any) {
				if m := e.(map[string]any); m["name"] == "OTEL_SDK_DISABLED" && m["value"] != "true" {
					t.Errorf("%s: OTEL_SDK_DISABLED=%v", td.Name, m["value"])
				}
			}
		}
	}
	for _, p := range g.ByType(tRolePol) {
		if got := xrayActions(t, p); len(got) != 0 {
			t.Errorf("%s allows %v", p.Name, got)
		}
	}
	if g.Outputs[awsinfra.OutputTracesURL] != "" {
		t.Errorf("tracesUrl %v with tracing off", g.Outputs[awsinfra.OutputTracesURL])
	}
}
