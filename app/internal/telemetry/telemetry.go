// Package telemetry is the app's OpenTelemetry tracing: the SDK set up from
// the config (OTLP over HTTP, a batching TracerProvider, W3C trace context
// and baggage), and the hooks that trace what the app does: HTTP requests
// (named by chi route pattern), pgx queries, go-redis commands, asynq
// enqueues and job runs (trace context carried in the task's headers).
//
// Tracing off is a Tracing whose hooks return what they are given: no
// span, no propagator, no per-request cost.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/shipyard-kit/shipyard/app/internal/config"
)

// instrumentationName names the tracer of the app's own spans (HTTP
// renaming, enqueue, job runs).
const instrumentationName = "github.com/shipyard-kit/shipyard/app/internal/telemetry"

// Tracing is the process's tracing; the zero value (and Off) is off.
type Tracing struct {
	tp     trace.TracerProvider
	sdk    *sdktrace.TracerProvider
	prop   propagation.TextMapPropagator
	tracer trace.Tracer
	// sampler and ids are the provider's: HTTP decides with them whether a
	// request is traced before otelhttp does any work for it.
	sampler sdktrace.Sampler
	ids     *timeIDs
}

// Off returns tracing turned off.
func Off() *Tracing { return &Tracing{} }

// New sets up the SDK from cfg: spans are batched and POSTed as OTLP/HTTP
// protobuf to cfg.Endpoint, sampled by cfg.Sampler, with X-Ray-compatible
// trace ids and a resource made of the service name, the resource
// attributes, the version and the process type. When cfg is off it returns Off(). Export errors are logged
// on log, at most once a minute.
func New(ctx context.Context, cfg config.Tracing, process, version string, log *slog.Logger) (*Tracing, error) {
	if !cfg.Enabled() {
		return Off(), nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(cfg.Endpoint))
	if err != nil {
		return nil, fmt.Errorf("tracing: otlp exporter: %w", err)
	}
	attrs := []attribute.KeyValue{
		semconv.ServiceName(cfg.ServiceName),
		semconv.ServiceVersion(version),
		attribute.String("shipyard.process", process),
	}
	for _, kv := range cfg.ResourceAttributes {
		if kv[0] == string(semconv.ServiceNameKey) {
			continue // OTEL_SERVICE_NAME wins, as the spec says
		}
		attrs = append(attrs, attribute.String(kv[0], kv[1]))
	}
	res := resource.NewWithAttributes(semconv.SchemaURL, attrs...)
	otel.SetErrorHandler(rateLimitedErrors(log, time.Minute))
	return newTracing(sdktrace.NewBatchSpanProcessor(exp), Sampler(cfg.Sampler, cfg.SamplerArg), res), nil
}

// NewWithProcessor returns tracing set up as New sets it up (sampler, trace
// ids, propagators) whose spans go to sp (tests pass one recording to
// memory), with the SDK's default resource.
func NewWithProcessor(sp sdktrace.SpanProcessor, sampler sdktrace.Sampler) *Tracing {
	return newTracing(sp, sampler, resource.Default())
}

func newTracing(sp sdktrace.SpanProcessor, sampler sdktrace.Sampler, res *resource.Resource) *Tracing {
	ids := newTimeIDs()
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(sp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sampler),
		// Trace ids that start with their start time in Unix seconds: X-Ray
		// drops others (its exporter in the ADOT collector sends them as
		// they are); still valid W3C ids, so Jaeger shows the same ones.
		sdktrace.WithIDGenerator(ids),
	)
	return &Tracing{
		tp:      tp,
		sdk:     tp,
		prop:    propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		tracer:  tp.Tracer(instrumentationName),
		sampler: sampler,
		ids:     ids,
	}
}

// Sampler is the SDK sampler an OTEL_TRACES_SAMPLER name and ratio stand
// for (config.TracesSamplers; an unknown name is parentbased_always_on).
func Sampler(name string, arg float64) sdktrace.Sampler {
	switch name {
	case "always_on":
		return sdktrace.AlwaysSample()
	case "always_off":
		return sdktrace.NeverSample()
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(arg)
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample())
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(arg))
	default:
		return sdktrace.ParentBased(sdktrace.AlwaysSample())
	}
}

// Enabled reports whether t makes spans.
func (t *Tracing) Enabled() bool { return t != nil && t.tp != nil }

// Shutdown exports the spans still batched and stops the exporter, within
// ctx.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.sdk == nil {
		return nil
	}
	if err := t.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: flushing spans: %w", err)
	}
	return nil
}

// rateLimitedErrors logs the SDK's errors (an unreachable collector fails
// every batch) at most once per interval, counting the ones left out.
func rateLimitedErrors(log *slog.Logger, every time.Duration) otel.ErrorHandler {
	var last atomic.Int64
	var suppressed atomic.Int64
	return otel.ErrorHandlerFunc(func(err error) {
		now := time.Now().UnixNano()
		prev := last.Load()
		if prev != 0 && now-prev < int64(every) || !last.CompareAndSwap(prev, now) {
			suppressed.Add(1)
			return
		}
		var uerr interface{ Unwrap() []error }
		if errors.As(err, &uerr) && len(uerr.Unwrap()) == 1 {
			err = uerr.Unwrap()[0]
		}
		log.Warn("tracing: exporting spans failed", "err", err, "suppressed", suppressed.Swap(0))
	})
}
