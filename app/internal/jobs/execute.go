package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// WaitPoll is how often a queue job waiting for a running one, and
// RunNow waiting for an outcome, look again.
const WaitPoll = 500 * time.Millisecond

// scheduled runs a scheduled job's task through its run record: it claims
// the run (Runs.Claim: a redelivered task of a started run does nothing,
// overlap skip records a skipped run, overlap queue waits), runs next
// with the job's Timeout and records the outcome once.
func (h *Handlers) scheduled(s *Spec, next asynq.HandlerFunc) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		var p runPayload
		if len(t.Payload()) > 0 {
			if err := json.Unmarshal(t.Payload(), &p); err != nil {
				return fmt.Errorf("bad payload %q: %w", t.Payload(), asynq.SkipRetry)
			}
		}
		if p.RunID == 0 {
			// A task without a run: enqueued by a previous release's clock
			// during a deploy. It is the run of the job's latest slot, so
			// it collapses into the run this release's clock records.
			slot := s.Prev(time.Now())
			id, _, err := h.Runs.Slot(ctx, s.Name, slot, TriggerSchedule)
			if err != nil {
				return err
			}
			p = runPayload{RunID: id, Slot: slot}
		}
		for {
			c, err := h.Runs.Claim(ctx, p.RunID, s)
			if err != nil {
				return err
			}
			switch c {
			case ClaimDone:
				h.Log.InfoContext(ctx, "job run already started elsewhere: not run again", "job", s.Name, "run_id", p.RunID)
				return nil
			case ClaimSkipped:
				h.Log.InfoContext(ctx, "job run skipped: another run of the job is running (overlap: skip)", "job", s.Name, "run_id", p.RunID)
				return nil
			case ClaimWait:
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(WaitPoll):
				}
				continue
			}
			break
		}
		rctx, cancel := context.WithTimeout(ctx, s.Timeout)
		err := next(rctx, t)
		timedOut := errors.Is(rctx.Err(), context.DeadlineExceeded)
		cancel()
		outcome, msg := OutcomeOK, ""
		switch {
		case err != nil && timedOut:
			outcome, msg = OutcomeTimeout, fmt.Sprintf("ran past its timeout (%s): %v", s.Timeout, err)
		case err != nil && ctx.Err() != nil:
			outcome, msg = OutcomeFailed, fmt.Sprintf("interrupted: the worker stopped before the run ended (its drain is shorter than the run): %v", err)
		case err != nil:
			outcome, msg = OutcomeFailed, err.Error()
		}
		// The outcome is recorded even when the worker is shutting down.
		fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer fcancel()
		if ferr := h.Runs.Finish(fctx, p.RunID, outcome, msg); ferr != nil {
			return errors.Join(err, ferr)
		}
		if err != nil {
			return fmt.Errorf("%s run %d: %w: %w", s.Name, p.RunID, err, asynq.SkipRetry)
		}
		return nil
	})
}

// RunNow runs job s once, now, through the same path as the schedule: it
// records a manual run, enqueues it for the worker and waits for its
// outcome (until ctx ends). For a skip job already pending or running, it
// waits for that run instead (joined).
func RunNow(ctx context.Context, q Enqueuer, runs *Runs, s *Spec, started func(run Run, joined bool)) (Run, error) {
	run, joined, err := runs.Manual(ctx, s)
	if err != nil {
		return Run{}, err
	}
	if !joined {
		if err := EnqueueRun(ctx, q, runs, s, run); err != nil {
			return run, err
		}
	}
	if started != nil {
		started(run, joined)
	}
	for {
		got, err := runs.Get(ctx, run.ID)
		if err != nil {
			return run, err
		}
		if got.Final() {
			return got, nil
		}
		select {
		case <-ctx.Done():
			return got, fmt.Errorf("run %d of %s is still %s: %w", run.ID, s.Name, got.Outcome, ctx.Err())
		case <-time.After(WaitPoll):
		}
	}
}
