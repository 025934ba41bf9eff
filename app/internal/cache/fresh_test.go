package cache

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestFreshGroup(t *testing.T) {
	t.Run("a caller that arrives during a load gets the next load, not that one", func(t *testing.T) {
		var g freshGroup
		var loads atomic.Int64
		release := make(chan struct{})
		started := make(chan struct{}, 10)
		fn := func() (any, error) {
			n := loads.Add(1)
			started <- struct{}{}
			<-release
			return n, nil
		}
		first := make(chan any, 1)
		go func() { v, _ := g.do(context.Background(), "k", fn); first <- v }()
		<-started // the first load runs (it read "before a write")
		var wg sync.WaitGroup
		late := make([]any, 5)
		for i := range late {
			wg.Go(func() { late[i], _ = g.do(context.Background(), "k", fn) })
		}
		// Let them queue (no assertion on time: one that arrives late
		// only starts a later load).
		for {
			g.mu.Lock()
			queued := g.m["k"] != nil && g.m["k"].next != nil
			g.mu.Unlock()
			if queued {
				break
			}
			time.Sleep(time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
		// The late callers must not be answered by the running load.
		close(release)
		if v := <-first; v != int64(1) {
			t.Fatalf("first caller got load %v", v)
		}
		wg.Wait()
		for i, v := range late {
			if v.(int64) < 2 {
				t.Fatalf("late caller %d got load %v, which started before it", i, v)
			}
		}
		if n := loads.Load(); n > 3 {
			t.Fatalf("%d loads for 6 callers: not coalesced", n)
		}
	})
}
