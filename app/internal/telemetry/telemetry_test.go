package telemetry_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/shipyard-kit/shipyard/app/internal/cache"
	"github.com/shipyard-kit/shipyard/app/internal/config"
	"github.com/shipyard-kit/shipyard/app/internal/db"
	"github.com/shipyard-kit/shipyard/app/internal/httpapi"
	"github.com/shipyard-kit/shipyard/app/internal/jobs"
	"github.com/shipyard-kit/shipyard/app/internal/logx"
	"github.com/shipyard-kit/shipyard/app/internal/store"
	"github.com/shipyard-kit/shipyard/app/internal/telemetry"
	"github.com/shipyard-kit/shipyard/app/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// stack is the web process and a worker wired as run.go wires them, on a
// real Postgres and Redis, with spans recorded in memory.
type stack struct {
	t     testing.TB
	url   string
	spans *tracetest.InMemoryExporter
	logs  *testenv.SyncBuffer
	// handler is the web process's handler, tracing included.
	handler http.Handler
}

func newStack(t testing.TB, tel *telemetry.Tracing, spans *tracetest.InMemoryExporter, worker bool) *stack {
	t.Helper()
	logs := &testenv.SyncBuffer{}
	s := newStackLogging(t, tel, worker, logx.New(logs, slog.LevelDebug, "serve"))
	s.spans, s.logs = spans, logs
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	})
	return s
}

