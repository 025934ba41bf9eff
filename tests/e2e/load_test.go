package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// load is a bounded background loop of GETs at a steady rate through the
// load balancer, counting failures (a transport error or any status but
// 200).
type load struct {
	sent, failed atomic.Int64
	mu           sync.Mutex
	failures     []string
	done         chan struct{}
	once         sync.Once
	wg           sync.WaitGroup
}

// maxLoad bounds every load loop, whatever happens to the test.
const maxLoad = 10 * time.Minute

// startLoad sends rate requests a second to url until check (or the end of
// the test, whichever is first: a failed check never leaves it running).
func startLoad(t *testing.T, url string, rate int) *load {
	t.Helper()
	client := &http.Client{Timeout: 15 * time.Second}
	l := &load{done: make(chan struct{})}
	t.Cleanup(l.stop)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		stop := time.After(maxLoad)
		var inflight sync.WaitGroup
		defer inflight.Wait()
		for {
			select {
			case <-l.done:
				return
			case <-stop:
				return
			case <-tick.C:
			}
			inflight.Add(1)
			go func() {
				defer inflight.Done()
				l.sent.Add(1)
				resp, err := client.Get(url)
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						return
					}
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
				l.failed.Add(1)
				l.mu.Lock()
				l.failures = append(l.failures, time.Now().Format("15:04:05.000")+" "+err.Error())
				l.mu.Unlock()
			}()
		}
	}()
	return l
}

func (l *load) stop() {
	l.once.Do(func() { close(l.done) })
	l.wg.Wait()
}

// check stops the loop and fails the test unless at least min requests
// were sent and none failed.
func (l *load) check(t *testing.T, min int64) {
	t.Helper()
	l.stop()
	t.Logf("%d requests sent, %d failed", l.sent.Load(), l.failed.Load())
	if l.sent.Load() < min {
		t.Fatalf("only %d requests were sent; the load loop did not run", l.sent.Load())
	}
	if n := l.failed.Load(); n > 0 {
		l.mu.Lock()
		defer l.mu.Unlock()
		t.Fatalf("%d of %d requests failed:\n%s", n, l.sent.Load(), strings.Join(l.failures, "\n"))
	}
}
