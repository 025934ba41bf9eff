package telemetry

import (
	"context"
	"fmt"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
)

// Pgx returns the pgx tracer to set as ConnConfig.Tracer: a span per
// query, batch, prepare and connect, named by the SQL operation
// ("SELECT"), with the statement text (placeholders, never the
// arguments). Only inside a recorded span: background work with no trace
// (pool upkeep, a sweep's polling) makes none. Off, it returns nil.
func (t *Tracing) Pgx() pgx.QueryTracer {
	if !t.Enabled() {
		return nil
	}
	return otelpgx.NewTracer(
		otelpgx.WithTracerProvider(childOnly{t.tp}),
		otelpgx.WithMeterProvider(noop.NewMeterProvider()),
		otelpgx.WithDisableAcquireTracer(),
	)
}

// Redis adds a span per command to rdb, named by the command ("get",
// "evalsha"); the command's arguments (keys hold token hashes) are left
// out. Only inside a recorded span, as for Pgx. Off, it does nothing.
//
// Pipelines are not traced: the app's one pipeline is the cache's batch
// of concurrent GETs' MGETs (cache.Batcher), sent on a context of its own
// because it serves many requests at once, so it could be the child of no
// single request's span; redisotel would still format every command of
// every batch (its span name) before finding that out, for nothing.
func (t *Tracing) Redis(rdb redis.UniversalClient) error {
	if !t.Enabled() {
		return nil
	}
	if err := redisotel.InstrumentTracing(rdb,
		redisotel.WithTracerProvider(childOnly{t.tp}),
		redisotel.WithDBStatement(false),
		redisotel.WithCallerEnabled(false),
		redisotel.WithCommandsFilter(func([]redis.Cmder) bool { return true }),
	); err != nil {
		return fmt.Errorf("tracing: redis: %w", err)
	}
	return nil
}

// childOnly is a TracerProvider whose tracers start a span only under a
// recording parent: a client library's call outside any trace (or in an
// unsampled one) costs a context lookup, and makes no one-span root.
type childOnly struct{ trace.TracerProvider }

func (p childOnly) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return childOnlyTracer{p.TracerProvider.Tracer(name, opts...)}
}

type childOnlyTracer struct{ trace.Tracer }

func (t childOnlyTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if !trace.SpanFromContext(ctx).IsRecording() {
		// The no-op span: ending it (or recording an error on it)
		// touches nothing.
		return ctx, trace.SpanFromContext(context.Background())
	}
	return t.Tracer.Start(ctx, name, opts...)
}
