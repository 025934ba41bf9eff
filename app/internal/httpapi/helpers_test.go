package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/shipyard-kit/shipyard/app/internal/auth"
	"github.com/shipyard-kit/shipyard/app/internal/cache"
	"github.com/shipyard-kit/shipyard/app/internal/db"
	"github.com/shipyard-kit/shipyard/app/internal/httpapi"
	"github.com/shipyard-kit/shipyard/app/internal/logx"
	"github.com/shipyard-kit/shipyard/app/internal/store"
	"github.com/shipyard-kit/shipyard/app/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type testApp struct {
	t       testing.TB
	srv     *httptest.Server
	pool    *pgxpool.Pool
	rdb     *redis.Client
	ready   *httpapi.Readiness
	reg     *prometheus.Registry
	logs    *testenv.SyncBuffer
	notes   *cache.Notes
	breaker *cache.Breaker
	epoch   *cache.Epoch

	clientTimeout time.Duration // how long do waits for an answer
}

type appOpts struct {
	opts         httpapi.Options
	redisURL     string        // default: a fresh logical db of the shared Redis
	dbURL        string        // default: a fresh migrated database
	redisTimeout time.Duration // REDIS_TIMEOUT; default 500ms
	readTimeout  time.Duration // the http.Server's ReadTimeout; default none
	hashes       *auth.Limiter // default: from opts
	// clientTimeout bounds each request of testApp.do; default 30s.
	clientTimeout time.Duration
}

// anySpeed is for a test of something other than latency (memory, order,
// what is answered), whatever the machine's speed: the race detector slows
// the app about tenfold and a busy CI runner more. The request deadline
// and the client's wait are an hour; go test's -timeout still ends a test
// that hangs.
func anySpeed(o *appOpts) {
	o.opts.RequestTimeout = time.Hour
	o.clientTimeout = time.Hour
}

func defaultOpts() appOpts {
	return appOpts{opts: httpapi.Options{
		RequestTimeout:     5 * time.Second,
		MaxBodyBytes:       1 << 20,
		RateLimitPerMinute: 0,
		TokenTTL:           time.Hour,
	}}
}

func newApp(t testing.TB, mods ...func(*appOpts)) *testApp {
	t.Helper()
	o := defaultOpts()
	for _, m := range mods {
		m(&o)
	}
	if o.dbURL == "" {
		o.dbURL = testenv.DatabaseURL(t)
	}
	if o.redisURL == "" {
		o.redisURL = testenv.RedisURL(t)
	}
	pool, err := db.NewPool(context.Background(), db.PoolConfig{URL: o.dbURL, MaxConns: 10, ConnectTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	ropts, err := redis.ParseURL(o.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	// As app serve configures it (run.go: newDeps).
	if o.redisTimeout == 0 {
		o.redisTimeout = 500 * time.Millisecond
	}
	ropts.MaxRetries = 1
	ropts.DialerRetries = 1
	ropts.DialerRetryTimeout = 50 * time.Millisecond
	ropts.DialTimeout = o.redisTimeout
	ropts.ReadTimeout = o.redisTimeout
	ropts.WriteTimeout = o.redisTimeout
	ropts.ContextTimeoutEnabled = true
	logs := &testenv.SyncBuffer{}
	log := logx.New(logs, slog.LevelDebug, "serve")
	epoch := cache.NewEpoch(pool, log, cache.EpochOptions{})
	ropts.OnConnect = epoch.OnConnect
	rdb := redis.NewClient(ropts)
	t.Cleanup(func() { rdb.Close() })
	ectx, stopEpoch := context.WithCancel(context.Background())
	t.Cleanup(stopEpoch)
	epoch.Start(ectx, rdb)

	reg := prometheus.NewRegistry()
	breaker := cache.NewBreaker(rdb, log, reg, cache.BreakerOptions{ProbeTimeout: min(o.redisTimeout, 500*time.Millisecond), SlowAfter: o.redisTimeout / 4})
	t.Cleanup(breaker.Stop)
	ready := httpapi.NewReadiness(
		httpapi.Check{Name: "postgres", Fn: pool.Ping},
		httpapi.Check{Name: "redis", Fn: httpapi.RedisCheck(rdb, breaker), Optional: true},
	)
	cm := cache.NewMetrics(reg)
	notes := cache.NewNotes(rdb, time.Minute, log, cm, epoch)
	tokens := cache.NewTokens(rdb, time.Minute, log, cm, epoch)
	breaker.OnRecover(notes.Flush)
	breaker.OnRecover(tokens.Flush)
	h := httpapi.NewServer(log, o.opts, httpapi.Deps{
		Store:    store.New(pool),
		Notes:    notes,
		Tokens:   tokens,
		Redis:    rdb,
		Jobs:     asynq.NewClientFromRedisClient(rdb),
		Ready:    ready,
		Metrics:  httpapi.NewMetrics(reg),
		Gatherer: reg,
		Hashes:   o.hashes,
	})
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ReadTimeout = o.readTimeout
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server logs:\n%s", logs.String())
		}
	})
	if o.clientTimeout == 0 {
		o.clientTimeout = 30 * time.Second
	}
	return &testApp{t: t, clientTimeout: o.clientTimeout, srv: srv, pool: pool, rdb: rdb, ready: ready, reg: reg, logs: logs, notes: notes, breaker: breaker, epoch: epoch}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response body is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

func (a *testApp) decode(r response) map[string]any {
	a.t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		a.t.Fatalf("not JSON: %s", r.body)
	}
	return m
}

// do sends a request; body is JSON-encoded unless it is a string (sent
// as is). headers are name, value pairs.
func (a *testApp) do(method, path, token string, body any, headers ...string) response {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, a.srv.URL+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.clientTimeout)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// user registers and logs in a user, returning the token.
func (a *testApp) user(email string) string {
	a.t.Helper()
	r := a.do("POST", "/api/v1/users", "", map[string]string{"email": email, "password": "correct horse", "name": "T"})
	if r.status != http.StatusCreated {
		a.t.Fatalf("register: %d %s", r.status, r.body)
	}
	r = a.do("POST", "/api/v1/sessions", "", map[string]string{"email": email, "password": "correct horse"})
	if r.status != http.StatusCreated {
		a.t.Fatalf("login: %d %s", r.status, r.body)
	}
	return r.json(a.t)["token"].(string)
}

func (a *testApp) note(token, title, body string) map[string]any {
	a.t.Helper()
	r := a.do("POST", "/api/v1/notes", token, map[string]string{"title": title, "body": body})
	if r.status != http.StatusCreated {
		a.t.Fatalf("create note: %d %s", r.status, r.body)
	}
	return r.json(a.t)
}

// wantProblem asserts a problem+json response with status and code.
func wantProblem(t *testing.T, r response, status int, code string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	p := r.json(t)
	if p["code"] != code {
		t.Errorf("code = %v, want %s; body %s", p["code"], code, r.body)
	}
	if p["status"] != float64(status) {
		t.Errorf("problem status = %v, want %d", p["status"], status)
	}
	return p
}
