package cache_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
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

func TestBreakerOpensOnRepliesThatMeanRedisCannotServe(t *testing.T) {
	newBreaker := func(t *testing.T, url string, o cache.BreakerOptions) (*redis.Client, *cache.Breaker) {
		opts, _ := redis.ParseURL(url)
		opts.MaxRetries = -1
		rdb := redis.NewClient(opts)
		t.Cleanup(func() { rdb.Close() })
		o.ProbeEvery = time.Hour // stays open: the test looks at what opened it
		b := cache.NewBreaker(rdb, slog.New(slog.NewJSONHandler(io.Discard, nil)), prometheus.NewRegistry(), o)
		t.Cleanup(b.Stop)
		return rdb, b
	}
	ctx := context.Background()

	t.Run("READONLY: a write to a replica (a failover not yet seen)", func(t *testing.T) {
		primary, replica := testenv.OwnRedis(t), testenv.OwnRedis(t)
		rdb, b := newBreaker(t, replica.URL, cache.BreakerOptions{})
		if err := rdb.ReplicaOf(ctx, "127.0.0.1", fmt.Sprint(primary.Port)).Err(); err != nil {
			t.Fatal(err)
		}
		err := rdb.Set(ctx, "k", "v", 0).Err()
		if err == nil || !strings.HasPrefix(err.Error(), "READONLY") {
			t.Fatalf("SET on a replica: %v, want READONLY", err)
		}
		if !b.Open() {
			t.Fatal("READONLY did not open the breaker")
		}
		if b.CredentialsRejected() {
			t.Fatal("READONLY reported as rejected credentials")
		}
	})
	t.Run("WRONGPASS: the credentials", func(t *testing.T) {
		rs := testenv.OwnRedis(t, "--requirepass", "right")
		u, _ := url.Parse(rs.URL)
		u.User = url.UserPassword("default", "wrong")
		rdb, b := newBreaker(t, u.String(), cache.BreakerOptions{})
		// The connection's HELLO fails with WRONGPASS (which opens the
		// breaker), so its fallback AUTH is already skipped.
		if err := rdb.Get(ctx, "k").Err(); !cache.IsCredentialsError(err) && !errors.Is(err, cache.ErrUnavailable) {
			t.Fatalf("GET with a wrong password: %v, want WRONGPASS", err)
		}
		if !b.Open() || !b.CredentialsRejected() {
			t.Fatalf("open=%v rejected=%v, want both", b.Open(), b.CredentialsRejected())
		}
	})
	t.Run("three commands in a row slower than SlowAfter", func(t *testing.T) {
		rs := testenv.OwnRedis(t, "--enable-debug-command", "yes")
		rdb, b := newBreaker(t, rs.URL, cache.BreakerOptions{SlowAfter: 50 * time.Millisecond})
		for i := range 3 {
			if b.Open() {
				t.Fatalf("open after %d slow commands", i)
			}
			if err := rdb.Do(ctx, "DEBUG", "SLEEP", "0.08").Err(); err != nil {
				t.Fatal(err)
			}
		}
		if !b.Open() {
			t.Fatal("three replies slower than SlowAfter in a row did not open the breaker")
		}
	})
	t.Run("a slow command between fast ones does not", func(t *testing.T) {
		rs := testenv.OwnRedis(t, "--enable-debug-command", "yes")
		rdb, b := newBreaker(t, rs.URL, cache.BreakerOptions{SlowAfter: 50 * time.Millisecond})
		for range 3 {
			_ = rdb.Do(ctx, "DEBUG", "SLEEP", "0.08").Err()
			_ = rdb.Ping(ctx).Err()
		}
		if b.Open() {
			t.Fatal("opened by slow commands that were not in a row")
		}
	})
}
