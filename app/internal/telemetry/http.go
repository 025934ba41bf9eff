package telemetry

import (
	"context"
	"net"
	"net/http"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
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
//
// It starts the span with the SDK's tracer itself rather than through
// otelhttp: otelhttp (v0.72) also computes the attributes of, and records,
// three HTTP metric histograms on every request, whatever the meter
// provider, which tripled the per-request cost (the app's HTTP metrics
// are Prometheus's). Here a request that is not sampled costs the
// sampler's decision (and the propagator's extract when it carries a
// traceparent) and then runs as if untraced; the semantic-convention
// attributes are computed for recorded spans only.
func (t *Tracing) HTTP(h http.Handler) http.Handler {
	if !t.Enabled() {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if opsPaths[r.URL.Path] {
			h.ServeHTTP(w, r)
			return
		}
		method := spanMethod(r.Method)
		ctx := r.Context()
		// Without a traceparent there is nothing to extract (baggage
		// alone does not make a trace): skip the header lookups.
		if _, ok := r.Header["Traceparent"]; ok {
			ctx = t.prop.Extract(ctx, propagation.HeaderCarrier(r.Header))
		}
		ctx, span := t.tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer))
		if !span.IsRecording() {
			// Not sampled: the request goes on as if untraced (its
			// queries, commands and log lines would not be recorded
			// anyway, and a job it enqueues is sampled on its own).
			h.ServeHTTP(w, r)
			return
		}
		defer span.End()
		// chi fills the routing context it finds in the request's context
		// (as it does for a mounted sub-router), so the pattern is
		// readable here once it has routed the request.
		rctx := chi.NewRouteContext()
		ctx = context.WithValue(ctx, chi.RouteCtxKey, rctx)
		span.SetAttributes(requestAttrs(r, method)...)
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r.WithContext(ctx))
		span.SetAttributes(semconv.HTTPResponseStatusCode(sw.status))
		if sw.status >= http.StatusInternalServerError {
			span.SetStatus(codes.Error, http.StatusText(sw.status))
		}
		if p := rctx.RoutePattern(); p != "" {
			span.SetName(method + " " + p)
			span.SetAttributes(semconv.HTTPRoute(p))
		}
	})
}

// requestAttrs are the HTTP server span's semantic-convention attributes
// known before the handler runs.
func requestAttrs(r *http.Request, method string) []attribute.KeyValue {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	attrs := []attribute.KeyValue{
		semconv.HTTPRequestMethodKey.String(method),
		semconv.URLPath(r.URL.Path),
		semconv.URLScheme(scheme),
		semconv.NetworkProtocolVersion(protoVersion(r)),
	}
	if method == "HTTP" {
		attrs = append(attrs, semconv.HTTPRequestMethodOriginal(r.Method))
	}
	if host, _, err := net.SplitHostPort(r.Host); err == nil {
		attrs = append(attrs, semconv.ServerAddress(host))
	} else if r.Host != "" {
		attrs = append(attrs, semconv.ServerAddress(r.Host))
	}
	if ua := r.UserAgent(); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginal(ua))
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		attrs = append(attrs, semconv.NetworkPeerAddress(host))
	}
	return attrs
}

func protoVersion(r *http.Request) string {
	switch r.ProtoMajor {
	case 2:
		return "2"
	case 3:
		return "3"
	}
	if r.ProtoMinor == 0 {
		return "1.0"
	}
	return "1.1"
}

// statusWriter remembers the status the handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote && code >= 200 {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

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
