package telemetry

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// opsPaths are the ops endpoints (health checks, scrapes): probed every few
// seconds by Docker, the load balancer and Prometheus, they are not traced
// (each would be a one-span trace drowning the requests that matter).
var opsPaths = map[string]bool{"/livez": true, "/readyz": true, "/metrics": true, "/version": true}

// HTTP traces every request to h, a chi router, except the ops endpoints:
// one server span per request, child of an incoming W3C traceparent, named
// "{method} {route pattern}" (e.g. "GET /api/v1/notes/{id}") once chi has
// routed it, or "{method}" alone when no route matched, so a span name
// never holds an id from the path. Off, it returns h.
func (t *Tracing) HTTP(h http.Handler) http.Handler {
	if !t.Enabled() {
		return h
	}
	named := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// chi fills the routing context it finds in the request's
		// context (as it does for a mounted sub-router), so the pattern
		// is readable here once it has routed the request.
		rctx := chi.NewRouteContext()
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), chi.RouteCtxKey, rctx)))
		span := trace.SpanFromContext(r.Context())
		if p := rctx.RoutePattern(); p != "" {
			span.SetName(spanMethod(r.Method) + " " + p)
			span.SetAttributes(semconv.HTTPRoute(p))
		}
	})
	return otelhttp.NewHandler(named, "",
		otelhttp.WithTracerProvider(t.tp),
		otelhttp.WithPropagators(t.prop),
		otelhttp.WithFilter(func(r *http.Request) bool { return !opsPaths[r.URL.Path] }),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return spanMethod(r.Method) }),
	)
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
