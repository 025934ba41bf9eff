package cache

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
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
		// Every caller is waiting for its load: the first for the running
		// one, the late ones for the next, which none of them has started.
		waitBlockedIn(t, "cache.(*freshGroup).do(", 1+len(late))
		// The late callers must not be answered by the running load.
		close(release)
		if v := <-first; v != int64(1) {
			t.Fatalf("first caller got load %v", v)
		}
		wg.Wait()
		for i, v := range late {
			if v != int64(2) {
				t.Errorf("late caller %d got load %v, want 2: the one load started after they all arrived", i, v)
			}
		}
		if n := loads.Load(); n != 2 {
			t.Fatalf("%d loads for 6 callers, want 2: one running, one for everyone who arrived during it", n)
		}
	})
}
