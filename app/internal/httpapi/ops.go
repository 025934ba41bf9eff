package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shipyard-kit/shipyard/app/internal/buildinfo"
)

func handleLivez() http.Handler {
	body := []byte("{\"status\":\"ok\"}\n") // what writeJSON would write, encoded once
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
}

type readyResponse struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

func handleReadyz(ready *Readiness) http.Handler {
	draining, _ := json.Marshal(readyResponse{Status: "draining", Checks: map[string]string{}})
	draining = append(draining, '\n')
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "application/json")
		if ready.Draining() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write(draining)
			return
		}
		res := ready.result(r.Context())
		if res == nil { // the caller went away while a round ran
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(res.status)
		_, _ = w.Write(res.body)
	})
}

// result is the outcome of the checks, run at most once per readyFor and
// one round at a time: concurrent callers wait for the round in flight.
func (r *Readiness) result(ctx context.Context) *readyResult {
	r.mu.Lock()
	if r.last != nil && time.Since(r.lastAt) < readyFor {
		res := r.last
		r.mu.Unlock()
		return res
	}
	if ch := r.running; ch != nil {
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.last
	}
	ch := make(chan struct{})
	r.running = ch
	r.mu.Unlock()

	res := r.run()
	r.mu.Lock()
	r.last, r.lastAt, r.running = res, time.Now(), nil
	r.mu.Unlock()
	close(ch)
	return res
}

// run runs every check at once, bounded by readyTimeout (on a context of
// its own: the result is shared).
func (r *Readiness) run() *readyResult {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	res := readyResponse{Status: "ready", Checks: make(map[string]string, len(r.checks))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range r.checks {
		wg.Go(func() {
			v := "ok"
			err := c.Fn(ctx)
			switch {
			case errors.Is(err, ErrRejected):
				v = "rejected"
			case err != nil:
				v = "unavailable"
			}
			mu.Lock()
			res.Checks[c.Name] = v
			switch {
			case v == "ok":
			case !c.Optional || v == "rejected":
				res.Status = "unavailable"
			case res.Status == "ready":
				res.Status = "degraded"
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	status := http.StatusOK
	if res.Status == "unavailable" {
		status = http.StatusServiceUnavailable
	}
	b, _ := json.Marshal(res)
	return &readyResult{status: status, body: append(b, '\n')}
}

// readyTimeout bounds one round of readiness checks.
const readyTimeout = 2 * time.Second

func handleVersion() http.Handler {
	body := map[string]string{"version": buildinfo.Version, "commit": buildinfo.Commit}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, body)
	})
}

func handleMetrics(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}

func handleNotFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, http.StatusNotFound, "not_found", "no such resource")
	})
}

func handleMethodNotAllowed() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here")
	})
}
