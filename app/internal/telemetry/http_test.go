package telemetry_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/otel/baggage"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/shipyard-kit/shipyard/app/internal/telemetry"
)

// sampledRouter is a chi router whose one route reports whether the request
// runs in a recorded span; a middleware replaces the request's context
// before routing, as the app's do.
func sampledRouter(recorded *int) http.Handler {
	r := chi.NewRouter()
	r.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(r.Context()))
		})
	})
	r.Get("/api/v1/notes/{id}", func(w http.ResponseWriter, r *http.Request) {
		if trace.SpanFromContext(r.Context()).IsRecording() {
			*recorded++
		}
	})
	return r
}

func TestTheSamplerDecidesOnceBeforeOtelhttp(t *testing.T) {
	for _, tc := range []struct {
		name        string
		sampler     sdktrace.Sampler
		traceparent string
		// want is how many of 400 requests are traced, within ±tolerance
		// (a ratio of 0.5 drawn twice would trace about 100: 10 standard
		// deviations from 200).
		want, tolerance int
	}{
		{"a ratio of 0.5 traces half the requests, not a quarter", telemetry.Sampler("parentbased_traceidratio", 0.5), "", 200, 50},
		{"a ratio of 0 traces none", telemetry.Sampler("parentbased_traceidratio", 0), "", 0, 0},
		{"a ratio of 0 still traces a request whose caller sampled it", telemetry.Sampler("parentbased_traceidratio", 0), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 400, 0},
		{"a ratio of 1 leaves out a request whose caller did not sample it", telemetry.Sampler("parentbased_traceidratio", 1), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spans := tracetest.NewInMemoryExporter()
			recorded := 0
			h := telemetry.NewWithProcessor(sdktrace.NewSimpleSpanProcessor(spans), tc.sampler).HTTP(sampledRouter(&recorded))
			for range 400 {
				req := httptest.NewRequest("GET", "/api/v1/notes/7", nil)
				if tc.traceparent != "" {
					req.Header.Set("traceparent", tc.traceparent)
				}
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
			got := spans.GetSpans()
			if len(got) != recorded {
				t.Fatalf("%d spans exported, %d requests ran in a recorded span", len(got), recorded)
			}
			if recorded < tc.want-tc.tolerance || recorded > tc.want+tc.tolerance {
				t.Errorf("%d of 400 requests traced, want %d ± %d", recorded, tc.want, tc.tolerance)
			}
			for _, sp := range got {
				if sp.Name != "GET /api/v1/notes/{id}" || sp.SpanKind != trace.SpanKindServer {
					t.Fatalf("span %q (%s), want the server span GET /api/v1/notes/{id}", sp.Name, sp.SpanKind)
				}
				if tc.traceparent != "" && sp.SpanContext.TraceID().String() != tc.traceparent[3:35] {
					t.Fatalf("span in trace %s, want the caller's", sp.SpanContext.TraceID())
				}
				if sp.InstrumentationScope.Name != "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp" {
					t.Fatalf("span made by %q, want otelhttp", sp.InstrumentationScope.Name)
				}
			}
		})
	}
}

func TestTheCallersBaggageReachesATracedRequest(t *testing.T) {
	for _, tc := range []struct {
		name        string
		traceparent string
	}{
		{"with the caller's trace", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		{"without a trace: a new one is started", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			var tid trace.TraceID
			r := chi.NewRouter()
			r.Get("/api/v1/notes/{id}", func(w http.ResponseWriter, r *http.Request) {
				got = baggage.FromContext(r.Context()).Member("tenant").Value()
				tid = trace.SpanContextFromContext(r.Context()).TraceID()
			})
			h := telemetry.NewWithProcessor(sdktrace.NewSimpleSpanProcessor(tracetest.NewInMemoryExporter()), telemetry.Sampler("parentbased_always_on", 1)).HTTP(r)
			req := httptest.NewRequest("GET", "/api/v1/notes/7", nil)
			req.Header.Set("baggage", "tenant=acme")
			if tc.traceparent != "" {
				req.Header.Set("traceparent", tc.traceparent)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			if got != "acme" {
				t.Errorf("baggage member tenant = %q, want acme", got)
			}
			if tc.traceparent != "" && tid.String() != tc.traceparent[3:35] {
				t.Errorf("trace %s, want the caller's", tid)
			}
			if !tid.IsValid() {
				t.Error("the request ran in no trace")
			}
		})
	}
}
