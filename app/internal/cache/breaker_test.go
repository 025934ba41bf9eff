package cache_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/shipyard-kit/shipyard/app/internal/cache"
	"github.com/shipyard-kit/shipyard/app/internal/testenv"
)

func TestBreaker(t *testing.T) {
	proxied, proxy := testenv.ProxyURL(t, testenv.RedisURL(t))
	opts, _ := redis.ParseURL(proxied)
	opts.MaxRetries = -1
	opts.ReadTimeout, opts.WriteTimeout = 200*time.Millisecond, 200*time.Millisecond
	opts.ContextTimeoutEnabled = true
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	b := cache.NewBreaker(rdb, slog.New(slog.NewJSONHandler(io.Discard, nil)), prometheus.NewRegistry(), cache.BreakerOptions{ProbeEvery: 20 * time.Millisecond})
	t.Cleanup(b.Stop)
	var recovered atomic.Int64
	b.OnRecover(func(ctx context.Context) {
		if rdb.Ping(ctx).Err() == nil { // the breaker lets its own flush through
			recovered.Add(1)
		}
	})
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}

	proxy.Stall()
	t.Run("a caller running out of its own time does not open it", func(t *testing.T) {
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		if err := rdb.Get(short, "k").Err(); err == nil {
			t.Fatal("a stalled redis answered")
		}
		if b.Open() {
			t.Fatal("opened by a caller's deadline")
		}
	})
	t.Run("a redis timeout opens it and then commands fail at once", func(t *testing.T) {
		if err := rdb.Get(ctx, "k").Err(); err == nil || errors.Is(err, cache.ErrUnavailable) {
			t.Fatalf("first command: %v, want a timeout", err)
		}
		if !b.Open() {
			t.Fatal("not open after a timeout")
		}
		if err := rdb.Get(ctx, "k").Err(); !errors.Is(err, cache.ErrUnavailable) {
			t.Fatalf("second command: %v, want ErrUnavailable", err)
		}
	})
	proxy.Resume()
	t.Run("a successful probe runs OnRecover, then closes it", func(t *testing.T) {
		for deadline := time.Now().Add(10 * time.Second); b.Open(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("still open 10 s after redis answered")
			}
		}
		if recovered.Load() != 1 {
			t.Fatalf("OnRecover ran %d times with redis reachable", recovered.Load())
		}
		if v, err := rdb.Get(ctx, "k").Result(); err != nil || v != "v" {
			t.Fatalf("%q %v", v, err)
		}
	})
	t.Run("a reply error (not a failure) does not open it", func(t *testing.T) {
		if err := rdb.Do(ctx, "NOSUCHCOMMAND").Err(); err == nil {
			t.Fatal("want an error reply")
		}
		if err := rdb.Get(ctx, "missing").Err(); !errors.Is(err, redis.Nil) {
			t.Fatal(err)
		}
		if b.Open() {
			t.Fatal("opened by a reply")
		}
	})
}
