package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/shipyard-kit/shipyard/app/internal/config"
	"github.com/shipyard-kit/shipyard/app/internal/jobs"
	"github.com/shipyard-kit/shipyard/app/internal/logx"
	"github.com/shipyard-kit/shipyard/app/internal/testenv"
)

// TestWorkerShutdown: on SIGTERM the worker lets an in-flight job finish
// within SHUTDOWN_TIMEOUT, and requeues one that would outlast it.
func TestWorkerShutdown(t *testing.T) {
	for _, tc := range []struct {
		name         string
		shutdown     string
		jobFinishes  bool // the job returns once shutdown has begun
		wantRequeued bool
	}{
		{"a job in flight finishes before the worker exits", "10s", true, false},
		{"a job that outlasts SHUTDOWN_TIMEOUT is requeued", "2s", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := testenv.RedisURL(t)
			ropts, _ := redis.ParseURL(url)
			opt := asynq.RedisClientOpt{Addr: ropts.Addr, DB: ropts.DB}
			cfg, err := config.Load(func(k string) string {
				return map[string]string{"DATABASE_URL": "postgres://u@h/db", "REDIS_URL": url, "SHUTDOWN_TIMEOUT": tc.shutdown}[k]
			}, config.Needs{Database: true, Redis: true})
			if err != nil {
				t.Fatal(err)
			}
			started, shuttingDown := make(chan struct{}), make(chan struct{})
			finished := make(chan struct{}, 1)
			mux := asynq.NewServeMux()
			mux.HandleFunc("slow", func(ctx context.Context, _ *asynq.Task) error {
				close(started)
				<-shuttingDown
				if tc.jobFinishes {
					finished <- struct{}{}
					return nil
				}
				<-ctx.Done() // outlasts the shutdown timeout
				return ctx.Err()
			})
			client := asynq.NewClient(opt)
			defer client.Close()
			if _, err := client.Enqueue(asynq.NewTask("slow", nil), asynq.MaxRetry(5)); err != nil {
				t.Fatal(err)
			}
			// The job may only go on once asynq has begun its graceful
			// shutdown: we watch its log for that.
			shutdownLogged := &signalWriter{match: "Starting graceful shutdown", ch: shuttingDown}
			srv := asynq.NewServer(opt, workerConfig(logx.New(shutdownLogged, cfg.LogLevel, "worker"), cfg))
			if err := srv.Start(mux); err != nil {
				t.Fatal(err)
			}
			<-started
			done := make(chan struct{})
			go func() { srv.Shutdown(); close(done) }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("Shutdown did not return")
			}

			insp := asynq.NewInspector(opt)
			defer insp.Close()
			q, err := insp.GetQueueInfo("default")
			if err != nil {
				t.Fatal(err)
			}
			requeued := q.Pending+q.Retry > 0
			if requeued != tc.wantRequeued {
				t.Fatalf("requeued = %v (pending %d, retry %d, active %d), want %v", requeued, q.Pending, q.Retry, q.Active, tc.wantRequeued)
			}
			if tc.jobFinishes && len(finished) != 1 {
				t.Fatal("the job did not finish")
			}
		})
	}
}

// signalWriter closes ch the first time a write contains match.
type signalWriter struct {
	match string
	ch    chan struct{}
	once  sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), w.match) {
		w.once.Do(func() { close(w.ch) })
	}
	return len(p), nil
}

