// Package store is the Postgres data access layer. Every method takes the
// caller's context, so the per-request deadline reaches pgx.
package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shipyard-kit/shipyard/app/internal/db"
)

// Errors callers branch on.
var (
	ErrNotFound   = errors.New("not found")
	ErrEmailTaken = errors.New("email taken")
	ErrStale      = errors.New("stale version")
)

// Store wraps the pool.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// User is a registered user.
type User struct {
	ID           int64
	Email        string
	Name         string
	PasswordHash string
	CreatedAt    time.Time
}

// Note is the owned resource.
type Note struct {
	ID          int64      `json:"id"`
	UserID      int64      `json:"user_id"`
	Title       string     `json:"title"`
	Body        string     `json:"body"`
	Version     int64      `json:"version"`
	WordCount   *int32     `json:"word_count"`
	Summary     *string    `json:"summary"`
	ProcessedAt *time.Time `json:"processed_at"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

const userCols = `id, email, name, password_hash, created_at`

func scanUser(row pgx.Row) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash, &u.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, ErrNotFound
	}
	return u, err
}

// CreateUser inserts a user; ErrEmailTaken when the email exists.
func (s *Store) CreateUser(ctx context.Context, email, name, passwordHash string) (User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx,
		`INSERT INTO users (email, name, password_hash) VALUES ($1, $2, $3) RETURNING `+userCols,
		email, name, passwordHash))
	if db.IsUniqueViolation(err) {
		return User{}, ErrEmailTaken
	}
	if err != nil {
		return User{}, fmt.Errorf("insert user: %w", err)
	}
	return u, nil
}

// UserByEmail finds a user by (lower-cased) email.
func (s *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE email = $1`, email))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return User{}, fmt.Errorf("select user: %w", err)
	}
	return u, err
}

