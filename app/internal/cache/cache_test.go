package cache_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/shipyard-kit/shipyard/app/internal/cache"
	"github.com/shipyard-kit/shipyard/app/internal/db"
	"github.com/shipyard-kit/shipyard/app/internal/store"
	"github.com/shipyard-kit/shipyard/app/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newCache(t *testing.T, url string) *cache.Notes {
	t.Helper()
	rdb, epoch := newClient(t, url, nil)
	return cache.NewNotes(rdb, time.Minute, slog.New(slog.NewJSONHandler(io.Discard, nil)), cache.NewMetrics(prometheus.NewRegistry()), epoch)
}

// newClient is a Redis client on url (options changed by mod) with the
// Epoch app serve gives it (a migrated database of its own), polling and
// ready: its first tag is known.
func newClient(t *testing.T, url string, mod func(*redis.Options)) (*redis.Client, *cache.Epoch) {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opts.MaxRetries = -1
	opts.DialerRetries = 1
	if mod != nil {
		mod(opts)
	}
	pool, err := db.NewPool(context.Background(), db.PoolConfig{URL: testenv.DatabaseURL(t), MaxConns: 4, ConnectTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	epoch := cache.NewEpoch(pool, slog.New(slog.NewJSONHandler(io.Discard, nil)), cache.EpochOptions{})
	opts.OnConnect = epoch.OnConnect
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	epoch.Start(ctx, rdb)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, ok := epoch.Tag(); ok {
			return rdb, epoch
		}
		if time.Now().After(deadline) {
			t.Fatal("the cache epoch never got a tag")
		}
	}
}

func TestCacheAside(t *testing.T) {
	ctx := context.Background()

	// Two loads, not one: a caller that arrives while a load runs must
	// not get that load's answer (it may have read Postgres before a
	// write the caller saw acknowledged), so it waits for the next load,
	// which serves everyone who arrived meanwhile (see freshGroup).
	t.Run("concurrent misses share two loads: the one running and one for all who arrived during it", func(t *testing.T) {
		c := newCache(t, testenv.RedisURL(t))
		var loads atomic.Int64
		firstStarted := make(chan struct{})
		release := make(chan struct{})
		load := func(ctx context.Context, id int64) (store.Note, error) {
			n := loads.Add(1)
			if n == 1 {
				close(firstStarted)
				<-release
			}
			return store.Note{ID: id, Version: n, Title: fmt.Sprintf("load %d", n)}, nil
		}
		get := func() (store.Note, error) {
			n, _, err := c.Get(ctx, 1, load)
			return n, err
		}
		type result struct {
			n   store.Note
			err error
		}
		first := make(chan result, 1)
		go func() {
			n, err := get()
			first <- result{n, err}
		}()
		<-firstStarted // the first caller's load runs, and waits for release
		const late = 19
		lateNotes := make([]store.Note, late)
		lateErrs := make([]error, late)
		var wg sync.WaitGroup
		for i := range late {
			wg.Go(func() { lateNotes[i], lateErrs[i] = get() })
		}
		// Every caller, the first one included, is waiting inside the
		// coalescing group before the first load may end.
		cache.WaitBlockedIn(t, "cache.(*freshGroup).do(", late+1)
		close(release)
		wg.Wait()
		if r := <-first; r.err != nil || r.n.Title != "load 1" {
			t.Errorf("the first caller got %+v, %v; want load 1", r.n, r.err)
		}
		for i := range late {
			if lateErrs[i] != nil || lateNotes[i].Title != "load 2" {
				t.Errorf("a caller that arrived during load 1 got %+v, %v; want load 2", lateNotes[i], lateErrs[i])
			}
		}
		if n := loads.Load(); n != 2 {
			t.Fatalf("%d loads for 1 caller and %d that arrived during its load, want 2", n, late)
		}
		if _, hit, _ := c.Get(ctx, 1, load); !hit {
			t.Fatal("not cached after the load")
		}
	})

	t.Run("an older version never overwrites a newer one", func(t *testing.T) {
		c := newCache(t, testenv.RedisURL(t))
		c.Put(ctx, store.Note{ID: 2, Version: 5, Title: "new"})
		c.Put(ctx, store.Note{ID: 2, Version: 4, Title: "old"})
		n, hit, err := c.Get(ctx, 2, nil)
		if err != nil || !hit || n.Title != "new" {
			t.Fatalf("%+v hit=%v err=%v", n, hit, err)
		}
	})

	t.Run("a tombstone makes the note not found and cannot be overwritten", func(t *testing.T) {
		c := newCache(t, testenv.RedisURL(t))
		c.Put(ctx, store.Note{ID: 3, Version: 1})
		c.Tombstone(ctx, 3)
		c.Put(ctx, store.Note{ID: 3, Version: 2})
		if _, hit, err := c.Get(ctx, 3, nil); !hit || !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("hit=%v err=%v", hit, err)
		}
	})

	t.Run("with redis down every read goes to the loader", func(t *testing.T) {
		rs := testenv.OwnRedis(t)
		c := newCache(t, rs.URL)
		rs.Stop()
		n, hit, err := c.Get(ctx, 4, func(ctx context.Context, id int64) (store.Note, error) {
			return store.Note{ID: id, Title: "from postgres"}, nil
		})
		if err != nil || hit || n.Title != "from postgres" {
			t.Fatalf("%+v hit=%v err=%v", n, hit, err)
		}
	})

	t.Run("a loader error is returned and not cached", func(t *testing.T) {
		c := newCache(t, testenv.RedisURL(t))
		boom := errors.New("boom")
		if _, _, err := c.Get(ctx, 5, func(context.Context, int64) (store.Note, error) { return store.Note{}, boom }); !errors.Is(err, boom) {
			t.Fatal(err)
		}
		n, hit, err := c.Get(ctx, 5, func(ctx context.Context, id int64) (store.Note, error) { return store.Note{ID: id, Title: "ok"}, nil })
		if err != nil || hit || n.Title != "ok" {
			t.Fatalf("%+v hit=%v err=%v", n, hit, err)
		}
	})
}

