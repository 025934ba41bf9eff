package httpapi_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/shipyard-kit/shipyard/app/internal/testenv"
)

func (a *testApp) countNotes() int {
	a.t.Helper()
	var n int
	if err := a.pool.QueryRow(context.Background(), `SELECT count(*) FROM notes`).Scan(&n); err != nil {
		a.t.Fatal(err)
	}
	return n
}

func TestCreatesWithAnIdempotencyKey(t *testing.T) {
	a := newApp(t)
	ada, bob := a.user("ada@example.com"), a.user("bob@example.com")
	body := map[string]string{"title": "groceries", "body": "milk"}
	const key = `"8e03978e-40d5-43e8-bc93-6894a57f9324"`

	first := a.do("POST", "/api/v1/notes", ada, body, "Idempotency-Key", key)
	if first.status != 201 {
		t.Fatalf("first create: %d %s", first.status, first.body)
	}
	t.Run("a retry with the same key and body gets the first answer and creates nothing", func(t *testing.T) {
		again := a.do("POST", "/api/v1/notes", ada, `{"body":"milk", "title":"groceries"}`, "Idempotency-Key", key)
		if again.status != 201 || !bytes.Equal(again.body, first.body) {
			t.Fatalf("retry: %d %s, want 201 %s", again.status, again.body, first.body)
		}
		for _, h := range []string{"Location", "ETag"} {
			if again.header.Get(h) != first.header.Get(h) {
				t.Errorf("%s = %q, first answer had %q", h, again.header.Get(h), first.header.Get(h))
			}
		}
		if again.header.Get("Idempotent-Replayed") != "true" {
			t.Error("a replay is not marked Idempotent-Replayed: true")
		}
		if n := a.countNotes(); n != 1 {
			t.Fatalf("%d notes after a retried create, want 1", n)
		}
	})
	t.Run("the same key with another body is 422", func(t *testing.T) {
		r := a.do("POST", "/api/v1/notes", ada, map[string]string{"title": "groceries", "body": "eggs"}, "Idempotency-Key", key)
		wantProblem(t, r, http.StatusUnprocessableEntity, "idempotency_key_reused")
	})
	t.Run("keys are per user", func(t *testing.T) {
		if r := a.do("POST", "/api/v1/notes", bob, body, "Idempotency-Key", key); r.status != 201 || bytes.Equal(r.body, first.body) {
			t.Fatalf("another user's create with the same key: %d %s", r.status, r.body)
		}
	})
	t.Run("a malformed key is 400", func(t *testing.T) {
		for _, k := range []string{`""`, "a b", string(bytes.Repeat([]byte("k"), 256))} {
			wantProblem(t, a.do("POST", "/api/v1/notes", ada, body, "Idempotency-Key", k), http.StatusBadRequest, "invalid_idempotency_key")
		}
	})
	t.Run("an expired key is free again", func(t *testing.T) {
		if _, err := a.pool.Exec(context.Background(), `UPDATE idempotency_keys SET created_at = now() - interval '25 hours'`); err != nil {
			t.Fatal(err)
		}
		before := a.countNotes()
		if r := a.do("POST", "/api/v1/notes", ada, body, "Idempotency-Key", key); r.status != 201 || bytes.Equal(r.body, first.body) {
			t.Fatalf("create with an expired key: %d %s", r.status, r.body)
		}
		if a.countNotes() != before+1 {
			t.Fatal("an expired key did not create")
		}
	})
}

func TestARetriedCreateWhoseAnswerWasLostIsStoredOnce(t *testing.T) {
	dbURL, pp := testenv.ProxyURL(t, testenv.DatabaseURL(t))
	a := newApp(t, func(o *appOpts) { o.dbURL = dbURL; o.opts.RequestTimeout = time.Second })
	tok := a.user("ada@example.com")
	body := map[string]string{"title": "t", "body": "once"}

	// Postgres commits the create; its answer never reaches the app, which
	// answers 503 unavailable + Retry-After: the client retries as told.
	pp.HoldRepliesFrom("commit")
	r := a.do("POST", "/api/v1/notes", tok, body, "Idempotency-Key", "k-1")
	pp.Resume()
	wantProblem(t, r, http.StatusServiceUnavailable, "unavailable")
	if n := a.countNotes(); n != 1 {
		t.Fatalf("the create did not commit (%d notes); the test needs it to", n)
	}
	r = a.do("POST", "/api/v1/notes", tok, body, "Idempotency-Key", "k-1")
	if r.status != 201 {
		t.Fatalf("retry: %d %s", r.status, r.body)
	}
	if n := a.countNotes(); n != 1 {
		t.Fatalf("%d notes after the retry, want 1", n)
	}
}
