-- +goose Up
-- Issue 21. Both tables are new: the previous release never reads them.
-- The foreign key locks users (SHARE ROW EXCLUSIVE) for a moment: fail
-- fast rather than queue every query on users behind a long transaction.
SET lock_timeout = '5s';

-- The generation every cache entry is tagged with (app/internal/cache/epoch.go).
-- A replica whose cache write of a committed change failed replaces it
-- before answering; entries tagged with another generation are misses. A
-- random value, not a counter, so that no restore of either store can
-- bring back a generation that is current again.
CREATE TABLE cache_generation (
    id         smallint    PRIMARY KEY CHECK (id = 1),
    generation bigint      NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO cache_generation (id, generation) VALUES (1, floor(random() * 9e15)::bigint + 1);

-- The first answer to a create sent with an Idempotency-Key, per user and
-- key, replayed to a retry with the same request (docs/app.md).
CREATE TABLE idempotency_keys (
    user_id      bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key          text        NOT NULL,
    request_hash bytea       NOT NULL,
    status       integer     NOT NULL,
    resource_id  bigint      NOT NULL,
    response     bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE cache_generation;
