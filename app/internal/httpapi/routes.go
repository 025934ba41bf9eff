package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shipyard-kit/shipyard/app/internal/cache"
)

// addRoutes is the whole route table of the web process.
func addRoutes(r chi.Router, log *slog.Logger, opts Options, d Deps) {
	addOpsRoutes(r, log, d.Ready, d.Metrics, d.Gatherer)

	authed := requireAuth(log, d.Store, d.Tokens)
	r.Route("/api/v1", func(r chi.Router) {
		r.Use(deadline(opts.RequestTimeout))
		r.Use(rateLimit(log, d.Redis, opts.RateLimitPerMinute, opts.TrustProxy, d.Metrics))
		r.Use(bodyLimit(opts.MaxBodyBytes))

		r.Method(http.MethodPost, "/users", handleRegister(log, d.Store, d.Hashes))
		r.Method(http.MethodPost, "/sessions", handleLogin(log, d.Store, d.Hashes, opts.TokenTTL))
		r.Method(http.MethodPost, "/login", handleLogin(log, d.Store, d.Hashes, opts.TokenTTL))

		// The hot path: token and note read from Redis in one MGET, sent
		// in one pipeline with those of concurrent requests.
		r.With(prefetchNote(cache.NewBatcher(d.Redis, 0), d.Store, d.Notes), authed).Method(http.MethodGet, "/notes/{id}", handleNoteGet(log, d.Store, d.Notes))

		r.Group(func(r chi.Router) {
			r.Use(authed)
			r.Method(http.MethodGet, "/me", handleMe())
			r.Method(http.MethodDelete, "/sessions/current", handleLogout(log, d.Store, d.Tokens))
			r.Method(http.MethodPost, "/logout", handleLogout(log, d.Store, d.Tokens))

			r.Method(http.MethodPost, "/notes", handleNoteCreate(log, d.Store, d.Notes, d.Jobs))
			r.Method(http.MethodGet, "/notes", handleNoteList(log, d.Store))
			r.Method(http.MethodPatch, "/notes/{id}", handleNoteUpdate(log, d.Store, d.Notes, d.Jobs))
			r.Method(http.MethodDelete, "/notes/{id}", handleNoteDelete(log, d.Store, d.Notes))
		})
	})
}

// addOpsRoutes are the endpoints every process type serves.
func addOpsRoutes(r chi.Router, log *slog.Logger, ready *Readiness, m *Metrics, g prometheus.Gatherer) {
	r.Use(requestID, closeWhenDraining(ready), accessLog(log, m), recoverer(log))
	r.NotFound(handleNotFound().ServeHTTP)
	r.MethodNotAllowed(handleMethodNotAllowed().ServeHTTP)

	r.Method(http.MethodGet, "/livez", handleLivez())
	r.Method(http.MethodGet, "/readyz", handleReadyz(ready))
	r.Method(http.MethodGet, "/version", handleVersion())
	r.Method(http.MethodGet, "/metrics", handleMetrics(g))
}
