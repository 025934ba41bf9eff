// Package cache is the Redis cache-aside layer for notes: TTL, stampede
// protection (coalesced loads, never older than their caller), version-checked writes so a slow reader
// cannot overwrite a newer value, entries served only under the current
// Epoch (so a Redis that lost writes, or a replica that could not make
// them, never makes a read older than an acknowledged write), and graceful
// degradation (any Redis error means "read from Postgres").
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

// outcomes are one cache's counters, looked up once (not per request).
type outcomes struct{ hit, miss, err, fenced, stale prometheus.Counter }

func (m *Metrics) outcomes(cache string) outcomes {
	return outcomes{
		hit:    m.Requests.WithLabelValues(cache, "hit"),
		miss:   m.Requests.WithLabelValues(cache, "miss"),
		err:    m.Requests.WithLabelValues(cache, "error"),
		fenced: m.Requests.WithLabelValues(cache, "fenced"),
		stale:  m.Requests.WithLabelValues(cache, "stale"),
	}
}

// Notes caches notes by id.
type Notes struct {
	rdb     redis.UniversalClient
	ttl     time.Duration
	log     *slog.Logger
	metrics outcomes
	loads   freshGroup
	pending *pending
	decoded *decodeMemo[entry]
	epoch   *Epoch
}

// NewNotes returns a notes cache whose entries are tagged by epoch.
func NewNotes(rdb redis.UniversalClient, ttl time.Duration, log *slog.Logger, m *Metrics, epoch *Epoch) *Notes {
	return &Notes{rdb: rdb, ttl: ttl, log: log, metrics: m.outcomes("note"), pending: newPending(log), decoded: newDecodeMemo[entry](), epoch: epoch}
}

// Flush retries the cache writes still pending (the breaker calls it when
// Redis is back, before it closes).
func (c *Notes) Flush(ctx context.Context) { c.pending.flush(ctx) }

// Pending is the number of cache writes not made yet.
func (c *Notes) Pending() int { return c.pending.len() }

// Key is the Redis key of note id.
func Key(id int64) string { return "shipyard:note:" + strconv.FormatInt(id, 10) }

type entry struct {
	Deleted bool        `json:"deleted,omitempty"`
	Version int64       `json:"version"`
	Note    *store.Note `json:"note,omitempty"`
	Tag     string      `json:"tag,omitempty"` // the Epoch tag it was written under
}

