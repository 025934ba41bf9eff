package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
)

// StartDeadline bounds how late a slot may still be enqueued: a clock that
// starts (or a stalled one that resumes) enqueues the latest slot of each
// job when it is at most this old, and no older one (no unbounded
// backfill).
const StartDeadline = 10 * time.Minute

// runPayload is the task payload of a scheduled job's run.
type runPayload struct {
	RunID int64     `json:"run_id"`
	Slot  time.Time `json:"slot"`
}

// TaskID is the asynq task ID of a run: job@slot, so a slot is in the
// queue at most once whatever enqueues it.
func TaskID(job string, slot time.Time) string {
	return job + "@" + slot.UTC().Format(time.RFC3339Nano)
}

// Enqueuer puts tasks in the queue (an *asynq.Client).
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// EnqueueRun puts run's task in the queue and records it as enqueued; a
// task already in the queue under its ID counts as enqueued.
func EnqueueRun(ctx context.Context, q Enqueuer, runs *Runs, s *Spec, run Run) error {
	b, _ := json.Marshal(runPayload{RunID: run.ID, Slot: run.Slot})
	// The asynq timeout leaves a queue job time to wait for the running
	// one; the run itself is cancelled at s.Timeout.
	t := asynq.NewTask(s.Name, b, asynq.MaxRetry(0), asynq.Timeout(2*s.Timeout+LeaseMargin), asynq.Queue(QueueDefault),
		asynq.TaskID(TaskID(s.Name, run.Slot)))
	if _, err := q.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue %s: %w", TaskID(s.Name, run.Slot), err)
	}
	return runs.MarkEnqueued(ctx, run.ID)
}

// Clock enqueues the scheduled jobs: at each slot of each job it records
// the (job, slot) run in Postgres, and only the clock whose insert created
// it enqueues it, so any number of clocks run a slot once. Every
// SweepEvery it enqueues again the runs still pending (their task may have
// been lost with Redis; the task ID makes that a no-op otherwise) and
// records as lost the runs that will never end.
type Clock struct {
	Specs []*Spec
	Runs  *Runs
	Queue Enqueuer
	Log   *slog.Logger
	// Tick is how often the schedule is checked (1 s when 0).
	Tick time.Duration
	// SweepEvery is how often pending runs are re-enqueued (15 s when 0).
	SweepEvery time.Duration
	// Now is the time source (time.Now when nil).
	Now func() time.Time

	last map[string]time.Time
}

func (c *Clock) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Run schedules until ctx ends.
func (c *Clock) Run(ctx context.Context) {
	tick, sweep := c.Tick, c.SweepEvery
	if tick <= 0 {
		tick = time.Second
	}
	if sweep <= 0 {
		sweep = 15 * time.Second
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	var lastSweep time.Time
	for {
		c.Step(ctx)
		if now := c.now(); now.Sub(lastSweep) >= sweep {
			c.Sweep(ctx)
			lastSweep = now
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Step records and enqueues the latest slot of every job that is due and
// not yet seen by this clock (at most StartDeadline old).
func (c *Clock) Step(ctx context.Context) {
	if c.last == nil {
		c.last = map[string]time.Time{}
	}
	now := c.now()
	for _, s := range c.Specs {
		slot := s.Prev(now)
		if slot.IsZero() || slot.Equal(c.last[s.Name]) || now.Sub(slot) > StartDeadline {
			continue
		}
		id, created, err := c.Runs.Slot(ctx, s.Name, slot, TriggerSchedule)
		if err != nil {
			c.Log.Error("scheduled job not recorded; retrying", "job", s.Name, "slot", slot, "err", err)
			continue
		}
		c.last[s.Name] = slot
		if !created {
			c.Log.Debug("slot recorded by another clock", "job", s.Name, "slot", slot, "run_id", id)
			continue
		}
		if err := EnqueueRun(ctx, c.Queue, c.Runs, s, Run{ID: id, Job: s.Name, Slot: slot}); err != nil {
			c.Log.Warn("scheduled job recorded, not enqueued yet: the sweep retries", "job", s.Name, "run_id", id, "err", err)
			continue
		}
		c.Log.Info("scheduled job enqueued", "job", s.Name, "slot", slot, "run_id", id)
	}
}

// Sweep enqueues again the pending runs whose task may be lost, and
// records as lost the runs that will never end: running past their lease,
// or pending for longer than the job's start deadline and twice its
// timeout (a queue job may wait for one run).
func (c *Clock) Sweep(ctx context.Context) {
	now := c.now()
	for _, s := range c.Specs {
		if err := c.Runs.Expire(ctx, s.Name, now.Add(-StartDeadline-2*s.Timeout-LeaseMargin)); err != nil {
			c.Log.Warn("sweep", "job", s.Name, "err", err)
		}
	}
	runs, err := c.Runs.Unstarted(ctx, now.Add(-StartDeadline), now.Add(-c.sweepEvery()))
	if err != nil {
		c.Log.Warn("sweep", "err", err)
		return
	}
	for _, run := range runs {
		s := c.spec(run.Job)
		if s == nil {
			continue // a job this release no longer declares
		}
		if err := EnqueueRun(ctx, c.Queue, c.Runs, s, run); err != nil {
			c.Log.Warn("pending job not enqueued; retrying at the next sweep", "job", run.Job, "run_id", run.ID, "err", err)
		}
	}
}

func (c *Clock) sweepEvery() time.Duration {
	if c.SweepEvery > 0 {
		return c.SweepEvery
	}
	return 15 * time.Second
}

func (c *Clock) spec(name string) *Spec {
	for _, s := range c.Specs {
		if s.Name == name {
			return s
		}
	}
	return nil
}
