package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/shipyard-kit/shipyard/app/internal/config"
	"github.com/shipyard-kit/shipyard/app/internal/telemetry"
	"github.com/shipyard-kit/shipyard/app/internal/testenv"
	"github.com/shipyard-kit/shipyard/infra/stackconfig"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// baseEnv is a valid environment on a fresh database and Redis.
func baseEnv(t testing.TB) map[string]string {
	return appEnv(testenv.DatabaseURL(t), testenv.RedisURL(t))
}

// appEnv is a valid environment on the given database and Redis.
func appEnv(databaseURL, redisURL string) map[string]string {
	return map[string]string{
		"APP_ENV":               "test",
		"DATABASE_URL":          databaseURL,
		"REDIS_URL":             redisURL,
		"LOG_LEVEL":             "debug",
		"SHUTDOWN_TIMEOUT":      "15s",
		"REQUEST_TIMEOUT":       "5s",
		"RATE_LIMIT_PER_MINUTE": "0",
	}
}

type proc struct {
	t      *testing.T
	base   string
	cancel context.CancelFunc
	done   chan error
	out    *testenv.SyncBuffer
}

// start runs `app <args>` in-process (run, exactly as main calls it) and
// waits until it answers /livez.
func start(t *testing.T, env map[string]string, args ...string) *proc {
	t.Helper()
	if env["PORT"] == "" {
		env["PORT"] = strconv.Itoa(testenv.FreePort(t))
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &proc{t: t, base: "http://127.0.0.1:" + env["PORT"], cancel: cancel, done: make(chan error, 1), out: &testenv.SyncBuffer{}}
	go func() {
		p.done <- run(ctx, append([]string{"app"}, args...), func(k string) string { return env[k] }, p.out, p.out)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			t.Errorf("%v did not stop", args)
		}
		if t.Failed() {
			t.Logf("%v output:\n%s", args, p.out.String())
		}
	})
	for {
		select {
		case err := <-p.done:
			t.Fatalf("%v exited early: %v\n%s", args, err, p.out.String())
		default:
		}
		resp, err := http.Get(p.base + "/livez")
		if err == nil {
			resp.Body.Close()
			return p
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop cancels the context (what SIGTERM does through main) and returns
// run's result.
func (p *proc) stop() error {
	p.cancel()
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		p.t.Fatal("did not stop within 30s")
		return nil
	}
}

func (p *proc) call(method, path, token string, body any) (int, map[string]any) {
	p.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, p.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

func (p *proc) token(email string) string {
	p.t.Helper()
	if s, m := p.call("POST", "/api/v1/users", "", map[string]string{"email": email, "password": "correct horse"}); s != 201 {
		p.t.Fatalf("register: %d %v", s, m)
	}
	s, m := p.call("POST", "/api/v1/sessions", "", map[string]string{"email": email, "password": "correct horse"})
	if s != 201 {
		p.t.Fatalf("login: %d %v", s, m)
	}
	return m["token"].(string)
}

func TestConfigErrorsExitAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		varName string
	}{
		{"serve without DATABASE_URL names it", []string{"serve"}, map[string]string{"REDIS_URL": "redis://x:6379/0"}, "DATABASE_URL"},
		{"worker without REDIS_URL names it", []string{"worker"}, map[string]string{"DATABASE_URL": "postgres://u@h/db"}, "REDIS_URL"},
		{"clock with a bad SHUTDOWN_TIMEOUT names it", []string{"clock"}, map[string]string{"DATABASE_URL": "postgres://u@h/db", "REDIS_URL": "redis://x:6379/0", "SHUTDOWN_TIMEOUT": "soon"}, "SHUTDOWN_TIMEOUT"},
		{"migrate without DATABASE_URL names it", []string{"migrate"}, map[string]string{}, "DATABASE_URL"},
		{"serve with a bad sslmode names it and the allowed ones", []string{"serve"}, map[string]string{"DATABASE_URL": "postgres://u@h/db?sslmode=bogus", "REDIS_URL": "redis://x:6379/0"},
			`DATABASE_URL: parameter sslmode must be one of "disable", "allow", "prefer", "require", "verify-ca", "verify-full" (got "bogus")`},
		{"migrate with a bad connect_timeout names it", []string{"migrate"}, map[string]string{"DATABASE_URL": "postgres://u@h/db?connect_timeout=abc"}, "DATABASE_URL: parameter connect_timeout"},
		{"worker with a Redis database Redis does not have names it", []string{"worker"}, map[string]string{"DATABASE_URL": "postgres://u@h/db", "REDIS_URL": "redis://x:6379/99"}, "REDIS_URL: must name a logical database from 0 to 15"},
		{"healthcheck with a bad PORT names it", []string{"healthcheck"}, map[string]string{"PORT": "eighty"}, "PORT"},
		{"an unknown command is an error", []string{"fly"}, map[string]string{}, "unknown command"},
		{"no command is an error", []string{}, map[string]string{}, "no command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), append([]string{"app"}, tc.args...), func(k string) string { return tc.env[k] }, &out, &out)
			if err == nil {
				t.Fatal("want an error")
			}
			if !strings.Contains(err.Error(), tc.varName) {
				t.Errorf("error %q does not name %s", err, tc.varName)
			}
			if strings.Contains(out.String(), `"msg":"starting"`) {
				t.Errorf("refused after the starting line:\n%s", out.String())
			}
		})
	}
}

