package telemetry_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/shipyard-kit/shipyard/app/internal/telemetry"
)

// batches records what each export call received; an export blocks while
// hold is set and not closed.
type batches struct {
	mu       sync.Mutex
	sizes    []int
	names    []string
	shutdown bool
	hold     chan struct{}
	entered  chan struct{}
}

func (e *batches) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if e.hold != nil {
		select {
		case e.entered <- struct{}{}:
		default:
		}
		select {
		case <-e.hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sizes = append(e.sizes, len(spans))
	for _, s := range spans {
		e.names = append(e.names, s.Name())
	}
	return nil
}

func (e *batches) Shutdown(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.shutdown = true
	return nil
}

func (e *batches) got() (sizes []int, names []string, shutdown bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]int(nil), e.sizes...), append([]string(nil), e.names...), e.shutdown
}

// total is how many spans were exported.
func (e *batches) total() int {
	sizes, _, _ := e.got()
	n := 0
	for _, s := range sizes {
		n += s
	}
	return n
}

// endSpans ends n sampled spans named name on a provider that sends them to p.
func endSpans(tp *sdktrace.TracerProvider, name string, n int) {
	tr := tp.Tracer("test")
	for range n {
		_, s := tr.Start(context.Background(), name)
		s.End()
	}
}

func provider(t *testing.T, p sdktrace.SpanProcessor) *sdktrace.TracerProvider {
	t.Helper()
	return sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(p), sdktrace.WithSampler(sdktrace.AlwaysSample()))
}

func TestBatchProcessor(t *testing.T) {
	ctx := context.Background()
	hour := telemetry.BatchOptions{ScheduleDelay: time.Hour, MaxQueueSize: 16, MaxExportBatchSize: 4}

	t.Run("a batch's worth of ended spans is exported at once, without waiting for the delay", func(t *testing.T) {
		exp := &batches{}
		p := telemetry.NewBatchProcessor(exp, hour)
		defer p.Shutdown(ctx)
		endSpans(provider(t, p), "a", 4)
		waitFor(t, func() bool { return exp.total() == 4 })
	})

	t.Run("fewer spans than a batch wait for the schedule delay", func(t *testing.T) {
		exp := &batches{}
		p := telemetry.NewBatchProcessor(exp, telemetry.BatchOptions{ScheduleDelay: 50 * time.Millisecond, MaxQueueSize: 16, MaxExportBatchSize: 4})
		defer p.Shutdown(ctx)
		start := time.Now()
		endSpans(provider(t, p), "a", 3)
		waitFor(t, func() bool { return exp.total() == 3 })
		if waited := time.Since(start); waited < 50*time.Millisecond {
			t.Fatalf("exported after %s, before the 50 ms delay", waited)
		}
	})

	t.Run("ForceFlush exports everything queued, in batches no larger than the maximum", func(t *testing.T) {
		exp := &batches{}
		// A batch of 4, a queue of 16, and spans ended faster than the
		// goroutine exports them: whatever it took, the rest is flushed.
		p := telemetry.NewBatchProcessor(exp, hour)
		defer p.Shutdown(ctx)
		endSpans(provider(t, p), "a", 10)
		if err := p.ForceFlush(ctx); err != nil {
			t.Fatal(err)
		}
		sizes, names, _ := exp.got()
		if len(names) != 10 {
			t.Fatalf("exported %d spans of 10 (batches %v)", len(names), sizes)
		}
		for _, s := range sizes {
			if s > 4 {
				t.Fatalf("a batch of %d spans, above the maximum 4 (batches %v)", s, sizes)
			}
		}
	})

	t.Run("an unsampled span is never exported", func(t *testing.T) {
		exp := &batches{}
		p := telemetry.NewBatchProcessor(exp, hour)
		defer p.Shutdown(ctx)
		unsampled := tracetest.SpanStub{Name: "unsampled", SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1},
		})}.Snapshot()
		p.OnEnd(unsampled)
		endSpans(provider(t, p), "sampled", 1)
		if err := p.ForceFlush(ctx); err != nil {
			t.Fatal(err)
		}
		if _, names, _ := exp.got(); len(names) != 1 || names[0] != "sampled" {
			t.Fatalf("exported %v", names)
		}
	})

	t.Run("a span that ends with the queue full is dropped, and the drop is reported naming OTEL_BSP_MAX_QUEUE_SIZE", func(t *testing.T) {
		exp := &batches{hold: make(chan struct{}), entered: make(chan struct{}, 1)}
		p := telemetry.NewBatchProcessor(exp, telemetry.BatchOptions{ScheduleDelay: time.Hour, MaxQueueSize: 4, MaxExportBatchSize: 4})
		defer p.Shutdown(ctx)
		tp := provider(t, p)
		endSpans(tp, "first", 4) // a full batch: its export starts and is held
		<-exp.entered
		endSpans(tp, "second", 5) // the queue takes 4, the fifth is dropped
		// The next export reports the drop: the processor's own (to the
		// SDK's error handler) or ForceFlush's (to its caller).
		handled := make(chan error, 4)
		prev := otel.GetErrorHandler()
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { handled <- err }))
		defer otel.SetErrorHandler(prev)
		close(exp.hold)
		err := p.ForceFlush(ctx)
		if err == nil {
			select {
			case err = <-handled:
			case <-time.After(10 * time.Second):
			}
		}
		if err == nil || !strings.Contains(err.Error(), "1 spans dropped") || !strings.Contains(err.Error(), "OTEL_BSP_MAX_QUEUE_SIZE") {
			t.Fatalf("the drop is not reported: %v", err)
		}
		if n := exp.total(); n != 8 {
			t.Fatalf("exported %d spans, want the 8 the queue held", n)
		}
	})

	t.Run("ForceFlush gives up when its context is done while an export is stuck", func(t *testing.T) {
		exp := &batches{hold: make(chan struct{}), entered: make(chan struct{}, 1)}
		p := telemetry.NewBatchProcessor(exp, hour)
		endSpans(provider(t, p), "a", 4)
		<-exp.entered
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if err := p.ForceFlush(short); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("ForceFlush with a stuck export: %v, want the deadline", err)
		}
		close(exp.hold)
		if err := p.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("Shutdown exports what is queued, shuts the exporter down, and later spans are not queued", func(t *testing.T) {
		exp := &batches{}
		p := telemetry.NewBatchProcessor(exp, hour)
		tp := provider(t, p)
		endSpans(tp, "before", 3)
		if err := p.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		late := tracetest.SpanStub{Name: "after", SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled,
		})}.Snapshot()
		p.OnEnd(late)
		if err := p.ForceFlush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := p.Shutdown(ctx); err != nil {
			t.Fatalf("a second Shutdown: %v", err)
		}
		_, names, shutdown := exp.got()
		if len(names) != 3 || !shutdown {
			t.Fatalf("exported %v, exporter shut down: %v", names, shutdown)
		}
	})

	t.Run("spans ended concurrently while flushes run are all exported once", func(t *testing.T) {
		exp := &batches{}
		p := telemetry.NewBatchProcessor(exp, telemetry.BatchOptions{ScheduleDelay: time.Millisecond, MaxQueueSize: 1 << 16, MaxExportBatchSize: 7})
		tp := provider(t, p)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() { endSpans(tp, "a", 500) })
		}
		wg.Go(func() {
			for range 20 {
				_ = p.ForceFlush(ctx)
			}
		})
		wg.Wait()
		if err := p.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if n := exp.total(); n != 4000 {
			t.Fatalf("exported %d spans of 4000", n)
		}
	})
}
