-- +goose Up
CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         text        NOT NULL UNIQUE,
    name          text        NOT NULL DEFAULT '',
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tokens (
    hash       bytea       PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX tokens_expires_at_idx ON tokens (expires_at);
CREATE INDEX tokens_user_id_idx ON tokens (user_id);

CREATE TABLE notes (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title        text        NOT NULL,
    body         text        NOT NULL DEFAULT '',
    version      bigint      NOT NULL DEFAULT 1,
    word_count   integer,
    summary      text,
    processed_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notes_user_id_id_idx ON notes (user_id, id DESC);
CREATE INDEX notes_unprocessed_idx ON notes (updated_at) WHERE processed_at IS NULL;

-- +goose Down
DROP TABLE notes;
DROP TABLE tokens;
DROP TABLE users;
