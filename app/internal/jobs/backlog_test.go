package jobs_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/shipyard-kit/shipyard/app/appmetrics"
	"github.com/shipyard-kit/shipyard/app/internal/jobs"
	"github.com/shipyard-kit/shipyard/app/internal/testenv"
)

// redisClient is a client on this test's own Redis database.
func redisClient(t *testing.T) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// enqueue puts n note:process tasks into the default queue (no worker
// runs, so they stay pending) plus the given extra options' tasks.
func enqueue(t *testing.T, rdb *redis.Client, n int, opts ...asynq.Option) {
	t.Helper()
	c := asynq.NewClientFromRedisClient(rdb)
	for i := range n {
		if _, err := c.Enqueue(jobs.NewNoteProcessTask(int64(i+1)), opts...); err != nil {
			t.Fatal(err)
		}
	}
}

// series returns the value of every sample of the named metric family,
// keyed by its queue label.
func series(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			queue := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "queue" {
					queue = l.GetValue()
				}
			}
			out[queue] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return out
}

func TestBacklogMetrics(t *testing.T) {
	rdb := redisClient(t)
	reg := prometheus.NewRegistry()
	jobs.NewBacklogMetrics(reg, jobs.NewBacklogReader(rdb).Read, 5*time.Second)

	t.Run("a queue nothing was enqueued into has no backlog", func(t *testing.T) {
		if got := series(t, reg, "app_jobs_queue_pending"); len(got) != 1 || got["default"] != 0 {
			t.Fatalf("pending = %v, want default=0", got)
		}
		if got := series(t, reg, "app_jobs_queue_latency_seconds"); len(got) != 1 || got["default"] != 0 {
			t.Fatalf("latency = %v, want default=0", got)
		}
	})

	t.Run("jobs nobody picks up are pending and age", func(t *testing.T) {
		enqueue(t, rdb, 3)
		// Not due yet, so not a backlog.
		enqueue(t, rdb, 2, asynq.ProcessIn(time.Hour))
		time.Sleep(1100 * time.Millisecond)
		if got := series(t, reg, "app_jobs_queue_pending"); got["default"] != 3 {
			t.Fatalf("pending = %v, want default=3", got)
		}
		lat := series(t, reg, "app_jobs_queue_latency_seconds")["default"]
		if lat < 1 || lat > 30 {
			t.Fatalf("latency = %v s, want the age of the oldest pending job (about 1.1 s)", lat)
		}
	})

	t.Run("a queue the app does not use gets no series", func(t *testing.T) {
		enqueue(t, rdb, 1, asynq.Queue("someone-elses"))
		got := series(t, reg, "app_jobs_queue_pending")
		if len(got) != 1 {
			t.Fatalf("pending = %v, want only the default queue", got)
		}
	})

	t.Run("an unreachable Redis leaves the gauges out and counts the failure", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close() // nothing listens there now
		dead := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
		defer dead.Close()
		reg := prometheus.NewRegistry()
		jobs.NewBacklogMetrics(reg, jobs.NewBacklogReader(dead).Read, 5*time.Second)
		if got := series(t, reg, "app_jobs_queue_pending"); len(got) != 0 {
			t.Fatalf("pending = %v, want no series", got)
		}
		if got := series(t, reg, "app_jobs_queue_read_errors_total"); got[""] != 1 {
			t.Fatalf("read errors = %v, want 1", got)
		}
	})
}

