package jobs_test

import (
	"context"
	"io"
	"log/slog"
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
	_ = st.CreateToken(ctx, []byte("live"), u.ID, time.Now().Add(time.Hour))
	_ = st.CreateToken(ctx, []byte("expired"), u.ID, time.Now().Add(-time.Second))
	_ = st.CreateToken(ctx, []byte("revoked"), u.ID, time.Now().Add(time.Hour))
	_ = st.RevokeToken(ctx, []byte("revoked"))

	if err := mux.ProcessTask(ctx, asynq.NewTask(jobs.TypeTokensPurge, nil)); err != nil {
		t.Fatal(err)
	}
	var left []string
	rows, _ := pool.Query(ctx, `SELECT convert_from(hash, 'UTF8') FROM tokens`)
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		left = append(left, s)
	}
	if len(left) != 1 || left[0] != "live" {
		t.Fatalf("tokens left: %v, want only the live one", left)
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
