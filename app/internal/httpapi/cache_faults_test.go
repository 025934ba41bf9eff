package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/shipyard-kit/shipyard/app/internal/testenv"
)

// waitFor polls cond every 10 ms until it holds or 10 s passed.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// warm reads each path until the cache serves it. One read would fill
// it, but on a loaded machine the cache generation's read can miss its
// 1 s lease, and until the next read succeeds the cache is bypassed (as
// it must be): a test of the cache waits for it to be in use.
func (a *testApp) warm(tok string, paths ...string) {
	a.t.Helper()
	for _, p := range paths {
		waitFor(a.t, "the cache to serve "+p, func() bool {
			return a.do("GET", p, tok, nil).header.Get("X-Cache") == "hit"
		})
	}
}

func (a *testApp) noteVersion(id int64) int64 {
	a.t.Helper()
	var v int64
	if err := a.pool.QueryRow(context.Background(), `SELECT version FROM notes WHERE id = $1`, id).Scan(&v); err != nil {
		a.t.Fatal(err)
	}
	return v
}

func (a *testApp) metrics() string { return string(a.do("GET", "/metrics", "", nil).body) }

// metric is the value of one series in /metrics, by its name and labels as
// written there; 0 if it is not there yet.
func (a *testApp) metric(series string) float64 {
	a.t.Helper()
	for _, line := range strings.Split(a.metrics(), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				a.t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	return 0
}

// stalledRedis is a Redis for one test and a way to make it hang.
type stalledRedis struct {
	name  string
	start func(t *testing.T) (url string, stall, resume func())
}

var stalls = []stalledRedis{
	{name: "a proxy that stops forwarding (what a partition loses is lost)", start: func(t *testing.T) (string, func(), func()) {
		u, p := testenv.ProxyURL(t, testenv.RedisURL(t))
		return u, p.Stall, p.Resume
	}},
	{name: "redis-server stopped with SIGSTOP, then SIGCONT", start: func(t *testing.T) (string, func(), func()) {
		rs := testenv.OwnRedis(t)
		return rs.URL, rs.Pause, rs.Continue
	}},
}

func TestCacheStaysCorrectWhenRedisStalls(t *testing.T) {
	for _, st := range stalls {
		t.Run(st.name, func(t *testing.T) { cacheThroughStall(t, st) })
	}
}

func cacheThroughStall(t *testing.T, st stalledRedis) {
	redisURL, stall, resume := st.start(t)
	defer resume()
	a := newApp(t, func(o *appOpts) { o.redisURL = redisURL; o.redisTimeout = 300 * time.Millisecond })
	tok := a.user("ada@example.com")
	kept := a.note(tok, "kept", "version one")
	gone := a.note(tok, "gone", "to be deleted")
	keptPath := fmt.Sprintf("/api/v1/notes/%d", int64(kept["id"].(float64)))
	gonePath := fmt.Sprintf("/api/v1/notes/%d", int64(gone["id"].(float64)))
	a.warm(tok, keptPath, gonePath)

	stall()
	r := a.do("PATCH", keptPath, tok, map[string]string{"body": "version two"})
	if r.status != 200 {
		t.Fatalf("PATCH while redis stalls: %d %s", r.status, r.body)
	}
	etag := r.header.Get("ETag")
	if r := a.do("DELETE", gonePath, tok, nil); r.status != 204 {
		t.Fatalf("DELETE while redis stalls: %d %s", r.status, r.body)
	}

	t.Run("while redis stalls reads come from postgres and readyz is degraded, not failed", func(t *testing.T) {
		if r := a.do("GET", keptPath, tok, nil); r.status != 200 || r.json(t)["body"] != "version two" {
			t.Fatalf("%d %s", r.status, r.body)
		}
		r := a.do("GET", "/readyz", "", nil)
		if r.status != 200 || r.json(t)["status"] != "degraded" {
			t.Fatalf("readyz %d %s", r.status, r.body)
		}
	})

	resume()
	t.Run("after redis returns no read serves the version before the write", func(t *testing.T) {
		// Straight away, and also once the breaker has closed again and the
		// cache is in use.
		check := func() {
			t.Helper()
			r := a.do("GET", keptPath, tok, nil)
			if r.status != 200 || r.json(t)["body"] != "version two" || r.header.Get("ETag") != etag {
				t.Fatalf("stale read (X-Cache %s): %d %s", r.header.Get("X-Cache"), r.status, r.body)
			}
			if r := a.do("GET", gonePath, tok, nil); r.status != 404 {
				t.Fatalf("deleted note served (X-Cache %s): %d %s", r.header.Get("X-Cache"), r.status, r.body)
			}
		}
		check()
		waitFor(t, "the cache to be used again", func() bool {
			return a.do("GET", keptPath, tok, nil).header.Get("X-Cache") == "hit"
		})
		check()
		if n := a.notes.Pending(); n != 0 {
			t.Fatalf("%d cache writes still pending", n)
		}
	})
	t.Run("a PATCH with the ETag the client saw succeeds", func(t *testing.T) {
		if r := a.do("PATCH", keptPath, tok, map[string]string{"title": "again"}, "If-Match", etag); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
}

func TestCacheStaysCorrectWhenTheClientDisconnectsAfterAPatch(t *testing.T) {
	dbURL, pp := testenv.ProxyURL(t, testenv.DatabaseURL(t))
	a := newApp(t, func(o *appOpts) { o.dbURL = dbURL })
	tok := a.user("ada@example.com")
	n := a.note(tok, "t", "version one")
	id := int64(n["id"].(float64))
	path := fmt.Sprintf("/api/v1/notes/%d", id)
	a.warm(tok, path)
	before := a.noteVersion(id)

	// Postgres commits the UPDATE, but its answer is held until the client
	// has gone away.
	pp.HoldRepliesAfter("UPDATE notes")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequestWithContext(ctx, "PATCH", a.srv.URL+path, strings.NewReader(`{"body":"version two"}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	waitFor(t, "the update to commit", func() bool { return a.noteVersion(id) > before })
	cancel()
	<-done
	time.Sleep(100 * time.Millisecond) // let the server notice the disconnect
	pp.Resume()
	waitFor(t, "the PATCH to finish", func() bool { return strings.Contains(a.logs.String(), `"method":"PATCH"`) })

	r := a.do("GET", path, tok, nil)
	if r.status != 200 || r.json(t)["body"] != "version two" {
		t.Fatalf("read after a committed PATCH returned the old version (X-Cache %s): %s", r.header.Get("X-Cache"), r.body)
	}
	// The body changed, so the PATCH enqueued the note's job, despite the
	// client being gone: one task from the create, one from the PATCH.
	opts := a.rdb.Options()
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: opts.Addr, DB: opts.DB})
	defer insp.Close()
	tasks, err := insp.ListPendingTasks("default")
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 2 {
		t.Fatalf("%d note:process tasks queued, want 2 (create and PATCH)", len(tasks))
	}
}

func TestRedisStallIsDetectedOnceThenSkipped(t *testing.T) {
	// A read of a stalled Redis waits REDIS_TIMEOUT: 5 s, long enough that
	// no machine is slow enough to make the reads below take one.
	const redisTimeout = 5 * time.Second
	redisURL, rp := testenv.ProxyURL(t, testenv.RedisURL(t))
	a := newApp(t, func(o *appOpts) { o.redisURL = redisURL; o.redisTimeout = redisTimeout })
	tok := a.user("ada@example.com")
	path := fmt.Sprintf("/api/v1/notes/%d", int64(a.note(tok, "t", "b")["id"].(float64)))
	a.do("GET", path, tok, nil)

	rp.Stall()
	a.do("GET", path, tok, nil) // pays REDIS_TIMEOUT once
	t.Run("later requests do not wait on redis", func(t *testing.T) {
		// Each would wait REDIS_TIMEOUT twice without the breaker: what
		// each does instead is read Postgres with its cache reads refused
		// by the breaker (or, if the generation's lease lapsed on a slow
		// machine, not tried at all), and the five together take less
		// than one REDIS_TIMEOUT.
		var took time.Duration
		for i := range 5 {
			skipped, fenced := a.metric("app_redis_breaker_skipped_total"), a.metric(`app_cache_requests_total{cache="token",result="fenced"}`)
			start := time.Now()
			r := a.do("GET", path, tok, nil)
			took += time.Since(start)
			if r.status != 200 || r.header.Get("X-Cache") != "miss" {
				t.Fatalf("read %d: %d %s %s", i, r.status, r.header.Get("X-Cache"), r.body)
			}
			if a.metric("app_redis_breaker_skipped_total") == skipped && a.metric(`app_cache_requests_total{cache="token",result="fenced"}`) == fenced {
				t.Fatalf("read %d sent its cache reads to the stalled redis", i)
			}
		}
		if took > redisTimeout {
			t.Fatalf("5 reads took %v while redis stalled", took)
		}
		if !strings.Contains(a.metrics(), "app_redis_breaker_open 1") {
			t.Error("breaker not reported open")
		}
		if n := a.metric("app_redis_breaker_trips_total"); n != 1 {
			t.Errorf("the breaker tripped %v times, want once", n)
		}
	})
	rp.Resume()
	t.Run("the cache is used again once redis answers", func(t *testing.T) {
		waitFor(t, "a cache hit", func() bool { return a.do("GET", path, tok, nil).header.Get("X-Cache") == "hit" })
		if !strings.Contains(a.metrics(), "app_redis_breaker_open 0") {
			t.Error("breaker not reported closed")
		}
	})
}

func TestLogoutStaysEffectiveWhenRedisStalls(t *testing.T) {
	redisURL, rp := testenv.ProxyURL(t, testenv.RedisURL(t))
	a := newApp(t, func(o *appOpts) { o.redisURL = redisURL; o.redisTimeout = 300 * time.Millisecond })
	tok := a.user("ada@example.com")
	a.do("GET", "/api/v1/me", tok, nil) // cached as valid
	rp.Stall()
	// The revoked marker cannot be written, so the logout bumps the
	// cache generation (Postgres) and answers once no replica serves the
	// old entries.
	if r := a.do("DELETE", "/api/v1/sessions/current", tok, nil); r.status != 204 {
		t.Fatalf("logout with redis stalled: %d %s", r.status, r.body)
	}
	rp.Resume()
	if r := a.do("GET", "/api/v1/me", tok, nil); r.status != 401 {
		t.Fatalf("revoked token accepted after redis returned: %d %s", r.status, r.body)
	}
	waitFor(t, "the revocation to reach the cache", func() bool {
		v, err := a.rdb.Keys(context.Background(), "shipyard:tok:*").Result()
		if err != nil || len(v) != 1 {
			return false
		}
		s, _ := a.rdb.Get(context.Background(), v[0]).Result()
		return s == "revoked"
	})
}

func TestCacheStaysCorrectWhenAPatchTimesOutAfterTheCommit(t *testing.T) {
	dbURL, pp := testenv.ProxyURL(t, testenv.DatabaseURL(t))
	a := newApp(t, func(o *appOpts) { o.dbURL = dbURL; o.opts.RequestTimeout = time.Second })
	tok := a.user("ada@example.com")
	id := int64(a.note(tok, "t", "version one")["id"].(float64))
	path := fmt.Sprintf("/api/v1/notes/%d", id)
	a.warm(tok, path)

	// Postgres commits, its answer comes after REQUEST_TIMEOUT: the
	// client gets 503 though the change is made.
	pp.HoldRepliesAfter("UPDATE notes")
	wantProblem(t, a.do("PATCH", path, tok, map[string]string{"body": "version two"}), 503, "unavailable")
	pp.Resume()
	if v := a.noteVersion(id); v != 2 {
		t.Fatalf("the update did not commit (version %d); the test needs it to", v)
	}
	r := a.do("GET", path, tok, nil)
	if r.status != 200 || r.json(t)["body"] != "version two" {
		t.Fatalf("the committed version is not served (X-Cache %s): %s", r.header.Get("X-Cache"), r.body)
	}
	waitFor(t, "the cache to hold the committed version", func() bool {
		r := a.do("GET", path, tok, nil)
		return r.header.Get("X-Cache") == "hit" && r.json(t)["body"] == "version two"
	})
}

func TestNoteReadsWithoutRedisStillCheckTheCaller(t *testing.T) {
	redisURL, rp := testenv.ProxyURL(t, testenv.RedisURL(t))
	a := newApp(t, func(o *appOpts) { o.redisURL = redisURL; o.redisTimeout = 300 * time.Millisecond })
	ada, bob := a.user("ada@example.com"), a.user("bob@example.com")
	path := fmt.Sprintf("/api/v1/notes/%d", int64(a.note(ada, "t", "ada's")["id"].(float64)))
	rp.Stall()
	defer rp.Resume()
	a.do("GET", path, ada, nil) // detects the stall
	if r := a.do("GET", path, ada, nil); r.status != 200 || r.header.Get("X-Cache") != "miss" {
		t.Fatalf("owner: %d %s", r.status, r.body)
	}
	wantProblem(t, a.do("GET", path, bob, nil), 404, "not_found")
	wantProblem(t, a.do("GET", path, "sy_not-a-token", nil), 401, "invalid_token")
}
