package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/shipyard-kit/shipyard/app/appmetrics"
)

// QueueDefault is the one asynq queue of the app: the web process and the
// clock enqueue into it, the worker consumes it. Its backlog is published
// with this Queue dimension, which infra's alarms and worker autoscaling
// read: hence app/appmetrics holds the name.
const QueueDefault = appmetrics.QueueDefault

// Queues returns the queues the worker consumes, with their priorities,
// as a new map each time: what a caller does with it changes nothing for
// the worker or the backlog (a shared map could). They are also the only
// queues whose backlog is published: the queue label and the Queue
// dimension come from this fixed list, never from what Redis holds, so
// their cardinality is bounded.
func Queues() map[string]int { return map[string]int{QueueDefault: 1} }

// QueueNames returns the names of Queues, sorted.
func QueueNames() []string {
	qs := Queues()
	names := make([]string, 0, len(qs))
	for q := range qs {
		names = append(names, q)
	}
	slices.Sort(names)
	return names
}

// Backlog is what waits in one queue.
type Backlog struct {
	Queue string
	// Pending counts the tasks that are ready to run and not yet picked up
	// by a worker (asynq's "pending" state). Tasks scheduled for later and
	// failed tasks waiting for their retry are not a backlog: they are not
	// due yet.
	Pending int
	// Latency is how long the oldest pending task has been waiting (since
	// it became due); 0 when nothing is pending.
	Latency time.Duration
}

// BacklogReader reads the backlog of every queue in Queues through asynq's
// Inspector.
type BacklogReader struct {
	insp   *asynq.Inspector
	queues []string
}

// NewBacklogReader returns a reader on rdb (shared, not closed by it).
func NewBacklogReader(rdb redis.UniversalClient) *BacklogReader {
	return &BacklogReader{insp: asynq.NewInspectorFromRedisClient(rdb), queues: QueueNames()}
}

// Read returns the backlog of every queue in Queues, in name order. A queue
// nothing was ever enqueued into (asynq does not know it yet) has an empty
// backlog. The Inspector takes no context, so Read stops waiting when ctx
// ends and leaves the call to the Redis client's timeouts.
func (r *BacklogReader) Read(ctx context.Context) ([]Backlog, error) {
	type result struct {
		b   []Backlog
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := r.read()
		done <- result{b, err}
	}()
	select {
	case res := <-done:
		return res.b, res.err
	case <-ctx.Done():
		return nil, fmt.Errorf("read queue backlog: %w", ctx.Err())
	}
}

func (r *BacklogReader) read() ([]Backlog, error) {
	known, err := r.insp.Queues()
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	out := make([]Backlog, 0, len(r.queues))
	for _, q := range r.queues {
		b := Backlog{Queue: q}
		if slices.Contains(known, q) {
			info, err := r.insp.GetQueueInfo(q)
			if err != nil {
				return nil, fmt.Errorf("queue %s: %w", q, err)
			}
			b.Pending, b.Latency = info.Pending, max(info.Latency, 0)
		}
		out = append(out, b)
	}
	return out, nil
}

// backlogCollector reads the backlog when Prometheus scrapes.
type backlogCollector struct {
	read    func(context.Context) ([]Backlog, error)
	timeout time.Duration
	pending *prometheus.Desc
	latency *prometheus.Desc
	errors  prometheus.Counter
}

// NewBacklogMetrics registers the backlog gauges on reg:
// app_jobs_queue_pending{queue} and app_jobs_queue_latency_seconds{queue},
// read from Redis at every scrape (within timeout), and the counter
// app_jobs_queue_read_errors_total. When a read fails the gauges are left
// out of that scrape (absent, not a stale or zero value) and the counter
// goes up.
func NewBacklogMetrics(reg prometheus.Registerer, read func(context.Context) ([]Backlog, error), timeout time.Duration) {
	c := &backlogCollector{
		read:    read,
		timeout: timeout,
		pending: prometheus.NewDesc(appmetrics.PromQueuePending,
			"Background jobs ready to run and not yet picked up by a worker, by queue.", []string{appmetrics.LabelQueue}, nil),
		latency: prometheus.NewDesc(appmetrics.PromQueueLatency,
			"How long the oldest pending job of the queue has been waiting (0 when none is pending).", []string{appmetrics.LabelQueue}, nil),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "app_jobs_queue_read_errors_total",
			Help: "Scrapes whose read of the job queues' backlog from Redis failed.",
		}),
	}
	reg.MustRegister(c, c.errors)
}

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.latency
}

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	backlog, err := c.read(ctx)
	if err != nil {
		c.errors.Inc()
		return
	}
	for _, b := range backlog {
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(b.Pending), b.Queue)
		ch <- prometheus.MustNewConstMetric(c.latency, prometheus.GaugeValue, b.Latency.Seconds(), b.Queue)
	}
}