// checkEMF parses one log line and checks it against the CloudWatch
// embedded metric format specification: a root "_aws" member whose
// Timestamp is epoch milliseconds and whose CloudWatchMetrics directives
// each name a Namespace, dimension sets of at most 30 root members holding
// strings, and at most 100 metrics, each a root member holding a number,
// with a valid unit. It returns the parsed line.
func checkEMF(t *testing.T, line []byte) map[string]any {
	t.Helper()
	var root map[string]any
	if err := json.Unmarshal(line, &root); err != nil {
		t.Fatalf("not a JSON object: %v: %s", err, line)
	}
	aws, ok := root["_aws"].(map[string]any)
	if !ok {
		t.Fatalf("no _aws object: %s", line)
	}
	ts, ok := aws["Timestamp"].(float64)
	if !ok || ts != float64(int64(ts)) || ts < 1e12 {
		t.Fatalf("_aws.Timestamp = %v, want epoch milliseconds", aws["Timestamp"])
	}
	directives, ok := aws["CloudWatchMetrics"].([]any)
	if !ok || len(directives) == 0 {
		t.Fatalf("_aws.CloudWatchMetrics = %v, want a non-empty array", aws["CloudWatchMetrics"])
	}
	units := map[string]bool{}
	for _, u := range strings.Fields(`Seconds Microseconds Milliseconds Bytes Kilobytes Megabytes Gigabytes Terabytes
		Bits Kilobits Megabits Gigabits Terabits Percent Count Bytes/Second Kilobytes/Second Megabytes/Second
		Gigabytes/Second Terabytes/Second Bits/Second Kilobits/Second Megabits/Second Gigabits/Second
		Terabits/Second Count/Second None`) {
		units[u] = true
	}
	for _, d := range directives {
		dir, ok := d.(map[string]any)
		if !ok {
			t.Fatalf("directive %v is not an object", d)
		}
		if ns, _ := dir["Namespace"].(string); ns == "" || len(ns) > 1024 {
			t.Fatalf("Namespace = %v", dir["Namespace"])
		}
		sets, ok := dir["Dimensions"].([]any)
		if !ok {
			t.Fatalf("Dimensions = %v, want an array of arrays", dir["Dimensions"])
		}
		for _, s := range sets {
			set, ok := s.([]any)
			if !ok || len(set) > 30 {
				t.Fatalf("dimension set %v: want an array of at most 30 names", s)
			}
			for _, n := range set {
				name, _ := n.(string)
				if v, ok := root[name].(string); !ok || v == "" || len(v) > 1024 {
					t.Fatalf("dimension %v: root member %v is not a non-empty string", n, root[name])
				}
			}
		}
		metrics, ok := dir["Metrics"].([]any)
		if !ok || len(metrics) == 0 || len(metrics) > 100 {
			t.Fatalf("Metrics = %v, want 1 to 100", dir["Metrics"])
		}
		for _, m := range metrics {
			md, ok := m.(map[string]any)
			if !ok {
				t.Fatalf("metric %v is not an object", m)
			}
			name, _ := md["Name"].(string)
			if _, ok := root[name].(float64); !ok {
				t.Fatalf("metric %q: root member %v is not a number", name, root[name])
			}
			if u, has := md["Unit"]; has && !units[u.(string)] {
				t.Fatalf("metric %q: unit %v is not a CloudWatch unit", name, u)
			}
		}
	}
	return root
}

func TestEMFLine(t *testing.T) {
	at := time.Date(2026, 12, 2, 13, 0, 0, 123e6, time.UTC)
	line, err := jobs.EMFLine(at, "prod", "worker", jobs.Backlog{Queue: "default", Pending: 7, Latency: 12500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(line), "\n"); n != 1 || !strings.HasSuffix(string(line), "\n") {
		t.Fatalf("want one line ending in a newline: %q", line)
	}
	root := checkEMF(t, line)
	aws := root["_aws"].(map[string]any)
	if aws["Timestamp"] != float64(at.UnixMilli()) {
		t.Errorf("Timestamp = %v, want %d", aws["Timestamp"], at.UnixMilli())
	}
	dir := aws["CloudWatchMetrics"].([]any)[0].(map[string]any)
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"the namespace is Shipyard", dir["Namespace"], "Shipyard"},
		{"the one dimension set is Stack and Queue", dir["Dimensions"], []any{[]any{"Stack", "Queue"}}},
		{"the metrics are the pending count and the latency in seconds", dir["Metrics"], []any{
			map[string]any{"Name": "JobsQueuePending", "Unit": "Count"},
			map[string]any{"Name": "JobsQueueLatency", "Unit": "Seconds"},
		}},
		{"the Stack dimension is the stack", root["Stack"], "prod"},
		{"the Queue dimension is the queue", root["Queue"], "default"},
		{"JobsQueuePending is the pending count", root["JobsQueuePending"], 7.0},
		{"JobsQueueLatency is in seconds", root["JobsQueueLatency"], 12.5},
		{"it is an info line of the process like every other", root["level"].(string) + " " + root["process"].(string), "INFO worker"},
	} {
		if got, want := mustJSON(t, tc.got), mustJSON(t, tc.want); got != want {
			t.Errorf("%s: got %s, want %s", tc.name, got, want)
		}
	}
}

