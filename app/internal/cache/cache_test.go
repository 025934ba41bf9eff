package cache_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/shipyard-kit/shipyard/app/internal/cache"
	"github.com/shipyard-kit/shipyard/app/internal/store"
	"github.com/shipyard-kit/shipyard/app/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newCache(t *testing.T, url string) *cache.Notes {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opts.MaxRetries = -1
	opts.DialerRetries = 1
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	return cache.NewNotes(rdb, time.Minute, slog.New(slog.NewJSONHandler(io.Discard, nil)), cache.NewMetrics(prometheus.NewRegistry()))
}

func TestCacheAside(t *testing.T) {
	ctx := context.Background()

	t.Run("concurrent misses load once (singleflight)", func(t *testing.T) {
		c := newCache(t, testenv.RedisURL(t))
		var loads atomic.Int64
		release := make(chan struct{})
		load := func(ctx context.Context, id int64) (store.Note, error) {
			loads.Add(1)
			<-release
			return store.Note{ID: id, Version: 1, Title: "x"}, nil
		}
		var wg sync.WaitGroup
		var started sync.WaitGroup
		for range 20 {
			started.Add(1)
			wg.Go(func() {
				started.Done()
				if n, _, err := c.Get(ctx, 1, load); err != nil || n.Title != "x" {
					t.Errorf("get: %v %v", n, err)
				}
			})
		}
		started.Wait()
		time.Sleep(50 * time.Millisecond) // let the goroutines reach the flight (no assertion on time)
		close(release)
		wg.Wait()
		if loads.Load() > 2 {
			t.Fatalf("%d loads for 20 concurrent misses", loads.Load())
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