// newStackLogging is newStack logging on log.
func newStackLogging(t testing.TB, tel *telemetry.Tracing, worker bool, log *slog.Logger) *stack {
	t.Helper()
	ctx := context.Background()
	pool, err := db.NewPool(ctx, db.PoolConfig{URL: testenv.DatabaseURL(t), MaxConns: 5, ConnectTimeout: 2 * time.Second, Tracer: tel.Pgx()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	ropts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	epoch := cache.NewEpoch(pool, log, cache.EpochOptions{})
	ropts.OnConnect = epoch.OnConnect
	rdb := redis.NewClient(ropts)
	t.Cleanup(func() { rdb.Close() })
	if err := tel.Redis(rdb); err != nil {
		t.Fatal(err)
	}
	ectx, stopEpoch := context.WithCancel(context.Background())
	t.Cleanup(stopEpoch)
	epoch.Start(ectx, rdb)
	reg := prometheus.NewRegistry()
	cm := cache.NewMetrics(reg)
	notes := cache.NewNotes(rdb, time.Minute, log, cm, epoch)
	st := store.New(pool)
	h := httpapi.NewServer(log, httpapi.Options{RequestTimeout: 5 * time.Second, MaxBodyBytes: 1 << 20, TokenTTL: time.Hour}, httpapi.Deps{
		Store: st, Notes: notes, Tokens: cache.NewTokens(rdb, time.Minute, log, cm, epoch), Redis: rdb,
		Jobs:  tel.Enqueuer(asynq.NewClientFromRedisClient(rdb)),
		Ready: httpapi.NewReadiness(), Metrics: httpapi.NewMetrics(reg), Gatherer: reg,
	})
	handler := tel.HTTP(h)
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	if worker {
		w := asynq.NewServer(asynq.RedisClientOpt{Addr: ropts.Addr, DB: ropts.DB}, asynq.Config{Concurrency: 2, Queues: jobs.Queues(), LogLevel: asynq.ErrorLevel})
		handlers := &jobs.Handlers{Store: st, Cache: notes, Log: log}
		if err := w.Start(tel.Jobs(handlers.Mux())); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Shutdown)
	}
	return &stack{t: t, url: srv.URL, handler: handler}
}

// recording returns tracing that samples every trace into memory.
func recording() (*telemetry.Tracing, *tracetest.InMemoryExporter) {
	exp := tracetest.NewInMemoryExporter()
	return telemetry.NewWithProcessor(sdktrace.NewSimpleSpanProcessor(exp), telemetry.Sampler("parentbased_always_on", 1)), exp
}

func (s *stack) do(method, path, token, body string, headers ...string) (int, map[string]any) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// login registers a user and returns a token.
func (s *stack) login() string {
	s.t.Helper()
	if code, _ := s.do("POST", "/api/v1/users", "", `{"email":"ada@example.com","password":"correct horse battery"}`); code != 201 {
		s.t.Fatalf("register: %d", code)
	}
	code, m := s.do("POST", "/api/v1/sessions", "", `{"email":"ada@example.com","password":"correct horse battery"}`)
	if code != 201 {
		s.t.Fatalf("login: %d", code)
	}
	return m["token"].(string)
}

// waitSpan waits for a span named name in trace id.
func (s *stack) waitSpan(id trace.TraceID, name string) tracetest.SpanStub {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, sp := range s.spans.GetSpans() {
			if sp.SpanContext.TraceID() == id && sp.Name == name {
				return sp
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("no span %q in trace %s; spans: %v", name, id, names(s.spans.GetSpans()))
	return tracetest.SpanStub{}
}

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, sp := range spans {
		out = append(out, sp.Name)
	}
	return out
}

func TestARequestIsOneTraceThroughPostgresRedisAndItsJob(t *testing.T) {
	tel, spans := recording()
	s := newStack(t, tel, spans, true)
	token := s.login()
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	code, _ := s.do("POST", "/api/v1/notes", token, `{"title":"t","body":"one two three"}`,
		"traceparent", "00-"+traceID+"-00f067aa0ba902b7-01", "X-Request-Id", "trace-test-1")
	if code != 201 {
		t.Fatalf("create: %d", code)
	}
	id, _ := trace.TraceIDFromHex(traceID)

	server := s.waitSpan(id, "POST /api/v1/notes")
	if server.Parent.SpanID().String() != "00f067aa0ba902b7" || !server.Parent.IsRemote() {
		t.Errorf("the HTTP span's parent is %s, want the caller's span from traceparent", server.Parent.SpanID())
	}
	if server.SpanKind != trace.SpanKindServer {
		t.Errorf("the HTTP span's kind is %s", server.SpanKind)
	}
	send := s.waitSpan(id, "send note:process")
	if send.Parent.SpanID() != server.SpanContext.SpanID() {
		t.Errorf("the enqueue span is not a child of the HTTP span")
	}
	job := s.waitSpan(id, "process note:process")
	if job.Parent.SpanID() != send.SpanContext.SpanID() || job.SpanKind != trace.SpanKindConsumer {
		t.Errorf("the job span's parent is %s (kind %s), want the enqueue span %s", job.Parent.SpanID(), job.SpanKind, send.SpanContext.SpanID())
	}

	var pg, rd, jobPG int
	for _, sp := range spans.GetSpans() {
		if sp.SpanContext.TraceID() != id {
			continue
		}
		system := ""
		for _, a := range sp.Attributes {
			if a.Key == "db.system.name" || a.Key == "db.system" {
				system = a.Value.AsString()
			}
		}
		switch {
		case system == "postgresql" && sp.Parent.SpanID() == server.SpanContext.SpanID():
			pg++
		case system == "postgresql" && sp.Parent.SpanID() == job.SpanContext.SpanID():
			jobPG++
		case system == "redis":
			rd++
		}
	}
	if pg == 0 || rd == 0 || jobPG == 0 {
		t.Errorf("in the trace: %d Postgres spans under the request, %d under the job, %d Redis spans; want each ≥ 1 (spans: %v)", pg, jobPG, rd, names(spans.GetSpans()))
	}

	// Every log line of the request and of its job carries the trace.
	waitFor(t, func() bool { return strings.Contains(s.logs.String(), `"msg":"job done"`) })
	var request, jobLines int
	sc := bufio.NewScanner(strings.NewReader(s.logs.String()))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("not JSON: %s", sc.Bytes())
		}
		mine := line["request_id"] == "trace-test-1" || line["msg"] == "job done"
		if !mine {
			continue
		}
		if line["trace_id"] != traceID {
			t.Errorf("log line without the trace: %s", sc.Bytes())
		}
		if line["msg"] == "job done" {
			jobLines++
			if line["span_id"] != job.SpanContext.SpanID().String() {
				t.Errorf("the job's log line has span_id %v, want the job span %s", line["span_id"], job.SpanContext.SpanID())
			}
		} else {
			request++
			if line["span_id"] != server.SpanContext.SpanID().String() {
				t.Errorf("the request's log line has span_id %v, want the HTTP span %s", line["span_id"], server.SpanContext.SpanID())
			}
		}
	}
	if request == 0 || jobLines == 0 {
		t.Errorf("%d log lines of the request, %d of the job; want ≥ 1 each", request, jobLines)
	}
}

