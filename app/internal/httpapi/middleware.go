package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/shipyard-kit/shipyard/app/appmetrics"
	"github.com/shipyard-kit/shipyard/app/internal/auth"
	"github.com/shipyard-kit/shipyard/app/internal/cache"
	"github.com/shipyard-kit/shipyard/app/internal/db"
	"github.com/shipyard-kit/shipyard/app/internal/logx"
	"github.com/shipyard-kit/shipyard/app/internal/store"
)

// Metrics are the HTTP metrics.
type Metrics struct {
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	rateLimitErrs prometheus.Counter
}

// NewMetrics registers the HTTP metrics on reg. The names and labels the
// local alarms read are app/appmetrics': WithLabelValues takes the values
// in appmetrics.HTTPLabels' order (method, route, status).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: appmetrics.PromHTTPRequests,
			Help: "HTTP requests by method, route pattern and status.",
		}, appmetrics.HTTPLabels()),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    appmetrics.PromHTTPRequestDuration,
			Help:    "HTTP request duration by method, route pattern and status.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, appmetrics.HTTPLabels()),
		rateLimitErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "app_ratelimit_errors_total",
			Help: "Rate limit checks that failed open because Redis was unavailable.",
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.rateLimitErrs)
	return m
}

// requestID takes a sane incoming X-Request-Id or makes one, and puts it in
// the context and the response.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(logx.WithRequestID(r.Context(), id)))
	})
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// closeWhenDraining answers with "Connection: close" once the process is
// draining, so that keep-alive connections are closed by us right after a
// response (which the client sees) rather than while idle, where a request
// the client sends at that moment would be lost.
func closeWhenDraining(ready *Readiness) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if ready != nil && ready.Draining() {
				w.Header().Set("Connection", "close")
			}
			next.ServeHTTP(w, r)
		})
	}
}

// methodLabel bounds the method label: a made-up method must not mint a
// new time series.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// statusClientClosed is recorded (nginx's 499) when the client went away
// before the answer: not a server failure.
const statusClientClosed = 499

// accessLog writes one log line per request and records the metrics.
func accessLog(log *slog.Logger, m *Metrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			defer func() {
				route := "unmatched"
				if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
					route = rc.RoutePattern()
				}
				status := ww.Status()
				if status == 0 {
					status = http.StatusOK
				}
				d := time.Since(start)
				code := strconv.Itoa(status)
				method := methodLabel(r.Method)
				m.requests.WithLabelValues(method, route, code).Inc()
				m.duration.WithLabelValues(method, route, code).Observe(d.Seconds())
				level := slog.LevelInfo
				if status >= 500 {
					level = slog.LevelError
				}
				log.LogAttrs(r.Context(), level, "request",
					slog.String("method", method),
					slog.String("route", route),
					slog.Int("status", status),
					slog.Int("bytes", ww.BytesWritten()),
					slog.Float64("duration_ms", float64(d.Microseconds())/1000),
				)
			}()
			next.ServeHTTP(ww, r)
		})
	}
}

// recoverer turns a panic into a 500 problem (logged with the stack).
func recoverer(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					log.ErrorContext(r.Context(), "panic", "panic", v, "stack", string(stackTrace()))
					writeProblem(w, r, http.StatusInternalServerError, "internal", "")
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// deadline bounds the request's context: pgx and Redis calls made with it
// give up when it passes.
func deadline(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// bodyLimit caps the request body (413 beyond it).
func bodyLimit(max int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > max {
				writeProblem(w, r, http.StatusRequestEntityTooLarge, "body_too_large", "the body must not exceed "+strconv.FormatInt(max, 10)+" bytes")
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, max)
			next.ServeHTTP(w, r)
		})
	}
}

