package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shipyard-kit/shipyard/app/appmetrics"
)

// Status is a scheduled job with its latest runs: what `make jobs` shows
// and what the job alarms read.
type Status struct {
	Name     string `json:"name"`
	Schedule string `json:"schedule"`
	TimeZone string `json:"timeZone"`
	Timeout  string `json:"timeout"`
	Overlap  string `json:"overlap"`
	// LastRun is when the latest run that is not pending started (or was
	// skipped or lost); nil when the job never ran.
	LastRun        *time.Time `json:"lastRun"`
	LastOutcome    string     `json:"lastOutcome"`
	LastError      string     `json:"lastError,omitempty"`
	LastDurationMS *int64     `json:"lastDurationMs"`
	LastSuccess    *time.Time `json:"lastSuccess"`
	NextRun        time.Time  `json:"nextRun"`
	// Running is the number of runs running now.
	Running int `json:"running"`

	// What the alarms read (see Signals).
	OverdueSeconds float64 `json:"overdueSeconds"`
	LastRunFailed  bool    `json:"lastRunFailed"`
	OverTimeout    bool    `json:"overTimeout"`

	// deadline is when the job is late without a new success.
	deadline *time.Time
}

// overdue is how late s is at now, in whole seconds.
func (s Status) overdue(now time.Time) float64 {
	if s.deadline == nil {
		return 0
	}
	return math.Round(max(now.Sub(*s.deadline).Seconds(), 0))
}

// StatusReader reads the jobs' status for the alarms. When Postgres does
// not answer, it returns the last status it read, with the overdue time
// recomputed for now, along with the error: no job can succeed without
// Postgres, so a long outage makes jobs late, as it should.
type StatusReader struct {
	Runs  *Runs
	Specs []*Spec

	mu   sync.Mutex
	last []Status
}

// Read returns the status at the current time.
func (r *StatusReader) Read(ctx context.Context) ([]Status, error) {
	now := time.Now()
	st, err := r.Runs.History(ctx, r.Specs, now)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		r.last = st
		return st, nil
	}
	if r.last == nil {
		return nil, err
	}
	stale := slices.Clone(r.last)
	for i := range stale {
		stale[i].OverdueSeconds = stale[i].overdue(now)
	}
	return stale, err
}