func TestSpanNamesAreRoutePatternsNeverIDs(t *testing.T) {
	tel, spans := recording()
	s := newStack(t, tel, spans, false)
	token := s.login()
	_, note := s.do("POST", "/api/v1/notes", token, `{"title":"t"}`)
	noteID := fmt.Sprint(note["id"])
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/api/v1/notes/" + noteID, "GET /api/v1/notes/{id}"},
		{"PATCH", "/api/v1/notes/" + noteID, "PATCH /api/v1/notes/{id}"},
		{"GET", "/api/v1/notes/987654321", "GET /api/v1/notes/{id}"},
		{"GET", "/api/v1/notes?limit=5", "GET /api/v1/notes"},
		{"GET", "/nothing/here/12345", "GET"},
		{"BREW", "/coffee/42", "HTTP"},
		{"DELETE", "/api/v1/notes/" + noteID, "DELETE /api/v1/notes/{id}"},
	} {
		t.Run(tc.method+" "+tc.path+" is named "+tc.want, func(t *testing.T) {
			spans.Reset()
			s.do(tc.method, tc.path, token, `{"title":"u"}`)
			var server []string
			for _, sp := range spans.GetSpans() {
				if sp.SpanKind == trace.SpanKindServer {
					server = append(server, sp.Name)
				}
			}
			if len(server) != 1 || server[0] != tc.want {
				t.Errorf("server spans %q, want [%q]", server, tc.want)
			}
		})
	}
	t.Run("a recorded span has the route, method and status attributes", func(t *testing.T) {
		spans.Reset()
		s.do("GET", "/api/v1/notes/"+noteID, token, "")
		var server tracetest.SpanStub
		for _, sp := range spans.GetSpans() {
			if sp.SpanKind == trace.SpanKindServer {
				server = sp
			}
		}
		attrs := map[string]string{}
		for _, a := range server.Attributes {
			attrs[string(a.Key)] = a.Value.String()
		}
		if attrs["http.route"] != "/api/v1/notes/{id}" || attrs["http.request.method"] != "GET" || attrs["http.response.status_code"] != "404" && attrs["http.response.status_code"] != "200" {
			t.Errorf("attributes %v", attrs)
		}
		if server.Status.Code == codes.Error {
			t.Errorf("status %v for a 2xx/4xx", server.Status)
		}
	})
	t.Run("no span name holds an id", func(t *testing.T) {
		digits := regexp.MustCompile(`[0-9]{2,}`)
		spans.Reset()
		s.do("GET", "/api/v1/notes/987654321", token, "")
		s.do("PATCH", "/api/v1/notes/987654321", token, `{"title":"u"}`)
		s.do("GET", "/nothing/12345", token, "")
		if len(spans.GetSpans()) < 3 {
			t.Fatalf("spans %v", names(spans.GetSpans()))
		}
		for _, sp := range spans.GetSpans() {
			if digits.MatchString(sp.Name) || strings.Contains(sp.Name, token) {
				t.Errorf("span name %q holds an id", sp.Name)
			}
		}
	})
	t.Run("the ops endpoints are not traced", func(t *testing.T) {
		spans.Reset()
		for _, p := range []string{"/livez", "/readyz", "/metrics", "/version"} {
			s.do("GET", p, "", "")
		}
		if got := spans.GetSpans(); len(got) != 0 {
			t.Errorf("spans %v", names(got))
		}
	})
}

func TestClientSpansOnlyInsideARecordedSpan(t *testing.T) {
	tel, spans := recording()
	newStackRedis := func() *redis.Client {
		ropts, _ := redis.ParseURL(testenv.RedisURL(t))
		rdb := redis.NewClient(ropts)
		t.Cleanup(func() { rdb.Close() })
		if err := tel.Redis(rdb); err != nil {
			t.Fatal(err)
		}
		return rdb
	}
	rdb := newStackRedis()
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got := spans.GetSpans(); len(got) != 0 {
		t.Fatalf("a command outside any trace made spans %v", names(got))
	}
	// In an unsampled trace neither.
	unsampled := trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{TraceID: [16]byte{1}, SpanID: [8]byte{1}}))
	if err := rdb.Get(unsampled, "k").Err(); err != nil {
		t.Fatal(err)
	}
	if got := spans.GetSpans(); len(got) != 0 {
		t.Fatalf("a command in an unsampled trace made spans %v", names(got))
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	pctx, parent := tp.Tracer("test").Start(ctx, "parent")
	if err := rdb.Get(pctx, "k").Err(); err != nil {
		t.Fatal(err)
	}
	parent.End()
	got := spans.GetSpans()
	if len(got) != 2 || got[0].Name != "get" || got[0].Parent.SpanID() != parent.SpanContext().SpanID() {
		t.Fatalf("spans %v, want the get under the parent", names(got))
	}
	for _, a := range got[0].Attributes {
		if strings.Contains(a.Value.String(), "k v") || a.Key == "db.statement" {
			t.Errorf("the command's arguments are recorded: %s=%s", a.Key, a.Value.String())
		}
	}

	// A pipeline (the cache's batch of many requests' reads) makes none,
	// even under a recorded span.
	spans.Reset()
	pctx, parent = tp.Tracer("test").Start(ctx, "parent")
	pipe := rdb.Pipeline()
	pipe.MGet(pctx, "k", "x")
	if _, err := pipe.Exec(pctx); err != nil {
		t.Fatal(err)
	}
	parent.End()
	for _, sp := range spans.GetSpans() {
		if strings.HasPrefix(sp.Name, "redis.pipeline") || sp.Name == "mget" {
			t.Fatalf("a pipeline made spans %v", names(spans.GetSpans()))
		}
	}
}

