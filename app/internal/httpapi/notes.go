package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/shipyard-kit/shipyard/app/internal/cache"
	"github.com/shipyard-kit/shipyard/app/internal/jobs"
	"github.com/shipyard-kit/shipyard/app/internal/store"
)

type noteResponse struct {
	ID          int64      `json:"id"`
	Title       string     `json:"title"`
	Body        string     `json:"body"`
	Version     int64      `json:"version"`
	WordCount   *int32     `json:"word_count"`
	Summary     *string    `json:"summary"`
	ProcessedAt *time.Time `json:"processed_at"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

func toNote(n store.Note) noteResponse {
	return noteResponse{
		ID: n.ID, Title: n.Title, Body: n.Body, Version: n.Version,
		WordCount: n.WordCount, Summary: n.Summary, ProcessedAt: n.ProcessedAt,
		CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt,
	}
}

// etag is the strong entity tag of a note version.
func etag(n store.Note) string {
	b := make([]byte, 0, 24)
	b = append(b, '"')
	b = strconv.AppendInt(b, n.ID, 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, n.Version, 10)
	return string(append(b, '"'))
}

// noneMatch reports whether If-None-Match lists the current tag (weak
// comparison, as RFC 9110 requires for If-None-Match).
func noneMatch(header, current string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == current {
			return true
		}
	}
	return false
}

// ifMatchVersion turns an If-Match header into the version the update is
// conditional on: 0 means unconditional ("" or "*"); -1 means it cannot
// match this note (wrong id or unparseable), i.e. 412.
func ifMatchVersion(header string, id int64) int64 {
	header = strings.TrimSpace(header)
	if header == "" || header == "*" {
		return 0
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if strings.HasPrefix(t, "W/") || len(t) < 2 || t[0] != '"' || t[len(t)-1] != '"' {
			continue // weak tags never match strongly
		}
		idStr, verStr, ok := strings.Cut(t[1:len(t)-1], ".")
		if !ok || idStr != strconv.FormatInt(id, 10) {
			continue
		}
		if v, err := strconv.ParseInt(verStr, 10, 64); err == nil && v > 0 {
			return v
		}
	}
	return -1
}

func noteID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		writeProblem(w, r, http.StatusNotFound, "not_found", "no such note")
		return 0, false
	}
	return id, true
}

var (
	contentTypeJSON  = []string{"application/json"}
	xCacheHit        = []string{"hit"}
	xCacheMiss       = []string{"miss"}
	cacheControlNote = []string{"private, no-cache"}
)

// noteBodies remembers the JSON body of the note versions the GET served
// last, one per slot (by id), so that a note read again and again is
// encoded once. An entry is used only for a note equal in every field to
// the one it was rendered from, so it always holds what writeNote would
// write. Bounded: noteBodySlots entries of at most noteBodyMaxBytes.
type noteBodies struct {
	slots [noteBodySlots]atomic.Pointer[renderedNote]
}

const (
	noteBodySlots    = 1024
	noteBodyMaxBytes = 4 << 10
)

type renderedNote struct {
	n    store.Note
	body []byte
}

// body is renderNote(n), rendered once per version seen.
func (m *noteBodies) body(n store.Note) []byte {
	slot := &m.slots[uint64(n.ID)%noteBodySlots]
	if e := slot.Load(); e != nil && sameNote(e.n, n) {
		return e.body
	}
	b := renderNote(n)
	if len(b) <= noteBodyMaxBytes {
		slot.Store(&renderedNote{n: n, body: b})
	}
	return b
}

// sameNote reports whether a and b render the same: every field equal
// (pointed-to values compared, times with == so that a different location
// counts as different). TestSameNoteSeesEveryField fails when store.Note
// gains a field this does not compare.
func sameNote(a, b store.Note) bool {
	return a.ID == b.ID && a.UserID == b.UserID && a.Title == b.Title && a.Body == b.Body &&
		a.Version == b.Version && samePtr(a.WordCount, b.WordCount) && samePtr(a.Summary, b.Summary) &&
		samePtr(a.ProcessedAt, b.ProcessedAt) && a.CreatedAt == b.CreatedAt && a.UpdatedAt == b.UpdatedAt
}

func samePtr[T comparable](a, b *T) bool {
	return a == b || (a != nil && b != nil && *a == *b)
}

// renderNote is the response body of n, as json.Encoder writes it.
func renderNote(n store.Note) []byte {
	b, err := json.Marshal(toNote(n))
	if err != nil { // a time outside years 0-9999: json.Encoder writes nothing either
		return nil
	}
	return append(b, '\n')
}

// writeNote answers with note n, whose rendered body is body.
func writeNote(w http.ResponseWriter, status int, n store.Note, body []byte) {
	w.Header().Set("ETag", etag(n))
	w.Header()["Cache-Control"] = cacheControlNote
	w.Header()["Content-Type"] = contentTypeJSON
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// enqueueProcess enqueues the note's job. A failure (Redis down) is logged
// and not fatal: the clock's sweep processes notes whose job was lost.
// The enqueue belongs to a committed change, so it runs detached from the
// request's cancellation (with its own timeout); the note's processed_at
// IS NULL in Postgres is the outbox the sweep reads, so nothing is lost.
func enqueueProcess(log *slog.Logger, q Enqueuer, r *http.Request, id int64) {
	if q == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 3*time.Second)
	defer cancel()
	if _, err := q.EnqueueContext(ctx, jobs.NewNoteProcessTask(id)); err != nil {
		log.WarnContext(r.Context(), "enqueue failed; the sweep will process the note", "note_id", id, "err", err)
	}
}

// committing is the context of a write: r's values and deadline but not
// its cancellation, so that a client going away cannot abandon a change
// after Postgres committed it and before the cache and job queue hear of
// it.
func committing(r *http.Request) (context.Context, context.CancelFunc) {
	ctx := context.WithoutCancel(r.Context())
	if dl, ok := r.Context().Deadline(); ok {
		return context.WithDeadline(ctx, dl)
	}
	return context.WithCancel(ctx)
}

func handleNoteCreate(log *slog.Logger, st *store.Store, c *cache.Notes, q Enqueuer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := idempotencyKey(w, r)
		if !ok {
			return
		}
		var req createNoteRequest
		if perr := decodeValid(r, &req); perr != nil {
			perr.write(w, r)
			return
		}
		ctx, cancel := committing(r)
		defer cancel()
		userID := userFrom(r.Context()).ID
		var n store.Note
		var err error
		if key == "" {
			n, err = st.CreateNote(ctx, userID, req.Title, req.Body)
		} else {
			var replay *store.Replay
			n, replay, err = st.CreateNoteOnce(ctx, userID, key, fingerprint(req), store.IdempotencyKeyTTL, req.Title, req.Body, renderNote)
			if replay != nil {
				writeReplay(w, replay)
				return
			}
			if errors.Is(err, store.ErrKeyReused) {
				writeProblem(w, r, http.StatusUnprocessableEntity, "idempotency_key_reused",
					"this Idempotency-Key was used for another request; use a new key for a new request")
				return
			}
		}
		if err != nil {
			serverError(log, w, r, err)
			return
		}
		enqueueProcess(log, q, r, n.ID)
		w.Header().Set("Location", "/api/v1/notes/"+strconv.FormatInt(n.ID, 10))
		writeNote(w, http.StatusCreated, n, renderNote(n))
	})
}

// maxIdempotencyKey bounds the Idempotency-Key header (a UUID is 36).
const maxIdempotencyKey = 255

// idempotencyKey returns the request's Idempotency-Key ("" when absent),
// or answers 400 for one that is empty, too long or not visible ASCII. The
// header is a structured-field string (draft-ietf-httpapi-idempotency-key-
// header): "…" in quotes; an unquoted token is accepted too.
func idempotencyKey(w http.ResponseWriter, r *http.Request) (string, bool) {
	vals := r.Header.Values("Idempotency-Key")
	if len(vals) == 0 {
		return "", true
	}
	k := strings.TrimSpace(vals[0])
	if len(k) >= 2 && k[0] == '"' && k[len(k)-1] == '"' {
		k = k[1 : len(k)-1]
	}
	valid := len(vals) == 1 && k != "" && len(k) <= maxIdempotencyKey
	for i := 0; valid && i < len(k); i++ {
		valid = k[i] > ' ' && k[i] < 0x7f && k[i] != '"' && k[i] != '\\'
	}
	if !valid {
		writeProblem(w, r, http.StatusBadRequest, "invalid_idempotency_key",
			"Idempotency-Key must be one value of 1 to 255 visible ASCII characters, e.g. a UUID")
		return "", false
	}
	return k, true
}

// fingerprint identifies a create request by what it asks for (its decoded
// fields, so that the same request re-encoded is the same request).
func fingerprint(req createNoteRequest) []byte {
	b, _ := json.Marshal(req)
	sum := sha256.Sum256(b)
	return sum[:]
}

// writeReplay answers with the stored first answer of an idempotent create.
func writeReplay(w http.ResponseWriter, rp *store.Replay) {
	var v struct {
		Version int64 `json:"version"`
	}
	if json.Unmarshal(rp.Body, &v) == nil {
		w.Header().Set("ETag", etag(store.Note{ID: rp.ResourceID, Version: v.Version}))
	}
	w.Header().Set("Location", "/api/v1/notes/"+strconv.FormatInt(rp.ResourceID, 10))
	w.Header().Set("Idempotent-Replayed", "true")
	w.Header()["Cache-Control"] = cacheControlNote
	w.Header()["Content-Type"] = contentTypeJSON
	w.WriteHeader(rp.Status)
	_, _ = w.Write(rp.Body)
}

type cursor struct {
	ID int64 `json:"id"`
}

func encodeCursor(id int64) string {
	b, _ := json.Marshal(cursor{ID: id})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, false
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil || c.ID <= 0 {
		return 0, false
	}
	return c.ID, true
}

// Why queryParam refuses a parameter.
var (
	errParamEncoding = errors.New("not valid percent-encoding")
	errParamRepeated = errors.New("given more than once")
)

// queryParam returns the value of query parameter name and whether it was
// sent at all. url.Values silently drops a pair it cannot unescape (so
// "limit=%zz" would read as no limit) and Get takes the first of repeated
// ones (so "limit=5&limit=abc" would read as 5): here either is an error,
// errParamEncoding or errParamRepeated.
func queryParam(rawQuery, name string) (string, bool, error) {
	val, present := "", false
	for _, pair := range strings.Split(rawQuery, "&") {
		k, v, _ := strings.Cut(pair, "=")
		if key, err := url.QueryUnescape(k); err != nil || key != name {
			continue
		}
		if present {
			return "", true, errParamRepeated
		}
		present = true
		var err error
		if val, err = url.QueryUnescape(v); err != nil {
			return "", true, errParamEncoding
		}
	}
	return val, present, nil
}

// limitProblem is the field error of a limit query parameter that is not
// one integer from 1 to 100, err being queryParam's (nil: it was read but
// is no such integer).
func limitProblem(err error) fieldError {
	switch {
	case errors.Is(err, errParamRepeated):
		return fieldError{Field: "limit", Code: "repeated", Message: "must be given once, an integer from 1 to 100"}
	case errors.Is(err, errParamEncoding):
		return fieldError{Field: "limit", Code: "invalid_encoding", Message: "is not valid percent-encoding; must be an integer from 1 to 100"}
	}
	return fieldError{Field: "limit", Code: "out_of_range", Message: "must be an integer from 1 to 100"}
}

func handleNoteList(log *slog.Logger, st *store.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := 20
		if s, present, err := queryParam(r.URL.RawQuery, "limit"); present {
			n, aerr := strconv.Atoi(s)
			if err != nil || aerr != nil || n < 1 || n > 100 {
				writeProblem(w, r, http.StatusUnprocessableEntity, "validation_failed", "invalid query parameters", limitProblem(err))
				return
			}
			limit = n
		}
		var before int64
		if s, present, err := queryParam(r.URL.RawQuery, "cursor"); present {
			id, ok := decodeCursor(s)
			switch {
			case errors.Is(err, errParamRepeated):
				writeProblem(w, r, http.StatusBadRequest, "invalid_cursor", "give cursor once: the next_cursor of a previous page")
				return
			case err != nil || !ok:
				writeProblem(w, r, http.StatusBadRequest, "invalid_cursor", "use the next_cursor of a previous page")
				return
			}
			before = id
		}
		// The page is rendered note by note into one buffer of at most
		// listBudget bytes (plus one note: the first always fits), never
		// as a []store.Note and then a whole JSON document.
		page := bytes.NewBuffer(make([]byte, 0, 4<<10))
		page.WriteString(`{"items":[`)
		var last int64
		items := 0
		more, err := st.EachNote(r.Context(), userFrom(r.Context()).ID, before, limit, listBudget, func(n store.Note) bool {
			b, err := json.Marshal(toNote(n))
			if err != nil || (items > 0 && page.Len()+len(b) > listBudget) {
				return false
			}
			if items > 0 {
				page.WriteByte(',')
			}
			page.Write(b)
			items++
			last = n.ID
			return true
		})
		if err != nil {
			serverError(log, w, r, err)
			return
		}
		page.WriteString(`],"next_cursor":`)
		if more && items > 0 {
			page.WriteString(strconv.Quote(encodeCursor(last)))
		} else {
			page.WriteString("null")
		}
		page.WriteString("}\n")
		w.Header().Set("Cache-Control", "private, no-cache")
		w.Header()["Content-Type"] = contentTypeJSON
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(page.Bytes())
	})
}

// listBudget is the most JSON a list page holds (plus the first note,
// which is always included): notes past it are left for the next page
// (next_cursor), whatever the limit. A note is at most 100,000 characters
// of body, about 600 KB of JSON when every character must be escaped, so
// a page holds at least six of the largest notes.
const listBudget = 4 << 20

func handleNoteGet(log *slog.Logger, st *store.Store, c *cache.Notes) http.Handler {
	bodies := &noteBodies{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := noteID(w, r)
		if !ok {
			return
		}
		n, hit, err := getNote(r, c, st, id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && n.UserID != userFrom(r.Context()).ID) {
			writeProblem(w, r, http.StatusNotFound, "not_found", "no such note")
			return
		}
		if err != nil {
			serverError(log, w, r, err)
			return
		}
		// Canonical keys and shared values set directly: no allocation
		// per request on the hot path (Header.Add would copy, not append
		// in place: the slices have no spare capacity).
		if hit {
			w.Header()["X-Cache"] = xCacheHit
		} else {
			w.Header()["X-Cache"] = xCacheMiss
		}
		if inm := r.Header.Get("If-None-Match"); inm != "" && noneMatch(inm, etag(n)) {
			w.Header().Set("ETag", etag(n))
			w.WriteHeader(http.StatusNotModified)
			return
		}
		writeNote(w, http.StatusOK, n, bodies.body(n))
	})
}

func handleNoteUpdate(log *slog.Logger, st *store.Store, c *cache.Notes, q Enqueuer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := noteID(w, r)
		if !ok {
			return
		}
		var req updateNoteRequest
		if perr := decodeValid(r, &req); perr != nil {
			perr.write(w, r)
			return
		}
		ver := ifMatchVersion(r.Header.Get("If-Match"), id)
		if ver < 0 {
			writeProblem(w, r, http.StatusPreconditionFailed, "precondition_failed", "If-Match does not match the current ETag; GET the note and retry")
			return
		}
		ctx, cancel := committing(r)
		defer cancel()
		n, reprocess, err := st.UpdateNote(ctx, id, userFrom(r.Context()).ID, ver, store.NoteUpdate{Title: req.Title, Body: req.Body})
		switch {
		case errors.Is(err, store.ErrNotFound):
			writeProblem(w, r, http.StatusNotFound, "not_found", "no such note")
			return
		case errors.Is(err, store.ErrStale):
			writeProblem(w, r, http.StatusPreconditionFailed, "precondition_failed", "If-Match does not match the current ETag; GET the note and retry")
			return
		case err != nil:
			c.Refresh(id, st.NoteByID) // it may have committed
			serverError(log, w, r, err)
			return
		}
		if err := c.Put(ctx, n); err != nil {
			notVisible(log, w, r, err)
			return
		}
		if reprocess {
			enqueueProcess(log, q, r, n.ID)
		}
		writeNote(w, http.StatusOK, n, renderNote(n))
	})
}

func handleNoteDelete(log *slog.Logger, st *store.Store, c *cache.Notes) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := noteID(w, r)
		if !ok {
			return
		}
		ver := ifMatchVersion(r.Header.Get("If-Match"), id)
		if ver < 0 {
			writeProblem(w, r, http.StatusPreconditionFailed, "precondition_failed", "If-Match does not match the current ETag")
			return
		}
		ctx, cancel := committing(r)
		defer cancel()
		err := st.DeleteNote(ctx, id, userFrom(r.Context()).ID, ver)
		switch {
		case errors.Is(err, store.ErrNotFound):
			writeProblem(w, r, http.StatusNotFound, "not_found", "no such note")
			return
		case errors.Is(err, store.ErrStale):
			writeProblem(w, r, http.StatusPreconditionFailed, "precondition_failed", "If-Match does not match the current ETag")
			return
		case err != nil:
			c.Refresh(id, st.NoteByID) // it may have committed
			serverError(log, w, r, err)
			return
		}
		if err := c.Tombstone(ctx, id); err != nil {
			notVisible(log, w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// notVisible answers a change that committed but could be neither written
// to the cache nor fenced off fleet-wide (Redis and the cache generation
// both unreachable): a 2xx could let another replica serve what was there
// before, so it is a 503 (the change is saved; repeating it is safe with
// If-Match, and this replica reads the note from Postgres until the cache
// write lands).
func notVisible(log *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	log.WarnContext(r.Context(), "change committed but not yet visible on every replica", "err", err)
	w.Header().Set("Retry-After", "1")
	writeProblem(w, r, http.StatusServiceUnavailable, "unavailable", "the change is saved but every replica could not be told yet; retry shortly")
}
