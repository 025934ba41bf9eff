package cache_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/shipyard-kit/shipyard/app/internal/cache"
	"github.com/shipyard-kit/shipyard/app/internal/testenv"
)

// pipelineGate is a go-redis hook that records the size of every pipeline
// of MGETs (not the client's own, on a new connection) and can hold them
// until released.
type pipelineGate struct {
	mu      sync.Mutex
	sizes   []int
	hold    chan struct{} // while non-nil, pipelines wait for it to close
	started chan struct{} // receives once per pipeline that reached the hook
}

func (g *pipelineGate) DialHook(next redis.DialHook) redis.DialHook { return next }
func (g *pipelineGate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return next
}

func (g *pipelineGate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) == 0 || cmds[0].Name() != "mget" {
			return next(ctx, cmds)
		}
		g.mu.Lock()
		g.sizes = append(g.sizes, len(cmds))
		hold := g.hold
		g.mu.Unlock()
		select {
		case g.started <- struct{}{}:
		default:
		}
		if hold != nil {
			<-hold
		}
		return next(ctx, cmds)
	}
}

func (g *pipelineGate) pipelines() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]int(nil), g.sizes...)
}

// newGatedClient is a client on url with readTimeout, configured as the
// app's (options then changed by mods), and a gate on its MGET pipelines.
func newGatedClient(t *testing.T, url string, readTimeout time.Duration, mods ...func(*redis.Options)) (*redis.Client, *pipelineGate) {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opts.ReadTimeout, opts.WriteTimeout = readTimeout, readTimeout
	opts.ContextTimeoutEnabled = true
	opts.MaxRetries = 1
	for _, m := range mods {
		m(opts)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	g := &pipelineGate{started: make(chan struct{}, 1)}
	rdb.AddHook(g)
	return rdb, g
}

func TestBatcher(t *testing.T) {
	rdb, gate := newGatedClient(t, testenv.RedisURL(t), 2*time.Second)
	b := cache.NewBatcher(rdb, 0)
	ctx := context.Background()
	const n = 40
	for i := range n {
		if err := rdb.Set(ctx, fmt.Sprintf("batch:%d", i), fmt.Sprintf("value %d", i), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// check is one caller's MGET of its own key and a missing one.
	check := func(i int) error {
		vals, err := b.MGet(ctx, fmt.Sprintf("batch:%d", i), "batch:missing")
		if err != nil {
			return err
		}
		if len(vals) != 2 || vals[0] != fmt.Sprintf("value %d", i) || vals[1] != nil {
			return fmt.Errorf("caller %d got %q", i, vals)
		}
		return nil
	}

	t.Run("a lone call is sent at once, in a pipeline of its own", func(t *testing.T) {
		before := len(gate.pipelines())
		if err := check(0); err != nil {
			t.Fatal(err)
		}
		if got := gate.pipelines()[before:]; len(got) != 1 || got[0] != 1 {
			t.Fatalf("pipelines %v, want one of one command", got)
		}
	})

	t.Run("calls queued while a pipeline is out go together in the next one", func(t *testing.T) {
		before := len(gate.pipelines())
		release := make(chan struct{})
		gate.mu.Lock()
		gate.hold = release
		gate.mu.Unlock()
		select { // drain a stale signal, if any
		case <-gate.started:
		default:
		}
		errs := make(chan error, n)
		go func() { errs <- check(0) }()
		<-gate.started // the first call's pipeline is out (and held)
		for i := 1; i < n; i++ {
			go func() { errs <- check(i) }()
		}
		time.Sleep(100 * time.Millisecond) // let them queue
		gate.mu.Lock()
		gate.hold = nil
		gate.mu.Unlock()
		close(release)
		for range n {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		if got := gate.pipelines()[before:]; len(got) != 2 || got[0] != 1 || got[1] != n-1 {
			t.Fatalf("pipelines %v, want [1 %d]", got, n-1)
		}
	})

	t.Run("concurrent callers each get their own replies", func(t *testing.T) {
		before := len(gate.pipelines())
		var wg sync.WaitGroup
		errs := make(chan error, n*25)
		for i := range n {
			wg.Go(func() {
				for range 25 {
					if err := check(i); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if got := len(gate.pipelines()) - before; got >= n*25 {
			t.Errorf("%d pipelines for %d calls: nothing coalesced", got, n*25)
		}
	})
}

func TestBatcherCancellation(t *testing.T) {
	rdb, gate := newGatedClient(t, testenv.RedisURL(t), 2*time.Second)
	// Callers wait up to 30 s for a reply: one that returns sooner than
	// that while its pipeline is held returned because of its context.
	const callerTimeout = 30 * time.Second
	b := cache.NewBatcher(rdb, callerTimeout)
	if err := rdb.Set(context.Background(), "batch:k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	gate.mu.Lock()
	gate.hold = release
	gate.mu.Unlock()
	first := make(chan error, 1)
	go func() {
		_, err := b.MGet(context.Background(), "batch:k")
		first <- err
	}()
	<-gate.started // a pipeline is out and held

	t.Run("a cancelled caller returns at once, not when its reply or timeout comes", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := b.MGet(ctx, "batch:k")
			done <- err
		}()
		// Both callers wait for their replies: the first one's pipeline
		// is held, and this one is queued behind it.
		cache.WaitBlockedIn(t, "cache.(*Batcher).MGet(", 2)
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("got %v, want context.Canceled", err)
			}
		case <-time.After(callerTimeout / 3):
			t.Fatalf("still waiting %v after its context was cancelled (its timeout is %v)", callerTimeout/3, callerTimeout)
		}
	})
	t.Run("it does not hold up the others, and is not sent", func(t *testing.T) {
		before := len(gate.pipelines())
		other := make(chan []any, 1)
		go func() {
			vals, err := b.MGet(context.Background(), "batch:k", "batch:none")
			if err != nil {
				t.Error(err)
			}
			other <- vals
		}()
		time.Sleep(50 * time.Millisecond)
		gate.mu.Lock()
		gate.hold = nil
		gate.mu.Unlock()
		close(release)
		if err := <-first; err != nil {
			t.Fatal(err)
		}
		if vals := <-other; len(vals) != 2 || vals[0] != "v" || vals[1] != nil {
			t.Fatalf("got %q", vals)
		}
		// The next pipeline holds the other call only.
		if got := gate.pipelines()[before:]; len(got) != 1 || got[0] != 1 {
			t.Fatalf("pipelines after the release %v, want [1]", got)
		}
	})
}

func TestBatcherStalledRedis(t *testing.T) {
	// Without the callers' own bound, a call queued behind a stalled
	// pipeline would wait for it and then for its own.
	const timeout = 500 * time.Millisecond

	t.Run("without a breaker every caller waits at most the timeout", func(t *testing.T) {
		// A stalled pipeline here lasts 30 s (the client's read timeout;
		// the pipeline's own deadline is not applied to the socket): a
		// caller that returns with ErrBatchTimeout, well before, was
		// bounded by its own timeout.
		const stall = 30 * time.Second
		proxied, proxy := testenv.ProxyURL(t, testenv.RedisURL(t))
		rdb, _ := newGatedClient(t, proxied, stall, func(o *redis.Options) { o.ContextTimeoutEnabled = false })
		if err := rdb.Ping(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
		b := cache.NewBatcher(rdb, timeout)
		proxy.Stall()
		defer proxy.Resume()
		// Calls every 50 ms for 1.5 s: the first one's pipeline stalls,
		// the others queue behind it.
		var wg sync.WaitGroup
		for range 30 {
			wg.Go(func() {
				start := time.Now()
				_, err := b.MGet(context.Background(), "batch:k")
				if took := time.Since(start); !errors.Is(err, cache.ErrBatchTimeout) || took > stall/3 {
					t.Errorf("a call returned %v after %v, want cache.ErrBatchTimeout after about %v", err, took, timeout)
				}
			})
			time.Sleep(50 * time.Millisecond)
		}
		wg.Wait()
	})

	t.Run("the first stalled pipeline opens the breaker; later callers skip redis", func(t *testing.T) {
		proxied, proxy := testenv.ProxyURL(t, testenv.RedisURL(t))
		rdb, _ := newGatedClient(t, proxied, timeout)
		br := cache.NewBreaker(rdb, slog.New(slog.NewJSONHandler(io.Discard, nil)), prometheus.NewRegistry(), cache.BreakerOptions{ProbeEvery: time.Hour})
		t.Cleanup(br.Stop)
		if err := rdb.Ping(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
		b := cache.NewBatcher(rdb, 0)
		proxy.Stall()
		defer proxy.Resume()
		if _, err := b.MGet(context.Background(), "batch:k"); err == nil {
			t.Fatal("a call got a reply from a stalled redis")
		}
		// The caller's own timeout may end its wait just before its
		// pipeline's deadline fails the pipeline and opens the breaker.
		for deadline := time.Now().Add(10 * time.Second); !br.Open(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the breaker did not open")
			}
		}
		for range 10 {
			if _, err := b.MGet(context.Background(), "batch:k"); !errors.Is(err, cache.ErrUnavailable) {
				t.Fatalf("a call after the breaker opened returned %v, want cache.ErrUnavailable (redis skipped)", err)
			}
		}
	})
}