// putScript writes ARGV[1] (version ARGV[2], tag ARGV[4]) unless the
// cached entry is a tombstone, at a higher version, or the same version
// under the same tag. An entry of the same version under another tag (one
// not served any more) is replaced: a version always has the same content.
var putScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, e = pcall(cjson.decode, cur)
  if ok and type(e) == 'table' then
    if e.deleted then return 0 end
    local v = tonumber(e.version)
    local want = tonumber(ARGV[2])
    if v and (v > want or (v == want and e.tag == ARGV[4])) then return 0 end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1`)

// Get returns note id from the cache, or loads it with load (once for all
// concurrent callers) and caches it. A Redis failure is logged and counted
// and the note is loaded from Postgres: the cache never turns an outage
// into an error. store.ErrNotFound from load is returned as is.
func (c *Notes) Get(ctx context.Context, id int64, load func(context.Context, int64) (store.Note, error)) (store.Note, bool, error) {
	if c.pending.has(Key(id)) {
		// A committed change has not reached the cache yet: what the
		// cache holds for this note is stale.
		c.metrics.fenced.Inc()
		return c.load(ctx, id, load, false)
	}
	tag, ok := c.epoch.Tag()
	if !ok {
		// The generation was not read within its lease: what the cache
		// holds may predate a change another replica could not write.
		c.metrics.fenced.Inc()
		return c.load(ctx, id, load, false)
	}
	raw, err := get(ctx, c.rdb, Key(id))
	switch {
	case err == nil:
		e, jerr := c.decoded.decode(raw, decodeJSON[entry])
		switch {
		case jerr != nil:
			c.metrics.err.Inc()
		case e.Deleted: // final, whatever its tag
			c.metrics.hit.Inc()
			return store.Note{}, true, store.ErrNotFound
		case e.Tag == tag && e.Note != nil:
			c.metrics.hit.Inc()
			return *e.Note, true, nil
		default:
			// Written under another generation or Redis server: it
			// may be older than a change it missed.
			c.metrics.stale.Inc()
		}
	case errors.Is(err, redis.Nil):
		c.metrics.miss.Inc()
	default:
		c.metrics.err.Inc()
		if ctx.Err() == nil && !errors.Is(err, ErrUnavailable) {
			c.log.WarnContext(ctx, "cache read failed; reading from postgres", "err", err)
		}
	}
	return c.load(ctx, id, load, err == nil || errors.Is(err, redis.Nil))
}

func (c *Notes) load(ctx context.Context, id int64, load func(context.Context, int64) (store.Note, error), redisOK bool) (store.Note, bool, error) {
	// Coalesced (freshGroup: never a load older than this call). The
	// shared load must not die with its first caller's cancellation, but
	// must respect its deadline.
	v, err := c.loads.do(ctx, Key(id), func() (any, error) {
		loadCtx := context.WithoutCancel(ctx)
		cancel := func() {}
		if dl, ok := ctx.Deadline(); ok {
			loadCtx, cancel = context.WithDeadline(loadCtx, dl)
		}
		defer cancel()
		// The tag is taken before Postgres is read: if the generation
		// changes meanwhile, what was read is cached under the old one
		// and not served.
		tag, tagOK := c.epoch.Tag()
		n, err := load(loadCtx, id)
		if err != nil {
			return n, err
		}
		if redisOK && tagOK && !c.pending.has(Key(id)) {
			// Best effort: a failure leaves nothing stale (versions
			// only move forward), so it is not retried.
			_ = c.write(loadCtx, n.ID, entry{Version: n.Version, Note: &n, Tag: tag}, n.Version, c.ttl)
		}
		return n, nil
	})
	if err != nil {
		return store.Note{}, false, err
	}
	return v.(store.Note), false, nil
}

// Put caches n unless a newer version is cached. It is for a committed
// change: it runs detached from ctx's cancellation, and if Redis cannot be
// written the note is fenced (reads here skip the cache), the write is
// retried until it lands, and the cache generation is bumped so that no
// replica serves the entry it should have replaced. An error means
// neither could be done: the change must not be acknowledged.
func (c *Notes) Put(ctx context.Context, n store.Note) error {
	tag, _ := c.epoch.Tag() // the write displaces the old entry even untagged
	return c.commit(ctx, n.ID, entry{Version: n.Version, Note: &n, Tag: tag}, n.Version)
}

// Tombstone marks note id deleted so that a slow reader cannot re-cache
// it; like Put it survives cancellation and Redis failures.
func (c *Notes) Tombstone(ctx context.Context, id int64) error {
	return c.commit(ctx, id, entry{Deleted: true, Version: math.MaxInt32}, math.MaxInt32)
}

// Refresh is for a change whose outcome is unknown (the deadline passed or
// the connection broke after the statement was sent: Postgres may have
// committed it). The note is fenced here and re-read from Postgres into
// the cache, retried until both answer.
func (c *Notes) Refresh(id int64, load func(context.Context, int64) (store.Note, error)) {
	// The highest pending "version": it supersedes any write of the note
	// still pending (it reads whatever Postgres has), and only its own
	// success lifts the fence.
	c.pending.add(Key(id), math.MaxInt64, func(ctx context.Context) error {
		n, err := load(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return c.write(ctx, id, entry{Deleted: true, Version: math.MaxInt32}, math.MaxInt32, c.ttl)
		case err != nil:
			return err
		}
		tag, _ := c.epoch.Tag()
		return c.write(ctx, id, entry{Version: n.Version, Note: &n, Tag: tag}, n.Version, c.ttl)
	})
}

func (c *Notes) commit(ctx context.Context, id int64, e entry, version int64) error {
	write := func(ctx context.Context) error { return c.write(ctx, id, e, version, c.ttl) }
	wctx, cancel := detached(ctx)
	defer cancel()
	if err := write(wctx); err != nil {
		c.pending.add(Key(id), version, write)
		if !errors.Is(err, ErrUnavailable) {
			c.log.WarnContext(ctx, "cache write failed; note fenced until it is retried and the cache generation bumped", "note_id", id, "err", err)
		}
		return c.epoch.bumpDetached(ctx)
	}
	c.pending.landed(Key(id), version)
	return nil
}

func (c *Notes) write(ctx context.Context, id int64, e entry, version int64, ttl time.Duration) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return putScript.Run(ctx, c.rdb, []string{Key(id)}, b, version, ttl.Milliseconds(), e.Tag).Err()
}
