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