// TestQueueBacklogIsPublishedByTheClockAndTheWorker: with no worker
// running, jobs pile up and the clock reports them, on /metrics and as
// embedded metric format lines (even at LOG_LEVEL=warn); a worker that
// starts reports the same queue and, once it has caught up, an empty
// backlog.
func TestQueueBacklogIsPublishedByTheClockAndTheWorker(t *testing.T) {
	env := baseEnv(t)
	env["APP_ENV"] = "staging"
	env["LOG_LEVEL"] = "warn"
	env["QUEUE_METRICS_INTERVAL"] = "1s"
	clockEnv := maps.Clone(env)
	clk := start(t, clockEnv, "clock")

	rdb := redis.NewClient(mustRedisOptions(t, env["REDIS_URL"]))
	defer rdb.Close()
	q := asynq.NewClientFromRedisClient(rdb)
	for i := range 3 {
		// Notes that do not exist: the worker will drop them at once.
		if _, err := q.Enqueue(jobs.NewNoteProcessTask(int64(1000 + i))); err != nil {
			t.Fatal(err)
		}
	}

	// The clock enqueues the scheduled jobs' due slots too (the sweep's at
	// least): 3 or more.
	waitForMetric(t, clk, `app_jobs_queue_pending{queue="default"} `, func(v float64) bool { return v >= 3 })
	line := waitForEMF(t, clk, func(m map[string]any) bool { v, _ := m["JobsQueuePending"].(float64); return v >= 3 })
	if line["Stack"] != "staging" || line["Queue"] != "default" || line["process"] != "clock" {
		t.Errorf("EMF line = %v, want Stack=staging (APP_ENV), Queue=default, process=clock", line)
	}
	if lat, _ := line["JobsQueueLatency"].(float64); lat <= 0 {
		t.Errorf("JobsQueueLatency = %v, want the age of the oldest job", line["JobsQueueLatency"])
	}

	workerEnv := maps.Clone(env)
	workerEnv["PORT"] = ""
	w := start(t, workerEnv, "worker")
	waitForMetric(t, w, `app_jobs_queue_pending{queue="default"} 0`, nil)
	waitForMetric(t, w, `app_jobs_queue_latency_seconds{queue="default"} 0`, nil)
	waitForEMF(t, w, func(m map[string]any) bool { return m["JobsQueuePending"] == 0.0 && m["process"] == "worker" })
	waitForMetric(t, clk, `app_jobs_queue_pending{queue="default"} 0`, nil)
}

