package telemetry

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// BatchOptions are a batch processor's settings, the standard OTEL_BSP_*
// variables (config.Tracing holds them; the zero value of a field is the
// specification's default).
type BatchOptions struct {
	// ScheduleDelay is the longest a span waits before it is exported
	// (OTEL_BSP_SCHEDULE_DELAY, default 5 s).
	ScheduleDelay time.Duration
	// ExportTimeout bounds one export (OTEL_BSP_EXPORT_TIMEOUT, default
	// 30 s).
	ExportTimeout time.Duration
	// MaxQueueSize is how many ended spans wait at most; a span that ends
	// with the queue full is dropped and counted (OTEL_BSP_MAX_QUEUE_SIZE,
	// default 2048).
	MaxQueueSize int
	// MaxExportBatchSize is the most spans one export sends; a queue that
	// reaches it is exported at once (OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
	// default 512).
	MaxExportBatchSize int
}

func (o BatchOptions) withDefaults() BatchOptions {
	if o.ScheduleDelay <= 0 {
		o.ScheduleDelay = 5 * time.Second
	}
	if o.ExportTimeout <= 0 {
		o.ExportTimeout = 30 * time.Second
	}
	if o.MaxQueueSize <= 0 {
		o.MaxQueueSize = 2048
	}
	if o.MaxExportBatchSize <= 0 {
		o.MaxExportBatchSize = 512
	}
	o.MaxExportBatchSize = min(o.MaxExportBatchSize, o.MaxQueueSize)
	return o
}

// batcher is the app's batch span processor. It does what the SDK's
// BatchSpanProcessor does, with the same settings: ended, sampled spans
// queue up to MaxQueueSize (beyond it they are dropped, and counted), and
// a goroutine exports them to the exporter, at most MaxExportBatchSize per
// call, every ScheduleDelay or as soon as a batch's worth is queued; one
// export runs at a time. ForceFlush and Shutdown export what is queued.
//
// What it does differently is how an ended span reaches the queue: the
// SDK's processor sends each span on a channel its goroutine waits on, so
// every span wakes that goroutine (and, on an idle core, an OS thread to
// run it); at the stacks' sampling ratios that wakeup is most of what a
// span costs after the request itself (docs/app.md, "Tracing budget").
// Here a span is appended to a slice under a mutex, and the goroutine is
// woken once per batch or per ScheduleDelay. The same design as the OTel
// Go SDK's log BatchProcessor; the trace one's is upstream issue
// open-telemetry/opentelemetry-go#1178.
type batcher struct {
	exp sdktrace.SpanExporter
	o   BatchOptions

	mu      sync.Mutex
	queue   []sdktrace.ReadOnlySpan
	spare   []sdktrace.ReadOnlySpan // the other buffer, swapped with queue by each export
	stopped bool
	dropped int64 // since last reported

	full     chan struct{} // a batch's worth is queued (capacity 1)
	exportMu chan struct{} // held by the export running (capacity 1)
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
}

// NewBatchProcessor returns the app's batch span processor for exp (see
// batcher); New uses it, tests and benchmarks may too.
func NewBatchProcessor(exp sdktrace.SpanExporter, o BatchOptions) sdktrace.SpanProcessor {
	o = o.withDefaults()
	b := &batcher{
		exp:      exp,
		o:        o,
		queue:    make([]sdktrace.ReadOnlySpan, 0, o.MaxQueueSize),
		spare:    make([]sdktrace.ReadOnlySpan, 0, o.MaxQueueSize),
		full:     make(chan struct{}, 1),
		exportMu: make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	go b.run()
	return b
}

// OnStart does nothing: spans are queued when they end.
func (b *batcher) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd queues s if it is sampled, without waking anything unless the
// queue now holds a batch's worth.
func (b *batcher) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		return
	}
	if len(b.queue) >= b.o.MaxQueueSize {
		b.dropped++
		b.mu.Unlock()
		return
	}
	b.queue = append(b.queue, s)
	n := len(b.queue)
	b.mu.Unlock()
	if n == b.o.MaxExportBatchSize {
		select {
		case b.full <- struct{}{}:
		default: // already signalled
		}
	}
}

func (b *batcher) run() {
	defer close(b.done)
	t := time.NewTimer(b.o.ScheduleDelay)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-b.full:
		case <-t.C:
		}
		if err := b.export(context.Background()); err != nil {
			otel.Handle(err)
		}
		t.Reset(b.o.ScheduleDelay)
	}
}

// export sends everything queued to the exporter, a batch per call,
// once the export running (if any) is done or ctx is. It reports the
// spans dropped since the last report.
func (b *batcher) export(ctx context.Context) error {
	select {
	case b.exportMu <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("tracing: flushing spans: %w", ctx.Err())
	}
	defer func() { <-b.exportMu }()
	b.mu.Lock()
	spans := b.queue
	b.queue, b.spare = b.spare[:0], nil
	dropped := b.dropped
	b.dropped = 0
	b.mu.Unlock()

	var errs []error
	if dropped > 0 {
		errs = append(errs, fmt.Errorf("tracing: %d spans dropped: the queue of %d spans (OTEL_BSP_MAX_QUEUE_SIZE) was full", dropped, b.o.MaxQueueSize))
	}
	for rest := spans; len(rest) > 0; {
		batch := rest[:min(len(rest), b.o.MaxExportBatchSize)]
		rest = rest[len(batch):]
		ectx, cancel := context.WithTimeout(ctx, b.o.ExportTimeout)
		err := b.exp.ExportSpans(ectx, batch)
		cancel()
		if err != nil {
			errs = append(errs, err)
		}
	}
	clear(spans) // the spans are the exporter's no more; let them go
	b.mu.Lock()
	b.spare = spans[:0]
	b.mu.Unlock()
	return errors.Join(errs...)
}

// ForceFlush exports every span queued, within ctx.
func (b *batcher) ForceFlush(ctx context.Context) error {
	return b.export(ctx)
}

// Shutdown stops queueing, exports what is queued and shuts the exporter
// down, within ctx. Calls after the first do nothing.
func (b *batcher) Shutdown(ctx context.Context) error {
	var err error
	b.once.Do(func() {
		b.mu.Lock()
		b.stopped = true
		b.mu.Unlock()
		close(b.stop)
		select {
		case <-b.done:
		case <-ctx.Done():
			err = fmt.Errorf("tracing: stopping the span processor: %w", ctx.Err())
			return
		}
		err = errors.Join(b.export(ctx), b.exp.Shutdown(ctx))
	})
	return err
}