// TestEMFLinesPublishExactlyTheAppmetricsMetrics holds the app to the one
// table infra's alarms read (app/appmetrics.Published): every metric the
// backlog and the jobs' status lines declare, with its unit and dimension
// set, in the namespace, and its value and dimension values at the root
// under the declared names (the JSON tags repeat the names).
func TestEMFLinesPublishExactlyTheAppmetricsMetrics(t *testing.T) {
	at := time.Date(2026, 12, 2, 13, 0, 0, 0, time.UTC)
	backlog, err := jobs.EMFLine(at, "prod", "worker", jobs.Backlog{Queue: jobs.QueueDefault, Pending: 3, Latency: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	status, err := jobs.EMFJobsLine(at, "prod", "clock", []jobs.Status{{Name: jobs.TypeTokensPurge, OverdueSeconds: 5, LastRunFailed: true, OverTimeout: true}})
	if err != nil {
		t.Fatal(err)
	}
	var got []appmetrics.Metric
	for _, line := range [][]byte{backlog, status} {
		root := checkEMF(t, line) // each declared metric and dimension is a root member
		for _, d := range root["_aws"].(map[string]any)["CloudWatchMetrics"].([]any) {
			dir := d.(map[string]any)
			if dir["Namespace"] != appmetrics.Namespace {
				t.Errorf("namespace %v, want appmetrics.Namespace %q", dir["Namespace"], appmetrics.Namespace)
			}
			sets := dir["Dimensions"].([]any)
			if len(sets) != 1 {
				t.Fatalf("dimension sets %v: want one (the alarms read one)", sets)
			}
			var dims []string
			for _, n := range sets[0].([]any) {
				dims = append(dims, n.(string))
			}
			for _, m := range dir["Metrics"].([]any) {
				md := m.(map[string]any)
				got = append(got, appmetrics.Metric{Name: md["Name"].(string), Unit: md["Unit"].(string), Dimensions: dims})
			}
		}
	}
	if want := appmetrics.Published(); mustJSON(t, got) != mustJSON(t, want) {
		t.Errorf("the EMF lines publish\n %s\nappmetrics.Published (what infra alarms on) is\n %s", mustJSON(t, got), mustJSON(t, want))
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEMFEmitterWritesTheBacklogPeriodically(t *testing.T) {
	rdb := redisClient(t)
	enqueue(t, rdb, 2)
	var out testenv.SyncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	e := &jobs.EMFEmitter{
		W: &out, Stack: "staging", Process: "clock", Every: 100 * time.Millisecond,
		Read: jobs.NewBacklogReader(rdb).Read, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()

	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(out.String(), "\n") < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than 3 lines in 10 s: %q", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return when its context ended")
	}
	for i, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		root := checkEMF(t, []byte(line))
		if root["Stack"] != "staging" || root["Queue"] != "default" || root["JobsQueuePending"] != 2.0 {
			t.Errorf("line %d: %s", i, line)
		}
	}
}

func TestEMFEmitterWarnsAndWritesNothingWhenRedisIsUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer dead.Close()
	var out, logs testenv.SyncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	(&jobs.EMFEmitter{
		W: &out, Stack: "dev", Process: "worker", Every: 100 * time.Millisecond,
		Read: jobs.NewBacklogReader(dead).Read, Log: slog.New(slog.NewJSONHandler(&logs, nil)),
	}).Run(ctx)
	if out.String() != "" {
		t.Fatalf("wrote %q", out.String())
	}
	if !strings.Contains(logs.String(), "queue backlog not published") {
		t.Fatalf("no warning: %q", logs.String())
	}
}

// BenchmarkBacklogRead measures one read of the backlog (what each scrape
// and each embedded metric format line costs) on a queue of 1,000 pending
// jobs.
func BenchmarkBacklogRead(b *testing.B) {
	opts, err := redis.ParseURL(testenv.RedisURL(b))
	if err != nil {
		b.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	c := asynq.NewClientFromRedisClient(rdb)
	for i := range 1000 {
		if _, err := c.Enqueue(jobs.NewNoteProcessTask(int64(i + 1))); err != nil {
			b.Fatal(err)
		}
	}
	r := jobs.NewBacklogReader(rdb)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		got, err := r.Read(ctx)
		if err != nil || got[0].Pending != 1000 {
			b.Fatalf("%v %v", got, err)
		}
	}
}
