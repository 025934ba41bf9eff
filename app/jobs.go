package main

// The scheduled jobs' commands and status: `app job`, `app jobs`, and the
// job status the worker and the clock publish.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/shipyard-kit/shipyard/app/internal/config"
	"github.com/shipyard-kit/shipyard/app/internal/db"
	"github.com/shipyard-kit/shipyard/app/internal/jobs"
	"github.com/shipyard-kit/shipyard/app/internal/telemetry"
)

// publishJobStatus publishes the scheduled jobs' status (jobs.Status, read
// from Postgres) for the job alarms: as gauges on /metrics read at each
// scrape and, unless QUEUE_METRICS_INTERVAL is 0, as embedded metric
// format lines on out. Like the backlog, the worker and the clock both
// publish it, so a missed run is seen when either is down.
func publishJobStatus(ctx context.Context, log *slog.Logger, cfg *config.Config, d *deps, specs []*jobs.Spec, out io.Writer, process string) (stop func()) {
	read := (&jobs.StatusReader{Runs: jobs.NewRuns(d.pool), Specs: specs}).Read
	jobs.NewStatusMetrics(d.reg, read, 5*time.Second)
	if cfg.QueueMetricsInterval == 0 {
		return func() {}
	}
	e := &jobs.JobsEMFEmitter{W: out, Stack: cfg.AppEnv, Process: process, Every: cfg.QueueMetricsInterval, Read: read, Log: log}
	return background(ctx, e.Run)
}

func jobNames() string {
	names := make([]string, len(jobs.Scheduled))
	for i, j := range jobs.Scheduled {
		names[i] = j.Name
	}
	return strings.Join(names, ", ")
}

// jobCmd runs one scheduled job now through the worker (jobs.RunNow),
// prints the run as one JSON line {"jobRun":…} and fails unless it
// succeeded.
func jobCmd(ctx context.Context, log *slog.Logger, cfg *config.Config, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("job: name one job (jobs: %s)", jobNames())
	}
	s, err := jobs.Lookup(args[0])
	if err != nil {
		return fmt.Errorf("job: %w", err)
	}
	d, err := newDeps(ctx, log, cfg, telemetry.Off(), false)
	if err != nil {
		return err
	}
	defer d.close()
	// A queue job may wait for the running one before its own run.
	ctx, cancel := context.WithTimeout(ctx, 2*s.Timeout+jobs.LeaseMargin+jobs.StartDeadline)
	defer cancel()
	run, err := jobs.RunNow(ctx, asynq.NewClientFromRedisClient(d.rdb), jobs.NewRuns(d.pool), s, func(run jobs.Run, joined bool) {
		if joined {
			log.Info("a run of this skip job is already pending or running: waiting for it", "job", s.Name, "run_id", run.ID)
		} else {
			log.Info("job enqueued; waiting for a worker to run it", "job", s.Name, "run_id", run.ID, "task_id", jobs.TaskID(s.Name, run.Slot))
		}
	})
	if err != nil {
		return err
	}
	line, err := json.Marshal(map[string]any{"jobRun": map[string]any{
		"id": run.ID, "job": run.Job, "trigger": run.Trigger, "outcome": run.Outcome, "error": run.Error,
		"startedAt": run.StartedAt, "finishedAt": run.FinishedAt, "durationMs": durationMS(run.Duration),
	}})
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(stdout, "%s\n", line); err != nil {
		return err
	}
	if run.Outcome != jobs.OutcomeOK {
		return fmt.Errorf("job %s run %d: %s: %s", s.Name, run.ID, run.Outcome, run.Error)
	}
	log.Info("job succeeded", "job", s.Name, "run_id", run.ID, "duration_ms", durationMS(run.Duration))
	return nil
}

func durationMS(d *time.Duration) *int64 {
	if d == nil {
		return nil
	}
	ms := d.Milliseconds()
	return &ms
}

// jobsCmd prints the scheduled jobs' history as one JSON line
// {"jobs":[…jobs.Status]} (`make jobs` formats it).
func jobsCmd(ctx context.Context, cfg *config.Config, args []string, stdout io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("jobs: takes no argument (got %q)", args[0])
	}
	specs, err := jobs.Specs()
	if err != nil {
		return err
	}
	pool, err := db.NewPool(ctx, poolConfig(cfg))
	if err != nil {
		return err
	}
	defer pool.Close()
	st, err := jobs.NewRuns(pool).History(ctx, specs, time.Now())
	if err != nil {
		return err
	}
	b, err := json.Marshal(map[string]any{"jobs": st})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", b)
	return err
}
