package telemetry_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/redis/go-redis/v9"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/shipyard-kit/shipyard/app/internal/config"
	"github.com/shipyard-kit/shipyard/app/internal/logx"
	"github.com/shipyard-kit/shipyard/app/internal/telemetry"
	"github.com/shipyard-kit/shipyard/app/internal/testenv"
)

// BenchmarkHTTPOverhead is the HTTP middleware's own cost on a trivial
// chi route: off, and on with nothing, a tenth or all of the traces
// sampled (always - off is what a sampled request costs, span included;
// ratio0 - off what an unsampled one does). The otlp cases are the SDK as
// New sets it up for the app (batch processor, OTLP/HTTP exporter) sending
// to a receiver that reads and drops the exports: always-otlp - off is a
// sampled request with its export. cpu-ns/op is the CPU time the whole
// process spent per request (the batch processor's goroutine, the
// exporter's encoding and the garbage collector included, which ns/op,
// the loop's wall time, leaves to the other core).
func BenchmarkHTTPOverhead(b *testing.B) {
	r := chi.NewRouter()
	r.Get("/api/v1/notes/{id}", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	sink := otlpReceiver(b)
	for _, tc := range []struct {
		name string
		tel  func() *telemetry.Tracing
	}{
		{"off", telemetry.Off},
		{"ratio0.1", func() *telemetry.Tracing {
			return telemetry.NewWithProcessor(sdktrace.NewBatchSpanProcessor(tracetest.NewNoopExporter()), telemetry.Sampler("parentbased_traceidratio", 0.1))
		}},
		{"ratio0", func() *telemetry.Tracing {
			return telemetry.NewWithProcessor(sdktrace.NewBatchSpanProcessor(tracetest.NewNoopExporter()), telemetry.Sampler("parentbased_traceidratio", 0))
		}},
		{"always", func() *telemetry.Tracing {
			return telemetry.NewWithProcessor(sdktrace.NewBatchSpanProcessor(tracetest.NewNoopExporter()), telemetry.Sampler("always_on", 1))
		}},
		{"ratio0.1-otlp", func() *telemetry.Tracing { return otlpTracing(b, sink, "parentbased_traceidratio", 0.1) }},
		{"always-otlp", func() *telemetry.Tracing { return otlpTracing(b, sink, "always_on", 1) }},
	} {
		h := tc.tel().HTTP(r)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			req := httptest.NewRequest("GET", "/api/v1/notes/7", nil)
			cpu0 := processCPU(b)
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
			}
			b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkCachedGETOverhead is what tracing adds to the app's whole
// handler on the hot path, the cached note read (authenticated, token and
// note from Redis), in-process on a real Postgres and Redis: off, the SDK
// as New sets it up at the stacks' default sampling (0.1) and at every
// request sampled, exporting over OTLP/HTTP to a receiver that drops what
// it gets. The allocations and cpu-ns/op (the whole process's CPU per
// request, the batch processor's goroutine, the exporter and the garbage
// collector included) are the per-request figures behind
// BenchmarkSideBySide's, without the network and the load generator;
// ctxsw/op counts the times a thread of the process was switched off a
// CPU per request (a goroutine woken with no thread running hands the
// wakeup to a parked thread: one switch, when it parks again).
func BenchmarkCachedGETOverhead(b *testing.B) {
	sink := otlpReceiver(b)
	for _, tc := range []struct {
		name    string
		sampler string
		arg     float64
	}{{"off", "", 0}, {"ratio0.1", "parentbased_traceidratio", 0.1}, {"always", "always_on", 1}} {
		b.Run(tc.name, func(b *testing.B) {
			tel := telemetry.Off()
			if tc.sampler != "" {
				tel = otlpTracing(b, sink, tc.sampler, tc.arg)
			}
			s := newStackLogging(b, tel, false, logx.New(io.Discard, slog.LevelInfo, "serve"))
			tok := s.login()
			code, m := s.do("POST", "/api/v1/notes", tok, `{"title":"t","body":"b"}`)
			if code != 201 {
				b.Fatalf("create: %d", code)
			}
			path := fmt.Sprintf("/api/v1/notes/%d", int64(m["id"].(float64)))
			get := func() *httptest.ResponseRecorder {
				req := httptest.NewRequest("GET", path, nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				w := httptest.NewRecorder()
				s.handler.ServeHTTP(w, req)
				return w
			}
			for range 100 { // the token and the note cached
				get()
			}
			if w := get(); w.Code != 200 || w.Header().Get("X-Cache") != "hit" {
				b.Fatalf("GET %s: %d, X-Cache %q", path, w.Code, w.Header().Get("X-Cache"))
			}
			b.ReportAllocs()
			cpu0, sw0 := processCPU(b), processSwitches(b)
			for b.Loop() {
				get()
			}
			b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(processSwitches(b)-sw0)/float64(b.N), "ctxsw/op")
		})
	}
}

// otlpReceiver is an OTLP/HTTP receiver that reads and drops the exports.
func otlpReceiver(b *testing.B) *httptest.Server {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	b.Cleanup(sink.Close)
	return sink
}

// otlpTracing is the SDK as New sets it up for the app, exporting to sink.
func otlpTracing(b *testing.B, sink *httptest.Server, sampler string, arg float64) *telemetry.Tracing {
	tel, err := telemetry.New(context.Background(), config.Tracing{Endpoint: sink.URL + "/v1/traces", Sampler: sampler, SamplerArg: arg, ServiceName: "bench"}, "serve", "bench", slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	return tel
}

// processCPU is the user and system CPU time this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processSwitches is how many times this process's threads have been
// switched off a CPU, voluntarily (parking for lack of work) or not.
func processSwitches(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Nvcsw + ru.Nivcsw
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
