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

func newGatedClient(t *testing.T, url string, readTimeout time.Duration) (*redis.Client, *pipelineGate) {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opts.ReadTimeout, opts.WriteTimeout = readTimeout, readTimeout
	opts.ContextTimeoutEnabled = true
	opts.MaxRetries = 1
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
	b := cache.NewBatcher(rdb, 0)
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

	t.Run("a cancelled caller returns at once", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		start := time.Now()
		go func() {
			_, err := b.MGet(ctx, "batch:k")
			done <- err
		}()
		time.Sleep(20 * time.Millisecond)
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Fatalf("returned after %v", d)
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
	// pipeline would wait for it and then for its own: up to twice the
	// timeout.
	const timeout = 500 * time.Millisecond
	slack := 250 * time.Millisecond
	// stalledCalls starts calls every 50 ms for 1.5 s against a stalled
	// Redis and returns how long each took and its error.
	stalledCalls := func(t *testing.T, b *cache.Batcher) ([]time.Duration, []error) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var took []time.Duration
		var errs []error
		for range 30 {
			wg.Go(func() {
				start := time.Now()
				_, err := b.MGet(context.Background(), "batch:k")
				mu.Lock()
				took = append(took, time.Since(start))
				errs = append(errs, err)
				mu.Unlock()
			})
			time.Sleep(50 * time.Millisecond)
		}
		wg.Wait()
		return took, errs
	}

	t.Run("without a breaker every caller waits at most the timeout", func(t *testing.T) {
		proxied, proxy := testenv.ProxyURL(t, testenv.RedisURL(t))
		rdb, _ := newGatedClient(t, proxied, timeout)
		if err := rdb.Ping(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
		b := cache.NewBatcher(rdb, 0)
		proxy.Stall()
		defer proxy.Resume()
		took, errs := stalledCalls(t, b)
		for i := range took {
			if errs[i] == nil {
				t.Errorf("a call got a reply from a stalled redis")
			}
			if took[i] > timeout+slack {
				t.Errorf("a call waited %v (%v), want at most %v", took[i], errs[i], timeout)
			}
		}
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
		took, errs := stalledCalls(t, b)
		fast := 0
		for i := range took {
			if took[i] > timeout+slack {
				t.Errorf("a call waited %v (%v), want at most %v", took[i], errs[i], timeout)
			}
			if errors.Is(errs[i], cache.ErrUnavailable) {
				fast++
			}
		}
		if !br.Open() {
			t.Fatal("the breaker did not open")
		}
		// The stall is detected within one timeout (0.5 s) of 1.5 s of
		// calls.
		if fast < 10 {
			t.Errorf("%d of %d calls skipped redis, want most", fast, len(took))
		}
	})
}
