package cache

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrBatchTimeout is returned to a caller of Batcher.MGet whose reply did
// not come within the batcher's timeout (Redis stalled).
var ErrBatchTimeout = errors.New("redis read: no reply within the redis timeout")

// Batcher coalesces the MGETs of concurrent requests into one pipeline: a
// caller queues its command, and one loop sends everything queued at that
// moment as one go-redis pipeline (one write and one read on one
// connection, one wakeup of Redis for all of them), then hands each caller
// its own reply. There is no timer: the loop sends as soon as something is
// queued, so a lone request waits for nothing but its own round trip, and
// requests arriving while a pipeline is out go together in the next one.
// Each reply is read from Redis after the caller queued its command, so
// batching changes no read's semantics (no cache in between).
//
// The pipeline goes through the client's hooks, so the breaker sees it:
// while the breaker is open every caller gets ErrUnavailable at once, and a
// pipeline that gets no reply within the timeout (retries included) opens
// it before the next pipeline is sent. A caller whose context ends gets its
// context's error at once (its command is dropped if not sent yet); every
// caller waits at most the timeout for its reply, so a stalled Redis
// bounds each of them like a command of its own would.
type Batcher struct {
	rdb     redis.UniversalClient
	timeout time.Duration

	mu      sync.Mutex
	queue   []*batchCall
	running bool
}

type batchCall struct {
	ctx  context.Context
	cmd  *redis.SliceCmd
	done chan struct{} // closed by the loop once cmd has its reply or error
}

// NewBatcher returns a batcher on rdb. Callers wait at most timeout for a
// reply; timeout <= 0 means the client's read timeout (REDIS_TIMEOUT), or
// go-redis's default of 3 s when it cannot be told.
func NewBatcher(rdb redis.UniversalClient, timeout time.Duration) *Batcher {
	if timeout <= 0 {
		timeout = 3 * time.Second
		if c, ok := rdb.(interface{ Options() *redis.Options }); ok && c.Options().ReadTimeout > 0 {
			timeout = max(c.Options().ReadTimeout, c.Options().WriteTimeout)
		}
	}
	return &Batcher{rdb: rdb, timeout: timeout}
}

// MGet is rdb.MGet(ctx, keys...), sent in the next pipeline.
func (b *Batcher) MGet(ctx context.Context, keys ...string) ([]any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	args := make([]any, 1+len(keys))
	args[0] = "mget"
	for i, k := range keys {
		args[1+i] = k
	}
	c := &batchCall{ctx: ctx, cmd: redis.NewSliceCmd(ctx, args...), done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, c)
	if !b.running {
		// The loop lives while there is work: under load it stays, idle
		// it ends, and nothing needs closing.
		b.running = true
		go b.loop()
	}
	b.mu.Unlock()

	t := time.NewTimer(b.timeout)
	defer t.Stop()
	select {
	case <-c.done:
		return c.cmd.Result()
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		return nil, ErrBatchTimeout
	}
}

func (b *Batcher) loop() {
	var batch []*batchCall
	for {
		b.mu.Lock()
		// Swap the queue for the (emptied) previous batch: no allocation
		// per round once both have grown.
		batch, b.queue = b.queue, batch[:0]
		if len(batch) == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		b.send(batch)
		clear(batch) // let the calls be collected
	}
}

// send runs one pipeline of the calls still waiting and wakes every call.
func (b *Batcher) send(batch []*batchCall) {
	// The pipeline runs on a context of its own: one caller going away
	// must not fail the others. Its deadline is the Redis timeout, for the
	// whole of it (a retry included), and its passing counts as a stall
	// for the breaker, which then opens before the next pipeline is sent.
	ctx, cancel := withRedisDeadline(context.Background(), b.timeout)
	defer cancel()
	pipe := b.rdb.Pipeline()
	sent := 0
	for _, c := range batch {
		if c.ctx.Err() != nil {
			close(c.done) // its caller has returned already: drop it
			continue
		}
		_ = pipe.Process(ctx, c.cmd)
		batch[sent] = c
		sent++
	}
	if sent == 0 {
		return
	}
	_, _ = pipe.Exec(ctx) // each command has its own reply or error
	for _, c := range batch[:sent] {
		close(c.done)
	}
}
