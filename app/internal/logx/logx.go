// Package logx builds the process logger: JSON lines on one writer
// (stdout), with the request id and the trace taken from the context.
package logx

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
)

type ctxKey struct{}

// WithRequestID returns ctx carrying id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// RequestID returns the request id in ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// New returns a JSON logger writing to w at level, tagged with the process
// type.
func New(w io.Writer, level slog.Leveler, process string) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
	l := slog.New(requestIDHandler{h})
	if process != "" {
		l = l.With("process", process)
	}
	return l
}

// requestIDHandler adds the context's request id and, inside a sampled
// span (a request or job being traced), its trace_id and span_id: a line
// leads to its trace (the ids of an unsampled span would lead nowhere).
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsSampled() && sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// Buffered batches what is written to it (whole log lines, as slog writes
// them) into one write to w at most interval after the first pending
// line, or at once when 64 KiB are pending: the access log writes a line
// per request, and a write(2) per line is a measurable share of a cheap
// request. Close flushes. A crash can lose the last interval's lines.
type Buffered struct {
	w        io.Writer
	interval time.Duration

	mu     sync.Mutex
	buf    []byte
	timer  *time.Timer
	closed bool
}

// NewBuffered returns a Buffered writer to w.
func NewBuffered(w io.Writer, interval time.Duration) *Buffered {
	return &Buffered{w: w, interval: interval}
}

const bufferedMax = 64 << 10

// Write queues p (or writes it through once closed).
func (b *Buffered) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return b.w.Write(p)
	}
	b.buf = append(b.buf, p...)
	switch {
	case len(b.buf) >= bufferedMax:
		b.flushLocked()
	case b.timer == nil:
		b.timer = time.AfterFunc(b.interval, b.Flush)
	}
	return len(p), nil
}

// Flush writes what is pending.
func (b *Buffered) Flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
}

func (b *Buffered) flushLocked() {
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	if len(b.buf) > 0 {
		_, _ = b.w.Write(b.buf)
		b.buf = b.buf[:0]
	}
}

// Direct returns a writer to w for what a command prints as its own
// output (a report line, a job's outcome) beside the log: each write first
// writes the log lines still pending, then p at once, both under the lock
// the timer's flush takes. The output is never written before lines
// logged earlier, never interleaved with a flush, and w is never written
// by two goroutines at once (the flush runs on a timer goroutine).
func (b *Buffered) Direct() io.Writer { return direct{b} }

type direct struct{ b *Buffered }

func (d direct) Write(p []byte) (int, error) {
	d.b.mu.Lock()
	defer d.b.mu.Unlock()
	d.b.flushLocked()
	return d.b.w.Write(p)
}

// Close flushes and makes later writes go straight through.
func (b *Buffered) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
	b.closed = true
}

// RedisLogger carries go-redis's own messages (redis.SetLogger) into the
// JSON log at debug level, instead of plain text on stderr: they repeat
// what the Redis circuit breaker already logs once per outage (a failed
// dial, about two a second while Redis is down).
type RedisLogger struct{ Log *slog.Logger }

// Printf implements go-redis's internal.Logging.
func (l RedisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.Log.DebugContext(ctx, "redis client", "detail", fmt.Sprintf(format, v...))
}
