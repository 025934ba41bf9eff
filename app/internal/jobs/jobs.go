// Package jobs defines the background tasks (hibiken/asynq), their
// handlers (run by `app worker`) and the schedule (run by `app clock`).
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shipyard-kit/shipyard/app/internal/cache"
	"github.com/shipyard-kit/shipyard/app/internal/store"
)

// Task types.
const (
	TypeNoteProcess = "note:process"
	TypeNoteSweep   = "note:sweep"
	TypeTokensPurge = "tokens:purge"
	// TypeJobRunsPrune deletes job run records past RunRetention.
	TypeJobRunsPrune = "jobs:prune"
)

// SweepAge is how long a note may stay unprocessed before the sweep
// processes it (its job was probably lost, e.g. Redis was down).
const SweepAge = 30 * time.Second

type notePayload struct {
	NoteID int64 `json:"note_id"`
}

// NewNoteProcessTask is the task that computes a note's word count and
// summary. Its headers start empty: tracing writes the enqueuing span's
// trace context there (telemetry.Enqueuer).
func NewNoteProcessTask(noteID int64) *asynq.Task {
	b, _ := json.Marshal(notePayload{NoteID: noteID})
	return asynq.NewTaskWithHeaders(TypeNoteProcess, b, map[string]string{}, asynq.MaxRetry(10), asynq.Timeout(time.Minute))
}

// Analyze computes the job result for a body: its word count and a summary
// made of its first 20 words.
func Analyze(body string) (wordCount int32, summary string) {
	words := strings.FieldsFunc(body, unicode.IsSpace)
	n := len(words)
	if len(words) > 20 {
		words = words[:20]
	}
	summary = strings.Join(words, " ")
	if n > 20 {
		summary += "…"
	}
	return int32(min(n, 1<<31-1)), summary
}

// Handlers runs the tasks.
type Handlers struct {
	Store *store.Store
	Cache *cache.Notes
	Log   *slog.Logger
	Done  *prometheus.CounterVec // type, result
	// Runs records the runs of the scheduled jobs (Scheduled); every
	// scheduled task goes through it (see scheduled).
	Runs *Runs
}

// NewMetrics registers the job counter.
func NewMetrics(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "app_jobs_processed_total",
		Help: "Background jobs processed by type and result (ok, error).",
	}, []string{"type", "result"})
	reg.MustRegister(c)
	return c
}

// Mux routes task types to handlers: note:process, and every job of
// Scheduled through its run record.
func (h *Handlers) Mux() *asynq.ServeMux {
	specs, err := Specs()
	if err != nil {
		// Scheduled is code, checked by its tests: a bad row is a bug.
		panic(err)
	}
	return h.MuxFor(specs, map[string]asynq.HandlerFunc{
		TypeNoteSweep:    h.sweepNotes,
		TypeTokensPurge:  h.purgeTokens,
		TypeJobRunsPrune: h.pruneRuns,
	})
}

// MuxFor is Mux with the scheduled jobs specs, run by handlers (by name).
func (h *Handlers) MuxFor(specs []*Spec, handlers map[string]asynq.HandlerFunc) *asynq.ServeMux {
	mux := asynq.NewServeMux()
	mux.Use(h.instrument)
	mux.HandleFunc(TypeNoteProcess, h.processNote)
	for _, s := range specs {
		run := handlers[s.Name]
		if run == nil {
			panic(fmt.Sprintf("scheduled job %s has no handler", s.Name))
		}
		mux.Handle(s.Name, h.scheduled(s, run))
	}
	return mux
}

func (h *Handlers) instrument(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		start := time.Now()
		err := next.ProcessTask(ctx, t)
		result := "ok"
		if err != nil {
			result = "error"
			h.Log.ErrorContext(ctx, "job failed", "type", t.Type(), "err", err, "duration_ms", time.Since(start).Milliseconds())
		} else {
			h.Log.InfoContext(ctx, "job done", "type", t.Type(), "duration_ms", time.Since(start).Milliseconds())
		}
		if h.Done != nil {
			h.Done.WithLabelValues(t.Type(), result).Inc()
		}
		return err
	})
}

func (h *Handlers) processNote(ctx context.Context, t *asynq.Task) error {
	var p notePayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.NoteID <= 0 {
		return fmt.Errorf("bad payload %q: %w", t.Payload(), asynq.SkipRetry)
	}
	return h.ProcessNote(ctx, p.NoteID)
}

// ProcessNote computes and stores a note's result; a no-op when the note
// is gone or already processed.
func (h *Handlers) ProcessNote(ctx context.Context, id int64) error {
	n, err := h.Store.NoteByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load note %d: %w", id, err)
	}
	if n.ProcessedAt != nil {
		return nil
	}
	wc, summary := Analyze(n.Body)
	updated, ok, err := h.Store.SetNoteProcessed(ctx, id, n.Body, wc, summary)
	if err != nil {
		return fmt.Errorf("note %d: %w", id, err)
	}
	if ok && h.Cache != nil {
		if err := h.Cache.Put(ctx, updated); err != nil {
			h.Log.WarnContext(ctx, "processed note not yet visible in the cache", "note_id", updated.ID, "err", err)
		}
	}
	return nil
}

func (h *Handlers) sweepNotes(ctx context.Context, _ *asynq.Task) error {
	ids, err := h.Store.UnprocessedNotes(ctx, SweepAge, 500)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := h.ProcessNote(ctx, id); err != nil {
			return err
		}
	}
	if len(ids) > 0 {
		h.Log.InfoContext(ctx, "swept unprocessed notes", "count", len(ids))
	}
	return nil
}

func (h *Handlers) purgeTokens(ctx context.Context, _ *asynq.Task) error {
	n, err := h.Store.PurgeTokens(ctx)
	if err != nil {
		return err
	}
	h.Log.InfoContext(ctx, "purged tokens", "count", n)
	k, err := h.Store.PurgeIdempotencyKeys(ctx, store.IdempotencyKeyTTL)
	if err != nil {
		return err
	}
	h.Log.InfoContext(ctx, "purged idempotency keys", "count", k)
	return nil
}

func (h *Handlers) pruneRuns(ctx context.Context, _ *asynq.Task) error {
	n, err := h.Runs.Prune(ctx, time.Now().Add(-RunRetention))
	if err != nil {
		return err
	}
	h.Log.InfoContext(ctx, "pruned job runs", "count", n, "retention_days", int(RunRetention.Hours()/24))
	return nil
}