// rateLimitScript is a fixed window: the first hit starts a window of
// ARGV[1] ms; it returns the hit count and the ms left in the window.
var rateLimitScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}`)

// rateLimit allows perMinute requests per client IP and window. When Redis
// fails it fails open: the request is served, a warning logged and
// app_ratelimit_errors_total incremented.
func rateLimit(log *slog.Logger, rdb redis.UniversalClient, perMinute int, trustProxy bool, m *Metrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if perMinute <= 0 {
			return next
		}
		limit := strconv.Itoa(perMinute)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sum := sha256.Sum256([]byte(clientIP(r, trustProxy)))
			key := "shipyard:rl:" + hex.EncodeToString(sum[:12])
			res, err := rateLimitScript.Run(r.Context(), rdb, []string{key}, time.Minute.Milliseconds()).Int64Slice()
			if err != nil || len(res) != 2 {
				m.rateLimitErrs.Inc()
				if r.Context().Err() == nil && !errors.Is(err, cache.ErrUnavailable) {
					log.WarnContext(r.Context(), "rate limit unavailable; failing open", "err", err)
				}
				next.ServeHTTP(w, r)
				return
			}
			count, ttlMS := res[0], res[1]
			remaining := max(int64(perMinute)-count, 0)
			w.Header().Set("RateLimit-Limit", limit)
			w.Header().Set("RateLimit-Remaining", strconv.FormatInt(remaining, 10))
			if count > int64(perMinute) {
				secs := max((ttlMS+999)/1000, 1)
				w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
				writeProblem(w, r, http.StatusTooManyRequests, "rate_limited", "too many requests; retry after "+strconv.FormatInt(secs, 10)+"s")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// clientIP is the rate-limit key of a request: the peer address, or with
// trustProxy the last X-Forwarded-For hop (the one our proxy appended).
// An IPv6 client is its /64: one subscriber usually gets a whole /64 and
// can rotate through it at will.
func clientIP(r *http.Request, trustProxy bool) string {
	ip := ""
	if trustProxy {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			hops := strings.Split(xff[len(xff)-1], ",")
			ip = strings.TrimSpace(hops[len(hops)-1])
		}
	}
	if ip == "" {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		ip = host
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap()
	if addr.Is6() {
		p, _ := addr.WithZone("").Prefix(64)
		return p.String()
	}
	return addr.String()
}

type userKey struct{}

func userFrom(ctx context.Context) store.User {
	u, _ := ctx.Value(userKey{}).(store.User)
	return u
}

type tokenKey struct{}

func tokenHashFrom(ctx context.Context) []byte {
	h, _ := ctx.Value(tokenKey{}).([]byte)
	return h
}

// bearerToken is the token of an "Authorization: Bearer <token>" header.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	return token, ok && strings.EqualFold(scheme, "Bearer") && token != ""
}

// prefetchNote reads the token entry and the note's cache entry in one
// MGET, batched with those of concurrent requests, for requireAuth and the note GET handler that
// follow it. When Redis cannot be read, the token and the note both come
// from Postgres: the note's read then starts at once, alongside the token
// check, instead of after it (the handler still checks the owner, and
// nothing of it is shown to a request that fails authentication).
func prefetchNote(reads *cache.Batcher, st *store.Store, notes *cache.Notes) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token, ok := bearerToken(r)
			id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
			if ok && err == nil && id > 0 {
				ctx := cache.Prefetch(r.Context(), reads, auth.HashToken(token), id)
				if cache.PrefetchFailed(ctx) {
					ch := make(chan noteResult, 1)
					go func(ctx context.Context) {
						n, hit, err := notes.Get(ctx, id, st.NoteByID)
						ch <- noteResult{n, hit, err}
					}(ctx)
					ctx = context.WithValue(ctx, earlyNoteKey{}, ch)
				}
				r = r.WithContext(ctx)
			}
			next.ServeHTTP(w, r)
		})
	}
}

type noteResult struct {
	n   store.Note
	hit bool
	err error
}

type earlyNoteKey struct{}

// getNote is notes.Get, or the read prefetchNote already started.
func getNote(r *http.Request, c *cache.Notes, st *store.Store, id int64) (store.Note, bool, error) {
	if ch, ok := r.Context().Value(earlyNoteKey{}).(chan noteResult); ok {
		select {
		case res := <-ch:
			return res.n, res.hit, res.err
		case <-r.Context().Done():
			return store.Note{}, false, r.Context().Err()
		}
	}
	return c.Get(r.Context(), id, st.NoteByID)
}

// requireAuth resolves the bearer token to a user.
func requireAuth(log *slog.Logger, st *store.Store, tokens *cache.Tokens) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token, ok := bearerToken(r)
			if !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="shipyard"`)
				writeProblem(w, r, http.StatusUnauthorized, "unauthorized", "send Authorization: Bearer <token>")
				return
			}
			hash := auth.HashToken(token)
			u, err := tokens.User(r.Context(), hash, st.UserByToken)
			if errors.Is(err, store.ErrNotFound) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="shipyard", error="invalid_token"`)
				writeProblem(w, r, http.StatusUnauthorized, "invalid_token", "the token is unknown, expired or revoked")
				return
			}
			if err != nil {
				serverError(log, w, r, err)
				return
			}
			ctx := context.WithValue(r.Context(), userKey{}, u)
			ctx = context.WithValue(ctx, tokenKey{}, hash)
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// serverError answers 503 when Postgres is unreachable or the deadline
// passed, else 500; it is the one place such errors are logged. A client
// that went away is not a failure: 499 (in the metrics and the access log
// at info), nothing else logged. During an outage the warning is logged at
// most once a second, with the count of the ones left out.
func serverError(log *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(r.Context().Err(), context.Canceled) {
		w.WriteHeader(statusClientClosed)
		return
	}
	if db.IsUnavailable(err) || errors.Is(err, context.DeadlineExceeded) {
		if n, ok := unavailableLogs.allow(time.Now()); ok {
			log.WarnContext(r.Context(), "dependency unavailable", "err", err, "suppressed", n)
		}
		w.Header().Set("Retry-After", "1")
		writeProblem(w, r, http.StatusServiceUnavailable, "unavailable", "a dependency is unavailable or the request timed out; retry later")
		return
	}
	log.ErrorContext(r.Context(), "internal error", "err", err)
	writeProblem(w, r, http.StatusInternalServerError, "internal", "")
}

// sampler lets one event through per interval and counts the rest.
type sampler struct {
	interval time.Duration
	next     atomic.Int64 // unix nanos
	dropped  atomic.Int64
}

// allow reports whether to log now, and how many were dropped since the
// last one logged.
func (s *sampler) allow(now time.Time) (int64, bool) {
	next := s.next.Load()
	if now.UnixNano() < next || !s.next.CompareAndSwap(next, now.Add(s.interval).UnixNano()) {
		s.dropped.Add(1)
		return 0, false
	}
	return s.dropped.Swap(0), true
}

var unavailableLogs = &sampler{interval: time.Second}