// newTokens is a token cache on url and its Redis client.
func newTokens(t *testing.T, url string) (*cache.Tokens, *redis.Client) {
	t.Helper()
	rdb, epoch := newClient(t, url, nil)
	return cache.NewTokens(rdb, time.Minute, slog.New(slog.NewJSONHandler(io.Discard, nil)), cache.NewMetrics(prometheus.NewRegistry()), epoch), rdb
}

// tokenKey is the Redis key of a token hash, as tokens.go names it.
func tokenKey(hash string) string { return "shipyard:tok:" + hex.EncodeToString([]byte(hash)) }

// revokedMarker is what Forget writes at a token's key (tokens.go).
const revokedMarker = "revoked"

func TestTokenCache(t *testing.T) {
	ctx := context.Background()
	var loads atomic.Int64
	valid := func(ctx context.Context, h []byte) (store.User, time.Time, error) {
		loads.Add(1)
		return store.User{ID: 7, Email: "a@example.com", PasswordHash: "secret-hash"}, time.Now().Add(time.Hour), nil
	}
	revoked := func(ctx context.Context, h []byte) (store.User, time.Time, error) {
		loads.Add(1)
		return store.User{}, time.Time{}, store.ErrNotFound
	}

	t.Run("a second lookup needs no load", func(t *testing.T) {
		c, _ := newTokens(t, testenv.RedisURL(t))
		loads.Store(0)
		for range 3 {
			u, err := c.User(ctx, []byte("h1"), valid)
			if err != nil || u.ID != 7 {
				t.Fatalf("%+v %v", u, err)
			}
		}
		if loads.Load() != 1 {
			t.Fatalf("%d loads", loads.Load())
		}
	})
	t.Run("the cached entry has no password hash", func(t *testing.T) {
		c, rdb := newTokens(t, testenv.RedisURL(t))
		if _, err := c.User(ctx, []byte("h2"), valid); err != nil {
			t.Fatal(err)
		}
		// What Redis holds, not what a hit returns (a hit builds the user
		// without the field whatever the entry holds).
		raw, err := rdb.Get(ctx, tokenKey("h2")).Result()
		if err != nil || !strings.Contains(raw, "a@example.com") {
			t.Fatalf("the lookup cached %q (%v), want the user's entry", raw, err)
		}
		if strings.Contains(raw, "secret-hash") {
			t.Fatalf("the cached entry holds the password hash: %s", raw)
		}
	})
	t.Run("after Forget the token is rejected without a load", func(t *testing.T) {
		c, _ := newTokens(t, testenv.RedisURL(t))
		if _, err := c.User(ctx, []byte("h3"), valid); err != nil {
			t.Fatal(err)
		}
		if err := c.Forget(ctx, []byte("h3")); err != nil {
			t.Fatal(err)
		}
		loads.Store(0)
		if _, err := c.User(ctx, []byte("h3"), valid); !errors.Is(err, store.ErrNotFound) || loads.Load() != 0 {
			t.Fatalf("err %v loads %d", err, loads.Load())
		}
	})
	t.Run("a lookup whose load is running when Forget runs cannot re-cache the token", func(t *testing.T) {
		c, rdb := newTokens(t, testenv.RedisURL(t))
		loading := make(chan struct{})
		release := make(chan struct{})
		slow := func(ctx context.Context, h []byte) (store.User, time.Time, error) {
			close(loading)
			<-release
			return valid(ctx, h) // read before the logout: still valid
		}
		type result struct {
			u   store.User
			err error
		}
		racing := make(chan result, 1)
		go func() {
			u, err := c.User(ctx, []byte("h6"), slow)
			racing <- result{u, err}
		}()
		<-loading // the lookup missed the cache and is reading Postgres
		if err := c.Forget(ctx, []byte("h6")); err != nil {
			t.Fatal(err)
		}
		close(release)
		// The racing lookup answers what it read, and tries to cache it
		// before it returns.
		if r := <-racing; r.err != nil || r.u.ID != 7 {
			t.Fatalf("the racing lookup got %+v, %v; want the user its load read", r.u, r.err)
		}
		if raw, err := rdb.Get(ctx, tokenKey("h6")).Result(); err != nil || raw != revokedMarker {
			t.Fatalf("after the racing lookup the cache holds %q (%v), want the revocation marker", raw, err)
		}
		loads.Store(0)
		if _, err := c.User(ctx, []byte("h6"), valid); !errors.Is(err, store.ErrNotFound) || loads.Load() != 0 {
			t.Fatalf("the next lookup: err %v after %d loads, want store.ErrNotFound without a load", err, loads.Load())
		}
	})
	t.Run("unknown tokens are not cached", func(t *testing.T) {
		c, _ := newTokens(t, testenv.RedisURL(t))
		loads.Store(0)
		for range 2 {
			if _, err := c.User(ctx, []byte("h4"), revoked); !errors.Is(err, store.ErrNotFound) {
				t.Fatal(err)
			}
		}
		if loads.Load() != 2 {
			t.Fatalf("%d loads", loads.Load())
		}
	})
	t.Run("with redis down lookups go to postgres and Forget returns only after bumping the cache generation", func(t *testing.T) {
		rs := testenv.OwnRedis(t)
		rdb, epoch := newClient(t, rs.URL, nil)
		c := cache.NewTokens(rdb, time.Minute, slog.New(slog.NewJSONHandler(io.Discard, nil)), cache.NewMetrics(prometheus.NewRegistry()), epoch)
		before, _ := epoch.Tag()
		rs.Stop()
		if u, err := c.User(ctx, []byte("h5"), valid); err != nil || u.ID != 7 {
			t.Fatalf("%+v %v", u, err)
		}
		start := time.Now()
		if err := c.Forget(ctx, []byte("h5")); err != nil {
			t.Fatalf("Forget with redis down but postgres up: %v", err)
		}
		if took := time.Since(start); took < epoch.Lease() {
			t.Errorf("Forget returned after %s, before the lease (%s) of the old generation ended", took, epoch.Lease())
		}
		if after, _ := epoch.Tag(); after == before {
			t.Errorf("the tag is still %q after Forget could not write redis", after)
		}
	})
}

