package cache

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// WaitBlockedIn is waitBlockedIn for the package's external tests.
var WaitBlockedIn = waitBlockedIn

// waitBlockedIn waits until at least n goroutines are blocked in a select
// in function fn (as a stack trace spells it, with its opening
// parenthesis: "cache.(*freshGroup).do("), and fails after 10 s. It tells
// a test that callers have reached a wait nothing else shows.
func waitBlockedIn(t *testing.T, fn string, n int) {
	t.Helper()
	buf := make([]byte, 1<<20)
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := runtime.Stack(buf, true)
		if m == len(buf) {
			buf = make([]byte, 2*len(buf))
			continue
		}
		got := 0
		for _, g := range strings.Split(string(buf[:m]), "\n\n") {
			header, frames, _ := strings.Cut(g, "\n")
			if strings.Contains(header, "[select") && strings.Contains(frames, fn) {
				got++
			}
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines blocked in %s, want %d", got, fn, n)
		}
		time.Sleep(time.Millisecond)
	}
}
