package telemetry

import (
	"context"
	"net/http"
	"sync"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// opsPaths are the ops endpoints (health checks, scrapes): probed every few
// seconds by Docker, the load balancer and Prometheus, they are not traced
// (each would be a one-span trace drowning the requests that matter).
var opsPaths = map[string]bool{"/livez": true, "/readyz": true, "/metrics": true, "/version": true}

// HTTP traces every request to h, a chi router, except the ops endpoints,
// with the standard instrumentation (otelhttp): one server span per
// request, child of an incoming W3C traceparent, with the HTTP semantic
// conventions' attributes. The span is named "{method} {route pattern}"
// (e.g. "GET /api/v1/notes/{id}") once chi has routed the request, or
// "{method}" alone when no route matched ("HTTP" for a non-standard
// method), so a span name never holds an id from the path. Off, it
// returns h: no middleware at all.
//
// Whether a request is traced is decided first, by the provider's own
// sampler: otelhttp computes its attributes (and wraps the request, its
// body and its response writer) before the sampler runs, which at the
// stacks' default ratio would be spent on nine requests of ten for
// nothing. A request the sampler drops goes straight to h, as if
// untraced (its queries, commands and log lines would not be recorded
// anyway, and a job it enqueues is sampled on its own); one it keeps goes
// through otelhttp with the trace id the decision was made on, so the
// SDK's sampler, asked again, decides the same (every sampler of
// config.TracesSamplers decides from the parent and the trace id alone).
//
// otelhttp's metrics go to a no-op MeterProvider: the app's HTTP metrics
// are Prometheus's (httpapi), and recording otelhttp's three histograms
// per request is what tripled its cost when it was first tried.
func (t *Tracing) HTTP(h http.Handler) http.Handler {
	if !t.Enabled() {
		return h
	}
	traced := otelhttp.NewHandler(routeNames(h), "",
		otelhttp.WithTracerProvider(t.tp),
		otelhttp.WithPropagators(propagation.NewCompositeTextMapPropagator()),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
	)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if opsPaths[r.URL.Path] {
			h.ServeHTTP(w, r)
			return
		}
		// The incoming trace context and baggage are extracted here, once
		// (otelhttp, given no propagator, starts its span in this
		// context), and only when the request has their headers: the
		// propagators look them up by their lowercase names, which costs an
		// allocation each (net/http canonicalizes the key).
		ctx := r.Context()
		_, hasParent := r.Header["Traceparent"]
		_, hasBaggage := r.Header["Baggage"]
		if hasParent || hasBaggage {
			ctx = t.prop.Extract(ctx, propagation.HeaderCarrier(r.Header))
		}
		params := sdktrace.SamplingParameters{ParentContext: ctx, Name: spanMethod(r.Method), Kind: trace.SpanKindServer}
		parent := trace.SpanContextFromContext(ctx)
		if parent.IsValid() {
			params.TraceID = parent.TraceID()
		} else {
			params.TraceID = t.ids.newTraceID()
		}
		if t.sampler.ShouldSample(params).Decision == sdktrace.Drop {
			h.ServeHTTP(w, r)
			return
		}
		// One copy of the request carries what the traced path needs: the
		// routing context chi will fill (see routeNames) and, for a new
		// trace, the id the decision was made on.
		rctx := routeContexts.Get().(*chi.Context)
		rctx.Reset()
		ctx = context.WithValue(ctx, chi.RouteCtxKey, rctx)
		if !parent.IsValid() {
			ctx = withTraceID(ctx, params.TraceID)
		}
		traced.ServeHTTP(w, r.WithContext(ctx))
		routeContexts.Put(rctx)
	})
}

// routeContexts recycles the routing contexts of traced requests, as chi's
// router does its own.
var routeContexts = sync.Pool{New: func() any { return chi.NewRouteContext() }}

// routeNames renames the server span otelhttp started after chi has routed
// the request: otelhttp names it from http.Request.Pattern, which chi sets
// on the request it routes (a copy, when a middleware of the router has
// replaced the request's context), not on the one otelhttp holds, so
// otelhttp alone would leave the bare method. chi fills the routing context
// it finds in the request's context (as it does for a mounted sub-router;
// HTTP puts one there), so the pattern is readable here once the router
// returns. A span that is not recorded is left alone (its name is never
// seen).
func routeNames(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		span := trace.SpanFromContext(r.Context())
		if !span.IsRecording() {
			return
		}
		if rctx := chi.RouteContext(r.Context()); rctx != nil {
			if p := rctx.RoutePattern(); p != "" {
				span.SetName(spanMethod(r.Method) + " " + p)
				span.SetAttributes(semconv.HTTPRoute(p))
			}
		}
	})
}

// spanMethod is the method as a span name may hold it: one of the standard
// methods, else "HTTP" (the semantic conventions' name for any other), so
// a made-up method cannot mint a span name.
func spanMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "HTTP"
}