func TestOffCostsNothing(t *testing.T) {
	off := telemetry.Off()
	if off.Enabled() {
		t.Fatal("Off is enabled")
	}
	h := http.NewServeMux()
	if off.HTTP(h) != http.Handler(h) {
		t.Error("HTTP wraps the handler")
	}
	if off.Pgx() != nil {
		t.Error("Pgx returns a tracer")
	}
	q := asynq.NewClientFromRedisClient(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}))
	if off.Enqueuer(q) != telemetry.Enqueuer(q) {
		t.Error("Enqueuer wraps the client")
	}
	var mux asynq.Handler = asynq.NewServeMux()
	if off.Jobs(mux) != mux {
		t.Error("Jobs wraps the handler")
	}
	if err := off.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}

	// Redis adds a hook, which leaves the client's options as they were:
	// what shows it is a span. Off has no provider of its own, so a hook
	// it added could only record to the global one (redisotel's default):
	// that one records here, and a command runs under a recorded parent,
	// where an instrumented client makes a span (the enabled tracing's
	// client below shows that this check sees one).
	spans := tracetest.NewInMemoryExporter()
	global := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	otel.SetTracerProvider(global)
	t.Cleanup(func() { otel.SetTracerProvider(tracenoop.NewTracerProvider()) })
	redisURL := testenv.RedisURL(t)
	commandSpans := func(tel *telemetry.Tracing) []string {
		t.Helper()
		ropts, err := redis.ParseURL(redisURL)
		if err != nil {
			t.Fatal(err)
		}
		rdb := redis.NewClient(ropts)
		defer rdb.Close()
		if err := tel.Redis(rdb); err != nil {
			t.Fatal(err)
		}
		spans.Reset()
		ctx, parent := global.Tracer("test").Start(context.Background(), "parent")
		if err := rdb.Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		parent.End()
		var got []string
		for _, sp := range spans.GetSpans() {
			if sp.SpanContext.SpanID() != parent.SpanContext().SpanID() {
				got = append(got, sp.Name)
			}
		}
		return got
	}
	on := telemetry.NewWithProcessor(sdktrace.NewSimpleSpanProcessor(spans), telemetry.Sampler("always_on", 0))
	if got := commandSpans(on); len(got) == 0 {
		t.Fatal("an instrumented client made no span under the recorded parent: this check cannot see a hook")
	}
	if got := commandSpans(off); len(got) != 0 {
		t.Errorf("Redis instrumented the client: a command under a recorded parent made spans %v", got)
	}

	// And the app with tracing off logs no trace ids, even for a request
	// that sent a traceparent.
	s := newStack(t, off, tracetest.NewInMemoryExporter(), false)
	s.login()
	s.do("GET", "/api/v1/me", "", "", "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "X-Request-Id", "off-traced-1")
	if !strings.Contains(s.logs.String(), `"request_id":"off-traced-1"`) {
		t.Fatalf("no log line of the request that sent a traceparent:\n%s", s.logs.String())
	}
	if bytes.Contains([]byte(s.logs.String()), []byte("trace_id")) {
		t.Errorf("a log line has a trace id with tracing off:\n%s", s.logs.String())
	}
}

