package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

// The decoders must never panic, and whatever they accept must satisfy the
// documented rules (so that Postgres never sees e.g. a NUL byte). Seed
// corpus: testdata/fuzz/<FuzzName>/.

func decodeFuzz(t *testing.T, data []byte, dst normalizer) *decodeError {
	t.Helper()
	r, _ := http.NewRequest("POST", "/", bytes.NewReader(data))
	r.Header.Set("Content-Type", "application/json")
	err := decodeValid(r, dst)
	if err == nil {
		checkTakenAsSent(t, data)
		checkKeysOnce(t, data)
	}
	return err
}

// checkTakenAsSent fails when an accepted body holds a U+FFFD it did not
// send: encoding/json's stand-in for invalid UTF-8 and unpaired surrogate
// escapes, i.e. text that would be stored other than sent.
func checkTakenAsSent(t *testing.T, data []byte) {
	t.Helper()
	if bytes.Contains(data, []byte("\ufffd")) || bytes.Contains(bytes.ToLower(data), []byte(`\ufffd`)) {
		return
	}
	var v any
	if json.Unmarshal(data, &v) != nil {
		t.Fatalf("accepted a body encoding/json refuses: %q", data)
	}
	if out, _ := json.Marshal(v); bytes.Contains(out, []byte("\ufffd")) {
		t.Fatalf("accepted text that is not valid Unicode (it decodes to U+FFFD): %q", data)
	}
}

// checkKeysOnce fails when an accepted body has a key twice in one object
// (encoding/json would have kept the last).
func checkKeysOnce(t *testing.T, data []byte) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	var walk func() bool
	walk = func() bool {
		tok, err := dec.Token()
		if err != nil {
			return true
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, _ := dec.Token()
				if seen[k.(string)] {
					return false
				}
				seen[k.(string)] = true
				if !walk() {
					return false
				}
			}
			_, _ = dec.Token()
		case json.Delim('['):
			for dec.More() {
				if !walk() {
					return false
				}
			}
			_, _ = dec.Token()
		}
		return true
	}
	if !walk() {
		t.Fatalf("accepted a body with a key twice in one object: %q", data)
	}
}

func checkText(t *testing.T, field, s string, required bool, maxLen int) {
	t.Helper()
	if required && s == "" {
		t.Fatalf("%s accepted empty", field)
	}
	if strings.ContainsRune(s, 0) {
		t.Fatalf("%s accepted a NUL", field)
	}
	if utf8.RuneCountInString(s) > maxLen {
		t.Fatalf("%s accepted %d characters", field, utf8.RuneCountInString(s))
	}
}

// checkProblem fails unless a rejected body got a well-formed 4xx problem:
// a client error status, a code with a title and a detail, and for
// validation_failed the fields at fault, each with its own code.
func checkProblem(t *testing.T, err *decodeError) {
	t.Helper()
	if err.status < 400 || err.status > 499 || err.code == "" || problemTitles[err.code] == "" || err.detail == "" {
		t.Fatalf("bad problem: status %d, code %q, detail %q", err.status, err.code, err.detail)
	}
	if err.code == "validation_failed" && len(err.fields) == 0 {
		t.Fatalf("validation_failed without the fields at fault: %q", err.detail)
	}
	for _, fe := range err.fields {
		if fe.Field == "" || fe.Code == "" {
			t.Fatalf("bad field error %+v (problem %q)", fe, err.code)
		}
	}
}

func FuzzDecodeRegister(f *testing.F) {
	f.Add([]byte(`{"email":"ada@example.com","password":"correct horse","name":"Ada"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var req registerRequest
		if err := decodeFuzz(t, data, &req); err != nil {
			checkProblem(t, err)
			return
		}
		checkText(t, "email", req.Email, true, 254)
		checkText(t, "password", req.Password, true, 128)
		checkText(t, "name", req.Name, false, 100)
		if req.Email != strings.ToLower(req.Email) || !validEmail(req.Email) {
			t.Fatalf("accepted email %q", req.Email)
		}
		if utf8.RuneCountInString(req.Password) < 8 {
			t.Fatalf("accepted a short password")
		}
	})
}

func FuzzDecodeLogin(f *testing.F) {
	f.Add([]byte(`{"email":"ada@example.com","password":"correct horse"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var req loginRequest
		if err := decodeFuzz(t, data, &req); err != nil {
			checkProblem(t, err)
			return
		}
		checkText(t, "email", req.Email, true, 254)
		checkText(t, "password", req.Password, true, 128)
	})
}

func FuzzDecodeCreateNote(f *testing.F) {
	f.Add([]byte(`{"title":"Groceries","body":"milk eggs bread"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var req createNoteRequest
		if err := decodeFuzz(t, data, &req); err != nil {
			checkProblem(t, err)
			return
		}
		checkText(t, "title", req.Title, true, maxTitle)
		checkText(t, "body", req.Body, false, maxBody)
	})
}

func FuzzDecodeUpdateNote(f *testing.F) {
	f.Add([]byte(`{"title":"Groceries"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var req updateNoteRequest
		if err := decodeFuzz(t, data, &req); err != nil {
			checkProblem(t, err)
			return
		}
		if req.Title == nil && req.Body == nil {
			t.Fatalf("accepted an update of no field")
		}
		if req.Title != nil {
			checkText(t, "title", *req.Title, true, maxTitle)
		}
		if req.Body != nil {
			checkText(t, "body", *req.Body, false, maxBody)
		}
	})
}

func FuzzCursor(f *testing.F) {
	f.Add(encodeCursor(42))
	f.Fuzz(func(t *testing.T, s string) {
		if id, ok := decodeCursor(s); ok && id <= 0 {
			t.Fatalf("accepted id %d", id)
		}
	})
}
