package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shipyard-kit/shipyard/app/internal/auth"
	"github.com/shipyard-kit/shipyard/app/internal/testenv"
)

func TestClientThatGoesAwayIsNotAServerError(t *testing.T) {
	dbURL, pp := testenv.ProxyURL(t, testenv.DatabaseURL(t))
	a := newApp(t, func(o *appOpts) { o.dbURL = dbURL })
	tok := a.user("ada@example.com")
	a.do("GET", "/api/v1/me", tok, nil)
	pp.Stall()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", a.srv.URL+"/api/v1/notes", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("got an answer from a stalled postgres: %s", resp.Status)
	}
	waitFor(t, "the access log line", func() bool { return strings.Contains(a.logs.String(), `"route":"/api/v1/notes"`) })
	pp.Resume()
	logs := a.logs.String()
	if strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("a client disconnect was logged at ERROR:\n%s", logs)
	}
	m := a.metrics()
	if !strings.Contains(m, `http_requests_total{method="GET",route="/api/v1/notes",status="499"} 1`) {
		t.Errorf("no 499 recorded:\n%s", testenv.GrepLines(m, "http_requests_total"))
	}
	if strings.Contains(m, `status="503"`) {
		t.Errorf("a client disconnect was counted as 503")
	}
}

func TestALoginAbandonedWhileWaitingForAHashingSlotIsA499(t *testing.T) {
	hashes := auth.NewLimiter(1)
	a := newApp(t, func(o *appOpts) { o.hashes = hashes })
	release, ok := hashes.Acquire(context.Background(), time.Second) // every slot busy
	if !ok {
		t.Fatal("no slot")
	}
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", a.srv.URL+"/api/v1/sessions", strings.NewReader(`{"email":"a@b.co","password":"whatever1"}`))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("answered before the hashing wait ended: %s", resp.Status)
	}
	waitFor(t, "the access log line", func() bool { return strings.Contains(a.logs.String(), `"route":"/api/v1/sessions"`) })
	if logs := a.logs.String(); strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("an abandoned login was logged at ERROR:\n%s", logs)
	}
	m := a.metrics()
	if !strings.Contains(m, `http_requests_total{method="POST",route="/api/v1/sessions",status="499"} 1`) {
		t.Errorf("no 499 recorded:\n%s", testenv.GrepLines(m, "http_requests_total"))
	}
}

func TestPostgresOutageLogsAreRateLimited(t *testing.T) {
	a := newApp(t, func(o *appOpts) { o.dbURL = "postgres://u@127.0.0.1:1/x?sslmode=disable" })
	for range 50 {
		wantProblem(t, a.do("POST", "/api/v1/sessions", "", map[string]string{"email": "a@b.co", "password": "whatever1"}), 503, "unavailable")
	}
	if n := strings.Count(a.logs.String(), `"msg":"dependency unavailable"`); n == 0 || n > 10 {
		t.Fatalf("%d dependency warnings for 50 failed requests, want a handful", n)
	}
}

func TestSmallerAbuseCases(t *testing.T) {
	a := newApp(t, func(o *appOpts) { o.readTimeout = 500 * time.Millisecond })
	tok := a.user("ada@example.com")

	t.Run("a cursor that is not even valid percent-encoding is 400 invalid_cursor", func(t *testing.T) {
		wantProblem(t, a.do("GET", "/api/v1/notes?cursor=%%%", tok, nil), 400, "invalid_cursor")
	})
	t.Run("a password of only spaces is rejected", func(t *testing.T) {
		p := wantProblem(t, a.do("POST", "/api/v1/users", "", map[string]string{"email": "sp@example.com", "password": "        "}), 422, "validation_failed")
		if !strings.Contains(fmt.Sprint(p["errors"]), "password") {
			t.Fatalf("%v", p["errors"])
		}
	})
	t.Run("a body that arrives too slowly is 408, not malformed_json", func(t *testing.T) {
		pr, pw := io.Pipe()
		defer pw.Close()
		req, _ := http.NewRequest("POST", a.srv.URL+"/api/v1/notes", pr)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		go func() { _, _ = io.WriteString(pw, `{"title":`) }() // and nothing more
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 408 || !strings.Contains(string(b), "request_timeout") {
			t.Fatalf("%s %s", resp.Status, b)
		}
	})
	t.Run("once draining, responses close the connection", func(t *testing.T) {
		closes := func() bool {
			t.Helper()
			resp, err := http.Get(a.srv.URL + "/livez")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.Close // the client saw "Connection: close"
		}
		if closes() {
			t.Fatal("Connection: close before draining")
		}
		a.ready.Drain()
		if !closes() {
			t.Fatal("no Connection: close while draining")
		}
	})
}

func TestRateLimitGroupsIPv6By64(t *testing.T) {
	a := newApp(t, func(o *appOpts) { o.opts.RateLimitPerMinute = 3; o.opts.TrustProxy = true })
	status := func(ip string) int { return a.do("GET", "/api/v1/me", "", nil, "X-Forwarded-For", ip).status }
	for i := range 3 {
		if s := status("2001:db8:1:2::" + strconv.Itoa(i+1)); s != 401 {
			t.Fatalf("request %d: %d", i+1, s)
		}
	}
	t.Run("another address of the same /64 shares the budget", func(t *testing.T) {
		if s := status("2001:db8:1:2:ffff:ffff:ffff:ffff"); s != 429 {
			t.Fatalf("%d", s)
		}
	})
	t.Run("another /64 has its own", func(t *testing.T) {
		if s := status("2001:db8:1:3::1"); s != 401 {
			t.Fatalf("%d", s)
		}
	})
	t.Run("IPv4 addresses are still one client each", func(t *testing.T) {
		if s := status("192.0.2.1"); s != 401 {
			t.Fatalf("%d", s)
		}
	})
}