func TestARetryLinksToTheEnqueueInsteadOfJoiningItsTrace(t *testing.T) {
	tel, spans := recording()
	ropts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	opt := asynq.RedisClientOpt{Addr: ropts.Addr, DB: ropts.DB}
	runs := make(chan context.Context, 2)
	w := asynq.NewServer(opt, asynq.Config{
		Concurrency: 1, LogLevel: asynq.FatalLevel, DelayedTaskCheckInterval: 50 * time.Millisecond,
		RetryDelayFunc: func(int, error, *asynq.Task) time.Duration { return 10 * time.Millisecond },
	})
	if err := w.Start(tel.Jobs(asynq.HandlerFunc(func(ctx context.Context, _ *asynq.Task) error {
		runs <- ctx
		if n, _ := asynq.GetRetryCount(ctx); n == 0 {
			return fmt.Errorf("first run fails")
		}
		return nil
	}))); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	q := asynq.NewClient(opt)
	t.Cleanup(func() { q.Close() })

	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	ctx, request := tp.Tracer("test").Start(context.Background(), "request")
	if _, err := tel.Enqueuer(q).EnqueueContext(ctx, asynq.NewTaskWithHeaders("t:retry", nil, map[string]string{}, asynq.MaxRetry(1))); err != nil {
		t.Fatal(err)
	}
	request.End()
	var got []trace.SpanContext
	for range 2 {
		select {
		case c := <-runs:
			got = append(got, trace.SpanContextFromContext(c))
		case <-time.After(10 * time.Second):
			t.Fatal("the job did not run twice")
		}
	}
	send := s0(t, spans, "send t:retry")
	if got[0].TraceID() != request.SpanContext().TraceID() {
		t.Errorf("the first run is not in the trace of its enqueue")
	}
	if got[1].TraceID() == request.SpanContext().TraceID() {
		t.Errorf("the retry joined the enqueue's trace")
	}
	waitFor(t, func() bool { return len(spansNamed(spans, "process t:retry")) == 2 })
	for _, sp := range spansNamed(spans, "process t:retry") {
		if sp.SpanContext.SpanID() != got[1].SpanID() {
			continue
		}
		if len(sp.Links) != 1 || sp.Links[0].SpanContext.SpanID() != send.SpanContext.SpanID() {
			t.Errorf("the retry's links %v, want the enqueue span", sp.Links)
		}
	}
}

func spansNamed(spans *tracetest.InMemoryExporter, name string) tracetest.SpanStubs {
	var out tracetest.SpanStubs
	for _, sp := range spans.GetSpans() {
		if sp.Name == name {
			out = append(out, sp)
		}
	}
	return out
}

func s0(t *testing.T, spans *tracetest.InMemoryExporter, name string) tracetest.SpanStub {
	t.Helper()
	got := spansNamed(spans, name)
	if len(got) != 1 {
		t.Fatalf("%d spans named %q", len(got), name)
	}
	return got[0]
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestNewExportsOTLPOverHTTP runs the SDK as the app sets it up from the
// config against an OTLP/HTTP receiver: the spans arrive protobuf-encoded
// on /v1/traces with the configured resource, and their trace ids start
// with the time (what X-Ray requires).
func TestNewExportsOTLPOverHTTP(t *testing.T) {
	got := make(chan *coltracepb.ExportTraceServiceRequest, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || proto.Unmarshal(body, &req) != nil {
			t.Errorf("%s %s %s: not an OTLP/HTTP protobuf export", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		got <- &req
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(nil)
	}))
	t.Cleanup(srv.Close)
	cfg, err := config.Load(func(k string) string {
		return map[string]string{
			"DATABASE_URL": "postgres://a@b/c", "REDIS_URL": "redis://r:6379/0",
			"OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL, "OTEL_SERVICE_NAME": "notes",
			"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=staging",
		}[k]
	}, config.Needs{Database: true, Redis: true})
	if err != nil {
		t.Fatal(err)
	}
	tel, err := telemetry.New(context.Background(), cfg.Tracing, "worker", "v1.2.3", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var mux asynq.Handler = asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return nil })
	if err := tel.Jobs(mux).ProcessTask(context.Background(), asynq.NewTask("t:x", nil)); err != nil {
		t.Fatal(err)
	}
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case req := <-got:
		rs := req.ResourceSpans[0]
		attrs := map[string]string{}
		for _, a := range rs.Resource.Attributes {
			attrs[a.Key] = a.Value.GetStringValue()
		}
		for k, v := range map[string]string{"service.name": "notes", "service.version": "v1.2.3", "shipyard.process": "worker", "deployment.environment.name": "staging"} {
			if attrs[k] != v {
				t.Errorf("resource %s = %q, want %q", k, attrs[k], v)
			}
		}
		sp := rs.ScopeSpans[0].Spans[0]
		if sp.Name != "process t:x" {
			t.Errorf("span %q", sp.Name)
		}
		if secs := int64(binary.BigEndian.Uint32(sp.TraceId[:4])); secs < start.Unix()-1 || secs > time.Now().Unix()+1 {
			t.Errorf("trace id %x does not start with the time (X-Ray drops such spans)", sp.TraceId)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing exported")
	}
}
