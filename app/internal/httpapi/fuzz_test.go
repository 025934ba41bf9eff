package httpapi

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

// The decoders must never panic, and whatever they accept must satisfy the
// documented rules (so that Postgres never sees e.g. a NUL byte). Seed
// corpus: testdata/fuzz/<FuzzName>/.

func decodeFuzz(data []byte, dst normalizer) *decodeError {
	r, _ := http.NewRequest("POST", "/", bytes.NewReader(data))
	r.Header.Set("Content-Type", "application/json")
	return decodeValid(r, dst)
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

func FuzzDecodeRegister(f *testing.F) {
	f.Add([]byte(`{"email":"ada@example.com","password":"correct horse","name":"Ada"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var req registerRequest
		if err := decodeFuzz(data, &req); err != nil {
			if err.status < 400 || err.status > 499 || err.code == "" {
				t.Fatalf("bad problem %+v", err)
			}
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
		if err := decodeFuzz(data, &req); err != nil {
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
		if err := decodeFuzz(data, &req); err != nil {
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
		if err := decodeFuzz(data, &req); err != nil {
			return
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
