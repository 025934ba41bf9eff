package httpapi_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/shipyard-kit/shipyard/app/internal/httpapi"
	"github.com/shipyard-kit/shipyard/app/internal/testenv"
)

func TestAWrongRedisPasswordMakesTheProcessNotReady(t *testing.T) {
	rs := testenv.OwnRedis(t, "--requirepass", "right")
	u, _ := url.Parse(rs.URL)
	u.User = url.UserPassword("default", "rotated-away")
	a := newApp(t, func(o *appOpts) { o.redisURL = u.String() })
	tok := a.user("ada@example.com")

	for range 100 {
		if r := a.do("GET", "/api/v1/me", tok, nil); r.status != 200 {
			t.Fatalf("/me without a usable redis: %d %s", r.status, r.body)
		}
	}
	r := a.do("GET", "/readyz", "", nil)
	if r.status != 503 || r.json(t)["checks"].(map[string]any)["redis"] != "rejected" {
		t.Fatalf("readyz with a wrong redis password = %d %s, want 503 with redis rejected", r.status, r.body)
	}
	logs := a.logs.String()
	if n := strings.Count(logs, "redis rejected our credentials"); n != 1 {
		t.Errorf("the rejection was logged %d times, want once:\n%s", n, testenv.GrepLines(logs, "WRONGPASS"))
	}
	if n := strings.Count(logs, "WRONGPASS"); n > 2 {
		t.Errorf("%d log lines mention WRONGPASS for 100 requests, want the breaker's one (and at most the first request's):\n%s", n, testenv.GrepLines(logs, "WRONGPASS"))
	}

	// The secret rotated back: the probe gets in and the process is ready.
	opts, _ := redis.ParseURL(rs.URL)
	opts.Password = "right"
	admin := redis.NewClient(opts)
	defer admin.Close()
	if err := admin.ConfigSet(context.Background(), "requirepass", "rotated-away").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "readyz 200 once redis accepts the credentials", func() bool {
		r := a.do("GET", "/readyz", "", nil)
		return r.status == 200 && r.json(t)["status"] == "ready"
	})
}

func TestReadyzRunsItsChecksOnceForAFlood(t *testing.T) {
	var runs atomic.Int64
	ready := httpapi.NewReadiness(httpapi.Check{Name: "slow", Fn: func(ctx context.Context) error {
		runs.Add(1)
		return nil
	}}, httpapi.Check{Name: "creds", Optional: true, Fn: func(ctx context.Context) error {
		return errors.Join(errors.New("WRONGPASS"), httpapi.ErrRejected)
	}})
	reg := prometheus.NewRegistry()
	srv := httptest.NewServer(httpapi.NewOpsServer(slog.New(slog.NewJSONHandler(io.Discard, nil)), ready, httpapi.NewMetrics(reg), reg))
	defer srv.Close()
	var wg sync.WaitGroup
	var bad atomic.Int64
	start := time.Now()
	for range 200 {
		wg.Go(func() {
			resp, err := http.Get(srv.URL + "/readyz")
			if err != nil {
				bad.Add(1)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 503 || !strings.Contains(string(b), `"creds":"rejected"`) {
				bad.Add(1)
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	if bad.Load() > 0 {
		t.Errorf("%d of 200 answers were not 503 with creds rejected (an optional check that rejects fails readiness)", bad.Load())
	}
	// One round per second at most (a round starts a second or more after
	// the previous one): a flood that outlasts one second may see a second
	// round, and on a machine slow enough for it to outlast two, a third.
	if n, most := runs.Load(), max(2, 1+int64(took/time.Second)); n > most {
		t.Errorf("200 concurrent /readyz in %v ran the checks %d times, want at most %d", took, n, most)
	}
}