// History reads every job of specs' latest runs, at now.
func (r *Runs) History(ctx context.Context, specs []*Spec, now time.Time) ([]Status, error) {
	type agg struct {
		firstSeen, lastSuccess, oldestRunning *time.Time
		running                               int
		lastFinal                             *string
		last                                  *Run
	}
	by := map[string]*agg{}
	rows, err := r.pool.Query(ctx, `SELECT job, min(created_at), max(finished_at) FILTER (WHERE outcome = 'ok'),
		min(started_at) FILTER (WHERE outcome = 'running'), count(*) FILTER (WHERE outcome = 'running'),
		(array_agg(outcome ORDER BY id DESC) FILTER (WHERE outcome IN ('ok', 'failed', 'timeout', 'lost')))[1]
		FROM job_runs GROUP BY job`)
	if err != nil {
		return nil, fmt.Errorf("read job history: %w", err)
	}
	for rows.Next() {
		var job string
		a := &agg{}
		if err := rows.Scan(&job, &a.firstSeen, &a.lastSuccess, &a.oldestRunning, &a.running, &a.lastFinal); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read job history: %w", err)
		}
		by[job] = a
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read job history: %w", err)
	}
	rows, err = r.pool.Query(ctx, `SELECT DISTINCT ON (job) id, job, outcome, error, coalesce(started_at, finished_at), duration_ms
		FROM job_runs WHERE outcome <> 'pending' ORDER BY job, id DESC`)
	if err != nil {
		return nil, fmt.Errorf("read last job runs: %w", err)
	}
	for rows.Next() {
		var run Run
		var e *string
		var ms *int64
		if err := rows.Scan(&run.ID, &run.Job, &run.Outcome, &e, &run.StartedAt, &ms); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read last job runs: %w", err)
		}
		if e != nil {
			run.Error = *e
		}
		if ms != nil {
			d := time.Duration(*ms) * time.Millisecond
			run.Duration = &d
		}
		if a := by[run.Job]; a != nil {
			a.last = &run
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read last job runs: %w", err)
	}

	out := make([]Status, 0, len(specs))
	for _, s := range specs {
		st := Status{
			Name: s.Name, Schedule: s.Schedule, TimeZone: "UTC", Timeout: s.Timeout.String(), Overlap: string(s.Overlap),
			NextRun: s.Next(now), LastOutcome: "never",
		}
		if s.TimeZone != "" {
			st.TimeZone = s.TimeZone
		}
		a := by[s.Name]
		if a == nil {
			out = append(out, st)
			continue
		}
		st.Running = a.running
		st.LastSuccess = utc(a.lastSuccess)
		if a.last != nil {
			st.LastRun, st.LastOutcome, st.LastError = utc(a.last.StartedAt), a.last.Outcome, a.last.Error
			if a.last.Duration != nil {
				ms := a.last.Duration.Milliseconds()
				st.LastDurationMS = &ms
			}
		}
		// Late: no success within period + grace of the last one (or of
		// the first run recorded, for a job that never succeeded).
		if base := a.lastSuccess; base != nil || a.firstSeen != nil {
			if base == nil {
				base = a.firstSeen
			}
			due := base.Add(s.Period(*base) + s.Grace)
			st.deadline = &due
			st.OverdueSeconds = st.overdue(now)
		}
		st.LastRunFailed = a.lastFinal != nil && *a.lastFinal != OutcomeOK
		st.OverTimeout = (a.oldestRunning != nil && now.Sub(*a.oldestRunning) > s.Timeout) ||
			(a.lastFinal != nil && *a.lastFinal == OutcomeTimeout)
		out = append(out, st)
	}
	return out, nil
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// jobsCollector reads the jobs' status from Postgres when Prometheus
// scrapes.
type jobsCollector struct {
	read                     func(context.Context) ([]Status, error)
	timeout                  time.Duration
	overdue, failed, overrun *prometheus.Desc
	lastSuccessDesc          *prometheus.Desc
	errs                     prometheus.Counter
}

// NewStatusMetrics registers the scheduled jobs' gauges on reg, read at
// each scrape (within timeout, with a StatusReader's Read):
// app_job_overdue_seconds, app_job_last_run_failed, app_job_over_timeout
// and app_job_last_success_timestamp_seconds, by task. A failed read
// counts in app_job_status_read_errors_total and publishes what read
// returned with its error (the last status, overdue recomputed), or
// nothing.
func NewStatusMetrics(reg prometheus.Registerer, read func(context.Context) ([]Status, error), timeout time.Duration) {
	// The gauges the job alarms read are named in app/appmetrics (for
	// CloudWatch: JobsOverdue, JobsLastRunFailed, JobsOverTimeout, the
	// maximum over the jobs).
	task := []string{appmetrics.LabelTask}
	c := &jobsCollector{
		read: read, timeout: timeout,
		overdue: prometheus.NewDesc(appmetrics.PromJobOverdue,
			"Seconds past the job's deadline for a success (last success + period + grace); 0 while on time.", task, nil),
		failed: prometheus.NewDesc(appmetrics.PromJobLastRunFailed,
			"1 when the job's latest finished run failed, timed out or was lost.", task, nil),
		overrun: prometheus.NewDesc(appmetrics.PromJobOverTimeout,
			"1 when a run of the job is running past its timeout or the latest one timed out.", task, nil),
		lastSuccessDesc: prometheus.NewDesc("app_job_last_success_timestamp_seconds",
			"Unix time the job's latest successful run finished (absent until one did).", task, nil),
		errs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "app_job_status_read_errors_total",
			Help: "Scrapes whose read of the scheduled jobs' runs from Postgres failed.",
		}),
	}
	reg.MustRegister(c, c.errs)
}

func (c *jobsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.overdue
	ch <- c.failed
	ch <- c.overrun
	ch <- c.lastSuccessDesc
}

