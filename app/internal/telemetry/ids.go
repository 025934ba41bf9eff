package telemetry

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// timeIDs makes trace ids whose first 4 bytes are the trace's start in Unix
// seconds and the other 12 random (span ids: 8 random bytes). X-Ray
// requires that shape (it drops spans whose id does not start with a time
// in its retention window, and the ADOT collector's awsxray exporter sends
// ids as they are); the ids are still W3C trace ids, so Jaeger shows the
// very same ones. (go.opentelemetry.io/contrib/propagators/aws, which had
// this generator, is deprecated.) The sampler's ratio reads the low 8
// bytes, which stay random.
type timeIDs struct {
	mu  sync.Mutex
	rng *rand.ChaCha8
}

func newTimeIDs() *timeIDs {
	var seed [32]byte
	_, _ = crand.Read(seed[:])
	return &timeIDs{rng: rand.NewChaCha8(seed)}
}

// NewIDs implements sdktrace.IDGenerator. The trace id is the one HTTP
// drew for the request, when ctx carries it and no root span has used it
// yet (see withTraceID); else a new one.
func (g *timeIDs) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	if p, ok := ctx.Value(drawnTraceIDKey{}).(*drawnTraceID); ok && p.used.CompareAndSwap(false, true) {
		return p.id, g.NewSpanID(ctx, p.id)
	}
	tid := g.newTraceID()
	return tid, g.NewSpanID(ctx, tid)
}

func (g *timeIDs) newTraceID() trace.TraceID {
	var tid trace.TraceID
	binary.BigEndian.PutUint32(tid[:4], uint32(time.Now().Unix()))
	g.mu.Lock()
	defer g.mu.Unlock()
	_, _ = g.rng.Read(tid[4:])
	return tid
}

// drawnTraceID is a trace id drawn before the root span that uses it is
// started: HTTP draws a request's id to ask the sampler whether to trace
// it, and the SDK's sampler, asked again by otelhttp with the same id,
// decides the same. Used once: any other root span gets an id of its own.
type drawnTraceID struct {
	id   trace.TraceID
	used atomic.Bool
}

type drawnTraceIDKey struct{}

// withTraceID makes id the trace id of the next root span started in ctx.
func withTraceID(ctx context.Context, id trace.TraceID) context.Context {
	return context.WithValue(ctx, drawnTraceIDKey{}, &drawnTraceID{id: id})
}

// NewSpanID implements sdktrace.IDGenerator.
func (g *timeIDs) NewSpanID(context.Context, trace.TraceID) trace.SpanID {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.spanIDLocked()
}

func (g *timeIDs) spanIDLocked() trace.SpanID {
	var sid trace.SpanID
	for !sid.IsValid() {
		_, _ = g.rng.Read(sid[:])
	}
	return sid
}
