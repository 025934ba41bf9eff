package aws

import (
	"fmt"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

// Traces on aws: every task of a service runs the AWS Distro for
// OpenTelemetry collector as a sidecar. The app sends its spans to it over
// OTLP/HTTP on localhost:4318 (OTEL_EXPORTER_OTLP_ENDPOINT, from
// stackconfig.Env); the collector adds the ECS resource attributes and
// sends them to X-Ray with PutTraceSegments, signing with the task role.
// Why a sidecar and not X-Ray's OTLP endpoint: the endpoint needs
// Transaction Search enabled for the whole account (a setting outside the
// stack) and SigV4 signing, which the Go SDK lacks; the sidecar keeps the
// app's export path the same as on the local stack (OTLP to a local
// collector) and needs one IAM action. Sampling is the app's (parent-based
// ratio from tracing.samplingRatio), so the collector asks X-Ray for no
// sampling rules.
const (
	// CollectorContainer is the sidecar's container name.
	CollectorContainer = "otel_collector"
	// CollectorVersion pins the ADOT collector image.
	CollectorVersion = "v0.45.1"
	CollectorImage   = "public.ecr.aws/aws-observability/aws-otel-collector:" + CollectorVersion
	// CollectorUser is the image's own unprivileged user.
	CollectorUser = "10001"
	// collectorHealthPort is the health_check extension's port, which the
	// image's /healthcheck probes.
	collectorHealthPort = 13133
)

// XRayActions are exactly what the collector's awsxray exporter calls:
// PutTraceSegments. X-Ray has no resource-level permissions for it.
var XRayActions = []string{"xray:PutTraceSegments"}

// collectorConfig is the collector's configuration (an OpenTelemetry
// Collector YAML), passed in AOT_CONFIG_CONTENT.
type collectorConfig struct {
	Extensions map[string]any `yaml:"extensions"`
	Receivers  map[string]any `yaml:"receivers"`
	Processors map[string]any `yaml:"processors"`
	Exporters  map[string]any `yaml:"exporters"`
	Service    struct {
		Extensions []string                     `yaml:"extensions"`
		Pipelines  map[string]collectorPipeline `yaml:"pipelines"`
		Telemetry  map[string]map[string]string `yaml:"telemetry"`
	} `yaml:"service"`
}

type collectorPipeline struct {
	Receivers  []string `yaml:"receivers"`
	Processors []string `yaml:"processors"`
	Exporters  []string `yaml:"exporters"`
}

type endpoint struct {
	Endpoint string `yaml:"endpoint"`
}

// CollectorConfig is the sidecar's YAML: OTLP/HTTP on localhost only (the
// task's own containers; nothing in the VPC can send to it), the ECS
// resource detector, batches of at most 50 spans or 1 s, and X-Ray in the
// stack's region, with the HTTP route, the job type and the stack indexed
// as annotations (searchable in X-Ray filter expressions).
func CollectorConfig(region string) (string, error) {
	var c collectorConfig
	local := func(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }
	c.Extensions = map[string]any{"health_check": endpoint{local(collectorHealthPort)}}
	c.Receivers = map[string]any{"otlp": map[string]any{"protocols": map[string]any{"http": endpoint{local(stackconfig.OTLPHTTPPort)}}}}
	c.Processors = map[string]any{
		"resourcedetection": map[string]any{"detectors": []string{"env", "ecs"}, "timeout": "2s", "override": false},
		"batch/traces":      map[string]any{"timeout": "1s", "send_batch_size": 50},
	}
	c.Exporters = map[string]any{"awsxray": map[string]any{
		"region":             region,
		"indexed_attributes": []string{"http.route", "asynq.task.type", "deployment.environment.name"},
	}}
	c.Service.Extensions = []string{"health_check"}
	c.Service.Pipelines = map[string]collectorPipeline{"traces": {
		Receivers: []string{"otlp"}, Processors: []string{"resourcedetection", "batch/traces"}, Exporters: []string{"awsxray"},
	}}
	c.Service.Telemetry = map[string]map[string]string{"logs": {"level": "warn"}, "metrics": {"level": "none"}}
	b, err := yaml.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("collector config: %w", err)
	}
	return string(b), nil
}

// collectorContainer is the ADOT collector sidecar. Not essential: when
// it stops, the app keeps serving and only its spans are lost (the SDK
// drops them after its retries).
func collectorContainer(s taskSpec) (ContainerDefinition, error) {
	conf, err := CollectorConfig(s.Region)
	if err != nil {
		return ContainerDefinition{}, err
	}
	return ContainerDefinition{
		Name:                   CollectorContainer,
		Image:                  CollectorImage,
		Essential:              false,
		User:                   CollectorUser,
		ReadonlyRootFilesystem: true,
		MemoryReservation:      64,
		Environment:            []stackconfig.EnvVar{{Name: "AOT_CONFIG_CONTENT", Value: conf}},
		LogConfiguration: &LogConfiguration{LogDriver: "awslogs", Options: map[string]string{
			"awslogs-group":         s.RouterLogGroup,
			"awslogs-region":        s.Region,
			"awslogs-stream-prefix": string(s.Process) + "-" + CollectorContainer,
		}},
		HealthCheck: &HealthCheck{
			Command: []string{"CMD", "/healthcheck"}, Interval: 15, Timeout: 5, Retries: 3, StartPeriod: 10,
		},
		MountPoints:     []MountPoint{{SourceVolume: tmpVolume, ContainerPath: "/tmp"}},
		LinuxParameters: &LinuxParameters{InitProcessEnabled: true, Capabilities: &Capabilities{Drop: []string{"ALL"}}},
	}, nil
}
