package cache

import (
	"context"
	"sync"
)

// freshGroup coalesces concurrent loads of one key like singleflight, but
// never hands a caller the result of a load that was already running when
// the caller arrived: that load may have read Postgres before a write the
// caller already saw acknowledged (read-your-writes, a logout that
// returned). A caller that finds a load in flight waits for the next one,
// which starts when the current one ends and serves everyone who queued
// meanwhile. So per key at most one load runs and one waits, and every
// result was read after its caller arrived.
type freshGroup struct {
	mu sync.Mutex
	m  map[string]*freshCall
}

type freshCall struct {
	done chan struct{}
	next *freshCall
	val  any
	err  error
}

// do runs fn (on a goroutine, so that a caller whose ctx ends can leave
// while the others still get the result) or joins the next run of it.
func (g *freshGroup) do(ctx context.Context, key string, fn func() (any, error)) (any, error) {
	g.mu.Lock()
	if g.m == nil {
		g.m = map[string]*freshCall{}
	}
	var c, prev *freshCall
	lead := false
	switch cur := g.m[key]; {
	case cur == nil:
		c = &freshCall{done: make(chan struct{})}
		g.m[key] = c
		lead = true
	case cur.next == nil:
		c = &freshCall{done: make(chan struct{})}
		cur.next = c
		prev = cur
		lead = true
	default:
		c = cur.next
	}
	g.mu.Unlock()

	if lead {
		go func() {
			if prev != nil {
				<-prev.done
				g.mu.Lock()
				g.m[key] = c
				g.mu.Unlock()
			}
			c.val, c.err = fn()
			g.mu.Lock()
			if g.m[key] == c && c.next == nil {
				delete(g.m, key)
			}
			g.mu.Unlock()
			close(c.done)
		}()
	}
	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
