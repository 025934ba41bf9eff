package jobs_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/shipyard-kit/shipyard/app/internal/jobs"
	"github.com/shipyard-kit/shipyard/app/internal/testenv"
)

func quiet() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

func TestTheScheduledJobsAreValid(t *testing.T) {
	specs, err := jobs.Specs()
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != len(jobs.Scheduled) {
		t.Fatalf("%d specs for %d jobs", len(specs), len(jobs.Scheduled))
	}
	mux := (&jobs.Handlers{Log: quiet()}).Mux()
	for _, s := range specs {
		// Every scheduled job has a handler: asynq answers an unknown type
		// with an error naming it.
		if _, pattern := mux.Handler(asynq.NewTask(s.Name, nil)); pattern != s.Name {
			t.Errorf("job %s has no handler in Mux", s.Name)
		}
		if s.Grace <= 0 {
			t.Errorf("job %s: a grace of 0 makes the missed-run alarm go off on the slightest delay", s.Name)
		}
		if p := s.Period(time.Now()); s.Timeout >= p {
			t.Errorf("job %s: timeout %s is not shorter than its period %s: runs would always overlap", s.Name, s.Timeout, p)
		}
	}
}

func TestABadJobIsRefusedNamingTheField(t *testing.T) {
	ok := jobs.Job{Name: "x:y", Schedule: "*/5 * * * *", Timeout: time.Minute, Overlap: jobs.Skip, Grace: time.Minute}
	for _, tc := range []struct {
		name string
		edit func(j *jobs.Job)
		want string
	}{
		{"a schedule that is not cron", func(j *jobs.Job) { j.Schedule = "every day" }, "job x:y: schedule: \"every day\" is not a 5-field cron expression"},
		{"a 6-field schedule (seconds)", func(j *jobs.Job) { j.Schedule = "0 * * * * *" }, "schedule:"},
		{"a schedule more often than a minute", func(j *jobs.Job) { j.Schedule = "@every 10s" }, "at most once a minute"},
		{"a time zone in the expression", func(j *jobs.Job) { j.Schedule = "CRON_TZ=Europe/Paris 0 3 * * *" }, "give the time zone in timeZone"},
		{"an unknown time zone", func(j *jobs.Job) { j.TimeZone = "Mars/Olympus" }, "timeZone: \"Mars/Olympus\" is not an IANA time zone"},
		{"no timeout", func(j *jobs.Job) { j.Timeout = 0 }, "timeout: must be positive"},
		{"an unknown overlap policy", func(j *jobs.Job) { j.Overlap = "replace" }, "overlap: \"replace\" is not one of skip, queue"},
		{"a name with @ (task IDs are job@slot)", func(j *jobs.Job) { j.Name = "a@b" }, "name:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := ok
			tc.edit(&j)
			_, err := jobs.ParseJobs([]jobs.Job{j})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("a name declared twice", func(t *testing.T) {
		_, err := jobs.ParseJobs([]jobs.Job{ok, ok})
		if err == nil || !strings.Contains(err.Error(), "job x:y: name: declared twice") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestSchedulesAreReadInTheirTimeZone(t *testing.T) {
	s, err := jobs.Job{Name: "a", Schedule: "30 2 * * *", TimeZone: "Europe/Paris", Timeout: time.Minute, Overlap: jobs.Skip}.Parse()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	// 02:30 in Paris in summer is 00:30 UTC.
	if got, want := s.Next(at), time.Date(2026, 7, 2, 0, 30, 0, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("next = %s, want %s", got, want)
	}
	if got, want := s.Prev(at), time.Date(2026, 7, 1, 0, 30, 0, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("prev = %s, want %s", got, want)
	}
	u, _ := jobs.Job{Name: "b", Schedule: "7 * * * *", Timeout: time.Minute, Overlap: jobs.Skip}.Parse()
	if got, want := u.Prev(time.Date(2026, 7, 1, 12, 7, 0, 0, time.UTC)), time.Date(2026, 7, 1, 12, 7, 0, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("a slot is its own previous slot: %s, want %s", got, want)
	}
	if p := u.Period(at); p != time.Hour {
		t.Fatalf("period = %s", p)
	}
}

// env is a database with the schema, a Redis database and an asynq
// client on it.
type env struct {
	pool *pgxpool.Pool
	runs *jobs.Runs
	rdb  *redis.Client
	q    *asynq.Client
	insp *asynq.Inspector
}

func newEnv(t *testing.T) *env {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), testenv.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	return &env{pool: pool, runs: jobs.NewRuns(pool), rdb: rdb, q: asynq.NewClientFromRedisClient(rdb), insp: asynq.NewInspectorFromRedisClient(rdb)}
}

func (e *env) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func mustSpec(t *testing.T, j jobs.Job) *jobs.Spec {
	t.Helper()
	s, err := j.Parse()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTwoClocksEnqueueASlotOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := mustSpec(t, jobs.Job{Name: jobs.TypeNoteSweep, Schedule: "* * * * *", Timeout: 50 * time.Second, Overlap: jobs.Skip, Grace: time.Minute})
	now := time.Date(2026, 12, 7, 3, 0, 30, 0, time.UTC)
	clocks := make([]*jobs.Clock, 5)
	for i := range clocks {
		clocks[i] = &jobs.Clock{Specs: []*jobs.Spec{s}, Runs: e.runs, Queue: e.q, Log: quiet(), Now: func() time.Time { return now }}
	}
	step := func() {
		var wg sync.WaitGroup
		for _, c := range clocks {
			wg.Add(1)
			go func() { defer wg.Done(); c.Step(ctx); c.Sweep(ctx) }()
		}
		wg.Wait()
	}
	step()
	now = now.Add(time.Minute)
	step()
	step()
	if n := e.count(t, `SELECT count(*) FROM job_runs WHERE job = $1`, s.Name); n != 2 {
		t.Fatalf("%d runs recorded for two slots and five clocks, want 2", n)
	}
	info, err := e.insp.GetQueueInfo(jobs.QueueDefault)
	if err != nil {
		t.Fatal(err)
	}
	if info.Pending != 2 {
		t.Fatalf("%d tasks pending, want 2 (one per slot)", info.Pending)
	}
	tasks, _ := e.insp.ListPendingTasks(jobs.QueueDefault)
	for _, task := range tasks {
		if !strings.HasPrefix(task.ID, s.Name+"@2026-12-07T03:0") {
			t.Errorf("task ID %q, want job@slot", task.ID)
		}
	}

	t.Run("a slot whose task Redis lost is enqueued again by the sweep, under the same ID", func(t *testing.T) {
		if err := e.rdb.FlushDB(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := e.pool.Exec(ctx, `UPDATE job_runs SET enqueued_at = now() - interval '1 minute'`); err != nil {
			t.Fatal(err)
		}
		// A new client: asynq's remembers the queues it registered, which
		// the flush forgot.
		c := &jobs.Clock{Specs: []*jobs.Spec{s}, Runs: e.runs, Queue: asynq.NewClientFromRedisClient(e.rdb), Log: quiet(), Now: time.Now}
		c.Sweep(ctx)
		c.Sweep(ctx)
		info, err := e.insp.GetQueueInfo(jobs.QueueDefault)
		if err != nil {
			t.Fatal(err)
		}
		if info.Pending != 2 {
			t.Fatalf("%d tasks pending after the sweep, want 2", info.Pending)
		}
	})
	t.Run("a clock starting late enqueues the latest slot within the start deadline, none older", func(t *testing.T) {
		e := newEnv(t)
		hourly := mustSpec(t, jobs.Job{Name: jobs.TypeTokensPurge, Schedule: "7 * * * *", Timeout: time.Minute, Overlap: jobs.Skip, Grace: time.Minute})
		at := time.Date(2026, 12, 7, 3, 7, 0, 0, time.UTC).Add(jobs.StartDeadline - time.Second)
		(&jobs.Clock{Specs: []*jobs.Spec{hourly}, Runs: e.runs, Queue: e.q, Log: quiet(), Now: func() time.Time { return at }}).Step(ctx)
		at = at.Add(2 * time.Second)
		(&jobs.Clock{Specs: []*jobs.Spec{hourly}, Runs: e.runs, Queue: e.q, Log: quiet(), Now: func() time.Time { return at }}).Step(ctx)
		if n := e.count(t, `SELECT count(*) FROM job_runs`); n != 1 {
			t.Fatalf("%d runs, want 1: the slot 03:07 once, nothing older", n)
		}
	})
}

// worker runs the job handlers with h's Mux on e's Redis.
func startWorker(t *testing.T, e *env, mux *asynq.ServeMux) *asynq.Server {
	t.Helper()
	srv := asynq.NewServerFromRedisClient(e.rdb, asynq.Config{Concurrency: 4, Queues: jobs.Queues(), LogLevel: asynq.FatalLevel})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

// slowJob is a test job whose handler blocks until release is closed.
func slowMux(t *testing.T, e *env, s *jobs.Spec, started *atomic.Int32, release chan struct{}) *asynq.ServeMux {
	t.Helper()
	h := &jobs.Handlers{Log: quiet(), Runs: e.runs}
	return h.MuxFor([]*jobs.Spec{s}, map[string]asynq.HandlerFunc{s.Name: func(ctx context.Context, _ *asynq.Task) error {
		started.Add(1)
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}})
}

func TestAJobNeverRunsTwiceAtOnce(t *testing.T) {
	ctx := context.Background()
	t.Run("skip: a run due while one runs is recorded as skipped; two make job at once run it once", func(t *testing.T) {
		e := newEnv(t)
		s := mustSpec(t, jobs.Job{Name: "test:skip", Schedule: "* * * * *", Timeout: 30 * time.Second, Overlap: jobs.Skip, Grace: time.Minute})
		var started atomic.Int32
		release := make(chan struct{})
		startWorker(t, e, slowMux(t, e, s, &started, release))

		type result struct {
			run jobs.Run
			err error
		}
		results := make(chan result, 2)
		for range 2 {
			go func() {
				run, err := jobs.RunNow(ctx, e.q, e.runs, s, nil)
				results <- result{run, err}
			}()
		}
		waitFor(t, func() bool { return started.Load() == 1 })
		// A scheduled slot due now meets the running run.
		id, _, err := e.runs.Slot(ctx, s.Name, time.Now().Truncate(time.Minute), jobs.TriggerSchedule)
		if err != nil {
			t.Fatal(err)
		}
		if err := jobs.EnqueueRun(ctx, e.q, e.runs, s, jobs.Run{ID: id, Slot: time.Now().Truncate(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { r, _ := e.runs.Get(ctx, id); return r.Outcome == jobs.OutcomeSkipped })
		close(release)
		a, b := <-results, <-results
		if a.err != nil || b.err != nil {
			t.Fatal(a.err, b.err)
		}
		if a.run.ID != b.run.ID || a.run.Outcome != jobs.OutcomeOK {
			t.Fatalf("the two make job got runs %d (%s) and %d (%s), want the same successful run", a.run.ID, a.run.Outcome, b.run.ID, b.run.Outcome)
		}
		if n := started.Load(); n != 1 {
			t.Fatalf("the job ran %d times, want 1", n)
		}
		r, _ := e.runs.Get(ctx, id)
		if !strings.Contains(r.Error, "was still running (overlap: skip)") {
			t.Fatalf("skipped run error = %q", r.Error)
		}
	})
	t.Run("queue: a run due while one runs waits for it, then runs", func(t *testing.T) {
		e := newEnv(t)
		s := mustSpec(t, jobs.Job{Name: "test:queue", Schedule: "* * * * *", Timeout: 30 * time.Second, Overlap: jobs.Queue, Grace: time.Minute})
		var started atomic.Int32
		release := make(chan struct{})
		startWorker(t, e, slowMux(t, e, s, &started, release))
		done := make(chan jobs.Run, 2)
		go func() { r, _ := jobs.RunNow(ctx, e.q, e.runs, s, nil); done <- r }()
		waitFor(t, func() bool { return started.Load() == 1 })
		go func() { r, _ := jobs.RunNow(ctx, e.q, e.runs, s, nil); done <- r }()
		waitFor(t, func() bool {
			return e.count(t, `SELECT count(*) FROM job_runs WHERE outcome = 'pending' AND enqueued_at IS NOT NULL`) == 1
		})
		time.Sleep(3 * jobs.WaitPoll)
		if n := started.Load(); n != 1 {
			t.Fatalf("the queued run started while the first ran (%d starts)", n)
		}
		close(release)
		a, b := <-done, <-done
		if a.Outcome != jobs.OutcomeOK || b.Outcome != jobs.OutcomeOK || a.ID == b.ID || started.Load() != 2 {
			t.Fatalf("runs %+v and %+v, %d starts; want two successful runs one after the other", a, b, started.Load())
		}
		if n := e.count(t, `SELECT count(*) FROM job_runs a JOIN job_runs b ON a.id < b.id
			WHERE tstzrange(a.started_at, a.finished_at) && tstzrange(b.started_at, b.finished_at)`); n != 0 {
			t.Fatalf("%d pairs of runs overlapped", n)
		}
	})
	t.Run("a redelivered task of a started run does nothing; a crashed run's lease ends and frees the job", func(t *testing.T) {
		e := newEnv(t)
		s := mustSpec(t, jobs.Job{Name: "test:lease", Schedule: "* * * * *", Timeout: time.Second, Overlap: jobs.Skip, Grace: time.Minute})
		run, _, err := e.runs.Manual(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		if c, err := e.runs.Claim(ctx, run.ID, s); err != nil || c != jobs.ClaimRun {
			t.Fatalf("claim = %v, %v", c, err)
		}
		// The worker dies here: no Finish. asynq redelivers the task.
		if c, err := e.runs.Claim(ctx, run.ID, s); err != nil || c != jobs.ClaimDone {
			t.Fatalf("redelivery: claim = %v, %v; want ClaimDone", c, err)
		}
		second, joined, err := e.runs.Manual(ctx, s)
		if err != nil || !joined {
			t.Fatalf("a manual run while it is running joins it: %v, %v", joined, err)
		}
		_ = second
		if _, err := e.pool.Exec(ctx, `UPDATE job_runs SET lease_until = now() - interval '1 second' WHERE id = $1`, run.ID); err != nil {
			t.Fatal(err)
		}
		next, joined, err := e.runs.Manual(ctx, s)
		if err != nil || joined {
			t.Fatalf("after the lease: joined = %v, %v", joined, err)
		}
		if c, err := e.runs.Claim(ctx, next.ID, s); err != nil || c != jobs.ClaimRun {
			t.Fatalf("after the lease: claim = %v, %v", c, err)
		}
		lost, _ := e.runs.Get(ctx, run.ID)
		if lost.Outcome != jobs.OutcomeLost || lost.FinishedAt == nil || !strings.Contains(lost.Error, "lease ended") {
			t.Fatalf("crashed run = %+v, want lost", lost)
		}
	})
}

func TestARunIsRecordedOnceWithItsOutcome(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := mustSpec(t, jobs.Job{Name: "test:outcomes", Schedule: "* * * * *", Timeout: 300 * time.Millisecond, Overlap: jobs.Skip, Grace: time.Minute})
	var mode atomic.Value
	h := &jobs.Handlers{Log: quiet(), Runs: e.runs}
	startWorker(t, e, h.MuxFor([]*jobs.Spec{s}, map[string]asynq.HandlerFunc{s.Name: func(ctx context.Context, _ *asynq.Task) error {
		switch mode.Load() {
		case "fail":
			return errors.New("boom")
		case "hang":
			<-ctx.Done()
			return ctx.Err()
		}
		time.Sleep(20 * time.Millisecond)
		return nil
	}}))
	for _, tc := range []struct{ mode, outcome, err string }{
		{"ok", jobs.OutcomeOK, ""},
		{"fail", jobs.OutcomeFailed, "boom"},
		{"hang", jobs.OutcomeTimeout, "ran past its timeout (300ms)"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			mode.Store(tc.mode)
			run, err := jobs.RunNow(ctx, e.q, e.runs, s, nil)
			if err != nil {
				t.Fatal(err)
			}
			if run.Outcome != tc.outcome || !strings.Contains(run.Error, tc.err) || run.StartedAt == nil || run.FinishedAt == nil || run.Duration == nil {
				t.Fatalf("run = %+v, want %s %q with start, end and duration", run, tc.outcome, tc.err)
			}
			if tc.mode == "ok" && *run.Duration < 20*time.Millisecond {
				t.Fatalf("duration %s < the 20 ms the job slept", *run.Duration)
			}
		})
	}
	if n := e.count(t, `SELECT count(*) FROM job_runs`); n != 3 {
		t.Fatalf("%d rows for 3 runs", n)
	}
	st, err := e.runs.History(ctx, []*jobs.Spec{s}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st[0].LastOutcome != jobs.OutcomeTimeout || !st[0].LastRunFailed || !st[0].OverTimeout || st[0].LastSuccess == nil || st[0].LastRun == nil {
		t.Fatalf("status = %+v", st[0])
	}
}

func TestJobStatusForTheAlarms(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := mustSpec(t, jobs.Job{Name: "test:late", Schedule: "* * * * *", Timeout: 10 * time.Second, Overlap: jobs.Skip, Grace: 30 * time.Second})
	st, err := e.runs.History(ctx, []*jobs.Spec{s}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st[0].LastOutcome != "never" || st[0].OverdueSeconds != 0 || st[0].NextRun.IsZero() {
		t.Fatalf("a job never seen = %+v", st[0])
	}
	// A success 100 s ago: due 60 + 30 s after it, so 10 s late.
	if _, err := e.pool.Exec(ctx, `INSERT INTO job_runs (job, slot_at, trigger, outcome, started_at, finished_at, duration_ms)
		VALUES ($1, now() - interval '101 seconds', 'schedule', 'ok', now() - interval '101 seconds', now() - interval '100 seconds', 1000)`, s.Name); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	st, _ = e.runs.History(ctx, []*jobs.Spec{s}, now)
	if st[0].OverdueSeconds < 9 || st[0].OverdueSeconds > 12 || st[0].LastRunFailed || st[0].OverTimeout {
		t.Fatalf("status = %+v, want ~10 s overdue", st[0])
	}
	// A run started 20 s ago still running: past its 10 s timeout.
	if _, err := e.pool.Exec(ctx, `INSERT INTO job_runs (job, slot_at, trigger, outcome, started_at, lease_until)
		VALUES ($1, now() - interval '20 seconds', 'schedule', 'running', now() - interval '20 seconds', now() + interval '20 seconds')`, s.Name); err != nil {
		t.Fatal(err)
	}
	st, _ = e.runs.History(ctx, []*jobs.Spec{s}, time.Now())
	if !st[0].OverTimeout || st[0].Running != 1 {
		t.Fatalf("status = %+v, want over its timeout", st[0])
	}
	line, err := jobs.EMFJobsLine(now, "prod", "clock", st)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"Namespace":"Shipyard"`, `"Dimensions":[["Stack"]]`, `"Name":"JobsOverdueSeconds","Unit":"Seconds"`,
		`"Stack":"prod"`, `"JobsOverTimeout":1`, `"overTimeoutJobs":["test:late"]`} {
		if !strings.Contains(string(line), want) {
			t.Errorf("EMF line lacks %s: %s", want, line)
		}
	}

	t.Run("the prune job deletes finished runs past the retention, never running ones", func(t *testing.T) {
		if _, err := e.pool.Exec(ctx, `UPDATE job_runs SET created_at = now() - interval '31 days'`); err != nil {
			t.Fatal(err)
		}
		mux := (&jobs.Handlers{Log: quiet(), Runs: e.runs}).Mux()
		if err := mux.ProcessTask(ctx, asynq.NewTask(jobs.TypeJobRunsPrune, nil)); err != nil {
			t.Fatal(err)
		}
		if n := e.count(t, `SELECT count(*) FROM job_runs WHERE job = $1`, s.Name); n != 1 {
			t.Fatalf("%d runs left, want the running one", n)
		}
		if n := e.count(t, `SELECT count(*) FROM job_runs WHERE job = $1 AND outcome = 'ok'`, jobs.TypeJobRunsPrune); n != 1 {
			t.Fatalf("the prune run itself is recorded: %d", n)
		}
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 15 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTheStatusOutlivesAPostgresOutage(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := mustSpec(t, jobs.Job{Name: "test:outage", Schedule: "* * * * *", Timeout: 10 * time.Second, Overlap: jobs.Skip, Grace: 30 * time.Second})
	// A success 89 s ago: due in 1 s.
	if _, err := e.pool.Exec(ctx, `INSERT INTO job_runs (job, slot_at, trigger, outcome, started_at, finished_at, duration_ms)
		VALUES ($1, now() - interval '89 seconds', 'schedule', 'ok', now() - interval '89 seconds', now() - interval '89 seconds', 5)`, s.Name); err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, e.pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	r := &jobs.StatusReader{Runs: jobs.NewRuns(pool), Specs: []*jobs.Spec{s}}
	st, err := r.Read(ctx)
	if err != nil || st[0].OverdueSeconds != 0 {
		t.Fatalf("read = %+v, %v", st, err)
	}
	pool.Close() // Postgres is gone for this reader
	time.Sleep(3 * time.Second)
	st, err = r.Read(ctx)
	if err == nil {
		t.Fatal("a read on a closed pool succeeded")
	}
	if len(st) != 1 || st[0].OverdueSeconds < 1 {
		t.Fatalf("during the outage: %+v, want the last status with the job now late", st)
	}
}

func TestARunCutByTheWorkersDrainIsRecordedAsInterruptedAndNotRunAgain(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := mustSpec(t, jobs.Job{Name: "test:drain", Schedule: "* * * * *", Timeout: 30 * time.Second, Overlap: jobs.Skip, Grace: time.Minute})
	var started atomic.Int32
	h := &jobs.Handlers{Log: quiet(), Runs: e.runs}
	mux := h.MuxFor([]*jobs.Spec{s}, map[string]asynq.HandlerFunc{s.Name: func(ctx context.Context, _ *asynq.Task) error {
		started.Add(1)
		<-ctx.Done() // longer than the drain
		return ctx.Err()
	}})
	srv := asynq.NewServerFromRedisClient(e.rdb, asynq.Config{Concurrency: 1, Queues: jobs.Queues(), LogLevel: asynq.FatalLevel, ShutdownTimeout: 300 * time.Millisecond})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	run, _, err := e.runs.Manual(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if err := jobs.EnqueueRun(ctx, e.q, e.runs, s, run); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return started.Load() == 1 })
	srv.Shutdown() // a scale-in's SIGTERM: the drain is shorter than the run
	// asynq's Shutdown can return before the cancelled handler has
	// recorded its outcome: wait until the run is no longer running.
	var got jobs.Run
	waitFor(t, func() bool {
		r, err := e.runs.Get(ctx, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		got = r
		return r.Outcome != jobs.OutcomeRunning
	})
	if got.Outcome != jobs.OutcomeFailed || !strings.Contains(got.Error, "interrupted: the worker stopped before the run ended") {
		t.Fatalf("run = %+v", got)
	}
	// asynq requeued the task: the next worker takes it and does not run
	// it again.
	if info, err := e.insp.GetQueueInfo(jobs.QueueDefault); err != nil || info.Pending != 1 {
		t.Fatalf("queue after the drain: %+v, %v; want the task requeued", info, err)
	}
	startWorker(t, e, mux)
	waitFor(t, func() bool {
		info, err := e.insp.GetQueueInfo(jobs.QueueDefault)
		return err == nil && info.Pending == 0 && info.Active == 0
	})
	if n := started.Load(); n != 1 {
		t.Fatalf("the interrupted run started %d times", n)
	}
}