func TestSecretsNeverReachTheLogs(t *testing.T) {
	const dbSecret, redisSecret, urlSecret = "db-Secret-4711", "redis-Secret-0815", "url-Secret-1234"
	rs := testenv.OwnRedis(t, "--requirepass", redisSecret)
	env := baseEnv(t)
	// The URL's password is overridden by DATABASE_PASSWORD (the test
	// Postgres trusts local connections, so any password works).
	env["DATABASE_URL"] = strings.Replace(env["DATABASE_URL"], "postgres@", "postgres:"+urlSecret+"@", 1)
	env["DATABASE_PASSWORD"] = dbSecret
	env["REDIS_URL"] = rs.URL
	env["REDIS_PASSWORD"] = redisSecret // without it Redis refuses us: readyz proves the override works
	p := start(t, env, "serve")
	if s, m := p.call("GET", "/readyz", "", nil); s != 200 {
		t.Fatalf("readyz %d %v", s, m)
	}
	tok := p.token("ada@example.com")
	p.call("GET", "/api/v1/me", tok, nil)
	p.call("GET", "/api/v1/me", "sy_wrong", nil)
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	logs := p.out.String()
	for _, s := range []string{dbSecret, redisSecret, urlSecret, tok, "correct horse"} {
		if strings.Contains(logs, s) {
			t.Errorf("secret %q appears in the logs", s)
		}
	}
	for i, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("log line %d is not JSON: %s", i+1, line)
		}
	}
	if !strings.Contains(logs, `"database_password":"********"`) {
		t.Errorf("config not logged masked:\n%s", logs)
	}
}

