package telemetry_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/shipyard-kit/shipyard/app/internal/telemetry"
)

// BenchmarkHTTPOverhead is the HTTP middleware's own cost on a trivial
// chi route: off, and on with nothing or a tenth of the traces sampled.
func BenchmarkHTTPOverhead(b *testing.B) {
	r := chi.NewRouter()
	r.Get("/api/v1/notes/{id}", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	for _, tc := range []struct {
		name string
		tel  *telemetry.Tracing
	}{
		{"off", telemetry.Off()},
		{"ratio0.1", telemetry.NewWithProvider(sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()), sdktrace.WithSampler(telemetry.Sampler("parentbased_traceidratio", 0.1))))},
		{"ratio0", telemetry.NewWithProvider(sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()), sdktrace.WithSampler(telemetry.Sampler("parentbased_traceidratio", 0))))},
	} {
		h := tc.tel.HTTP(r)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			req := httptest.NewRequest("GET", "/api/v1/notes/7", nil)
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
			}
		})
	}
}