func TestFencedWrites(t *testing.T) {
	t.Run("a refresh after a failed write wins over that write: the cache ends at what postgres has", func(t *testing.T) {
		proxied, proxy := testenv.ProxyURL(t, testenv.RedisURL(t))
		rdb, epoch := newClient(t, proxied, func(o *redis.Options) {
			o.ReadTimeout, o.WriteTimeout = 100*time.Millisecond, 100*time.Millisecond
		})
		c := cache.NewNotes(rdb, time.Minute, slog.New(slog.NewJSONHandler(io.Discard, nil)), cache.NewMetrics(prometheus.NewRegistry()), epoch)
		ctx := context.Background()
		c.Put(ctx, store.Note{ID: 9, Version: 1, Title: "v1"})

		inPostgres := store.Note{ID: 9, Version: 3, Title: "v3"}
		load := func(context.Context, int64) (store.Note, error) { return inPostgres, nil }
		proxy.Stall()
		c.Put(ctx, store.Note{ID: 9, Version: 2, Title: "v2"}) // fails: fenced, retried
		c.Refresh(9, load)                                     // a v3 whose commit we could not confirm
		if n, hit, err := c.Get(ctx, 9, load); err != nil || hit || n.Title != "v3" {
			t.Fatalf("while fenced: %+v hit=%v err=%v, want v3 from postgres", n, hit, err)
		}
		proxy.Resume()
		for deadline := time.Now().Add(10 * time.Second); c.Pending() > 0; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("pending writes never landed")
			}
		}
		if n, hit, err := c.Get(ctx, 9, nil); err != nil || !hit || n.Title != "v3" {
			t.Fatalf("after the retries: %+v hit=%v err=%v, want a cached v3", n, hit, err)
		}
	})
}