func TestJobRoundTrip(t *testing.T) {
	env := baseEnv(t)
	web := start(t, env, "serve")
	wenv := map[string]string{}
	for k, v := range env {
		wenv[k] = v
	}
	wenv["PORT"] = ""
	start(t, wenv, "worker")

	tok := web.token("ada@example.com")
	s, n := web.call("POST", "/api/v1/notes", tok, map[string]string{"title": "t", "body": "one two three four"})
	if s != 201 {
		t.Fatalf("create: %d %v", s, n)
	}
	path := fmt.Sprintf("/api/v1/notes/%d", int64(n["id"].(float64)))
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, got := web.call("GET", path, tok, nil)
		if got["word_count"] != nil {
			if got["word_count"] != float64(4) || got["summary"] != "one two three four" || got["processed_at"] == nil {
				t.Fatalf("job result: %v", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the worker did not process the note: %v", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Run("an edit of the body is reprocessed", func(t *testing.T) {
		web.call("PATCH", path, tok, map[string]string{"body": "just two"})
		for {
			_, got := web.call("GET", path, tok, nil)
			if got["word_count"] == float64(2) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("not reprocessed: %v", got)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

func TestEveryProcessServesOpsEndpoints(t *testing.T) {
	env := baseEnv(t)
	for _, cmd := range []string{"serve", "worker", "clock"} {
		t.Run(cmd, func(t *testing.T) {
			e := map[string]string{}
			for k, v := range env {
				e[k] = v
			}
			p := start(t, e, cmd)
			for _, path := range []string{"/livez", "/readyz", "/metrics", "/version"} {
				resp, err := http.Get(p.base + path)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("%s %s = %d", cmd, path, resp.StatusCode)
				}
			}
			if err := healthcheck(context.Background(), func(k string) string { return e[k] }); err != nil {
				t.Errorf("healthcheck against %s: %v", cmd, err)
			}
			if cmd == "clock" {
				// The clock records the every-minute sweep's latest slot
				// at once and enqueues it under the task ID job@slot.
				opts, _ := redis.ParseURL(env["REDIS_URL"])
				insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: opts.Addr, DB: opts.DB})
				defer insp.Close()
				var ids []string
				for range 300 {
					tasks, err := insp.ListPendingTasks("default")
					if err == nil && len(tasks) > 0 {
						for _, task := range tasks {
							ids = append(ids, task.ID)
						}
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
				if !strings.Contains(strings.Join(ids, ","), "note:sweep@") {
					t.Errorf("clock enqueued %v, want note:sweep@<slot>", ids)
				}
			}
			if err := p.stop(); err != nil {
				t.Errorf("%s did not exit cleanly: %v", cmd, err)
			}
		})
	}
}

func TestHealthcheckReadsPORTAsServeDoes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/livez" {
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	port := strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
	for _, tc := range []struct{ name, value string }{
		{"a plain PORT", port},
		{"a PORT with a leading space, which serve trims", " " + port},
		{"a PORT with a trailing newline, which serve trims", port + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := healthcheck(context.Background(), func(k string) string { return map[string]string{"PORT": tc.value}[k] }); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestHealthcheckFailsWhenNothingListens(t *testing.T) {
	port := strconv.Itoa(testenv.FreePort(t))
	if err := run(context.Background(), []string{"app", "healthcheck"}, func(k string) string {
		return map[string]string{"PORT": port}[k]
	}, io.Discard, io.Discard); err == nil {
		t.Fatal("healthcheck succeeded with nothing listening")
	}
}

func TestMigrateAndSeed(t *testing.T) {
	env := map[string]string{"DATABASE_URL": testenv.EmptyDatabaseURL(t)}
	app := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"app"}, args...), func(k string) string { return env[k] }, &out, &out)
		return out.String(), err
	}
	t.Run("seed before migrate says so", func(t *testing.T) {
		out, err := app("seed", "demo")
		if err == nil || !strings.Contains(out, "app migrate") {
			t.Fatalf("err %v, out %s", err, out)
		}
	})
	t.Run("migrate on an empty database succeeds", func(t *testing.T) {
		if out, err := app("migrate"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	})
	t.Run("migrate again is a no-op success", func(t *testing.T) {
		if out, err := app("migrate"); err != nil || !strings.Contains(out, `"applied":[]`) {
			t.Fatalf("%v\n%s", err, out)
		}
	})
	for _, tc := range []struct{ appEnv, scenario string }{
		{"prod", "demo"},
		{"prod", "large"},
		{"PROD", "demo"},
	} {
		t.Run("seed "+tc.scenario+" refuses APP_ENV="+tc.appEnv+" and loads nothing", func(t *testing.T) {
			env["APP_ENV"] = tc.appEnv
			defer delete(env, "APP_ENV")
			out, err := app("seed", tc.scenario)
			if err == nil || !strings.Contains(out, "APP_ENV="+tc.appEnv) || !strings.Contains(out, "allowed: any other APP_ENV") {
				t.Fatalf("err %v, out %s", err, out)
			}
		})
	}
	t.Run("seed demo loads an empty database", func(t *testing.T) {
		if out, err := app("seed", "demo"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	})
	t.Run("seed demo refuses a non-empty database", func(t *testing.T) {
		out, err := app("seed", "demo")
		if err == nil || !strings.Contains(out, "not empty") {
			t.Fatalf("err %v, out %s", err, out)
		}
	})
	t.Run("an unknown scenario lists the known ones", func(t *testing.T) {
		out, err := app("seed", "nope")
		if err == nil || !strings.Contains(out, "demo") {
			t.Fatalf("err %v, out %s", err, out)
		}
	})
	t.Run("the demo user can log in and sees processed notes", func(t *testing.T) {
		e := baseEnv(t)
		e["DATABASE_URL"] = env["DATABASE_URL"]
		p := start(t, e, "serve")
		s, m := p.call("POST", "/api/v1/sessions", "", map[string]string{"email": "demo@example.com", "password": "demo-password"})
		if s != 201 {
			t.Fatalf("%d %v", s, m)
		}
		_, list := p.call("GET", "/api/v1/notes", m["token"].(string), nil)
		items, _ := list["items"].([]any)
		if len(items) != 3 || items[0].(map[string]any)["word_count"] == nil {
			t.Fatalf("%v", list)
		}
	})
}

// TestDrainUnderLoad: while clients hammer the API, the process is told to
// stop (what SIGTERM does via main). readyz must turn 503 while requests
// are still served (DRAIN_DELAY), a request in flight when the listener
// closes must still complete, no request the server accepted may fail, and
// run must return nil.
func TestDrainUnderLoad(t *testing.T) {
	env := baseEnv(t)
	env["DRAIN_DELAY"] = "1s"
	p := start(t, env, "serve")
	tok := p.token("ada@example.com")
	_, n := p.call("POST", "/api/v1/notes", tok, map[string]string{"title": "t", "body": "b"})
	paths := []string{fmt.Sprintf("/api/v1/notes/%d", int64(n["id"].(float64))), "/api/v1/notes", "/api/v1/me"}

	var ok, okWhileDraining, failed atomic.Int64
	var draining atomic.Bool
	var firstFailure atomic.Value
	stopLoad := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	for i := range 8 {
		wg.Go(func() {
			for j := 0; ; j++ {
				select {
				case <-stopLoad:
					return
				default:
				}
				req, _ := http.NewRequest("GET", p.base+paths[(i+j)%len(paths)], nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, resp.Status)
					continue
				}
				ok.Add(1)
				if draining.Load() {
					okWhileDraining.Add(1)
				}
			}
		})
	}

	// A slow upload: in flight across the start of the shutdown.
	pr, pw := io.Pipe()
	slow := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("POST", p.base+"/api/v1/notes", pr)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
		if err != nil {
			slow <- err
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != 201 {
			b, _ := io.ReadAll(resp.Body)
			slow <- fmt.Errorf("slow request: %s %s", resp.Status, b)
			return
		}
		slow <- nil
	}()
	if _, err := io.WriteString(pw, `{"title":"in flight",`); err != nil {
		t.Fatal(err)
	}

	for ok.Load() < 200 {
		time.Sleep(5 * time.Millisecond)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- p.stop() }()

	// The load balancer's view: readyz turns 503 while the API still works;
	// it stops routing new requests some time within DRAIN_DELAY.
	for {
		resp, err := http.Get(p.base + "/readyz")
		if err != nil {
			t.Fatalf("readyz unreachable before it reported draining: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode == 503 {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	draining.Store(true)
	for okWhileDraining.Load() < 20 {
		time.Sleep(5 * time.Millisecond)
	}
	close(stopLoad)
	wg.Wait()

	// Wait for the listener to close, then finish the in-flight upload.
	for {
		c, err := net.Dial("tcp", strings.TrimPrefix(p.base, "http://"))
		if err != nil {
			break
		}
		c.Close()
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := io.WriteString(pw, `"body":"finished after the listener closed"}`); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := <-slow; err != nil {
		t.Errorf("the in-flight request failed: %v", err)
	}

	if err := <-stopped; err != nil {
		t.Fatalf("run returned %v, want a clean exit", err)
	}
	if failed.Load() > 0 {
		t.Fatalf("%d of %d requests failed during the drain (first: %v)", failed.Load(), failed.Load()+ok.Load(), firstFailure.Load())
	}
	if !strings.Contains(p.out.String(), `"msg":"drained"`) {
		t.Error("no drained log line")
	}
	t.Logf("%d requests ok (%d while draining), 0 failed", ok.Load(), okWhileDraining.Load())
}

// TestNoSecretInAnyLogLine runs `app serve` (until its context ends at
// once) with a password in each form the environment can carry it, and
// `app migrate` against a Postgres that refuses connections, and checks
// every line the process writes.
func TestNoSecretInAnyLogLine(t *testing.T) {
	const secret = "S3cr3t-pw"
	closed := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	// Each case either starts (logs its config, then fails to connect or
	// drains) or is rejected by the config check before anything starts:
	// the secret must be in no line of either.
	const (
		starts   = `"msg":"starting"`
		rejected = `"msg":"invalid configuration"`
	)
	for _, tc := range []struct {
		name string
		cmd  string
		env  map[string]string
		want string // starts or rejected
	}{
		{"password in DATABASE_URL's userinfo", "serve", map[string]string{"DATABASE_URL": "postgres://u:" + secret + "@" + closed + "/app?sslmode=disable"}, starts},
		{"password as DATABASE_URL's ?password=", "serve", map[string]string{"DATABASE_URL": "postgres://u@" + closed + "/app?sslmode=disable&password=" + secret}, starts},
		{"password in a key=value DATABASE_URL", "serve", map[string]string{"DATABASE_URL": "host=127.0.0.1 port=1 user=u dbname=app sslmode=disable password=" + secret}, starts},
		{"a key=value DATABASE_URL without host is rejected", "serve", map[string]string{"DATABASE_URL": "user=u password=" + secret}, rejected},
		{"a DATABASE_URL with a password and a bad sslmode is rejected", "serve", map[string]string{"DATABASE_URL": "postgres://u:" + secret + "@" + closed + "/app?sslmode=bogus"}, rejected},
		{"a key=value DATABASE_URL with a password and a bad connect_timeout is rejected", "migrate", map[string]string{"DATABASE_URL": "host=127.0.0.1 password=" + secret + " connect_timeout=soon"}, rejected},
		{"DATABASE_PASSWORD", "serve", map[string]string{"DATABASE_PASSWORD": secret}, starts},
		{"password in REDIS_URL's userinfo", "serve", map[string]string{"REDIS_URL": "redis://:" + secret + "@" + closed + "/0"}, starts},
		{"password as REDIS_URL's ?password= is rejected", "serve", map[string]string{"REDIS_URL": "redis://" + closed + "/0?password=" + secret}, rejected},
		{"REDIS_PASSWORD", "serve", map[string]string{"REDIS_PASSWORD": secret}, starts},
		{"migrate against a refusing postgres with the password in the URL", "migrate", map[string]string{"DATABASE_URL": "postgres://u:" + secret + "@" + closed + "/app?sslmode=disable"}, starts},
		{"migrate against a refusing postgres with ?password=", "migrate", map[string]string{"DATABASE_URL": "postgres://u@" + closed + "/app?sslmode=disable&password=" + secret}, starts},
		{"migrate against a refusing postgres with a key=value DSN", "migrate", map[string]string{"DATABASE_URL": "host=127.0.0.1 port=1 user=u dbname=app password=" + secret}, starts},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{
				"DATABASE_URL": "postgres://u@" + closed + "/app?sslmode=disable", "REDIS_URL": "redis://" + closed + "/0",
				"PORT": strconv.Itoa(testenv.FreePort(t)), "LOG_LEVEL": "debug", "DATABASE_CONNECT_TIMEOUT": "1s",
			}
			for k, v := range tc.env {
				env[k] = v
			}
			ctx, cancel := context.WithCancel(context.Background())
			if tc.cmd == "serve" {
				cancel() // serve starts, then drains and exits at once
			}
			defer cancel()
			var out bytes.Buffer
			err := run(ctx, []string{"app", tc.cmd}, func(k string) string { return env[k] }, &out, &out)
			logs := out.String()
			if strings.Contains(logs, "S3cr3t") || (err != nil && strings.Contains(err.Error(), "S3cr3t")) {
				t.Fatalf("secret in the output (err %v):\n%s", err, logs)
			}
			other := rejected
			if tc.want == rejected {
				other = starts
				if err == nil {
					t.Errorf("run returned no error for a rejected configuration")
				}
			}
			if !strings.Contains(logs, tc.want) || strings.Contains(logs, other) {
				t.Fatalf("want a %s line and no %s line:\n%s", tc.want, other, logs)
			}
		})
	}
}

// TestShutdownWithinTimeoutWhenPostgresHangs: a request is stuck on a
// Postgres that stopped answering (REQUEST_TIMEOUT far away) when the
// process is told to stop; run must return within SHUTDOWN_TIMEOUT anyway
// (ECS would SIGKILL it otherwise), whatever closing the pool does.
func TestShutdownWithinTimeoutWhenPostgresHangs(t *testing.T) {
	env := baseEnv(t)
	var pp *testenv.Proxy
	env["DATABASE_URL"], pp = testenv.ProxyURL(t, env["DATABASE_URL"])
	// Unbounded, the stuck request would hold run for a minute.
	env["REQUEST_TIMEOUT"] = "60s"
	env["SHUTDOWN_TIMEOUT"] = "2s"
	p := start(t, env, "serve")
	tok := p.token("ada@example.com")
	p.call("GET", "/api/v1/me", tok, nil) // the token is cached: only the list below needs Postgres

	// The list's query reaches Postgres, whose answer never comes; then
	// Postgres stops answering anything.
	pp.HoldRepliesFrom("FROM notes")
	defer pp.Resume()
	stuck := make(chan struct{})
	go func() {
		defer close(stuck)
		req, _ := http.NewRequest("GET", p.base+"/api/v1/notes", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	for deadline := time.Now().Add(10 * time.Second); !pp.HoldsReplies(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the list's query never reached postgres")
		}
	}
	pp.Stall()
	start := time.Now()
	err := p.stop()
	took := time.Since(start)
	// It returned because SHUTDOWN_TIMEOUT passed: the request was cut
	// off, and so was closing the pool (each connection to the stalled
	// Postgres takes 15 s to give up), long before either would end.
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "SHUTDOWN_TIMEOUT") {
		t.Errorf("run returned %v, want the in-flight request cut off at SHUTDOWN_TIMEOUT", err)
	}
	if !strings.Contains(p.out.String(), "connections not closed within SHUTDOWN_TIMEOUT") {
		t.Errorf("no line saying closing the connections was cut off at SHUTDOWN_TIMEOUT")
	}
	if took > 10*time.Second {
		t.Errorf("shutdown took %v with SHUTDOWN_TIMEOUT=2s", took)
	}
	t.Logf("run returned after %v: %v", took, err)
	<-stuck
}

// TestWorkerShutdownWithinTimeoutWhenRedisHangs: the worker is told to stop
// while Redis has stopped answering (asynq's shutdown talks to Redis); run
// must still return within SHUTDOWN_TIMEOUT.
func TestWorkerShutdownWithinTimeoutWhenRedisHangs(t *testing.T) {
	env := baseEnv(t)
	var rp *testenv.Proxy
	env["REDIS_URL"], rp = testenv.ProxyURL(t, env["REDIS_URL"])
	// Unbounded, asynq's shutdown would wait 30 s for each command sent
	// to the stalled Redis.
	const redisTimeout = 30 * time.Second
	env["REDIS_TIMEOUT"] = redisTimeout.String()
	env["SHUTDOWN_TIMEOUT"] = "3s"
	p := start(t, env, "worker")
	time.Sleep(300 * time.Millisecond) // asynq is up and polling
	rp.Stall()
	defer rp.Resume()
	start := time.Now()
	err := p.stop()
	took := time.Since(start)
	// It returned because SHUTDOWN_TIMEOUT cut asynq's shutdown off, and
	// long before a single Redis command would have timed out.
	if err != nil {
		t.Errorf("run returned %v, want a clean exit (the ops server drained)", err)
	}
	if !strings.Contains(p.out.String(), "job server/scheduler did not stop within SHUTDOWN_TIMEOUT") {
		t.Errorf("no line saying the job server's shutdown was cut off at SHUTDOWN_TIMEOUT:\n%s", p.out.String())
	}
	if took > redisTimeout/3 {
		t.Errorf("worker shutdown took %v with SHUTDOWN_TIMEOUT=3s", took)
	}
	t.Logf("run returned after %v: %v", took, err)
}

func TestSeedRefusesTheProductionStacksAppEnv(t *testing.T) {
	if prodAppEnv != stackconfig.ProdStack {
		t.Errorf("seed refuses APP_ENV=%s; the production stack, whose name is its APP_ENV, is %s", prodAppEnv, stackconfig.ProdStack)
	}
}

func TestMigrateReportAndDBCheck(t *testing.T) {
	env := map[string]string{"DATABASE_URL": testenv.EmptyDatabaseURL(t)}
	app := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"app"}, args...), func(k string) string { return env[k] }, &out, &out)
		return out.String(), err
	}
	if out, err := app("dbcheck"); err == nil {
		t.Fatalf("dbcheck passed on an unmigrated database:\n%s", out)
	}
	for _, args := range [][]string{{"--report"}, {"--report", "--from=0"}} {
		out, err := app(append([]string{"migrate"}, args...)...)
		if err == nil || !strings.Contains(out, "--report needs --scratch") {
			t.Fatalf("migrate %v on DATABASE_URL itself: err %v\n%s", args, err, out)
		}
	}
	if out, err := app("migrate", "--from=1"); err == nil {
		t.Fatalf("--from without --report accepted:\n%s", out)
	}
	out, err := app("migrate", "--report", "--scratch", "--from=0")
	if err != nil {
		t.Fatalf("migrate --report --scratch: %v\n%s", err, out)
	}
	var report struct {
		MigrationReport struct {
			SeedNotes  int64 `json:"seedNotes"`
			Migrations []struct {
				Version    int64    `json:"version"`
				DurationMS int64    `json:"durationMs"`
				Locks      []string `json:"locks"`
			} `json:"migrations"`
		} `json:"migrationReport"`
	}
	found := false
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, `{"migrationReport":`) {
			found = json.Unmarshal([]byte(line), &report) == nil
		}
	}
	if !found || len(report.MigrationReport.Migrations) == 0 || report.MigrationReport.Migrations[0].Version != 1 || report.MigrationReport.Migrations[0].Locks == nil {
		t.Fatalf("no report with migration 1 in:\n%s", out)
	}
	// The report measured in a database of its own: DATABASE_URL's is
	// as it was, unmigrated, until `app migrate`.
	if out, err := app("dbcheck"); err == nil {
		t.Fatalf("dbcheck passed after the report: it migrated DATABASE_URL's database:\n%s", out)
	}
	if out, err := app("migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	if out, err := app("dbcheck"); err != nil || !strings.Contains(out, "read check passed") {
		t.Fatalf("dbcheck after migrate: %v\n%s", err, out)
	}
	// Measured in a new scratch database again: all of them again.
	out, err = app("migrate", "--report", "--scratch")
	if err != nil || !strings.Contains(out, `{"migrationReport":{"migrations":[{"version":1,`) {
		t.Fatalf("migrate --report --scratch: %v\n%s", err, out)
	}
}

