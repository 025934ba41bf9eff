package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Run outcomes, as job_runs.outcome stores them.
const (
	OutcomePending = "pending" // created, not started (queued, or waiting for a running one)
	OutcomeRunning = "running"
	OutcomeOK      = "ok"
	OutcomeFailed  = "failed"
	OutcomeTimeout = "timeout" // ran past its Timeout and was cancelled
	OutcomeSkipped = "skipped" // overlap skip: another run of the job was running
	OutcomeLost    = "lost"    // its process stopped mid-run (lease expired) or it was never started
)

// Triggers say what created a run.
const (
	TriggerSchedule = "schedule"
	TriggerManual   = "manual"
)

// RunRetention is how long finished runs are kept (TypeJobRunsPrune
// deletes older ones).
const RunRetention = 30 * 24 * time.Hour

// LeaseMargin is how long past its Timeout a running row still counts as
// running. A process that died mid-run holds the job no longer than
// Timeout + LeaseMargin: the next claim (or the clock's sweep) records
// the run as lost.
const LeaseMargin = 30 * time.Second

// execer is a pool or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Runs records scheduled job runs in Postgres (table job_runs).
type Runs struct {
	pool *pgxpool.Pool
}

// NewRuns returns the run records on pool.
func NewRuns(pool *pgxpool.Pool) *Runs { return &Runs{pool: pool} }

// Run is one row of job_runs.
type Run struct {
	ID         int64
	Job        string
	Slot       time.Time
	Trigger    string
	Outcome    string
	Error      string
	EnqueuedAt *time.Time
	StartedAt  *time.Time
	FinishedAt *time.Time
	Duration   *time.Duration
}

// Final reports whether the run ended (an outcome other than pending and
// running).
func (r Run) Final() bool { return r.Outcome != OutcomePending && r.Outcome != OutcomeRunning }

// Slot records the run of job due at slot, once: it returns the run's id,
// and created is true only for the one call, across every clock, that
// inserted it.
func (r *Runs) Slot(ctx context.Context, job string, slot time.Time, trigger string) (id int64, created bool, err error) {
	err = r.pool.QueryRow(ctx, `INSERT INTO job_runs (job, slot_at, trigger) VALUES ($1, $2, $3)
		ON CONFLICT (job, slot_at) DO NOTHING RETURNING id`, job, slot, trigger).Scan(&id)
	if err == nil {
		return id, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, false, fmt.Errorf("record %s@%s: %w", job, slot.Format(time.RFC3339), err)
	}
	if err := r.pool.QueryRow(ctx, `SELECT id FROM job_runs WHERE job = $1 AND slot_at = $2`, job, slot).Scan(&id); err != nil {
		return 0, false, fmt.Errorf("read %s@%s: %w", job, slot.Format(time.RFC3339), err)
	}
	return id, false, nil
}

