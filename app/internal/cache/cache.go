// Package cache is the Redis cache-aside layer for notes: TTL, stampede
// protection with singleflight, version-checked writes so a slow reader
// cannot overwrite a newer value, and graceful degradation (any Redis
// error means "read from Postgres").
package cache

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/shipyard-kit/shipyard/app/internal/store"
)

// Metrics counts cache outcomes.
type Metrics struct {
	Requests *prometheus.CounterVec // result: hit, miss, error
}

// NewMetrics registers the cache metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "app_cache_requests_total",
		Help: "Cache lookups by cache (note, token) and result (hit, miss, error).",
	}, []string{"cache", "result"})}
	reg.MustRegister(m.Requests)
	return m
}

// Notes caches notes by id.
type Notes struct {
	rdb     redis.UniversalClient
	ttl     time.Duration
	log     *slog.Logger
	metrics *Metrics
	group   singleflight.Group
}

// NewNotes returns a notes cache.
func NewNotes(rdb redis.UniversalClient, ttl time.Duration, log *slog.Logger, m *Metrics) *Notes {
	return &Notes{rdb: rdb, ttl: ttl, log: log, metrics: m}
}

// Key is the Redis key of note id.
func Key(id int64) string { return "shipyard:note:" + strconv.FormatInt(id, 10) }

type entry struct {
	Deleted bool        `json:"deleted,omitempty"`
	Version int64       `json:"version"`
	Note    *store.Note `json:"note,omitempty"`
}

// putScript writes ARGV[1] unless the cached entry is already at a version
// >= ARGV[2].
var putScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, v = pcall(function() return cjson.decode(cur).version end)
  if ok and v and tonumber(v) >= tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1`)

// Get returns note id from the cache, or loads it with load (once for all
// concurrent callers) and caches it. A Redis failure is logged and counted
// and the note is loaded from Postgres: the cache never turns an outage
// into an error. store.ErrNotFound from load is returned as is.
func (c *Notes) Get(ctx context.Context, id int64, load func(context.Context, int64) (store.Note, error)) (store.Note, bool, error) {
	raw, err := c.rdb.Get(ctx, Key(id)).Bytes()
	switch {
	case err == nil:
		var e entry
		if jerr := json.Unmarshal(raw, &e); jerr == nil {
			c.metrics.Requests.WithLabelValues("note", "hit").Inc()
			if e.Deleted || e.Note == nil {
				return store.Note{}, true, store.ErrNotFound
			}
			return *e.Note, true, nil
		}
		c.metrics.Requests.WithLabelValues("note", "error").Inc()
	case errors.Is(err, redis.Nil):
		c.metrics.Requests.WithLabelValues("note", "miss").Inc()
	default:
		c.metrics.Requests.WithLabelValues("note", "error").Inc()
		if ctx.Err() == nil {
			c.log.WarnContext(ctx, "cache read failed; reading from postgres", "err", err)
		}
	}
	redisOK := err == nil || errors.Is(err, redis.Nil)

	// singleflight: the shared load must not die with the first caller's
	// cancellation, but must respect its deadline.
	loadCtx := context.WithoutCancel(ctx)
	cancel := func() {}
	if dl, ok := ctx.Deadline(); ok {
		loadCtx, cancel = context.WithDeadline(loadCtx, dl)
	}
	ch := c.group.DoChan(Key(id), func() (any, error) {
		defer cancel()
		n, err := load(loadCtx, id)
		if err != nil {
			return n, err
		}
		if redisOK {
			c.put(loadCtx, n)
		}
		return n, nil
	})
	select {
	case <-ctx.Done():
		return store.Note{}, false, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return store.Note{}, false, r.Err
		}
		return r.Val.(store.Note), false, nil
	}
}

// Put caches n unless a newer version is cached. Errors are logged only.
func (c *Notes) Put(ctx context.Context, n store.Note) { c.put(ctx, n) }

func (c *Notes) put(ctx context.Context, n store.Note) {
	c.write(ctx, n.ID, entry{Version: n.Version, Note: &n}, n.Version, c.ttl)
}

// Tombstone marks note id deleted so that a slow reader cannot re-cache it.
func (c *Notes) Tombstone(ctx context.Context, id int64) {
	c.write(ctx, id, entry{Deleted: true, Version: math.MaxInt32}, math.MaxInt32, c.ttl)
}

func (c *Notes) write(ctx context.Context, id int64, e entry, version int64, ttl time.Duration) {
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	if err := putScript.Run(ctx, c.rdb, []string{Key(id)}, b, version, ttl.Milliseconds()).Err(); err != nil && ctx.Err() == nil {
		c.log.WarnContext(ctx, "cache write failed", "err", err)
	}
}

// Invalidate removes note id from the cache.
func (c *Notes) Invalidate(ctx context.Context, id int64) {
	if err := c.rdb.Del(ctx, Key(id)).Err(); err != nil && ctx.Err() == nil {
		c.log.WarnContext(ctx, "cache invalidate failed", "err", err)
	}
}