func mustRedisOptions(t *testing.T, url string) *redis.Options {
	t.Helper()
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// waitForMetric polls p's /metrics until a line equals want or, with a
// value test, starts with want and has a value it accepts.
func waitForMetric(t *testing.T, p *proc, want string, value func(float64) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var body string
	for time.Now().Before(deadline) {
		resp, err := http.Get(p.base + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			for _, l := range strings.Split(body, "\n") {
				if value == nil && l == want {
					return
				}
				if v, ok := strings.CutPrefix(l, want); ok && value != nil {
					if f, err := strconv.ParseFloat(v, 64); err == nil && value(f) {
						return
					}
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no %q in /metrics within 20 s:\n%s", want, testenv.GrepLines(body, "app_jobs_queue"))
}

// waitForEMF waits for an embedded metric format line of p's output that
// ok accepts and returns it.
func waitForEMF(t *testing.T, p *proc, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, l := range strings.Split(p.out.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) != nil {
				continue
			}
			aws, _ := m["_aws"].(map[string]any)
			if aws == nil {
				continue
			}
			dirs, _ := aws["CloudWatchMetrics"].([]any)
			if len(dirs) != 1 || dirs[0].(map[string]any)["Namespace"] != "Shipyard" {
				t.Fatalf("EMF line without the Shipyard namespace: %s", l)
			}
			if ok(m) {
				return m
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no matching EMF line within 20 s:\n%s", p.out.String())
	return nil
}

// TestQueueMetricsIntervalZeroWritesNoEMFLines: QUEUE_METRICS_INTERVAL=0
// turns the CloudWatch lines off; /metrics still has the backlog.
func TestQueueMetricsIntervalZeroWritesNoEMFLines(t *testing.T) {
	env := baseEnv(t)
	env["QUEUE_METRICS_INTERVAL"] = "0"
	clk := start(t, env, "clock")
	waitForMetric(t, clk, `app_jobs_queue_pending{queue="default"} `, func(float64) bool { return true })
	time.Sleep(1500 * time.Millisecond)
	if out := clk.out.String(); strings.Contains(out, `"_aws"`) {
		t.Fatalf("an embedded metric format line with QUEUE_METRICS_INTERVAL=0:\n%s", out)
	}
}

// TestAJobRunsNowThroughTheWorker: `app job NAME` enqueues a run for the
// worker, waits for its outcome and prints it; `app jobs` then shows it as
// the job's last run; the clock and the worker publish the jobs' status.
func TestAJobRunsNowThroughTheWorker(t *testing.T) {
	env := baseEnv(t)
	workerEnv := maps.Clone(env)
	w := start(t, workerEnv, "worker")
	app := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"app"}, args...), func(k string) string { return env[k] }, &out, &out)
		return out.String(), err
	}
	out, err := app("job", "tokens:purge")
	if err != nil {
		t.Fatalf("app job tokens:purge: %v\n%s", err, out)
	}
	if !strings.Contains(out, `"jobRun":{`) || !strings.Contains(out, `"outcome":"ok"`) || !strings.Contains(out, `"trigger":"manual"`) {
		t.Fatalf("app job printed:\n%s", out)
	}
	out, err = app("jobs")
	if err != nil {
		t.Fatalf("app jobs: %v\n%s", err, out)
	}
	var got struct {
		Jobs []map[string]any `json:"jobs"`
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, `{"jobs":`) {
			if err := json.Unmarshal([]byte(l), &got); err != nil {
				t.Fatal(err)
			}
		}
	}
	names := []string{}
	for _, j := range got.Jobs {
		names = append(names, j["name"].(string))
		if j["name"] == "tokens:purge" && (j["lastOutcome"] != "ok" || j["lastRun"] == nil || j["lastSuccess"] == nil || j["schedule"] != "7 * * * *") {
			t.Errorf("tokens:purge in app jobs = %v", j)
		}
	}
	if strings.Join(names, ",") != "note:sweep,tokens:purge,jobs:prune" {
		t.Errorf("app jobs lists %v", names)
	}
	waitForMetric(t, w, `app_job_last_run_failed{task="tokens:purge"} 0`, nil)
	waitForMetric(t, w, `app_job_overdue_seconds{task="tokens:purge"} 0`, nil)

	if out, err := app("job", "nope"); err == nil || !strings.Contains(out, `no scheduled job \"nope\" (jobs: note:sweep, tokens:purge, jobs:prune)`) {
		t.Errorf("an unknown job: %v\n%s", err, out)
	}
}

// TestAnInvalidJobTableStopsTheWorkerAndTheClock: both processes that
// read the scheduled jobs refuse to start when jobs.Specs fails, with the
// error logged once, by run (the worker used to log it, carry on without
// the jobs' status and then panic building its task mux).
func TestAnInvalidJobTableStopsTheWorkerAndTheClock(t *testing.T) {
	saved := jobs.Scheduled
	t.Cleanup(func() { jobs.Scheduled = saved })
	jobs.Scheduled = append(append([]jobs.Job{}, saved...), saved[0])
	env := appEnv("postgres://u@127.0.0.1:1/x?sslmode=disable", "redis://127.0.0.1:1/0") // never dialled
	env["PORT"] = strconv.Itoa(testenv.FreePort(t))
	for _, cmd := range []string{"worker", "clock"} {
		var out bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := run(ctx, []string{"app", cmd}, func(k string) string { return env[k] }, &out, &out)
		cancel()
		want := "scheduled jobs: job " + saved[0].Name + ": name: declared twice"
		if err == nil || err.Error() != want {
			t.Errorf("app %s: %v, want %s\n%s", cmd, err, want, out.String())
			continue
		}
		if n := strings.Count(out.String(), "declared twice"); n != 1 || !strings.Contains(out.String(), `"msg":"`+cmd+` failed"`) {
			t.Errorf("app %s logged the error %d times, want once, as %q:\n%s", cmd, n, cmd+" failed", out.String())
		}
	}
}
