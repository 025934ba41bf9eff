package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// watchedOutput is a child's output, read while it runs.
type watchedOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *watchedOutput) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *watchedOutput) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// waitFor waits until the output holds s.
func (w *watchedOutput) waitFor(t *testing.T, s string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if strings.Contains(w.String(), s) {
			return
		}
	}
	t.Fatalf("the child never printed %q; it printed %q", s, w.String())
}

func TestCancellingAChild(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Fatalf("sh is needed: %v", err)
	}
	tests := []struct {
		name string
		// script traps SIGINT; it prints "ready" once it does.
		script string
		// then runs after the context is cancelled.
		then func(t *testing.T, out *watchedOutput)
		// waitDelay is childWaitDelay.
		waitDelay time.Duration
		// want is in the output, and exit in the error.
		want, exit string
	}{
		{
			name:      "cancelling the context interrupts the child (SIGINT), which finishes its work and exits as it chooses",
			script:    `trap 'kill $!; echo got INT; exit 3' INT; echo ready; sleep 30 & wait`,
			waitDelay: time.Minute,
			want:      "got INT", exit: "exit status 3",
		},
		{
			name:      "a further SIGINT to shipyard reaches the child as a second SIGINT (pulumi's terminate now)",
			script:    `n=0; trap 'kill $!; n=$((n+1)); echo INT $n; [ $n -ge 2 ] && exit 4' INT; echo ready; while :; do sleep 30 & wait; done`,
			waitDelay: time.Minute,
			then: func(t *testing.T, out *watchedOutput) {
				out.waitFor(t, "INT 1")
				if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
					t.Fatal(err)
				}
			},
			want: "INT 2", exit: "exit status 4",
		},
		{
			name:      "a child that ignores SIGINT is killed once childWaitDelay has passed",
			script:    `trap '' INT; echo ready; exec sleep 30`,
			waitDelay: 300 * time.Millisecond,
			exit:      "signal: killed",
		},
	}
	defer func(d time.Duration) { childWaitDelay = d }(childWaitDelay)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			childWaitDelay = tc.waitDelay
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			out := &watchedOutput{}
			done := make(chan struct{})
			var err error
			go func() {
				_, err = osExec(nil, nil)(ctx, call{Name: "sh", Args: []string{"-c", tc.script}, Stream: true, Out: out})
				close(done)
			}()
			out.waitFor(t, "ready")
			cancel()
			if tc.then != nil {
				tc.then(t, out)
			}
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatalf("the child still runs 20s after the cancel; it printed %q", out.String())
			}
			if err == nil || !strings.Contains(err.Error(), tc.exit) {
				t.Errorf("err = %v, want %q", err, tc.exit)
			}
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("the child printed %q, want %q", out.String(), tc.want)
			}
		})
	}
}

func TestAChildRunsInAProcessGroupOfItsOwn(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Fatalf("/proc is needed (Linux): %v", err)
	}
	// Field 5 of /proc/PID/stat is the process group.
	out, err := osExec(nil, nil)(context.Background(), call{Name: "sh", Args: []string{"-c", `echo $$ $(cut -d' ' -f5 /proc/$$/stat)`}})
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 || f[0] != f[1] || f[1] == strconv.Itoa(syscall.Getpgrp()) {
		t.Errorf("child pid and process group %q; shipyard's group %d: a Ctrl-C at the terminal would reach the child twice", f, syscall.Getpgrp())
	}
}
