package logx_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/shipyard-kit/shipyard/app/internal/logx"
	"github.com/shipyard-kit/shipyard/app/internal/testenv"
)

func TestBuffered(t *testing.T) {
	t.Run("lines are held until the flush and then written whole, in order", func(t *testing.T) {
		var out bytes.Buffer
		b := logx.NewBuffered(&out, time.Hour)
		log := logx.New(b, slog.LevelInfo, "serve")
		for i := range 3 {
			log.Info("line", "i", i)
		}
		if out.Len() != 0 {
			t.Fatalf("written before the flush: %q", out.String())
		}
		b.Close()
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 3 || !strings.Contains(lines[2], `"i":2`) {
			t.Fatalf("%q", out.String())
		}
		log.Info("after close")
		if !strings.Contains(out.String(), "after close") {
			t.Fatal("a line after Close was not written through")
		}
	})
	t.Run("64 KiB pending are written at once", func(t *testing.T) {
		var out bytes.Buffer
		b := logx.NewBuffered(&out, time.Hour)
		_, _ = b.Write(bytes.Repeat([]byte("x"), 64<<10))
		if out.Len() != 64<<10 {
			t.Fatalf("%d bytes written", out.Len())
		}
	})
	t.Run("the interval flushes on its own", func(t *testing.T) {
		var out testenv.SyncBuffer
		b := logx.NewBuffered(&out, time.Millisecond)
		_, _ = b.Write([]byte("line\n"))
		for deadline := time.Now().Add(10 * time.Second); out.String() != "line\n"; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("never flushed")
			}
		}
	})
}

// TestDirectOutputFollowsTheLinesLoggedBeforeIt: a command's own output
// (Direct) is written after the log lines logged before it, never before
// them, and never while the timer's flush writes the same writer (run
// with -race: out is a plain bytes.Buffer).
func TestDirectOutputFollowsTheLinesLoggedBeforeIt(t *testing.T) {
	t.Run("pending lines first, then the output, at once", func(t *testing.T) {
		var out bytes.Buffer
		b := logx.NewBuffered(&out, time.Hour)
		log := logx.New(b, slog.LevelInfo, "jobs")
		log.Info("starting")
		if _, err := b.Direct().Write([]byte("{\"jobs\":[]}\n")); err != nil {
			t.Fatal(err)
		}
		log.Info("exited cleanly")
		got := out.String()
		if i, j := strings.Index(got, `"msg":"starting"`), strings.Index(got, `{"jobs":[]}`); i < 0 || j < 0 || i > j {
			t.Fatalf("the output is not written at once after the line logged before it:\n%s", got)
		}
		if strings.Contains(got, "exited cleanly") {
			t.Fatalf("a line logged after the output was not buffered:\n%s", got)
		}
		b.Close()
		if !strings.HasSuffix(out.String(), "\"msg\":\"exited cleanly\",\"process\":\"jobs\"}\n") {
			t.Fatalf("the last line is not last:\n%s", out.String())
		}
	})
	t.Run("output and timer flushes never write at once", func(t *testing.T) {
		var out bytes.Buffer // not synchronized: only b may serialize the writes
		b := logx.NewBuffered(&out, 50*time.Microsecond)
		log := logx.New(b, slog.LevelInfo, "jobs")
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := range 2000 {
				log.Info("line", "i", i)
			}
		}()
		for range 2000 {
			if _, err := b.Direct().Write([]byte("output\n")); err != nil {
				t.Fatal(err)
			}
		}
		<-done
		b.Close()
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if len(lines) != 4000 {
			t.Fatalf("%d lines written, want 4000 (2000 logged, 2000 output)", len(lines))
		}
		for _, l := range lines {
			if l != "output" && !strings.HasPrefix(l, `{"time":`) {
				t.Fatalf("a mangled line %q", l)
			}
		}
	})
}

func TestLinesCarryTheTraceOfTheirSpan(t *testing.T) {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	for _, tc := range []struct {
		name  string
		flags trace.TraceFlags
		want  bool
	}{
		{"a line in a sampled span has its trace_id and span_id", trace.FlagsSampled, true},
		{"a line in an unsampled span has neither (they would lead to no trace)", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			log := logx.New(&out, slog.LevelInfo, "serve")
			ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: tc.flags}))
			log.InfoContext(logx.WithRequestID(ctx, "r1"), "request")
			line := out.String()
			has := strings.Contains(line, `"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"`) && strings.Contains(line, `"span_id":"00f067aa0ba902b7"`)
			if has != tc.want || strings.Contains(line, "trace_id") != tc.want || !strings.Contains(line, `"request_id":"r1"`) {
				t.Errorf("%s", line)
			}
		})
	}
	t.Run("a line outside any span has none", func(t *testing.T) {
		var out bytes.Buffer
		logx.New(&out, slog.LevelInfo, "serve").Info("starting")
		if strings.Contains(out.String(), "trace_id") {
			t.Errorf("%s", out.String())
		}
	})
}
