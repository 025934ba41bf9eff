package httpapi

import (
	"context"
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
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if ready.Draining() {
			writeJSON(w, http.StatusServiceUnavailable, readyResponse{Status: "draining", Checks: map[string]string{}})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		res := readyResponse{Status: "ready", Checks: make(map[string]string, len(ready.checks))}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, c := range ready.checks {
			wg.Go(func() {
				v := "ok"
				if err := c.Fn(ctx); err != nil {
					v = "unavailable"
					_ = err
				}
				mu.Lock()
				res.Checks[c.Name] = v
				switch {
				case v == "ok":
				case !c.Optional:
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
		writeJSON(w, status, res)
	})
}

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
