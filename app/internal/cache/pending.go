package cache

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// pending holds the cache writes that belong to a committed change but
// could not be made (Redis down, stalled or slow). Until a write lands,
// its key is fenced in this process: reads of it skip the cache and go to
// Postgres, so the entry it should have replaced is never served here. A
// background loop retries them (and the breaker flushes them before it
// closes), newest version per key only.
type pending struct {
	log   *slog.Logger
	retry time.Duration

	mu      sync.Mutex
	ops     map[string]pendingOp
	running bool
}

type pendingOp struct {
	version int64
	write   func(context.Context) error
}

func newPending(log *slog.Logger) *pending {
	return &pending{log: log, retry: 250 * time.Millisecond, ops: map[string]pendingOp{}}
}

// has reports whether key has a write outstanding.
func (p *pending) has(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.ops[key]
	return ok
}

// add records a failed write (unless a newer one is pending) and makes
// sure the retry loop runs.
func (p *pending) add(key string, version int64, write func(context.Context) error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if cur, ok := p.ops[key]; ok && cur.version > version {
		return
	}
	p.ops[key] = pendingOp{version: version, write: write}
	if !p.running {
		p.running = true
		go p.loop()
	}
}

// landed drops the pending write of key once a write at version or newer
// has been made.
func (p *pending) landed(key string, version int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if cur, ok := p.ops[key]; ok && cur.version <= version {
		delete(p.ops, key)
	}
}

func (p *pending) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ops)
}

// flush tries every pending write once. It returns false when the Redis
// client is closed (the loop then gives up: the process is exiting).
func (p *pending) flush(ctx context.Context) bool {
	p.mu.Lock()
	ops := make(map[string]pendingOp, len(p.ops))
	for k, op := range p.ops {
		ops[k] = op
	}
	p.mu.Unlock()
	for key, op := range ops {
		wctx, cancel := context.WithTimeout(ctx, writeTimeout)
		err := op.write(wctx)
		cancel()
		switch {
		case err == nil:
			p.landed(key, op.version)
		case errors.Is(err, redis.ErrClosed):
			return false
		}
	}
	return true
}

func (p *pending) loop() {
	for {
		time.Sleep(p.retry)
		alive := p.flush(context.Background())
		p.mu.Lock()
		if !alive {
			if len(p.ops) > 0 {
				p.log.Warn("redis client closed with cache writes pending", "pending", len(p.ops))
			}
			p.ops = map[string]pendingOp{}
		}
		if len(p.ops) == 0 {
			p.running = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
}

// writeTimeout bounds one cache write made on behalf of a committed
// change. It runs on a context detached from the request, so that a client
// going away cannot cancel it.
const writeTimeout = 3 * time.Second

// detached is ctx without its cancellation, bounded by writeTimeout.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
}
