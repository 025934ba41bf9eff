-- +goose Up
-- Scheduled job runs (app/internal/jobs): one row per (job, slot), so any
-- number of clocks enqueue a slot once, and the row records the run.
CREATE TABLE job_runs (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job         text        NOT NULL,
    slot_at     timestamptz NOT NULL,
    trigger     text        NOT NULL CHECK (trigger IN ('schedule', 'manual')),
    outcome     text        NOT NULL DEFAULT 'pending'
                CHECK (outcome IN ('pending', 'running', 'ok', 'failed', 'timeout', 'skipped', 'lost')),
    error       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    enqueued_at timestamptz,
    started_at  timestamptz,
    lease_until timestamptz,
    finished_at timestamptz,
    duration_ms bigint,
    UNIQUE (job, slot_at)
);
CREATE INDEX job_runs_created_at_idx ON job_runs (created_at);
CREATE INDEX job_runs_unfinished_idx ON job_runs (job) WHERE outcome IN ('pending', 'running');

-- +goose Down
DROP TABLE job_runs;