// inOrder fails unless out holds each of subs, each after the previous.
func inOrder(t *testing.T, out string, subs ...string) {
	t.Helper()
	at := 0
	for n, sub := range subs {
		i := strings.Index(out[at:], sub)
		if i < 0 {
			t.Fatalf("%s is not after %s in the output:\n%s", sub, strings.Join(subs[:n], ", "), out)
		}
		at += i + len(sub)
	}
}

// TestCommandOutputFollowsTheLinesLoggedBeforeIt: what a command prints
// (a report, the jobs' status) shares stdout with the buffered log; it is
// written after the lines logged before it and never while a flush writes
// (under -race the plain buffer would report it).
func TestCommandOutputFollowsTheLinesLoggedBeforeIt(t *testing.T) {
	env := baseEnv(t)
	for _, tc := range []struct {
		args []string
		line string
	}{
		{[]string{"jobs"}, `{"jobs":[`},
		{[]string{"migrate", "--report", "--scratch"}, `{"migrationReport":`},
	} {
		var out bytes.Buffer
		if err := run(context.Background(), append([]string{"app"}, tc.args...), func(k string) string { return env[k] }, &out, &out); err != nil {
			t.Fatalf("app %v: %v\n%s", tc.args, err, out.String())
		}
		inOrder(t, out.String(), `"msg":"starting"`, tc.line, `"msg":"exited cleanly"`)
	}
}