// lockJob serializes, within tx, the decisions about job's runs (claims
// and manual runs) across every process: a transaction-level advisory
// lock, released at commit.
func lockJob(ctx context.Context, tx pgx.Tx, job string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('shipyard-job:' || $1, 0))`, job)
	return err
}

// expireLeases records as lost the running runs of job (every job when
// "") whose lease has ended: the process running them stopped.
func expireLeases(ctx context.Context, q execer, job string) error {
	_, err := q.Exec(ctx, `UPDATE job_runs SET outcome = 'lost', finished_at = lease_until,
		duration_ms = (extract(epoch FROM lease_until - started_at) * 1000)::bigint,
		error = 'the process running it stopped: its lease ended without an outcome'
		WHERE outcome = 'running' AND lease_until < now() AND ($1 = '' OR job = $1)`, job)
	return err
}

// Manual creates a run of s now (trigger manual). For a skip job, when a
// run of it is already pending or running, it returns that run instead
// (joined is true): two `make job` at once run the job once.
func (r *Runs) Manual(ctx context.Context, s *Spec) (run Run, joined bool, err error) {
	err = pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		if err := lockJob(ctx, tx, s.Name); err != nil {
			return err
		}
		if err := expireLeases(ctx, tx, s.Name); err != nil {
			return err
		}
		if s.Overlap == Skip {
			err := tx.QueryRow(ctx, `SELECT id, slot_at FROM job_runs WHERE job = $1 AND outcome IN ('pending', 'running')
				ORDER BY id LIMIT 1`, s.Name).Scan(&run.ID, &run.Slot)
			if err == nil {
				joined = true
				return nil
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		return tx.QueryRow(ctx, `INSERT INTO job_runs (job, slot_at, trigger) VALUES ($1, clock_timestamp(), 'manual')
			RETURNING id, slot_at`, s.Name).Scan(&run.ID, &run.Slot)
	})
	if err != nil {
		return Run{}, false, fmt.Errorf("record a run of %s: %w", s.Name, err)
	}
	run.Job, run.Trigger = s.Name, TriggerManual
	return run, joined, nil
}

// Claim is what a worker may do with a run it received.
type Claim int

// Claims.
const (
	// ClaimRun: the run is now running, by this worker.
	ClaimRun Claim = iota
	// ClaimDone: the run was already started (a redelivered task): do
	// nothing.
	ClaimDone
	// ClaimSkipped: another run of the job is running and the job's
	// overlap is skip: the run is recorded as skipped.
	ClaimSkipped
	// ClaimWait: another run of the job is running and the job's overlap
	// is queue: try again later.
	ClaimWait
)

// Claim decides, under the job's lock, whether this worker runs run id
// now (see Claim). A run that starts gets a lease of Timeout +
// LeaseMargin.
func (r *Runs) Claim(ctx context.Context, id int64, s *Spec) (c Claim, err error) {
	err = pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		if err := lockJob(ctx, tx, s.Name); err != nil {
			return err
		}
		if err := expireLeases(ctx, tx, s.Name); err != nil {
			return err
		}
		var outcome string
		if err := tx.QueryRow(ctx, `SELECT outcome FROM job_runs WHERE id = $1`, id).Scan(&outcome); err != nil {
			return fmt.Errorf("run %d: %w", id, err)
		}
		if outcome != OutcomePending {
			c = ClaimDone
			return nil
		}
		var other int64
		err := tx.QueryRow(ctx, `SELECT id FROM job_runs WHERE job = $1 AND outcome = 'running' LIMIT 1`, s.Name).Scan(&other)
		switch {
		case err == nil && s.Overlap == Queue:
			c = ClaimWait
			return nil
		case err == nil:
			c = ClaimSkipped
			_, err := tx.Exec(ctx, `UPDATE job_runs SET outcome = 'skipped', finished_at = now(), duration_ms = 0,
				error = $2 WHERE id = $1`, id, fmt.Sprintf("run %d of %s was still running (overlap: skip)", other, s.Name))
			return err
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		c = ClaimRun
		_, err = tx.Exec(ctx, `UPDATE job_runs SET outcome = 'running', started_at = now(),
			lease_until = now() + make_interval(secs => $2) WHERE id = $1`, id, (s.Timeout + LeaseMargin).Seconds())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("claim run %d of %s: %w", id, s.Name, err)
	}
	return c, nil
}

// Finish records the outcome of a running run.
func (r *Runs) Finish(ctx context.Context, id int64, outcome, errText string) error {
	var e *string
	if errText != "" {
		e = &errText
	}
	_, err := r.pool.Exec(ctx, `UPDATE job_runs SET outcome = $2, error = $3, finished_at = now(),
		duration_ms = (extract(epoch FROM now() - started_at) * 1000)::bigint
		WHERE id = $1 AND outcome = 'running'`, id, outcome, e)
	if err != nil {
		return fmt.Errorf("record the outcome of run %d: %w", id, err)
	}
	return nil
}

// MarkEnqueued records that run id's task is in the queue.
func (r *Runs) MarkEnqueued(ctx context.Context, id int64) error {
	_, err := r.pool.Exec(ctx, `UPDATE job_runs SET enqueued_at = now() WHERE id = $1`, id)
	return err
}

// Get reads run id.
func (r *Runs) Get(ctx context.Context, id int64) (Run, error) {
	var run Run
	var e *string
	var ms *int64
	err := r.pool.QueryRow(ctx, `SELECT id, job, slot_at, trigger, outcome, error, enqueued_at, started_at, finished_at, duration_ms
		FROM job_runs WHERE id = $1`, id).Scan(&run.ID, &run.Job, &run.Slot, &run.Trigger, &run.Outcome, &e,
		&run.EnqueuedAt, &run.StartedAt, &run.FinishedAt, &ms)
	if err != nil {
		return Run{}, fmt.Errorf("read run %d: %w", id, err)
	}
	if e != nil {
		run.Error = *e
	}
	if ms != nil {
		d := time.Duration(*ms) * time.Millisecond
		run.Duration = &d
	}
	return run, nil
}

// Unstarted returns the pending runs created since since whose task was
// never enqueued or was enqueued before enqueuedBefore (its task may have
// been lost with Redis): the clock enqueues them again, under the same
// task ID.
func (r *Runs) Unstarted(ctx context.Context, since, enqueuedBefore time.Time) ([]Run, error) {
	rows, err := r.pool.Query(ctx, `SELECT id, job, slot_at, trigger FROM job_runs
		WHERE outcome = 'pending' AND created_at >= $1 AND (enqueued_at IS NULL OR enqueued_at < $2) ORDER BY id`, since, enqueuedBefore)
	if err != nil {
		return nil, fmt.Errorf("read unstarted runs: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Run, error) {
		var run Run
		err := row.Scan(&run.ID, &run.Job, &run.Slot, &run.Trigger)
		run.Outcome = OutcomePending
		return run, err
	})
}

// Expire records as lost the running runs whose lease ended, and the
// pending runs of job created before notAfter (never started in time).
func (r *Runs) Expire(ctx context.Context, job string, notAfter time.Time) error {
	if err := expireLeases(ctx, r.pool, job); err != nil {
		return fmt.Errorf("expire leases: %w", err)
	}
	_, err := r.pool.Exec(ctx, `UPDATE job_runs SET outcome = 'lost', finished_at = now(),
		error = 'never started: no worker picked it up in time'
		WHERE outcome = 'pending' AND job = $1 AND created_at < $2`, job, notAfter)
	if err != nil {
		return fmt.Errorf("expire unstarted runs of %s: %w", job, err)
	}
	return nil
}

// Prune deletes the finished runs created before before.
func (r *Runs) Prune(ctx context.Context, before time.Time) (int64, error) {
	tag, err := r.pool.Exec(ctx, `DELETE FROM job_runs WHERE created_at < $1 AND outcome NOT IN ('pending', 'running')`, before)
	if err != nil {
		return 0, fmt.Errorf("prune job runs: %w", err)
	}
	return tag.RowsAffected(), nil
}
