package httpapi_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shipyard-kit/shipyard/app/internal/testenv"
)

func TestOpsEndpoints(t *testing.T) {
	a := newApp(t)
	t.Run("livez answers 200", func(t *testing.T) {
		r := a.do("GET", "/livez", "", nil)
		if r.status != 200 || r.json(t)["status"] != "ok" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("version reports version and commit", func(t *testing.T) {
		m := a.do("GET", "/version", "", nil).json(t)
		if m["version"] == nil || m["commit"] == nil {
			t.Fatalf("%v", m)
		}
	})
	t.Run("readyz is 200 when postgres and redis answer", func(t *testing.T) {
		r := a.do("GET", "/readyz", "", nil)
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("metrics exposes request duration histograms by route", func(t *testing.T) {
		a.do("GET", "/livez", "", nil)
		r := a.do("GET", "/metrics", "", nil)
		if !strings.Contains(string(r.body), `http_request_duration_seconds_bucket{method="GET",route="/livez",status="200"`) {
			t.Fatalf("no histogram for /livez in:\n%s", r.body)
		}
	})
	t.Run("an unknown route is a not_found problem", func(t *testing.T) {
		wantProblem(t, a.do("GET", "/nope", "", nil), 404, "not_found")
	})
	t.Run("a wrong method is a method_not_allowed problem", func(t *testing.T) {
		wantProblem(t, a.do("DELETE", "/livez", "", nil), 405, "method_not_allowed")
	})
	t.Run("every request gets an access log line with route and request id", func(t *testing.T) {
		r := a.do("GET", "/livez", "", nil, "X-Request-Id", "abc-123")
		if r.header.Get("X-Request-Id") != "abc-123" {
			t.Errorf("request id not echoed: %q", r.header.Get("X-Request-Id"))
		}
		logs := a.logs.String()
		if !strings.Contains(logs, `"request_id":"abc-123"`) || !strings.Contains(logs, `"route":"/livez"`) {
			t.Fatalf("no access log line for the request in:\n%s", logs)
		}
	})
	t.Run("readyz is 503 once draining", func(t *testing.T) {
		a.ready.Drain()
		r := a.do("GET", "/readyz", "", nil)
		if r.status != 503 || r.json(t)["status"] != "draining" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
}

func TestRegisterAndLogin(t *testing.T) {
	a := newApp(t, func(o *appOpts) { o.opts.MaxBodyBytes = 512 })
	ok := a.do("POST", "/api/v1/users", "", map[string]string{"email": "Ada@Example.com", "password": "correct horse", "name": "Ada"})
	if ok.status != 201 {
		t.Fatalf("register: %d %s", ok.status, ok.body)
	}
	u := ok.json(t)
	if u["email"] != "ada@example.com" || u["name"] != "Ada" || u["id"] == nil || u["password"] != nil || u["password_hash"] != nil {
		t.Fatalf("register response: %s", ok.body)
	}

	for _, tc := range []struct {
		name   string
		path   string
		body   any
		ctype  string
		status int
		code   string
		field  string
	}{
		{"registering a taken email (any case) is a conflict", "/api/v1/users", map[string]string{"email": "ADA@example.com", "password": "another one"}, "", 409, "email_taken", ""},
		{"an invalid email is a field error", "/api/v1/users", map[string]string{"email": "not-an-email", "password": "correct horse"}, "", 422, "validation_failed", "email"},
		{"a short password is a field error", "/api/v1/users", map[string]string{"email": "b@example.com", "password": "short"}, "", 422, "validation_failed", "password"},
		{"a missing email is a field error", "/api/v1/users", map[string]string{"password": "correct horse"}, "", 422, "validation_failed", "email"},
		{"a wrong JSON type is a field error", "/api/v1/users", `{"email": 42, "password": "correct horse"}`, "", 422, "validation_failed", "email"},
		{"malformed JSON is a bad request", "/api/v1/users", `{"email": `, "", 400, "malformed_json", ""},
		{"an unknown field is a bad request", "/api/v1/users", `{"email":"c@example.com","password":"correct horse","admin":true}`, "", 400, "malformed_json", ""},
		{"trailing data is a bad request", "/api/v1/users", `{"email":"c@example.com","password":"correct horse"} {}`, "", 400, "malformed_json", ""},
		{"an empty body is a bad request", "/api/v1/users", ``, "", 400, "malformed_json", ""},
		{"a form body is an unsupported media type", "/api/v1/users", `email=x`, "application/x-www-form-urlencoded", 415, "unsupported_media_type", ""},
		{"a body over MAX_BODY_BYTES is too large", "/api/v1/users", `{"email":"` + strings.Repeat("a", 600) + `"}`, "", 413, "body_too_large", ""},
		{"login with a wrong password is invalid_credentials", "/api/v1/sessions", map[string]string{"email": "ada@example.com", "password": "wrong password"}, "", 401, "invalid_credentials", ""},
		{"login with an unknown email is invalid_credentials", "/api/v1/sessions", map[string]string{"email": "nobody@example.com", "password": "correct horse"}, "", 401, "invalid_credentials", ""},
		{"login without a password is a field error", "/api/v1/login", map[string]string{"email": "ada@example.com"}, "", 422, "validation_failed", "password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r response
			if tc.ctype != "" {
				r = a.do("POST", tc.path, "", tc.body, "Content-Type", tc.ctype)
			} else {
				r = a.do("POST", tc.path, "", tc.body)
			}
			p := wantProblem(t, r, tc.status, tc.code)
			if tc.field != "" {
				errs, _ := p["errors"].([]any)
				found := false
				for _, e := range errs {
					if e.(map[string]any)["field"] == tc.field {
						found = true
					}
				}
				if !found {
					t.Errorf("no field error for %q in %s", tc.field, r.body)
				}
			}
		})
	}

	t.Run("login returns an opaque bearer token with an expiry", func(t *testing.T) {
		for _, path := range []string{"/api/v1/sessions", "/api/v1/login"} {
			r := a.do("POST", path, "", map[string]string{"email": "ada@example.com", "password": "correct horse"})
			if r.status != 201 {
				t.Fatalf("%s: %d %s", path, r.status, r.body)
			}
			m := r.json(t)
			tok, _ := m["token"].(string)
			if !strings.HasPrefix(tok, "sy_") || m["token_type"] != "Bearer" || m["expires_at"] == nil {
				t.Fatalf("%s: %s", path, r.body)
			}
		}
	})

	t.Run("tokens are stored only as hashes", func(t *testing.T) {
		r := a.do("POST", "/api/v1/sessions", "", map[string]string{"email": "ada@example.com", "password": "correct horse"})
		tok := r.json(t)["token"].(string)
		var n int
		if err := a.pool.QueryRow(context.Background(), `SELECT count(*) FROM tokens WHERE hash = $1::bytea`, []byte(tok)).Scan(&n); err != nil || n != 0 {
			t.Fatalf("token stored in clear (n=%d, err=%v)", n, err)
		}
	})
}

func TestAuthentication(t *testing.T) {
	a := newApp(t)
	token := a.user("ada@example.com")

	t.Run("a valid token identifies the user", func(t *testing.T) {
		r := a.do("GET", "/api/v1/me", token, nil)
		if r.status != 200 || r.json(t)["email"] != "ada@example.com" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("no Authorization header is unauthorized with a Bearer challenge", func(t *testing.T) {
		r := a.do("GET", "/api/v1/me", "", nil)
		wantProblem(t, r, 401, "unauthorized")
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
		}
	})
	t.Run("a basic auth header is unauthorized", func(t *testing.T) {
		wantProblem(t, a.do("GET", "/api/v1/me", "", nil, "Authorization", "Basic Zm9vOmJhcg=="), 401, "unauthorized")
	})
	t.Run("an unknown token is invalid", func(t *testing.T) {
		wantProblem(t, a.do("GET", "/api/v1/me", "sy_nope", nil), 401, "invalid_token")
	})
	t.Run("an expired token is invalid", func(t *testing.T) {
		tok := a.login("ada@example.com")
		if _, err := a.pool.Exec(context.Background(), `UPDATE tokens SET expires_at = now() - interval '1 second'
			WHERE hash = sha256($1::bytea)`, []byte(tok)); err != nil {
			t.Fatal(err)
		}
		wantProblem(t, a.do("GET", "/api/v1/me", tok, nil), 401, "invalid_token")
	})
	for _, logout := range []struct{ method, path string }{{"DELETE", "/api/v1/sessions/current"}, {"POST", "/api/v1/logout"}} {
		t.Run(fmt.Sprintf("%s %s revokes the token", logout.method, logout.path), func(t *testing.T) {
			tok := a.login("ada@example.com")
			if r := a.do(logout.method, logout.path, tok, nil); r.status != 204 {
				t.Fatalf("logout: %d %s", r.status, r.body)
			}
			wantProblem(t, a.do("GET", "/api/v1/me", tok, nil), 401, "invalid_token")
			if r := a.do("GET", "/api/v1/me", token, nil); r.status != 200 {
				t.Fatalf("other sessions must survive: %d", r.status)
			}
		})
	}
}

func (a *testApp) login(email string) string {
	a.t.Helper()
	r := a.do("POST", "/api/v1/sessions", "", map[string]string{"email": email, "password": "correct horse"})
	if r.status != 201 {
		a.t.Fatalf("login: %d %s", r.status, r.body)
	}
	return r.json(a.t)["token"].(string)
}

func TestNotes(t *testing.T) {
	a := newApp(t)
	ada := a.user("ada@example.com")
	bob := a.user("bob@example.com")

	created := a.do("POST", "/api/v1/notes", ada, map[string]string{"title": "Groceries", "body": "milk eggs bread"})
	if created.status != 201 {
		t.Fatalf("create: %d %s", created.status, created.body)
	}
	n := created.json(t)
	id := int64(n["id"].(float64))
	path := "/api/v1/notes/" + strconv.FormatInt(id, 10)
	etag1 := created.header.Get("ETag")

	t.Run("create returns the note, its location and ETag, unprocessed", func(t *testing.T) {
		if created.header.Get("Location") != path || etag1 == "" {
			t.Fatalf("Location %q ETag %q", created.header.Get("Location"), etag1)
		}
		if n["word_count"] != nil || n["title"] != "Groceries" || n["version"] != float64(1) {
			t.Fatalf("%s", created.body)
		}
	})
	t.Run("get returns the note with the same ETag", func(t *testing.T) {
		r := a.do("GET", path, ada, nil)
		if r.status != 200 || r.header.Get("ETag") != etag1 || r.json(t)["body"] != "milk eggs bread" {
			t.Fatalf("%d %s %s", r.status, r.header.Get("ETag"), r.body)
		}
	})
	t.Run("If-None-Match with the current ETag is 304 without a body", func(t *testing.T) {
		r := a.do("GET", path, ada, nil, "If-None-Match", etag1)
		if r.status != 304 || len(r.body) != 0 {
			t.Fatalf("%d %q", r.status, r.body)
		}
	})
	t.Run("another user cannot see it", func(t *testing.T) {
		wantProblem(t, a.do("GET", path, bob, nil), 404, "not_found")
		wantProblem(t, a.do("PATCH", path, bob, map[string]string{"title": "x"}), 404, "not_found")
		wantProblem(t, a.do("DELETE", path, bob, nil), 404, "not_found")
	})
	var etag2 string
	t.Run("update with the current If-Match succeeds and changes the ETag", func(t *testing.T) {
		r := a.do("PATCH", path, ada, map[string]string{"body": "milk eggs bread butter"}, "If-Match", etag1)
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		etag2 = r.header.Get("ETag")
		m := r.json(t)
		if etag2 == etag1 || m["body"] != "milk eggs bread butter" || m["title"] != "Groceries" {
			t.Fatalf("ETag %q body %s", etag2, r.body)
		}
	})
	t.Run("If-None-Match with the old ETag is 200 now", func(t *testing.T) {
		r := a.do("GET", path, ada, nil, "If-None-Match", etag1)
		if r.status != 200 || r.json(t)["body"] != "milk eggs bread butter" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("update with a stale If-Match is 412 and changes nothing", func(t *testing.T) {
		wantProblem(t, a.do("PATCH", path, ada, map[string]string{"title": "lost update"}, "If-Match", etag1), 412, "precondition_failed")
		wantProblem(t, a.do("PATCH", path, ada, map[string]string{"title": "lost update"}, "If-Match", `"999.1"`), 412, "precondition_failed")
		if r := a.do("GET", path, ada, nil); r.json(t)["title"] != "Groceries" {
			t.Fatalf("stale update applied: %s", r.body)
		}
	})
	t.Run("update without If-Match is unconditional", func(t *testing.T) {
		r := a.do("PATCH", path, ada, map[string]string{"title": "Shopping"})
		if r.status != 200 || r.json(t)["title"] != "Shopping" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	for _, tc := range []struct {
		name, method string
		body         any
		field        string
	}{
		{"create without a title is a field error", "POST", map[string]string{"body": "x"}, "title"},
		{"create with a NUL in the title is a field error", "POST", map[string]string{"title": "a\x00b"}, "title"},
		{"create with an overlong title is a field error", "POST", map[string]string{"title": strings.Repeat("t", 201)}, "title"},
		{"update to an empty title is a field error", "PATCH", map[string]string{"title": "  "}, "title"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := "/api/v1/notes"
			if tc.method == "PATCH" {
				p = path
			}
			r := a.do(tc.method, p, ada, tc.body)
			pr := wantProblem(t, r, 422, "validation_failed")
			if !strings.Contains(fmt.Sprint(pr["errors"]), "field:"+tc.field) {
				t.Errorf("no %s field error: %s", tc.field, r.body)
			}
		})
	}
	t.Run("a non-numeric id is not found", func(t *testing.T) {
		wantProblem(t, a.do("GET", "/api/v1/notes/abc", ada, nil), 404, "not_found")
	})
	t.Run("delete with a stale If-Match is 412", func(t *testing.T) {
		wantProblem(t, a.do("DELETE", path, ada, nil, "If-Match", etag1), 412, "precondition_failed")
	})
	t.Run("delete removes it, also from the cache", func(t *testing.T) {
		if r := a.do("GET", path, ada, nil); r.status != 200 { // make sure it is cached
			t.Fatal(r.status)
		}
		if r := a.do("DELETE", path, ada, nil); r.status != 204 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		wantProblem(t, a.do("GET", path, ada, nil), 404, "not_found")
		wantProblem(t, a.do("DELETE", path, ada, nil), 404, "not_found")
	})
}

func TestNotesPagination(t *testing.T) {
	a := newApp(t)
	ada := a.user("ada@example.com")
	bob := a.user("bob@example.com")
	for i := range 5 {
		a.note(ada, fmt.Sprintf("note %d", i), "")
	}
	a.note(bob, "bob's", "")

	var titles []string
	cursor := ""
	pages := 0
	for {
		q := "/api/v1/notes?limit=2"
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		r := a.do("GET", q, ada, nil)
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		m := r.json(t)
		for _, it := range m["items"].([]any) {
			titles = append(titles, it.(map[string]any)["title"].(string))
		}
		pages++
		if m["next_cursor"] == nil {
			break
		}
		cursor = m["next_cursor"].(string)
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
	}
	want := "note 4,note 3,note 2,note 1,note 0"
	if got := strings.Join(titles, ","); got != want || pages != 3 {
		t.Fatalf("pages %d titles %s, want 3 pages of %s", pages, got, want)
	}

	t.Run("an invalid cursor is a bad request", func(t *testing.T) {
		wantProblem(t, a.do("GET", "/api/v1/notes?cursor=!!", ada, nil), 400, "invalid_cursor")
	})
	t.Run("a limit out of range is a field error", func(t *testing.T) {
		wantProblem(t, a.do("GET", "/api/v1/notes?limit=1000", ada, nil), 422, "validation_failed")
	})
	t.Run("an empty list is an empty array, not null", func(t *testing.T) {
		c := a.user("carol@example.com")
		r := a.do("GET", "/api/v1/notes", c, nil)
		if !strings.Contains(string(r.body), `"items":[]`) || !strings.Contains(string(r.body), `"next_cursor":null`) {
			t.Fatalf("%s", r.body)
		}
	})
}

func TestCache(t *testing.T) {
	t.Run("a second read is a cache hit and an update is visible at once", func(t *testing.T) {
		a := newApp(t)
		tok := a.user("ada@example.com")
		id := int64(a.note(tok, "t", "one")["id"].(float64))
		path := fmt.Sprintf("/api/v1/notes/%d", id)
		if r := a.do("GET", path, tok, nil); r.header.Get("X-Cache") != "miss" {
			t.Fatalf("first read X-Cache = %q", r.header.Get("X-Cache"))
		}
		// The read after a miss is a hit, unless the cache generation's
		// lease (1 s, polled every 200 ms) lapsed on a starved box: then
		// the read is fenced to Postgres, by design. A few more reads
		// must find the entry the miss wrote.
		hit := ""
		for i := 0; i < 5 && hit != "hit"; i++ {
			hit = a.do("GET", path, tok, nil).header.Get("X-Cache")
		}
		if hit != "hit" {
			t.Fatalf("five reads after the miss, X-Cache = %q, never a hit", hit)
		}
		a.do("PATCH", path, tok, map[string]string{"body": "two"})
		r := a.do("GET", path, tok, nil)
		if r.json(t)["body"] != "two" {
			t.Fatalf("stale cache after update: %s", r.body)
		}
		if !strings.Contains(string(a.do("GET", "/metrics", "", nil).body), `app_cache_requests_total{cache="note",result="hit"}`) {
			t.Error("no cache hit metric")
		}
	})

	t.Run("a redis outage degrades to postgres reads, never 5xx", func(t *testing.T) {
		rs := testenv.OwnRedis(t)
		a := newApp(t, func(o *appOpts) { o.redisURL = rs.URL; o.opts.RateLimitPerMinute = 100 })
		tok := a.user("ada@example.com")
		id := int64(a.note(tok, "t", "before the outage")["id"].(float64))
		path := fmt.Sprintf("/api/v1/notes/%d", id)
		a.do("GET", path, tok, nil)

		rs.Stop()

		r := a.do("GET", path, tok, nil)
		if r.status != 200 || r.json(t)["body"] != "before the outage" || r.header.Get("X-Cache") != "miss" {
			t.Fatalf("read during outage: %d %s %s", r.status, r.header.Get("X-Cache"), r.body)
		}
		if r := a.do("POST", "/api/v1/notes", tok, map[string]string{"title": "during"}); r.status != 201 {
			t.Fatalf("create during outage (enqueue fails, sweep catches up): %d %s", r.status, r.body)
		}
		if r := a.do("PATCH", path, tok, map[string]string{"body": "changed"}); r.status != 200 {
			t.Fatalf("update during outage: %d %s", r.status, r.body)
		}
		if r := a.do("GET", path, tok, nil); r.status != 200 || r.json(t)["body"] != "changed" {
			t.Fatalf("read after update during outage: %d %s", r.status, r.body)
		}
		// Degraded, not failed: the replica still serves (from Postgres).
		if r := a.do("GET", "/readyz", "", nil); r.status != 200 || r.json(t)["status"] != "degraded" || r.json(t)["checks"].(map[string]any)["redis"] != "unavailable" {
			t.Fatalf("readyz during redis outage = %d %s, want 200 degraded", r.status, r.body)
		}
	})
}

func TestRateLimit(t *testing.T) {
	a := newApp(t, func(o *appOpts) { o.opts.RateLimitPerMinute = 3; o.opts.TrustProxy = true })
	for i := range 3 {
		r := a.do("GET", "/api/v1/me", "", nil, "X-Forwarded-For", "203.0.113.7")
		if r.status != 401 {
			t.Fatalf("request %d: %d", i+1, r.status)
		}
		if r.header.Get("RateLimit-Remaining") != strconv.Itoa(2-i) {
			t.Errorf("request %d: RateLimit-Remaining = %q", i+1, r.header.Get("RateLimit-Remaining"))
		}
	}
	t.Run("the request over the limit is 429 with Retry-After", func(t *testing.T) {
		r := a.do("GET", "/api/v1/me", "", nil, "X-Forwarded-For", "203.0.113.7")
		wantProblem(t, r, 429, "rate_limited")
		ra, err := strconv.Atoi(r.header.Get("Retry-After"))
		if err != nil || ra < 1 || ra > 60 {
			t.Fatalf("Retry-After = %q", r.header.Get("Retry-After"))
		}
	})
	t.Run("another client has its own budget", func(t *testing.T) {
		if r := a.do("GET", "/api/v1/me", "", nil, "X-Forwarded-For", "198.51.100.1, 203.0.113.8"); r.status != 401 {
			t.Fatalf("%d", r.status)
		}
	})
	t.Run("ops endpoints are never limited", func(t *testing.T) {
		for range 5 {
			if r := a.do("GET", "/livez", "", nil, "X-Forwarded-For", "203.0.113.7"); r.status != 200 {
				t.Fatalf("%d", r.status)
			}
		}
	})
	t.Run("with redis down it fails open", func(t *testing.T) {
		rs := testenv.OwnRedis(t)
		b := newApp(t, func(o *appOpts) { o.redisURL = rs.URL; o.opts.RateLimitPerMinute = 1 })
		rs.Stop()
		for range 3 {
			if r := b.do("GET", "/api/v1/me", "", nil); r.status != 401 {
				t.Fatalf("%d %s", r.status, r.body)
			}
		}
		if !strings.Contains(string(b.do("GET", "/metrics", "", nil).body), "app_ratelimit_errors_total 3") {
			t.Error("fail-open not counted")
		}
	})
}

// blackhole accepts TCP connections and never answers: a Postgres that
// hangs.
func blackhole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

func TestPostgresDown(t *testing.T) {
	for _, tc := range []struct{ name, url string }{
		{"a postgres that hangs is 503 once the request deadline passes", "postgres://u@" + blackhole(t) + "/x?sslmode=disable"},
		{"a postgres that refuses connections is 503", "postgres://u@127.0.0.1:1/x?sslmode=disable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newApp(t, func(o *appOpts) { o.dbURL = tc.url; o.opts.RequestTimeout = 300 * time.Millisecond })
			wantProblem(t, a.do("GET", "/api/v1/me", "sy_x", nil), 503, "unavailable")
			wantProblem(t, a.do("POST", "/api/v1/sessions", "", map[string]string{"email": "a@b.co", "password": "whatever1"}), 503, "unavailable")
			if r := a.do("GET", "/readyz", "", nil); r.status != 503 || r.json(t)["checks"].(map[string]any)["postgres"] == "ok" {
				t.Fatalf("readyz: %d %s", r.status, r.body)
			}
		})
	}
}