func TestRedisClientMessagesAreJSONLogLines(t *testing.T) {
	env := appEnv(testenv.DatabaseURL(t), fmt.Sprintf("redis://127.0.0.1:%d/0", testenv.FreePort(t))) // nothing listens
	p := start(t, env, "serve")
	tok := p.token("ada@example.com")
	p.call("GET", "/api/v1/me", tok, nil) // dials redis, fails
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.out.String(), `"msg":"redis client"`) {
		if time.Now().After(deadline) {
			t.Fatalf("go-redis's dial failures never reached the JSON log:\n%s", p.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	line := testenv.GrepLines(p.out.String(), `"msg":"redis client"`)
	if !strings.Contains(line, `"level":"DEBUG"`) || !strings.Contains(line, "failed to dial") {
		t.Errorf("go-redis's message: %s", line)
	}
}

// TestAnInvalidRedisURLIsReportedWithItsCause: the processes' Redis
// client refuses a REDIS_URL go-redis cannot parse with the reason, and
// the URL only redacted (config.Load checks it first; this is the error
// if a URL gets past it).
func TestAnInvalidRedisURLIsReportedWithItsCause(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"redis://:S3cr3t-pw%zz@cache:6379/0", `redis: REDIS_URL "<unparseable>": want a URL such as "redis://host:6379/0" or "rediss://…": not a URL: invalid URL escape "…"`},
		{"redis://app:S3cr3t-pw@cache:6379/x", `redis: REDIS_URL "redis://app:xxxxx@cache:6379/x": want a URL such as "redis://host:6379/0" or "rediss://…": redis: invalid database number: "x"`},
	} {
		cfg := &config.Config{DatabaseURL: "postgres://u@127.0.0.1:1/x?sslmode=disable", RedisURL: tc.url, RedisTimeout: time.Second, ShutdownTimeout: time.Second}
		d, err := newDeps(context.Background(), slog.New(slog.DiscardHandler), cfg, telemetry.Off(), false)
		if err == nil {
			d.close()
			t.Fatalf("REDIS_URL %s accepted", tc.url)
		}
		if err.Error() != tc.want {
			t.Errorf("REDIS_URL %s: %v\nwant %s", tc.url, err, tc.want)
		}
	}
}