func (c *jobsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	st, err := c.read(ctx)
	if err != nil {
		c.errs.Inc()
	}
	for _, s := range st {
		ch <- prometheus.MustNewConstMetric(c.overdue, prometheus.GaugeValue, s.OverdueSeconds, s.Name)
		ch <- prometheus.MustNewConstMetric(c.failed, prometheus.GaugeValue, b2f(s.LastRunFailed), s.Name)
		ch <- prometheus.MustNewConstMetric(c.overrun, prometheus.GaugeValue, b2f(s.OverTimeout), s.Name)
		if s.LastSuccess != nil {
			ch <- prometheus.MustNewConstMetric(c.lastSuccessDesc, prometheus.GaugeValue, float64(s.LastSuccess.UnixMilli())/1000, s.Name)
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// emfJobsLine is the jobs' status in embedded metric format: the maximum
// over the jobs, dimension Stack. Its JSON tags repeat app/appmetrics'
// names (see emfLine).
type emfJobsLine struct {
	Time        string  `json:"time"`
	Level       string  `json:"level"`
	Msg         string  `json:"msg"`
	Process     string  `json:"process"`
	AWS         emfMeta `json:"_aws"`
	Stack       string  `json:"Stack"`
	Overdue     float64 `json:"JobsOverdueSeconds"`
	LastFailed  float64 `json:"JobsLastRunFailed"`
	OverTimeout float64 `json:"JobsOverTimeout"`
	// Late, Failed and Stuck name the jobs behind the values.
	Late   []string `json:"lateJobs"`
	Failed []string `json:"failedJobs"`
	Stuck  []string `json:"overTimeoutJobs"`
}

// EMFJobsLine renders the jobs' status at t as one embedded metric format
// line (namespace Shipyard, dimension Stack): JobsOverdueSeconds
// (Seconds, the most overdue job), JobsLastRunFailed and JobsOverTimeout
// (Count of jobs).
func EMFJobsLine(t time.Time, stack, process string, st []Status) ([]byte, error) {
	l := emfJobsLine{
		Time: t.UTC().Format(time.RFC3339Nano), Level: slog.LevelInfo.String(), Msg: "scheduled jobs", Process: process,
		AWS: emfMeta{Timestamp: t.UnixMilli(), CloudWatchMetrics: []emfDirective{{
			Namespace:  appmetrics.Namespace,
			Dimensions: [][]string{appmetrics.JobsDimensions()},
			Metrics: []emfMetric{
				{Name: appmetrics.JobsOverdue, Unit: "Seconds"}, {Name: appmetrics.JobsLastRunFailed, Unit: "Count"}, {Name: appmetrics.JobsOverTimeout, Unit: "Count"},
			},
		}}},
		Stack: stack, Late: []string{}, Failed: []string{}, Stuck: []string{},
	}
	for _, s := range st {
		l.Overdue = max(l.Overdue, s.OverdueSeconds)
		if s.OverdueSeconds > 0 {
			l.Late = append(l.Late, s.Name)
		}
		if s.LastRunFailed {
			l.LastFailed++
			l.Failed = append(l.Failed, s.Name)
		}
		if s.OverTimeout {
			l.OverTimeout++
			l.Stuck = append(l.Stuck, s.Name)
		}
	}
	b, err := json.Marshal(l)
	if err != nil {
		return nil, fmt.Errorf("marshal embedded metric format line: %w", err)
	}
	return append(b, '\n'), nil
}

// JobsEMFEmitter writes the jobs' status as an embedded metric format line
// every Every until its context ends (nothing with no positive Every).
type JobsEMFEmitter struct {
	W       io.Writer
	Stack   string
	Process string
	Every   time.Duration
	Read    func(context.Context) ([]Status, error)
	Log     *slog.Logger
}

// Run emits until ctx ends.
func (e *JobsEMFEmitter) Run(ctx context.Context) { every(ctx, e.Every, e.emit) }

func (e *JobsEMFEmitter) emit(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, min(e.Every, 10*time.Second))
	st, err := e.Read(rctx)
	cancel()
	if err != nil && ctx.Err() == nil {
		e.Log.Warn("scheduled jobs' status not read; publishing the last one read", "err", err)
	}
	if st == nil {
		return
	}
	if line, err := EMFJobsLine(time.Now(), e.Stack, e.Process, st); err == nil {
		_, _ = e.W.Write(line)
	}
}
