package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
)

// answer is what a fake command prints and returns.
type answer struct {
	out string
	err error
}

// fakeExec answers calls by the longest matching prefix of their command
// line and records every call; an unexpected call is an error.
type fakeExec struct {
	mu      sync.Mutex
	answers map[string]answer
	calls   []call
}

func newFakeExec(answers map[string]answer) *fakeExec {
	return &fakeExec{answers: answers}
}

func (f *fakeExec) exec(_ context.Context, c call) ([]byte, error) {
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	line := c.String()
	best := ""
	for k := range f.answers {
		if strings.HasPrefix(line, k) && len(k) > len(best) {
			best = k
		}
	}
	if best == "" {
		return nil, fmt.Errorf("fake: unexpected call %q", line)
	}
	a := f.answers[best]
	if c.Stdout != nil {
		_, _ = io.WriteString(c.Stdout, a.out)
		return nil, a.err
	}
	if c.Stream && c.Out != nil {
		_, _ = io.WriteString(c.Out, a.out)
		return nil, a.err
	}
	return []byte(a.out), a.err
}

// lines returns the recorded command lines.
func (f *fakeExec) lines() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.calls))
	for i, c := range f.calls {
		out[i] = c.String()
	}
	return out
}
