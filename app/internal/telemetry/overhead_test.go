package telemetry_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/redis/go-redis/v9"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/shipyard-kit/shipyard/app/internal/telemetry"
	"github.com/shipyard-kit/shipyard/app/internal/testenv"
)

// BenchmarkHTTPOverhead is the HTTP middleware's own cost on a trivial
// chi route: off, and on with nothing, a tenth or all of the traces
// sampled (always - off is what a sampled request costs, span and export
// included; ratio0 - off what an unsampled one does).
func BenchmarkHTTPOverhead(b *testing.B) {
	r := chi.NewRouter()
	r.Get("/api/v1/notes/{id}", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	for _, tc := range []struct {
		name string
		tel  *telemetry.Tracing
	}{
		{"off", telemetry.Off()},
		{"ratio0.1", telemetry.NewWithProcessor(sdktrace.NewBatchSpanProcessor(tracetest.NewNoopExporter()), telemetry.Sampler("parentbased_traceidratio", 0.1))},
		{"ratio0", telemetry.NewWithProcessor(sdktrace.NewBatchSpanProcessor(tracetest.NewNoopExporter()), telemetry.Sampler("parentbased_traceidratio", 0))},
		{"always", telemetry.NewWithProcessor(sdktrace.NewBatchSpanProcessor(tracetest.NewNoopExporter()), telemetry.Sampler("always_on", 1))},
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

// BenchmarkRedisOverhead is the Redis hook's cost per command and per
// pipeline outside any trace (what most requests pay at a low sampling
// ratio).
func BenchmarkRedisOverhead(b *testing.B) {
	tel := telemetry.NewWithProcessor(sdktrace.NewBatchSpanProcessor(tracetest.NewNoopExporter()), sdktrace.AlwaysSample())
	for _, traced := range []bool{false, true} {
		ropts, _ := redis.ParseURL(testenv.RedisURL(b))
		rdb := redis.NewClient(ropts)
		b.Cleanup(func() { rdb.Close() })
		if traced {
			if err := tel.Redis(rdb); err != nil {
				b.Fatal(err)
			}
		}
		ctx := context.Background()
		b.Run(fmt.Sprintf("pipeline traced=%v", traced), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p := rdb.Pipeline()
				p.MGet(ctx, "a", "b")
				p.MGet(ctx, "c", "d")
				_, _ = p.Exec(ctx)
			}
		})
	}
}
