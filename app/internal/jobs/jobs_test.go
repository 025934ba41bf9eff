package jobs_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shipyard-kit/shipyard/app/internal/jobs"
	"github.com/shipyard-kit/shipyard/app/internal/store"
	"github.com/shipyard-kit/shipyard/app/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestAnalyze(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		words      int32
		summary    string
	}{
		{"an empty body has no words", "", 0, ""},
		{"whitespace of any kind separates words", "one\ttwo\nthree  four\u00a0five", 5, "one two three four five"},
		{"a long body is summarized by its first 20 words", "a b c d e f g h i j k l m n o p q r s t u v", 22, "a b c d e f g h i j k l m n o p q r s t…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, s := jobs.Analyze(tc.body)
			if w != tc.words || s != tc.summary {
				t.Fatalf("got %d %q", w, s)
			}
		})
	}
}

func setup(t *testing.T) (*store.Store, *pgxpool.Pool, asynq.Handler) {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), testenv.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	st := store.New(pool)
	h := &jobs.Handlers{Store: st, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Runs: jobs.NewRuns(pool)}
	return st, pool, h.Mux()
}

func TestPurgeTokens(t *testing.T) {
	st, pool, mux := setup(t)
	ctx := context.Background()
	u, err := st.CreateUser(ctx, "a@example.com", "", "x")
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []struct {
		hash    string
		expires time.Time
	}{
		{"live", time.Now().Add(time.Hour)},
		{"expired", time.Now().Add(-time.Second)},
		{"revoked", time.Now().Add(time.Hour)},
	} {
		if err := st.CreateToken(ctx, []byte(tok.hash), u.ID, tok.expires); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.RevokeToken(ctx, []byte("revoked")); err != nil {
		t.Fatal(err)
	}
	// tokens lists the tokens in the table, the revoked ones marked.
	tokens := func() []string {
		t.Helper()
		rows, err := pool.Query(ctx, `SELECT convert_from(hash, 'UTF8'), revoked_at IS NOT NULL FROM tokens ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for rows.Next() {
			var s string
			var revoked bool
			if err := rows.Scan(&s, &revoked); err != nil {
				t.Fatal(err)
			}
			if revoked {
				s += " (revoked)"
			}
			out = append(out, s)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got, want := tokens(), []string{"expired", "live", "revoked (revoked)"}; !slices.Equal(got, want) {
		t.Fatalf("tokens before the purge: %q, want %q", got, want)
	}

	if err := mux.ProcessTask(ctx, asynq.NewTask(jobs.TypeTokensPurge, nil)); err != nil {
		t.Fatal(err)
	}
	if got, want := tokens(), []string{"live"}; !slices.Equal(got, want) {
		t.Fatalf("tokens left: %q, want only the live one", got)
	}
}

// TestTokensPurgeDoesWhatItsRowSays runs tokens:purge on tokens and
// idempotency keys and holds its row in jobs.Scheduled (the docs' table)
// to what it deleted.
func TestTokensPurgeDoesWhatItsRowSays(t *testing.T) {
	st, pool, mux := setup(t)
	ctx := context.Background()
	u, err := st.CreateUser(ctx, "a@example.com", "", "x")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateToken(ctx, []byte("expired"), u.ID, time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	render := func(store.Note) []byte { return []byte("{}") }
	for _, key := range []string{"old", "fresh"} {
		if _, _, err := st.CreateNoteOnce(ctx, u.ID, key, []byte(key), store.IdempotencyKeyTTL, "t", "b", render); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `UPDATE idempotency_keys SET created_at = now() - make_interval(secs => $1) - interval '1 minute' WHERE key = 'old'`, store.IdempotencyKeyTTL.Seconds()); err != nil {
		t.Fatal(err)
	}

	if err := mux.ProcessTask(ctx, asynq.NewTask(jobs.TypeTokensPurge, nil)); err != nil {
		t.Fatal(err)
	}
	var tokens int
	var keys []string
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM tokens`).Scan(&tokens); err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(ctx, `SELECT key FROM idempotency_keys ORDER BY key`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if tokens != 0 || len(keys) != 1 || keys[0] != "fresh" {
		t.Fatalf("left %d tokens and idempotency keys %v; want none and only the fresh key", tokens, keys)
	}

	var does string
	for _, j := range jobs.Scheduled {
		if j.Name == jobs.TypeTokensPurge {
			does = j.Does
		}
	}
	ttl := fmt.Sprintf("idempotency keys older than %d h", int(store.IdempotencyKeyTTL.Hours()))
	if !strings.Contains(does, "expired and revoked tokens") || !strings.Contains(does, ttl) {
		t.Errorf("tokens:purge's Does is %q: it deletes expired and revoked tokens and %s", does, ttl)
	}
}

func TestProcessNote(t *testing.T) {
	st, pool, mux := setup(t)
	ctx := context.Background()
	u, _ := st.CreateUser(ctx, "a@example.com", "", "x")
	n, _ := st.CreateNote(ctx, u.ID, "t", "alpha beta gamma")

	t.Run("the job stores the word count and bumps the version", func(t *testing.T) {
		if err := mux.ProcessTask(ctx, jobs.NewNoteProcessTask(n.ID)); err != nil {
			t.Fatal(err)
		}
		got, _ := st.NoteByID(ctx, n.ID)
		if got.WordCount == nil || *got.WordCount != 3 || got.Version != n.Version+1 {
			t.Fatalf("%+v", got)
		}
	})
	t.Run("running it again is a no-op", func(t *testing.T) {
		before, _ := st.NoteByID(ctx, n.ID)
		if err := mux.ProcessTask(ctx, jobs.NewNoteProcessTask(n.ID)); err != nil {
			t.Fatal(err)
		}
		after, _ := st.NoteByID(ctx, n.ID)
		if after.Version != before.Version {
			t.Fatalf("version %d -> %d", before.Version, after.Version)
		}
	})
	t.Run("a deleted note is skipped without error", func(t *testing.T) {
		if err := mux.ProcessTask(ctx, jobs.NewNoteProcessTask(999999)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a malformed payload is not retried", func(t *testing.T) {
		err := mux.ProcessTask(ctx, asynq.NewTask(jobs.TypeNoteProcess, []byte("{")))
		if err == nil {
			t.Fatal("want an error")
		}
	})
	t.Run("the sweep processes notes whose job was lost", func(t *testing.T) {
		lost, _ := st.CreateNote(ctx, u.ID, "lost", "one two")
		if _, err := pool.Exec(ctx, `UPDATE notes SET updated_at = now() - interval '1 hour' WHERE id = $1`, lost.ID); err != nil {
			t.Fatal(err)
		}
		if err := mux.ProcessTask(ctx, asynq.NewTask(jobs.TypeNoteSweep, nil)); err != nil {
			t.Fatal(err)
		}
		got, _ := st.NoteByID(ctx, lost.ID)
		if got.WordCount == nil || *got.WordCount != 2 {
			t.Fatalf("%+v", got)
		}
	})
}