// emfLine is one log line in CloudWatch embedded metric format: the
// process's usual log fields, the _aws metadata and, at the root, the
// dimension values and metric values it names. The CloudWatch names are
// app/appmetrics' (which infra's alarms read); the JSON tags repeat them,
// as struct tags cannot name a constant: TestEMFLinesPublishExactlyTheAppmetricsMetrics
// fails when they differ.
type emfLine struct {
	Time    string  `json:"time"`
	Level   string  `json:"level"`
	Msg     string  `json:"msg"`
	Process string  `json:"process"`
	AWS     emfMeta `json:"_aws"`
	Stack   string  `json:"Stack"`
	Queue   string  `json:"Queue"`
	Pending int     `json:"JobsQueuePending"`
	Latency float64 `json:"JobsQueueLatency"`
}

type emfMeta struct {
	Timestamp         int64          `json:"Timestamp"`
	CloudWatchMetrics []emfDirective `json:"CloudWatchMetrics"`
}

type emfDirective struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []emfMetric `json:"Metrics"`
}

type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

// EMFLine renders one queue's backlog at t as a JSON log line (with its
// newline) in CloudWatch embedded metric format: namespace Shipyard,
// dimensions Stack and Queue, metrics JobsQueuePending (Count) and
// JobsQueueLatency (Seconds).
func EMFLine(t time.Time, stack, process string, b Backlog) ([]byte, error) {
	line, err := json.Marshal(emfLine{
		Time:    t.UTC().Format(time.RFC3339Nano),
		Level:   slog.LevelInfo.String(),
		Msg:     "queue backlog",
		Process: process,
		AWS: emfMeta{
			Timestamp: t.UnixMilli(),
			CloudWatchMetrics: []emfDirective{{
				Namespace:  appmetrics.Namespace,
				Dimensions: [][]string{appmetrics.QueueDimensions()},
				Metrics:    []emfMetric{{Name: appmetrics.QueuePending, Unit: "Count"}, {Name: appmetrics.QueueLatency, Unit: "Seconds"}},
			}},
		},
		Stack:   stack,
		Queue:   b.Queue,
		Pending: b.Pending,
		Latency: math.Round(b.Latency.Seconds()*1000) / 1000,
	})
	if err != nil {
		return nil, fmt.Errorf("marshal embedded metric format line: %w", err)
	}
	return append(line, '\n'), nil
}

// EMFEmitter writes the backlog as embedded metric format lines: once at
// start, then every Every, until its context ends. CloudWatch Logs turns
// them into metrics with no agent. The lines go to W directly, not through
// the logger, so LOG_LEVEL cannot drop them.
type EMFEmitter struct {
	W       io.Writer
	Stack   string
	Process string
	Every   time.Duration
	Read    func(context.Context) ([]Backlog, error)
	// Log gets a warning when a read fails (nothing is emitted then).
	Log *slog.Logger
}

// Run emits until ctx ends; with no positive Every it emits nothing.
func (e *EMFEmitter) Run(ctx context.Context) { every(ctx, e.Every, e.emit) }

// every calls f at once, then every d, until ctx ends; never with no
// positive d.
func every(ctx context.Context, d time.Duration, f func(context.Context)) {
	if d <= 0 {
		return
	}
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		f(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (e *EMFEmitter) emit(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, min(e.Every, 10*time.Second))
	defer cancel()
	backlog, err := e.Read(rctx)
	if err != nil {
		if ctx.Err() == nil {
			e.Log.Warn("queue backlog not published", "err", err)
		}
		return
	}
	now := time.Now()
	for _, b := range backlog {
		line, err := EMFLine(now, e.Stack, e.Process, b)
		if err != nil {
			e.Log.Error("queue backlog not published", "err", err)
			return
		}
		if _, err := e.W.Write(line); err != nil {
			return
		}
	}
}
