package cache

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// Epoch decides which cache entries may be served. Every entry is written
// with a tag: the cache generation (kept in Postgres, table
// cache_generation) and the run id of the Redis server it was written to.
// A read accepts an entry only if its tag is the current one, so:
//
//   - A Redis that comes back with older data (restarted from a snapshot,
//     a failover to a replica that missed writes) has another run id: every
//     entry it brought back is a miss. Only entries written to this server
//     since it started are served, and it has seen every write made since.
//   - A replica that committed a change but could not write the cache
//     (Redis unreachable from it alone) replaces the generation in Postgres
//     (Bump) and answers only after every replica has stopped serving
//     entries of the old generation: each one re-reads the generation every
//     pollEvery and trusts a value only for lease after the query that read
//     it started, so Bump waits lease before it returns. No replica can
//     then serve what was cached before the change.
//
// Revocation markers and tombstones are true whatever their tag (a token
// is never un-revoked, a note id never reused), so they are honoured from
// any generation.
type Epoch struct {
	pool      *pgxpool.Pool
	log       *slog.Logger
	lease     time.Duration
	pollEvery time.Duration

	state atomic.Pointer[epochState]
	runID atomic.Pointer[string]

	stopOnce sync.Once
	stop     chan struct{}
	polled   atomic.Int64 // polls made (tests)
}

type epochState struct {
	gen    int64
	readAt time.Time // when the query that read gen started
	tag    string    // gen "." run id, or "" while the run id is unknown
	forRun string
}

// EpochOptions tune an Epoch.
type EpochOptions struct {
	Lease     time.Duration // default 1s: how long a generation read is trusted
	PollEvery time.Duration // default 200ms; must be well under Lease
}

// NewEpoch returns an Epoch reading the generation from pool. Call Start
// to begin polling, and set OnConnect as the Redis client's OnConnect so
// that it learns the run id of every server the client talks to.
func NewEpoch(pool *pgxpool.Pool, log *slog.Logger, o EpochOptions) *Epoch {
	if o.Lease <= 0 {
		o.Lease = time.Second
	}
	if o.PollEvery <= 0 {
		o.PollEvery = 200 * time.Millisecond
	}
	return &Epoch{pool: pool, log: log, lease: o.Lease, pollEvery: o.PollEvery, stop: make(chan struct{})}
}

// Lease is how long after a Bump a replica may still serve entries of the
// generation before it.
func (e *Epoch) Lease() time.Duration { return e.lease }

// OnConnect is a redis.Options.OnConnect: it reads the server's run id on
// every new connection, before the connection is used, so a client never
// reads a restarted server's data believing it is the server it knew.
func (e *Epoch) OnConnect(ctx context.Context, cn *redis.Conn) error {
	info, err := cn.Info(ctx, "server").Result()
	if err != nil {
		return fmt.Errorf("reading the redis run id: %w", err)
	}
	id := parseRunID(info)
	if id == "" {
		return errors.New("reading the redis run id: INFO server has no run_id")
	}
	if old := e.runID.Swap(&id); old != nil && *old != id {
		e.log.Warn("redis is a different server than before (restarted or failed over): entries it holds from before are not served", "run_id", id)
	}
	return nil
}

func parseRunID(info string) string {
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "run_id:"); ok {
			return v
		}
	}
	return ""
}

// Tag returns the tag entries are written and accepted with, and false
// when the cache must not be used (the generation was not read within the
// lease, or no Redis server is known yet).
func (e *Epoch) Tag() (string, bool) {
	s := e.state.Load()
	if s == nil || time.Since(s.readAt) >= e.lease {
		return "", false
	}
	rid := e.runID.Load()
	if rid == nil {
		return "", false
	}
	if s.forRun != *rid {
		// The run id changed since the tag was built: build it again
		// (rare: once per Redis server seen).
		n := *s
		n.forRun, n.tag = *rid, strconv.FormatInt(s.gen, 36)+"."+*rid
		e.state.CompareAndSwap(s, &n)
		return n.tag, true
	}
	return s.tag, true
}

// Start polls the generation (at once, then every PollEvery) until ctx
// ends or Stop; while no Redis server is known yet it also pings rdb, so
// that a connection (and its run id) exists before the first read needs
// one. Until a poll succeeds, and whenever none has within the
// lease, the cache is not used (reads go to Postgres). A failing poll is
// logged when it starts failing and when it recovers, not every time.
func (e *Epoch) Start(ctx context.Context, rdb redis.UniversalClient) {
	go func() {
		t := time.NewTicker(e.pollEvery)
		defer t.Stop()
		failing := false
		for {
			err := e.poll(ctx)
			if e.runID.Load() == nil {
				pctx, cancel := context.WithTimeout(ctx, e.lease)
				_ = rdb.Ping(pctx).Err()
				cancel()
			}
			switch {
			case err != nil && !failing && ctx.Err() == nil:
				e.log.Warn("cannot read the cache generation; the cache is bypassed once its lease ends", "err", err, "lease", e.lease.String())
				failing = true
			case err == nil && failing:
				e.log.Info("cache generation read again; using the cache")
				failing = false
			}
			select {
			case <-ctx.Done():
				return
			case <-e.stop:
				return
			case <-t.C:
			}
		}
	}()
}

// Stop ends the polling.
func (e *Epoch) Stop() { e.stopOnce.Do(func() { close(e.stop) }) }

func (e *Epoch) poll(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, e.lease)
	defer cancel()
	start := time.Now()
	var gen int64
	if err := e.pool.QueryRow(ctx, `SELECT generation FROM cache_generation WHERE id = 1`).Scan(&gen); err != nil {
		return fmt.Errorf("reading the cache generation: %w", err)
	}
	e.set(gen, start)
	e.polled.Add(1)
	return nil
}

// set records gen as read by a query that started at start, unless a
// later read is already recorded.
func (e *Epoch) set(gen int64, start time.Time) {
	for {
		cur := e.state.Load()
		if cur != nil && !start.After(cur.readAt) {
			return
		}
		n := &epochState{gen: gen, readAt: start}
		if e.state.CompareAndSwap(cur, n) {
			return
		}
	}
}

// Bump replaces the generation in Postgres and returns once no replica
// serves entries of the previous one any more (after the lease). It is
// for a committed change whose cache write failed: the change may be
// acknowledged once Bump returned nil.
func (e *Epoch) Bump(ctx context.Context) error {
	start := time.Now()
	var gen int64
	err := e.pool.QueryRow(ctx, `UPDATE cache_generation SET generation = floor(random() * 9e15)::bigint + 1, changed_at = now()
		WHERE id = 1 RETURNING generation`).Scan(&gen)
	if err != nil {
		return fmt.Errorf("bumping the cache generation: %w", err)
	}
	committed := time.Now() // the update committed before this
	e.set(gen, start)
	// A generation read by a query that started before the commit is
	// trusted until that start + lease: wait that out (plus a tenth for
	// the clocks of other hosts running at another rate).
	wait := time.Until(committed.Add(e.lease + e.lease/10))
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("bumping the cache generation: %w", ctx.Err())
	}
}

// bumpDetached is Bump for a committed change: not cancelled with the
// request, bounded by a few leases.
func (e *Epoch) bumpDetached(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*e.lease)
	defer cancel()
	return e.Bump(ctx)
}