// CountUsers counts users (seed refuses a non-empty database).
func (s *Store) CountUsers(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// LoadBulk loads users users (email large-<n>@example.com, all with
// passwordHash) and notes notes spread evenly across them, in two
// set-based INSERTs (generate_series): a realistic volume for measuring
// migrations, in seconds. Nine notes in ten are processed. It only uses
// columns of the first migration, so it loads into any later schema that
// keeps them. It returns the number of notes inserted.
func (s *Store) LoadBulk(ctx context.Context, users, notes int, passwordHash string) (int64, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, `INSERT INTO users (email, name, password_hash)
SELECT 'large-' || g || '@example.com', 'Large User ' || g, $2 FROM generate_series(1, $1::int) g`, users, passwordHash); err != nil {
		return 0, fmt.Errorf("insert users: %w", err)
	}
	tag, err := tx.Exec(ctx, `WITH u AS (SELECT array_agg(id ORDER BY id) AS ids FROM users WHERE email LIKE 'large-%@example.com')
INSERT INTO notes (user_id, title, body, word_count, summary, processed_at, created_at, updated_at)
SELECT u.ids[1 + g % cardinality(u.ids)],
       'Note ' || g,
       body,
       CASE WHEN g % 10 = 0 THEN NULL ELSE 5 * (1 + g % 12) + 1 END,
       CASE WHEN g % 10 = 0 THEN NULL ELSE left(body, 40) END,
       CASE WHEN g % 10 = 0 THEN NULL ELSE ts END,
       ts, ts
FROM u, generate_series(1, $1::int) g,
     LATERAL (SELECT repeat('lorem ipsum dolor sit amet ', 1 + g % 12) || g AS body,
                     now() - make_interval(secs => g) AS ts) x`, notes)
	if err != nil {
		return 0, fmt.Errorf("insert notes: %w", err)
	}
	if _, err := tx.Exec(ctx, `ANALYZE users; ANALYZE notes`); err != nil {
		return 0, fmt.Errorf("analyze: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// CreateToken stores a token hash.
func (s *Store) CreateToken(ctx context.Context, hash []byte, userID int64, expiresAt time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO tokens (hash, user_id, expires_at) VALUES ($1, $2, $3)`, hash, userID, expiresAt)
	if err != nil {
		return fmt.Errorf("insert token: %w", err)
	}
	return nil
}

// UserByToken returns the owner of a live (unexpired, unrevoked) token
// and the token's expiry.
func (s *Store) UserByToken(ctx context.Context, hash []byte) (User, time.Time, error) {
	var u User
	var exp time.Time
	err := s.pool.QueryRow(ctx, `
		SELECT u.id, u.email, u.name, u.password_hash, u.created_at, t.expires_at
		FROM tokens t JOIN users u ON u.id = t.user_id
		WHERE t.hash = $1 AND t.revoked_at IS NULL AND t.expires_at > now()`, hash).
		Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash, &u.CreatedAt, &exp)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, time.Time{}, ErrNotFound
	}
	if err != nil {
		return User{}, time.Time{}, fmt.Errorf("select token: %w", err)
	}
	return u, exp, nil
}

// RevokeToken marks a token revoked.
func (s *Store) RevokeToken(ctx context.Context, hash []byte) error {
	if _, err := s.pool.Exec(ctx, `UPDATE tokens SET revoked_at = now() WHERE hash = $1 AND revoked_at IS NULL`, hash); err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}

// PurgeTokens deletes expired and revoked tokens.
func (s *Store) PurgeTokens(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM tokens WHERE expires_at <= now() OR revoked_at IS NOT NULL`)
	if err != nil {
		return 0, fmt.Errorf("purge tokens: %w", err)
	}
	return tag.RowsAffected(), nil
}

const noteCols = `id, user_id, title, body, version, word_count, summary, processed_at, created_at, updated_at`

func scanNote(row pgx.Row) (Note, error) {
	var n Note
	err := row.Scan(&n.ID, &n.UserID, &n.Title, &n.Body, &n.Version, &n.WordCount, &n.Summary, &n.ProcessedAt, &n.CreatedAt, &n.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Note{}, ErrNotFound
	}
	if err == nil {
		n.CreatedAt, n.UpdatedAt = n.CreatedAt.UTC(), n.UpdatedAt.UTC()
		if n.ProcessedAt != nil {
			t := n.ProcessedAt.UTC()
			n.ProcessedAt = &t
		}
	}
	return n, err
}

// CreateNote inserts a note for userID.
func (s *Store) CreateNote(ctx context.Context, userID int64, title, body string) (Note, error) {
	n, err := scanNote(s.pool.QueryRow(ctx,
		`INSERT INTO notes (user_id, title, body) VALUES ($1, $2, $3) RETURNING `+noteCols, userID, title, body))
	if err != nil {
		return Note{}, fmt.Errorf("insert note: %w", err)
	}
	return n, nil
}

// NoteByID loads a note regardless of owner (callers check ownership).
func (s *Store) NoteByID(ctx context.Context, id int64) (Note, error) {
	n, err := scanNote(s.pool.QueryRow(ctx, `SELECT `+noteCols+` FROM notes WHERE id = $1`, id))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Note{}, fmt.Errorf("select note: %w", err)
	}
	return n, err
}

// EachNote calls each, newest first, for the notes of userID with id <
// beforeID (0 = from the newest): at most limit of them, and only while the
// text of those before it (title, body, summary) adds up to less than
// budget bytes, so a page of large notes never leaves Postgres whole (the
// first note is always included). It stops when each returns false. more
// reports whether notes were left out (by limit, budget or each).
func (s *Store) EachNote(ctx context.Context, userID, beforeID int64, limit, budget int, each func(Note) bool) (more bool, err error) {
	rows, err := s.pool.Query(ctx, `SELECT id, user_id, title, CASE WHEN fits THEN body ELSE '' END, version, word_count, summary,
		processed_at, created_at, updated_at, fits
		FROM (SELECT p.*, coalesce(sum(octet_length(p.title) + octet_length(p.body) + coalesce(octet_length(p.summary), 0))
			OVER (ORDER BY p.id DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) < $4 AS fits
			FROM (SELECT `+noteCols+` FROM notes WHERE user_id = $1 AND ($2 = 0 OR id < $2) ORDER BY id DESC LIMIT $3 + 1) p) x
		ORDER BY id DESC`, userID, beforeID, limit, budget)
	if err != nil {
		return false, fmt.Errorf("list notes: %w", err)
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var n Note
		var fits bool
		if err := rows.Scan(&n.ID, &n.UserID, &n.Title, &n.Body, &n.Version, &n.WordCount, &n.Summary, &n.ProcessedAt,
			&n.CreatedAt, &n.UpdatedAt, &fits); err != nil {
			return false, fmt.Errorf("scan note: %w", err)
		}
		if seen == limit || !fits {
			more = true
			break
		}
		seen++
		n.CreatedAt, n.UpdatedAt = n.CreatedAt.UTC(), n.UpdatedAt.UTC()
		if n.ProcessedAt != nil {
			t := n.ProcessedAt.UTC()
			n.ProcessedAt = &t
		}
		if !each(n) {
			more = true
			break
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("list notes: %w", err)
	}
	return more, nil
}

// NoteUpdate is a partial update; nil fields are unchanged.
type NoteUpdate struct {
	Title *string
	Body  *string
}

// UpdateNote applies u to the note if it belongs to userID and, when
// ifVersion > 0, is still at that version. A body change clears the
// processing result so the worker recomputes it. It reports whether the
// body changed.
func (s *Store) UpdateNote(ctx context.Context, id, userID, ifVersion int64, u NoteUpdate) (Note, bool, error) {
	n, err := scanNote(s.pool.QueryRow(ctx, `
		UPDATE notes n SET
			title = COALESCE($4, n.title),
			body = COALESCE($5, n.body),
			version = n.version + 1,
			updated_at = now(),
			word_count   = CASE WHEN $5::text IS NOT NULL AND $5 <> n.body THEN NULL ELSE n.word_count END,
			summary      = CASE WHEN $5::text IS NOT NULL AND $5 <> n.body THEN NULL ELSE n.summary END,
			processed_at = CASE WHEN $5::text IS NOT NULL AND $5 <> n.body THEN NULL ELSE n.processed_at END
		WHERE n.id = $1 AND n.user_id = $2 AND ($3 = 0 OR n.version = $3)
		RETURNING n.id, n.user_id, n.title, n.body, n.version, n.word_count, n.summary, n.processed_at, n.created_at, n.updated_at`,
		id, userID, ifVersion, u.Title, u.Body))
	if errors.Is(err, ErrNotFound) {
		return Note{}, false, s.missingOrStale(ctx, id, userID)
	}
	if err != nil {
		return Note{}, false, fmt.Errorf("update note: %w", err)
	}
	// Unprocessed after the update: the body changed (or the worker has
	// not run yet); either way (re)enqueueing is correct and idempotent.
	return n, n.ProcessedAt == nil, nil
}

// DeleteNote deletes the note if it belongs to userID and, when
// ifVersion > 0, is still at that version.
func (s *Store) DeleteNote(ctx context.Context, id, userID, ifVersion int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM notes WHERE id = $1 AND user_id = $2 AND ($3 = 0 OR version = $3)`, id, userID, ifVersion)
	if err != nil {
		return fmt.Errorf("delete note: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return s.missingOrStale(ctx, id, userID)
	}
	return nil
}

func (s *Store) missingOrStale(ctx context.Context, id, userID int64) error {
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM notes WHERE id = $1 AND user_id = $2)`, id, userID).Scan(&exists); err != nil {
		return fmt.Errorf("check note: %w", err)
	}
	if exists {
		return ErrStale
	}
	return ErrNotFound
}

// SetNoteProcessed stores the worker's result if the body is still the
// one it analysed and the note is not processed yet. ok is false when
// nothing changed (the note was edited, deleted or already processed).
func (s *Store) SetNoteProcessed(ctx context.Context, id int64, body string, wordCount int32, summary string) (n Note, ok bool, err error) {
	n, err = scanNote(s.pool.QueryRow(ctx, `UPDATE notes SET word_count = $3, summary = $4, processed_at = now(), version = version + 1
		WHERE id = $1 AND body = $2 AND processed_at IS NULL RETURNING `+noteCols, id, body, wordCount, summary))
	if errors.Is(err, ErrNotFound) {
		return Note{}, false, nil
	}
	if err != nil {
		return Note{}, false, fmt.Errorf("store note result: %w", err)
	}
	return n, true, nil
}

// UnprocessedNotes lists notes still waiting for the worker that were last
// changed more than olderThan ago.
func (s *Store) UnprocessedNotes(ctx context.Context, olderThan time.Duration, limit int) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT id FROM notes WHERE processed_at IS NULL AND updated_at < now() - make_interval(secs => $1)
		ORDER BY updated_at LIMIT $2`, olderThan.Seconds(), limit)
	if err != nil {
		return nil, fmt.Errorf("list unprocessed notes: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("list unprocessed notes: %w", err)
	}
	return ids, nil
}

// IdempotencyKeyTTL is how long an idempotency key is remembered after its
// first use (docs/app.md); the tokens:purge job deletes older ones.
const IdempotencyKeyTTL = 24 * time.Hour

// ErrKeyReused is an idempotency key sent again with another request.
var ErrKeyReused = errors.New("idempotency key reused with another request")

// Replay is the first answer to a request made with an idempotency key.
type Replay struct {
	Status     int
	ResourceID int64
	Body       []byte
}

// CreateNoteOnce is CreateNote under an idempotency key: the note and the
// answer (render's body) are stored with key in one transaction, so a
// retry with the same key and fingerprint gets replay (the first answer)
// and creates nothing; another fingerprint gets ErrKeyReused. Keys are
// per user and expire ttl after their first use. A retry sent while the
// first request is still running waits for it (the key's row is locked
// until its transaction ends).
func (s *Store) CreateNoteOnce(ctx context.Context, userID int64, key string, fingerprint []byte, ttl time.Duration,
	title, body string, render func(Note) []byte) (n Note, replay *Replay, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return Note{}, nil, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, `DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2
		AND created_at <= now() - make_interval(secs => $3)`, userID, key, ttl.Seconds()); err != nil {
		return Note{}, nil, fmt.Errorf("expire idempotency key: %w", err)
	}
	tag, err := tx.Exec(ctx, `INSERT INTO idempotency_keys (user_id, key, request_hash, status, resource_id, response)
		VALUES ($1, $2, $3, 0, 0, '') ON CONFLICT DO NOTHING`, userID, key, fingerprint)
	if err != nil {
		return Note{}, nil, fmt.Errorf("claim idempotency key: %w", err)
	}
	if tag.RowsAffected() == 0 {
		var r Replay
		var hash []byte
		if err := tx.QueryRow(ctx, `SELECT request_hash, status, resource_id, response FROM idempotency_keys
			WHERE user_id = $1 AND key = $2`, userID, key).Scan(&hash, &r.Status, &r.ResourceID, &r.Body); err != nil {
			return Note{}, nil, fmt.Errorf("read idempotency key: %w", err)
		}
		if !bytes.Equal(hash, fingerprint) {
			return Note{}, nil, ErrKeyReused
		}
		return Note{}, &r, nil
	}
	n, err = scanNote(tx.QueryRow(ctx,
		`INSERT INTO notes (user_id, title, body) VALUES ($1, $2, $3) RETURNING `+noteCols, userID, title, body))
	if err != nil {
		return Note{}, nil, fmt.Errorf("insert note: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE idempotency_keys SET status = 201, resource_id = $3, response = $4
		WHERE user_id = $1 AND key = $2`, userID, key, n.ID, render(n)); err != nil {
		return Note{}, nil, fmt.Errorf("store idempotent answer: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return Note{}, nil, fmt.Errorf("commit: %w", err)
	}
	return n, nil, nil
}

// PurgeIdempotencyKeys deletes the keys first used more than ttl ago.
func (s *Store) PurgeIdempotencyKeys(ctx context.Context, ttl time.Duration) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE created_at <= now() - make_interval(secs => $1)`, ttl.Seconds())
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", err)
	}
	return tag.RowsAffected(), nil
}
