package telemetry

import (
	"context"

	"github.com/hibiken/asynq"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// Enqueuer enqueues background jobs (an *asynq.Client).
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Enqueuer traces each enqueue through e as a producer span "send
// {task type}" and writes that span's W3C trace context into the task's
// headers (asynq v0.26 task headers; a task made by asynq.NewTask has none
// and travels without it, as the clock's scheduled tasks do). Off, it
// returns e.
func (t *Tracing) Enqueuer(e Enqueuer) Enqueuer {
	if !t.Enabled() {
		return e
	}
	return tracedEnqueuer{next: e, t: t}
}

type tracedEnqueuer struct {
	next Enqueuer
	t    *Tracing
}

func (e tracedEnqueuer) EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	ctx, span := e.t.tracer.Start(ctx, "send "+task.Type(),
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(attribute.String(string(semconv.MessagingSystemKey), "asynq"), semconv.MessagingOperationTypeSend,
			semconv.MessagingOperationName("send"), attribute.String("asynq.task.type", task.Type())))
	defer span.End()
	if h := task.Headers(); h != nil {
		e.t.prop.Inject(ctx, propagation.MapCarrier(h))
	}
	info, err := e.next.EnqueueContext(ctx, task, opts...)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "enqueue failed")
		return info, err
	}
	span.SetAttributes(semconv.MessagingDestinationName(info.Queue), semconv.MessagingMessageID(info.ID))
	return info, err
}

// Jobs traces each job run by h as a consumer span "process {task type}".
// Its parent is the enqueue span whose context the task's headers carry,
// so the job sits in the trace of the request that enqueued it; a retry,
// which may run hours later, starts a trace of its own linked to that
// span instead. A task without trace headers (the clock's) starts a new
// trace. Off, it returns h.
func (t *Tracing) Jobs(h asynq.Handler) asynq.Handler {
	if !t.Enabled() {
		return h
	}
	return asynq.HandlerFunc(func(ctx context.Context, task *asynq.Task) error {
		producer := trace.SpanContextFromContext(t.prop.Extract(context.Background(), propagation.MapCarrier(task.Headers())))
		queue, _ := asynq.GetQueueName(ctx)
		id, _ := asynq.GetTaskID(ctx)
		retried, _ := asynq.GetRetryCount(ctx)
		opts := []trace.SpanStartOption{
			trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(attribute.String(string(semconv.MessagingSystemKey), "asynq"), semconv.MessagingOperationTypeProcess,
				semconv.MessagingOperationName("process"), attribute.String("asynq.task.type", task.Type()),
				semconv.MessagingDestinationName(queue), semconv.MessagingMessageID(id), attribute.Int("asynq.task.retried", retried)),
		}
		parent := ctx
		if producer.IsValid() {
			if retried == 0 {
				parent = trace.ContextWithRemoteSpanContext(ctx, producer)
			} else {
				opts = append(opts, trace.WithNewRoot(), trace.WithLinks(trace.Link{SpanContext: producer}))
			}
		}
		ctx, span := t.tracer.Start(parent, "process "+task.Type(), opts...)
		defer span.End()
		err := h.ProcessTask(ctx, task)
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "job failed")
		}
		return err
	})
}
